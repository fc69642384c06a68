import Foundation
import Synchronization

/// RFC 3339 timestamps, written and read in one place; one formatter for the process (making one per call is
/// expensive, and `ISO8601DateFormatter` is not safe to share without a lock).
public enum Timestamp {
    private static let formatter = Mutex(ISO8601DateFormatter())

    public static func string(_ date: Date) -> String { formatter.withLock { $0.string(from: date) } }

    public static func date(_ text: String) -> Date? { formatter.withLock { $0.date(from: text) } }
}

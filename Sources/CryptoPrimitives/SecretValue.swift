import Foundation

/// A secret in memory: it prints, debug-prints, interpolates, dumps and encodes as `(sensitive)`, compares in
/// constant time, and its bytes are zeroed when the last copy is released (as far as Swift allows: a `String`
/// made by ``exposedString()`` is the caller's to keep short-lived).
public struct SecretValue: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable,
    Codable
{
    private final class Storage: @unchecked Sendable {
        var bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        deinit { secureZero(&bytes) }
    }

    private let storage: Storage

    public init(_ text: String) { storage = Storage(Array(text.utf8)) }
    public init(bytes: [UInt8]) { storage = Storage(bytes) }

    public static let redaction = "(sensitive)"

    public var description: String { Self.redaction }
    public var debugDescription: String { Self.redaction }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: nil) }

    /// The value itself, for the one place that must send it (the API request body).
    public func exposedString() -> String { String(decoding: storage.bytes, as: UTF8.self) }

    /// Works on the bytes without copying them into a String.
    public func withBytes<Result>(_ body: ([UInt8]) throws -> Result) rethrows -> Result { try body(storage.bytes) }

    public var isEmpty: Bool { storage.bytes.isEmpty }

    public static func == (lhs: SecretValue, rhs: SecretValue) -> Bool {
        Digest.constantTimeEqual(lhs.storage.bytes, rhs.storage.bytes)
    }

    /// Swift's Hasher is SipHash under a seed drawn at random for each process, so a hash table never holds a plain
    /// function of the secret.
    public func hash(into hasher: inout Hasher) { storage.bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Self.redaction)
    }

    /// Secrets never come from serialized data.
    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(
            .init(codingPath: decoder.codingPath, debugDescription: "a secret is never decoded"))
    }
}

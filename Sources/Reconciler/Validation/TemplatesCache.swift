import Foundation
import IntegrationsAPI

/// `.intops/templates.json`: the provider templates as the API last answered. `intops templates --refresh` writes
/// it; plan, apply and drift write it too when they had to ask the API, and skip the templates request while it is
/// younger than ``maxAge``. `validate --offline` uses it whatever its age.
public enum TemplatesCache {
    /// Templates change with the API's releases, not between the runs of a day.
    public static let maxAge: TimeInterval = 24 * 60 * 60

    /// Whether the cache at `path` was written less than ``maxAge`` ago.
    public static func isFresh(_ path: String, now: Date = Date()) -> Bool {
        guard let written = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date else {
            return false
        }
        return now.timeIntervalSince(written) < maxAge
    }

    /// Writes the cache atomically, in the form the API answers.
    public static func write(_ templates: [IntegrationTemplate], to path: String) throws(AtomicFile.Failure) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(TemplatesResponse(templates: templates))) ?? Data()
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(Array(data) + [10], to: path)
    }
}

import Foundation
import YAML

/// One finding about the user's files: where, and what to do about it, in one sentence.
///
/// Messages never quote a value that could be a secret; they name keys, files and fields instead.
public struct Diagnostic: Sendable, Hashable, Error, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    public var severity: Severity
    /// Where the problem is; files are absolute paths, shown relative to the working directory when printed.
    public var location: SourceLocation?
    /// A path with no line, for problems with a whole file or folder (a missing intops.yaml).
    public var path: String?
    public var message: String

    public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public init(_ severity: Severity = .error, path: String, _ message: String) {
        self.severity = severity
        self.path = path
        self.message = message
    }

    public static func error(_ location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(.error, at: location, message)
    }

    public var description: String {
        if let location { return "\(location): \(severity.rawValue): \(message)" }
        if let path { return "\(path): \(severity.rawValue): \(message)" }
        return "\(severity.rawValue): \(message)"
    }
}

/// Thrown when the project's files hold errors; carries every diagnostic found, warnings included.
public struct InvalidProject: Error, Sendable {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
}

extension Diagnostic { init(_ error: YAMLError) { self.init(.error, at: error.location, error.message) } }

/// Suggestions for misspelt keys and names.
enum Spelling {
    /// The candidate closest to `word`, when it is close enough to be a likely typo.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        let lower = word.lowercased()
        if let caseOnly = candidates.first(where: { $0.lowercased() == lower }) { return caseOnly }
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lower, candidate.lowercased())
            if distance <= max(1, min(3, candidate.count / 3)), distance < (best?.1 ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    /// " Did you mean 'X'?" or "".
    static func hint(for word: String, among candidates: [String]) -> String {
        suggestion(for: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// "a, b and c".
    static func list(_ words: [String]) -> String {
        switch words.count {
        case 0: return "none"
        case 1: return words[0]
        default: return words.dropLast().joined(separator: ", ") + " and " + words[words.count - 1]
        }
    }
}

/// Identity files as `age-keygen` writes them: one key per line, `#` comments and empty lines ignored.
public enum AgeIdentityFile {
    /// Parses every identity; an unusable line is reported by its number, never by its content.
    public static func parse(_ text: String, source: String) throws(AgeKeyError) -> [X25519Identity] {
        var identities: [X25519Identity] = []
        var lineNumber = 0
        // Split on bytes: a Swift String treats CR LF as one character.
        for rawLine in Array(text.utf8).split(separator: 10, omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = rawLine
            if bytes.last == 13 { bytes = bytes.dropLast() }
            let line = String(decoding: bytes, as: UTF8.self)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("AGE-SECRET-KEY-1"), let identity = X25519Identity(line) {
                identities.append(identity)
                continue
            }
            if line.hasPrefix("AGE-SECRET-KEY-PQ-1") {
                throw AgeKeyError(
                    source: source, line: lineNumber,
                    reason:
                        "holds a post-quantum identity, which intops does not support yet; use an X25519 identity (age-keygen without -pq)"
                )
            }
            if line.hasPrefix("AGE-PLUGIN-") {
                throw AgeKeyError(
                    source: source, line: lineNumber,
                    reason: "holds an age plugin identity, which intops does not support")
            }
            throw AgeKeyError(
                source: source, line: lineNumber,
                reason: "is not an age identity (expected AGE-SECRET-KEY-1…, a # comment or an empty line)")
        }
        guard !identities.isEmpty else { throw AgeKeyError(source: source, line: nil, reason: "holds no age identity") }
        return identities
    }

    /// `age-keygen`'s format: creation time, public key, secret key.
    public static func render(_ identity: X25519Identity, created: String) -> String {
        "# created: \(created)\n# public key: \(identity.recipient)\n\(identity.encoded)\n"
    }
}

/// A key that could not be read; it names where, never what.
public struct AgeKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var line: Int?
    public var reason: String

    public init(source: String, line: Int?, reason: String) {
        self.source = source
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "\(source):\(line): \(reason)" }
        return "\(source) \(reason)"
    }
}

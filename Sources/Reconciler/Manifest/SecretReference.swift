import YAML

/// Where a secret comes from. A reference is not itself secret and may
/// be printed.
public struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    public enum Source: Sendable, Hashable {
        /// A value inside a SOPS file; `file` is absolute, `pointer` the JSON pointer's unescaped tokens.
        case sops(file: String, pointer: [String])
        /// An environment variable.
        case env(name: String)
        /// A whole file, one trailing newline removed; `file` is absolute.
        case file(path: String)
        /// A value written in the manifest itself; only with `allowPlaintextSecrets: true` (demos).
        case inline(String)
    }

    public private(set) var source: Source
    public var location: SourceLocation
    /// For a SOPS reference the file as written, one string shared by every reference to that file; for any other
    /// the whole reference. A project of 100,000 entries holds 200,000 references: their text is made when shown,
    /// not kept.
    private var written: String

    /// A reference whose `text` is as written; a SOPS reference's pointer is `source`'s.
    public init(source: Source, text: String, location: SourceLocation) {
        self.source = source
        self.location = location
        switch source {
        case .sops(let file, _):
            written =
                text.hasPrefix("ref+sops://") ? String(text.dropFirst("ref+sops://".count).prefix { $0 != "#" }) : file
        case .env, .file, .inline: written = text
        }
    }

    private init(sops file: String, pointer: [String], written: String, location: SourceLocation) {
        source = .sops(file: file, pointer: pointer)
        self.location = location
        self.written = written
    }

    /// The reference as written (a pointer is written in one way only: `~0` for `~`, `~1` for `/`).
    public var text: String {
        guard case .sops(_, let pointer) = source else { return written }
        // On the UTF-8 bytes, as the pointer was read: a `~` or `/` may begin a grapheme with a combining mark.
        var bytes = Array("ref+sops://\(written)#".utf8)
        for token in pointer {
            bytes.append(UInt8(ascii: "/"))
            for byte in token.utf8 {
                switch byte {
                case UInt8(ascii: "~"): bytes += [UInt8(ascii: "~"), UInt8(ascii: "0")]
                case UInt8(ascii: "/"): bytes += [UInt8(ascii: "~"), UInt8(ascii: "1")]
                default: bytes.append(byte)
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { text }

    public static let schemes = ["ref+sops://", "ref+env://", "ref+file://"]

    /// Whether a string is meant as a reference (as opposed to a plaintext value).
    public static func looksLikeReference(_ text: String) -> Bool { text.hasPrefix("ref+") }

    /// Parses a reference written in the file at `location`; paths resolve from that file's folder and must stay
    /// inside `root`.
    ///
    /// - Returns: the reference, or a sentence saying what is wrong with it.
    public static func parse(
        _ text: String, at location: SourceLocation, root: String
    ) -> Result<SecretReference, Diagnostic> {
        var paths: [String: String] = [:]
        return parse(text, at: location, root: root, paths: &paths)
    }

    /// - Parameter paths: the paths resolved so far from the same file, by the text written: a manifest's thousands
    ///   of references name the same few files, and share the one string of each.
    static func parse(
        _ text: String, at location: SourceLocation, root: String, paths: inout [String: String]
    ) -> Result<SecretReference, Diagnostic> {
        func failure(_ message: String) -> Result<SecretReference, Diagnostic> { .failure(.error(location, message)) }
        func projectPath(_ path: String) -> Result<(written: String, resolved: String), Diagnostic> {
            guard !path.isEmpty else { return .failure(.error(location, "secret reference \(text) names no file")) }
            let known: (written: String, resolved: String)
            if let index = paths.index(forKey: path) {
                known = (paths[index].key, paths[index].value)
            } else {
                known = (path, ProjectPaths.resolve(path, from: ProjectPaths.directory(of: location.file)))
                paths[path] = known.resolved
            }
            guard ProjectPaths.isInside(known.resolved, root: root) else {
                return .failure(
                    .error(
                        location,
                        "secret reference \(text) points outside the project root; keep secret files inside the project"
                    ))
            }
            return .success(known)
        }

        if text.hasPrefix("ref+sops://") {
            let body = text.dropFirst("ref+sops://".count)
            guard let hash = body.firstIndex(of: "#") else {
                return failure("secret reference \(text) needs a JSON pointer to the value, as in ref+sops://FILE#/key")
            }
            let pointerText = body[body.index(after: hash)...]
            guard let pointer = parsePointer(pointerText) else {
                return failure(
                    "secret reference \(text) has an invalid JSON pointer; write #/key or #/nested/key (~1 for /, ~0 for ~)"
                )
            }
            return projectPath(String(body[..<hash])).map {
                SecretReference(sops: $0.resolved, pointer: pointer, written: $0.written, location: location)
            }
        }
        if text.hasPrefix("ref+env://") {
            let name = text.dropFirst("ref+env://".count)
            guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
                name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) })
            else {
                return failure(
                    "secret reference \(text) names no valid environment variable; use letters, digits and _")
            }
            return .success(SecretReference(source: .env(name: String(name)), text: text, location: location))
        }
        if text.hasPrefix("ref+file://") {
            let path = text.dropFirst("ref+file://".count)
            guard !path.contains("#") else {
                return failure("secret reference \(text) cannot take a #fragment; ref+file reads the whole file")
            }
            return projectPath(String(path)).map {
                SecretReference(source: .file(path: $0.resolved), text: text, location: location)
            }
        }
        let scheme = text.prefix(while: { $0 != ":" })
        return failure(
            "unsupported secret reference scheme \(scheme); use ref+sops://FILE#/key, ref+env://NAME or ref+file://FILE"
        )
    }

    /// RFC 6901 tokens of a pointer such as `/a/b~1c`; nil when malformed or empty.
    static func parsePointer(_ text: Substring) -> [String]? {
        // On the UTF-8 bytes: a manifest of 100,000 entries has 200,000 pointers, and `/` and `~` are ASCII.
        let bytes = text.utf8
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        var tokens: [String] = []
        var token: [UInt8] = []
        func finishToken() -> Bool {
            guard !token.isEmpty else { return false }
            tokens.append(String(decoding: token, as: UTF8.self))
            token.removeAll(keepingCapacity: true)
            return true
        }
        var index = bytes.index(after: bytes.startIndex)
        while index < bytes.endIndex {
            switch bytes[index] {
            case UInt8(ascii: "/"): guard finishToken() else { return nil }
            case UInt8(ascii: "~"):
                index = bytes.index(after: index)
                guard index < bytes.endIndex else { return nil }
                switch bytes[index] {
                case UInt8(ascii: "0"): token.append(UInt8(ascii: "~"))
                case UInt8(ascii: "1"): token.append(UInt8(ascii: "/"))
                default: return nil
                }
            case let byte: token.append(byte)
            }
            index = bytes.index(after: index)
        }
        return finishToken() ? tokens : nil
    }
}

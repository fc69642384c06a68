import Foundation
import SOPS
import YAML

/// Checks that secret references point at something, without decrypting anything: the file exists inside the
/// project, and for SOPS files the JSON pointer names a key (SOPS keeps keys in clear text). Each file is read
/// once however many references point into it.
struct ReferenceChecker {
    let root: String
    let realRoot: String
    private var files: [String: FileCheck] = [:]

    private enum FileCheck {
        case missing
        case outside
        case unreadable(String)
        /// `encrypted` is false for a file without sops metadata (plan refuses to use it, so validate does too).
        case tree(SOPSLookup?, encrypted: Bool)
    }

    init(root: String) {
        self.root = root
        realRoot = ReferencedFile.realPath(root) ?? root
    }

    /// Problems with one reference, as diagnostics at the reference; unset environment variables are warnings.
    mutating func check(_ reference: SecretReference, environment: [String: String]) -> [Diagnostic] {
        let root = self.root
        let display = { (path: String) in ProjectPaths.display(path, relativeTo: root) }
        switch reference.source {
        case .inline: return []
        case .env(let name):
            guard environment[name] == nil else { return [] }
            return [
                Diagnostic(
                    .warning, at: reference.location,
                    "environment variable \(name) is not set here; plan and apply will need it")
            ]
        case .file(let path):
            switch fileCheck(path, parse: false) {
            case .missing:
                return [
                    .error(
                        reference.location,
                        "secret file \(display(path)) does not exist; create it or fix the reference")
                ]
            case .outside:
                return [
                    .error(
                        reference.location,
                        "secret file \(display(path)) resolves outside the project root through a symbolic link")
                ]
            case .unreadable(let why):
                return [.error(reference.location, "secret file \(display(path)) cannot be read: \(why)")]
            case .tree: return []
            }
        case .sops(let path, let pointer):
            switch fileCheck(path, parse: true) {
            case .missing:
                return [
                    .error(
                        reference.location,
                        "SOPS file \(display(path)) does not exist; create it with intops secrets encrypt or fix the reference"
                    )
                ]
            case .outside:
                return [
                    .error(
                        reference.location,
                        "SOPS file \(display(path)) resolves outside the project root through a symbolic link")
                ]
            case .unreadable(let why):
                return [.error(reference.location, "SOPS file \(display(path)) cannot be read: \(why)")]
            case .tree(let tree, let encrypted):
                guard encrypted else {
                    return [
                        .error(
                            reference.location,
                            "SOPS file \(display(path)) is not encrypted (it has no sops metadata); encrypt it with intops secrets encrypt --in-place \(display(path))"
                        )
                    ]
                }
                guard let tree else { return [] }
                let pointerText = "#/" + pointer.joined(separator: "/")
                guard pointer.first != SOPS.metadataKey, let value = tree.lookup(pointer) else {
                    return [
                        .error(
                            reference.location,
                            "SOPS file \(display(path)) has no value at \(pointerText); check the key's spelling")
                    ]
                }
                guard case .scalar = value else {
                    return [
                        .error(
                            reference.location,
                            "SOPS file \(display(path)) holds \(value.kindDescription) at \(pointerText), not a single value"
                        )
                    ]
                }
                return []
            }
        }
    }

    private mutating func fileCheck(_ path: String, parse: Bool) -> FileCheck {
        if let known = files[path] { return known }
        let result: FileCheck
        switch ReferencedFile.problem(path, root: root) {
        case .missing: result = .missing
        case .outside: result = .outside
        case .notAFile(let what): result = .unreadable("it is \(what)")
        case .unreadable: result = .unreadable("permission denied")
        case nil: result = parse ? Self.parseSecretsFile(path) : .tree(nil, encrypted: true)
        }
        files[path] = result
        return result
    }

    /// The key structure of a SOPS file in any of its formats.
    private static func parseSecretsFile(_ path: String) -> FileCheck {
        guard let data = FileManager.default.contents(atPath: path) else { return .unreadable("permission denied") }
        let format = SOPS.Format(path: path)
        guard format != .binary else { return .tree(nil, encrypted: true) }
        do {
            let inspected = try SOPS.inspect(Array(data), format: format, file: path)
            return .tree(inspected.structure.map(SOPSLookup.init), encrypted: inspected.encrypted)
        } catch { return .unreadable("\(error)") }
    }
}

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
        case tree(Node?)
    }

    init(root: String) {
        self.root = root
        realRoot = FileSystem.realPath(root) ?? root
    }

    /// Problems with one reference, as diagnostics at the reference; unset environment variables are warnings.
    mutating func check(_ reference: SecretReference, environment: [String: String]) -> [Diagnostic] {
        let root = self.root
        let display = { (path: String) in ProjectPaths.display(path, relativeTo: root) }
        switch reference.source {
        case .inline:
            return []
        case .env(let name):
            guard environment[name] == nil else { return [] }
            return [Diagnostic(.warning, at: reference.location, "environment variable \(name) is not set here; plan and apply will need it")]
        case .file(let path):
            switch fileCheck(path, parse: false) {
            case .missing: return [.error(reference.location, "secret file \(display(path)) does not exist; create it or fix the reference")]
            case .outside: return [.error(reference.location, "secret file \(display(path)) resolves outside the project root through a symbolic link")]
            case .unreadable(let why): return [.error(reference.location, "secret file \(display(path)) cannot be read: \(why)")]
            case .tree: return []
            }
        case .sops(let path, let pointer):
            switch fileCheck(path, parse: true) {
            case .missing:
                return [.error(reference.location, "SOPS file \(display(path)) does not exist; create it with intops secrets encrypt or fix the reference")]
            case .outside:
                return [.error(reference.location, "SOPS file \(display(path)) resolves outside the project root through a symbolic link")]
            case .unreadable(let why):
                return [.error(reference.location, "SOPS file \(display(path)) cannot be read: \(why)")]
            case .tree(let tree):
                guard let tree else { return [] }
                var node = tree
                for (depth, token) in pointer.enumerated() {
                    let next: Node?
                    switch node.content {
                    case .mapping: next = depth == 0 && token == SOPS.metadataKey ? nil : node[token]
                    case .sequence(let items): next = Int(token).flatMap { items.indices.contains($0) ? items[$0] : nil }
                    case .scalar: next = nil
                    }
                    guard let next else {
                        return [.error(reference.location, "SOPS file \(display(path)) has no value at #/\(pointer.joined(separator: "/")); check the key's spelling")]
                    }
                    node = next
                }
                guard node.isScalar else {
                    return [.error(reference.location, "SOPS file \(display(path)) holds \(node.kindDescription) at #/\(pointer.joined(separator: "/")), not a single value")]
                }
                return []
            }
        }
    }

    private mutating func fileCheck(_ path: String, parse: Bool) -> FileCheck {
        if let known = files[path] { return known }
        let result: FileCheck
        if !FileManager.default.fileExists(atPath: path) {
            result = .missing
        } else if let real = FileSystem.realPath(path), !ProjectPaths.isInside(real, root: realRoot) {
            result = .outside
        } else if !parse {
            result = FileManager.default.isReadableFile(atPath: path) ? .tree(nil) : .unreadable("permission denied")
        } else {
            result = Self.parseSecretsFile(path)
        }
        files[path] = result
        return result
    }

    /// The key structure of a SOPS file in any of its formats.
    private static func parseSecretsFile(_ path: String) -> FileCheck {
        guard let data = FileManager.default.contents(atPath: path) else { return .unreadable("permission denied") }
        switch SOPS.Format(path: path) {
        case .yaml, .json:
            do {
                guard let document = try YAMLParser.parse([UInt8](data), file: path).first else { return .tree(nil) }
                return .tree(document.root)
            } catch {
                return .unreadable("\(error.message) at line \(error.location.line)")
            }
        case .dotenv:
            var pairs: [Node.Pair] = []
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
                pairs.append(Node.Pair(key: .string(String(trimmed[..<equals])), value: .string("")))
            }
            return .tree(Node(.mapping(pairs)))
        case .binary:
            return .tree(nil)
        }
    }
}

enum FileSystem {
    /// The path with every symbolic link resolved, or nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

import Age
import CryptoPrimitives
import Foundation
import YAML

/// Walks a document tree in MAC order, decrypting or encrypting the leaves the rule selects.
struct TreeWalker {
    enum Mode { case decrypt, encrypt }

    let mode: Mode
    let key: [UInt8]
    let rule: SelectionRule
    let macOnlyEncrypted: Bool
    /// A binary file's value may be any bytes; elsewhere a value must be text.
    let keepsBytes: Bool
    private let hasher = SHA512Hasher()

    init(mode: Mode, key: [UInt8], rule: SelectionRule, macOnlyEncrypted: Bool, keepsBytes: Bool = false) {
        self.mode = mode
        self.keepsBytes = keepsBytes
        self.key = key
        self.rule = rule
        self.macOnlyEncrypted = macOnlyEncrypted
        if macOnlyEncrypted { hasher.update(Digest.sha256(Array("sops".utf8))) }
    }

    var macHex: String { hasher.finalize().hex.uppercased() }

    mutating func walk(_ value: SOPSValue, path: [String], comments: [String] = []) throws(SOPSError) -> SOPSValue {
        switch value {
        case .null: return .null
        case .mapping(let entries):
            var out: [SOPSEntry] = []
            var pending: [String] = []
            for entry in entries {
                if entry.isComment {
                    guard case .scalar(let text) = entry.value else {
                        out.append(entry)
                        continue
                    }
                    out.append(.comment(try comment(text.plainText, path: path, comments: comments + pending).text))
                    pending.append(text.plainText)
                    continue
                }
                out.append(
                    SOPSEntry(
                        key: entry.key,
                        value: try walk(entry.value, path: path + [entry.key], comments: comments + pending)))
                pending = []
            }
            return .mapping(out)
        case .sequence(let items):
            // sops writes a list's encrypted comments as ENC[…] items of type comment.
            var out: [SOPSValue] = []
            var pending: [String] = []
            for item in items {
                let text: String
                switch item {
                case .comment(let comment): text = comment
                case .scalar(.string(let stored))
                where mode == .decrypt && ValueCipher.parse(stored)?.type == "comment": text = stored
                default:
                    out.append(try walk(item, path: path, comments: comments + pending))
                    pending = []
                    continue
                }
                let walked = try comment(text, path: path, comments: comments + pending)
                out.append(walked.encrypted && mode == .encrypt ? .scalar(.string(walked.text)) : .comment(walked.text))
                pending.append(text)
            }
            return .sequence(out)
        case .comment: return value
        case .scalar(let scalar):
            let selected = rule.encrypts(path: path, comments: comments)
            let aad = path.joined(separator: ":") + ":"
            switch mode {
            case .encrypt:
                let plain = scalar.canonicalBytes
                if !macOnlyEncrypted || selected { hasher.update(plain) }
                guard selected else { return value }
                if plain.isEmpty { return .scalar(.string("")) }
                return .scalar(
                    .string(try ValueCipher.encrypt(bytes: plain, type: scalar.typeName, key: key, aad: aad)))
            case .decrypt:
                guard selected else {
                    if !macOnlyEncrypted { hasher.update(scalar.canonicalBytes) }
                    return value
                }
                guard case .string(let stored) = scalar else {
                    throw .format("the value at \(Self.describe(path)) should be encrypted but is a \(scalar.typeName)")
                }
                if stored.isEmpty { return value }
                guard let parsed = ValueCipher.parse(stored) else {
                    throw .format("the value at \(Self.describe(path)) should be encrypted but is not an ENC[…] string")
                }
                guard let plain = ValueCipher.open(parsed, key: key, aad: aad) else {
                    throw .valueTampered(path: Self.describe(path))
                }
                guard let text = String(validating: plain, as: UTF8.self) else {
                    // A binary file's bytes come back as they are; a YAML or JSON value has to be text.
                    guard keepsBytes, parsed.type == "str" else {
                        throw .format(
                            "the value at \(Self.describe(path)) is not UTF-8 text, which intops cannot show byte for byte; decrypt this file with sops -d"
                        )
                    }
                    hasher.update(plain)
                    return .scalar(.bytes(plain))
                }
                guard let typed = SOPSScalar.parse(text, type: parsed.type) else {
                    guard SOPSScalar.knownTypes.contains(parsed.type) else {
                        throw .format("the value at \(Self.describe(path)) has the unknown type \(parsed.type)")
                    }
                    // The type is not authenticated: one that does not fit the value was changed by hand.
                    throw .format(
                        "the value at \(Self.describe(path)) does not read as its type \(parsed.type); the type was altered"
                    )
                }
                hasher.update(typed.canonicalBytes)
                return .scalar(typed)
            }
        }
    }

    /// Comments use their container's path; one that does not decrypt is kept as it is (as sops does).
    mutating func comment(
        _ text: String, path: [String], comments: [String]
    ) throws(SOPSError) -> (text: String, encrypted: Bool) {
        let selected: Bool
        switch rule {
        case .encryptedCommentRegex: selected = comments.contains { SelectionRule.matches(rule.value, $0) }
        default: selected = rule.encrypts(path: path, comments: comments + [text])
        }
        guard selected else { return (text, false) }
        let aad = path.joined(separator: ":") + ":"
        switch mode {
        case .encrypt:
            guard !text.isEmpty else { return (text, false) }
            return (try ValueCipher.encrypt(text, type: "comment", key: key, aad: aad), true)
        case .decrypt:
            guard let parsed = ValueCipher.parse(text), let plain = ValueCipher.decrypt(parsed, key: key, aad: aad)
            else { return (text, false) }
            return (plain, true)
        }
    }

    static func describe(_ path: [String]) -> String { path.isEmpty ? "(top level)" : path.joined(separator: ".") }
}

import Age
import CryptoPrimitives
import Foundation

/// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`: one value sealed with the data key, its path as additional data.
enum ValueCipher {
    struct Parsed {
        var data: [UInt8]
        var iv: [UInt8]
        var tag: [UInt8]
        var type: String
    }

    static let prefix = "ENC[AES256_GCM,data:"

    static func parse(_ text: String) -> Parsed? {
        guard text.hasPrefix(prefix) else { return nil }
        let rest = text.dropFirst(prefix.count)
        guard let ivRange = rest.range(of: ",iv:"), let tagRange = rest.range(of: ",tag:", range: ivRange.upperBound..<rest.endIndex),
            let typeRange = rest.range(of: ",type:", range: tagRange.upperBound..<rest.endIndex),
            let close = rest[typeRange.upperBound...].firstIndex(of: "]")
        else { return nil }
        let fields = [rest[..<ivRange.lowerBound], rest[ivRange.upperBound..<tagRange.lowerBound],
                      rest[tagRange.upperBound..<typeRange.lowerBound], rest[typeRange.upperBound..<close]]
        guard fields.allSatisfy({ !$0.isEmpty }) else { return nil }
        // Go's decoder skips CR and LF inside base64.
        func decode(_ field: Substring) -> [UInt8]? {
            StrictBase64.decode(Array(field.utf8).filter { $0 != 10 && $0 != 13 }, padded: true)
        }
        guard let data = decode(fields[0]), let iv = decode(fields[1]), let tag = decode(fields[2]), tag.count == 16, !iv.isEmpty
        else { return nil }
        return Parsed(data: data, iv: iv, tag: tag, type: String(fields[3]))
    }

    static func decrypt(_ parsed: Parsed, key: [UInt8], aad: String) -> String? {
        guard let plain = try? AESGCM.open(
            AESGCM.Sealed(ciphertext: parsed.data, tag: parsed.tag), key: key, nonce: parsed.iv, additionalData: Array(aad.utf8))
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }

    static func encrypt(_ plaintext: String, type: String, key: [UInt8], aad: String, iv: [UInt8] = SecureRandom.bytes(32)) -> String {
        let sealed = try! AESGCM.seal(Array(plaintext.utf8), key: key, nonce: iv, additionalData: Array(aad.utf8))
        return "ENC[AES256_GCM,data:\(StrictBase64.encode(sealed.ciphertext, padded: true)),iv:\(StrictBase64.encode(iv, padded: true)),tag:\(StrictBase64.encode(sealed.tag, padded: true)),type:\(type)]"
    }
}

/// Which leaves are encrypted (format spec B.5). Exactly one rule applies; the default is
/// `unencrypted_suffix: _unencrypted`.
public enum SelectionRule: Sendable, Equatable {
    case unencryptedSuffix(String)
    case encryptedSuffix(String)
    case unencryptedRegex(String)
    case encryptedRegex(String)
    case unencryptedCommentRegex(String)
    case encryptedCommentRegex(String)

    public static let `default` = SelectionRule.unencryptedSuffix("_unencrypted")

    var metadataKey: String {
        switch self {
        case .unencryptedSuffix: "unencrypted_suffix"
        case .encryptedSuffix: "encrypted_suffix"
        case .unencryptedRegex: "unencrypted_regex"
        case .encryptedRegex: "encrypted_regex"
        case .unencryptedCommentRegex: "unencrypted_comment_regex"
        case .encryptedCommentRegex: "encrypted_comment_regex"
        }
    }

    var value: String {
        switch self {
        case .unencryptedSuffix(let text), .encryptedSuffix(let text), .unencryptedRegex(let text), .encryptedRegex(let text),
            .unencryptedCommentRegex(let text), .encryptedCommentRegex(let text): text
        }
    }

    static func from(key: String, value: String) -> SelectionRule? {
        switch key {
        case "unencrypted_suffix": .unencryptedSuffix(value)
        case "encrypted_suffix": .encryptedSuffix(value)
        case "unencrypted_regex": .unencryptedRegex(value)
        case "encrypted_regex": .encryptedRegex(value)
        case "unencrypted_comment_regex": .unencryptedCommentRegex(value)
        case "encrypted_comment_regex": .encryptedCommentRegex(value)
        default: nil
        }
    }

    /// Whether a leaf at `path` is encrypted; comment rules look at the comments above it (`comments`).
    func encrypts(path: [String], comments: [String]) -> Bool {
        switch self {
        case .unencryptedSuffix(let suffix): !path.contains { $0.hasSuffix(suffix) }
        case .encryptedSuffix(let suffix): path.contains { $0.hasSuffix(suffix) }
        case .unencryptedRegex(let pattern): !path.contains { Self.matches(pattern, $0) }
        case .encryptedRegex(let pattern): path.contains { Self.matches(pattern, $0) }
        case .unencryptedCommentRegex(let pattern): !comments.contains { Self.matches(pattern, $0) }
        case .encryptedCommentRegex(let pattern): comments.contains { Self.matches(pattern, $0) }
        }
    }

    /// Unanchored search, as Go's regexp.MatchString; an invalid pattern matches nothing (as in sops).
    static func matches(_ pattern: String, _ text: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

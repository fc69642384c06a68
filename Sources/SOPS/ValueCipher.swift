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

    /// Works on the UTF-8 bytes: Foundation's `range(of:)` made parsing cost more than the decryption.
    static func parse(_ text: String) -> Parsed? {
        let bytes = Array(text.utf8)
        guard bytes.starts(with: prefixBytes) else { return nil }
        func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
            return (start...(bytes.count - needle.count)).first { at in
                bytes[at] == needle[0] && bytes[at..<(at + needle.count)].elementsEqual(needle)
            }
        }
        let dataStart = prefixBytes.count
        guard let iv = find(ivMarker, from: dataStart), let tag = find(tagMarker, from: iv + ivMarker.count),
            let type = find(typeMarker, from: tag + tagMarker.count),
            let close = bytes[(type + typeMarker.count)...].firstIndex(of: UInt8(ascii: "]"))
        else { return nil }
        let fields = [
            dataStart..<iv, (iv + ivMarker.count)..<tag, (tag + tagMarker.count)..<type,
            (type + typeMarker.count)..<close,
        ]
        guard fields.allSatisfy({ !$0.isEmpty }) else { return nil }
        // Go's decoder skips CR and LF inside base64.
        func decode(_ field: Range<Int>) -> [UInt8]? {
            StrictBase64.decode(bytes[field].filter { $0 != 10 && $0 != 13 }, padded: true)
        }
        guard let data = decode(fields[0]), let nonce = decode(fields[1]), let sealedTag = decode(fields[2]),
            sealedTag.count == 16, !nonce.isEmpty
        else { return nil }
        return Parsed(data: data, iv: nonce, tag: sealedTag, type: String(decoding: bytes[fields[3]], as: UTF8.self))
    }

    private static let prefixBytes = Array(prefix.utf8)
    private static let ivMarker = Array(",iv:".utf8)
    private static let tagMarker = Array(",tag:".utf8)
    private static let typeMarker = Array(",type:".utf8)

    /// The plaintext bytes, or nil when the value does not authenticate under this key and path.
    static func open(_ parsed: Parsed, key: [UInt8], aad: String) -> [UInt8]? {
        try? AESGCM.open(
            AESGCM.Sealed(ciphertext: parsed.data, tag: parsed.tag), key: key, nonce: parsed.iv,
            additionalData: Array(aad.utf8))
    }

    /// The plaintext as text, or nil when it does not authenticate or is not UTF-8 (never repaired into U+FFFD).
    static func decrypt(_ parsed: Parsed, key: [UInt8], aad: String) -> String? {
        open(parsed, key: key, aad: aad).flatMap { String(validating: $0, as: UTF8.self) }
    }

    static func encrypt(
        _ plaintext: String, type: String, key: [UInt8], aad: String, iv fixedIV: [UInt8]? = nil
    ) throws(SOPSError) -> String {
        try encrypt(bytes: Array(plaintext.utf8), type: type, key: key, aad: aad, iv: fixedIV)
    }

    static func encrypt(
        bytes plaintext: [UInt8], type: String, key: [UInt8], aad: String, iv fixedIV: [UInt8]? = nil
    ) throws(SOPSError) -> String {
        let iv: [UInt8]
        if let fixedIV {
            iv = fixedIV
        } else {
            iv = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(32) }
        }
        let sealed: AESGCM.Sealed
        do { sealed = try AESGCM.seal(plaintext, key: key, nonce: iv, additionalData: Array(aad.utf8)) } catch {
            throw .encryption("a value cannot be encrypted with its data key (\(key.count) bytes, 32 needed)")
        }
        return
            "ENC[AES256_GCM,data:\(StrictBase64.encode(sealed.ciphertext, padded: true)),iv:\(StrictBase64.encode(iv, padded: true)),tag:\(StrictBase64.encode(sealed.tag, padded: true)),type:\(type)]"
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
        case .unencryptedSuffix(let text), .encryptedSuffix(let text), .unencryptedRegex(let text),
            .encryptedRegex(let text), .unencryptedCommentRegex(let text), .encryptedCommentRegex(let text):
            text
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

    /// Unanchored search in Go's syntax, as regexp.MatchString (encryption checks the pattern first, see
    /// ``GoRegex``); a pattern of an existing file that GoRegex refuses is tried as ICU reads it, as before.
    static func matches(_ pattern: String, _ text: String) -> Bool {
        if let regex = try? GoRegex(pattern) { return regex.matches(text) }
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

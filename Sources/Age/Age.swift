import CryptoPrimitives

/// age v1 file encryption (https://age-encryption.org/v1), natively over OpenSSL libcrypto: X25519 and scrypt
/// recipients, the STREAM payload, ASCII armor. Strict as the reference: malformed headers, bad MACs, truncated
/// or reordered chunks and non-canonical encodings are refused.
public enum Age {
    /// The first line of every binary age file.
    public static let versionLine = "age-encryption.org/v1"
    /// The armor header of ASCII-armored age files.
    public static let armorBegin = "-----BEGIN AGE ENCRYPTED FILE-----"

    /// Encrypts to every recipient (a passphrase must be the only one), optionally armored.
    public static func encrypt(
        _ plaintext: [UInt8], to recipients: [any AgeRecipient], armor: Bool = false
    ) throws(AgeError) -> [UInt8] {
        guard !recipients.isEmpty else { throw .header("age needs at least one recipient") }
        var fileKey = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(16) }
        defer { secureZero(&fileKey) }
        var stanzas: [Stanza] = []
        for recipient in recipients { stanzas.append(try recipient.wrap(fileKey: fileKey)) }
        let nonce = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(16) }
        return try assemble(plaintext, stanzas: stanzas, fileKey: fileKey, nonce: nonce, armor: armor)
    }

    /// The file from its parts; the randomness is the caller's (known-answer tests inject it).
    static func assemble(
        _ plaintext: [UInt8], stanzas: [Stanza], fileKey: [UInt8], nonce: [UInt8], armor: Bool
    ) throws(AgeError) -> [UInt8] {
        var header = Header.serialize(stanzas)
        let file = try withCrypto { () throws(CryptoFailure) in
            let macKey = try KDF.hkdfSHA256(key: fileKey, salt: [], info: Array("header".utf8))
            let mac = Digest.hmacSHA256(key: macKey, data: header)
            header += Array(" \(StrictBase64.encode(mac, padded: false))\n".utf8)
            return header + (try PayloadStream.seal(plaintext, fileKey: fileKey, nonce: nonce))
        }
        return armor ? AgeArmor.encode(file) : file
    }

    /// Decrypts a binary or armored age file with the first identity that opens it.
    public static func decrypt(_ data: [UInt8], identities: [any AgeIdentity]) throws(AgeError) -> [UInt8] {
        let file = AgeArmor.isArmored(data) ? try AgeArmor.decode(data) : data
        let header = try Header.parse(file)
        guard !header.stanzas.isEmpty else { throw .header("no recipient stanza") }
        var fileKey: [UInt8]?
        // An identity that names a stanza but cannot be used (no passphrase at hand) lets the others try first.
        var unavailable: AgeError?
        for identity in identities {
            let unwrapped: [UInt8]?
            do { unwrapped = try identity.unwrap(header.stanzas) } catch .identityUnavailable(let reason) {
                unavailable = unavailable ?? .identityUnavailable(reason)
                continue
            }
            if let key = unwrapped {
                guard key.count == 16 else { throw .header("a wrapped file key is not 16 bytes") }
                fileKey = key
                break
            }
        }
        guard var key = fileKey else { throw unavailable ?? .noMatch }
        defer { secureZero(&key) }
        let expectedMAC = try withCrypto { () throws(CryptoFailure) in
            Digest.hmacSHA256(
                key: try KDF.hkdfSHA256(key: key, salt: [], info: Array("header".utf8)), data: header.macInput)
        }
        guard Digest.constantTimeEqual(expectedMAC, header.mac) else { throw .headerMAC }
        return try PayloadStream.open(file[header.payloadOffset...], fileKey: key)
    }
}

import CryptoPrimitives
import Foundation

/// SSH private key files as age and sops read them: OpenSSH's own format (`openssh-key-v1`, unencrypted or
/// protected by a passphrase with bcrypt and AES-256), and unencrypted PEM RSA keys (PKCS #1, PKCS #8).
public enum SSHPrivateKeyFile {
    /// Whether the bytes look like a PEM private key, as opposed to an age identity file.
    public static func isPrivateKey(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(64).starts(with: Array("-----BEGIN ".utf8))
    }

    /// The identity of a key file. `passphrase` is called at most once, and only when a file to decrypt names the
    /// key; it returns nil when no passphrase can be asked for.
    public static func parse(
        _ bytes: [UInt8], source: String, passphrase: @escaping @Sendable () -> [UInt8]?
    ) throws(AgeKeyError) -> any AgeIdentity {
        func refuse(_ reason: String) -> AgeKeyError { AgeKeyError(source: source, line: nil, reason: reason) }
        guard let block = PEMBlock(bytes) else { throw refuse("is not a PEM-encoded SSH private key") }
        switch block.label {
        case "OPENSSH PRIVATE KEY": return try openSSH(block.body, source: source, passphrase: passphrase)
        case "RSA PRIVATE KEY", "PRIVATE KEY":
            guard !block.isEncrypted else {
                throw refuse(
                    "is an encrypted PEM key, which intops cannot read; rewrite it in OpenSSH's format with ssh-keygen -p -f \(source)"
                )
            }
            guard let rsa = RSAKey.privateKey(pem: bytes) else {
                throw refuse("holds a private key that is not an RSA or Ed25519 key age can use")
            }
            return SSHRSAIdentity(rsa: rsa)
        case "ENCRYPTED PRIVATE KEY":
            throw refuse(
                "is an encrypted PKCS #8 key, which intops cannot read; rewrite it in OpenSSH's format with ssh-keygen -p -f \(source)"
            )
        default: throw refuse("holds a \(block.label), not an ssh-ed25519 or ssh-rsa key, the SSH types age can use")
        }
    }

    /// The largest bcrypt work factor accepted: OpenSSH writes 16, careful people 100 or so; a hostile file must not
    /// stall a run for hours.
    static let maximumRounds: UInt32 = 10_000

    static func openSSH(
        _ blob: [UInt8], source: String, passphrase: @escaping @Sendable () -> [UInt8]?
    ) throws(AgeKeyError) -> any AgeIdentity {
        func refuse(_ reason: String) -> AgeKeyError { AgeKeyError(source: source, line: nil, reason: reason) }
        let magic = Array("openssh-key-v1\u{0}".utf8)
        guard blob.starts(with: magic) else { throw refuse("is not an OpenSSH private key (no openssh-key-v1 magic)") }
        var reader = SSHWireReader(Array(blob.dropFirst(magic.count)))
        guard let cipher = reader.string().map({ String(decoding: $0, as: UTF8.self) }),
            let kdf = reader.string().map({ String(decoding: $0, as: UTF8.self) }), let kdfOptions = reader.string(),
            let count = reader.uint32(), let publicBlob = reader.string(), let sealed = reader.string()
        else { throw refuse("is a truncated OpenSSH private key") }
        guard count == 1 else { throw refuse("holds \(count) keys; age reads files of one key") }
        guard let publicKey = SSHPublicKey.parse(wire: publicBlob) else {
            var typeReader = SSHWireReader(publicBlob)
            let type = typeReader.string().map { String(decoding: $0, as: UTF8.self) } ?? "unknown"
            throw refuse("holds an \(type) key; age can use only ssh-ed25519 and ssh-rsa keys")
        }
        if cipher == "none" {
            guard kdf == "none", let identity = privateSection(sealed, matching: publicKey) else {
                throw refuse("is a damaged OpenSSH private key (its private part does not match its public key)")
            }
            return identity
        }
        let mode: AESUnauthenticated.Mode
        switch cipher {
        case "aes256-ctr": mode = .ctr
        case "aes256-cbc": mode = .cbc
        default:
            throw refuse(
                "is protected with the cipher \(cipher), which intops cannot read (aes256-ctr and aes256-cbc only); re-protect it with ssh-keygen -p -Z aes256-ctr -f \(source)"
            )
        }
        var options = SSHWireReader(kdfOptions)
        guard kdf == "bcrypt", let salt = options.string(), let rounds = options.uint32(), options.isAtEnd,
            !salt.isEmpty, rounds >= 1
        else { throw refuse("is protected with the key derivation \(kdf), which intops cannot read (bcrypt only)") }
        guard rounds <= maximumRounds else {
            throw refuse("asks for \(rounds) bcrypt rounds, more than the \(maximumRounds) intops accepts")
        }
        return EncryptedSSHIdentity(key: publicKey, source: source, passphrase: passphrase) { secret in
            guard var material = BcryptPBKDF.derive(password: secret, salt: salt, rounds: Int(rounds), length: 48)
            else { return nil }
            defer { secureZero(&material) }
            guard
                var section = AESUnauthenticated.decrypt(
                    sealed, mode: mode, key: Array(material[0..<32]), iv: Array(material[32..<48]))
            else { return nil }
            defer { secureZero(&section) }
            return privateSection(section, matching: publicKey)
        }
    }

    /// The identity in a decrypted private section, or nil when its check words differ (a wrong passphrase) or it
    /// does not hold the private half of `publicKey`.
    static func privateSection(_ section: [UInt8], matching publicKey: SSHPublicKey) -> (any AgeIdentity)? {
        var reader = SSHWireReader(section)
        guard let check = reader.uint32(), reader.uint32() == check,
            let type = reader.string().map({ String(decoding: $0, as: UTF8.self) }), type == publicKey.typeName
        else { return nil }
        switch publicKey {
        case .ed25519(let expected):
            guard let key = reader.string(), key == expected, var secret = reader.string(), secret.count == 64,
                Array(secret[32..<64]) == expected
            else { return nil }
            defer { secureZero(&secret) }
            return SSHEd25519Identity(seed: Array(secret[0..<32]), publicKey: expected)
        case .rsa(let modulus, _):
            guard let n = reader.unsignedMPInt(), n == modulus, let e = reader.unsignedMPInt(),
                var d = reader.unsignedMPInt(), let iqmp = reader.unsignedMPInt(), var p = reader.unsignedMPInt(),
                var q = reader.unsignedMPInt()
            else { return nil }
            defer {
                secureZero(&d)
                secureZero(&p)
                secureZero(&q)
            }
            guard
                let rsa = try? RSAKey.privateKey(
                    modulus: n, publicExponent: e, privateExponent: d, prime1: p, prime2: q, coefficient: iqmp)
            else { return nil }
            return SSHRSAIdentity(rsa: rsa)
        }
    }
}

/// One PEM block (RFC 7468), with the RFC 1421 headers legacy encrypted keys carry.
struct PEMBlock {
    var label: String
    var body: [UInt8]
    var isEncrypted: Bool

    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" }).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        guard let beginIndex = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
            return nil
        }
        let begin = lines[beginIndex]
        let label = String(begin.dropFirst("-----BEGIN ".count).dropLast(5))
        self.label = label
        guard let endIndex = lines[(beginIndex + 1)...].firstIndex(where: { $0 == "-----END \(label)-----" }) else {
            return nil
        }
        var encoded = ""
        var encrypted = false
        for line in lines[(beginIndex + 1)..<endIndex] {
            if line.contains(":") {
                if line.hasPrefix("Proc-Type:") && line.contains("ENCRYPTED") { encrypted = true }
                continue
            }
            encoded += line.filter { !$0.isWhitespace }
        }
        guard let data = Data(base64Encoded: encoded) else { return nil }
        body = Array(data)
        isEncrypted = encrypted
    }
}

import CryptoPrimitives
import Foundation

/// Something that can unwrap a file key from a header's stanzas.
public protocol AgeIdentity: Sendable {
    /// The file key, nil when no stanza is addressed to this identity; throws on a malformed stanza.
    func unwrap(_ stanzas: [Stanza]) throws(AgeError) -> [UInt8]?
}

/// Something a file key can be wrapped to. Its description is how it is written (in SOPS metadata, for example).
public protocol AgeRecipient: Sendable, CustomStringConvertible {
    /// Fails for a recipient no file key can be wrapped to (an X25519 public key of low order).
    func wrap(fileKey: [UInt8]) throws(AgeError) -> Stanza
}

/// An X25519 identity, `AGE-SECRET-KEY-1…`. It prints as a redaction.
public struct X25519Identity: AgeIdentity, CustomStringConvertible, CustomDebugStringConvertible {
    let secret: [UInt8]
    public let recipient: X25519Recipient

    public init(secretKey: [UInt8]) throws(AgeError) {
        guard secretKey.count == 32, let publicKey = try? X25519.publicKey(privateKey: secretKey) else {
            throw .header("an X25519 identity is 32 bytes")
        }
        secret = secretKey
        recipient = X25519Recipient(publicKey: publicKey)
    }

    /// Parses `AGE-SECRET-KEY-1…` (upper case only, as age requires).
    public init?(_ text: String) {
        guard let (hrp, data) = Bech32.decode(text), hrp == "AGE-SECRET-KEY-", data.count == 32,
            let identity = try? X25519Identity(secretKey: data)
        else { return nil }
        self = identity
    }

    /// Any 32 random bytes are an X25519 private key; only a failing libcrypto could refuse them.
    public static func generate() throws(AgeError) -> X25519Identity {
        var secret = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(32) }
        defer { secureZero(&secret) }
        do { return try X25519Identity(secretKey: secret) } catch {
            throw .crypto(.init(operation: "X25519 key generation", code: 0, reason: "no public key derived"))
        }
    }

    /// The Bech32 form, for writing identity files only.
    public var encoded: String { Bech32.encode(hrp: "AGE-SECRET-KEY-", data: secret) }

    public var description: String { "X25519 identity for \(recipient)" }
    public var debugDescription: String { description }

    static let info = Array("age-encryption.org/v1/X25519".utf8)

    public func unwrap(_ stanzas: [Stanza]) throws(AgeError) -> [UInt8]? {
        for stanza in stanzas where stanza.type == "X25519" {
            guard stanza.arguments.count == 1 else { throw .header("an X25519 stanza takes one argument") }
            guard let share = StrictBase64.decode(Array(stanza.arguments[0].utf8), padded: false), share.count == 32
            else { throw .header("an X25519 share is 32 bytes of canonical base64") }
            guard stanza.body.count == 32 else { throw .header("an X25519 stanza body is 32 bytes") }
            let shared: [UInt8]
            do { shared = try X25519.sharedSecret(privateKey: secret, publicKey: share) } catch {
                throw .header("an X25519 share is a low-order point")
            }
            let key = try withCrypto { () throws(CryptoFailure) in
                try KDF.hkdfSHA256(key: shared, salt: share + recipient.publicKey, info: Self.info)
            }
            if let fileKey = ChaChaPoly.open(stanza.body[...], key: key, nonce: [UInt8](repeating: 0, count: 12)) {
                return fileKey
            }
        }
        return nil
    }
}

/// A recipient as a person writes it (a flag, intops.yaml, .sops.yaml): `age1…`, or an SSH public key line
/// `ssh-ed25519 …` or `ssh-rsa …` as age and sops accept them.
public enum AgeRecipients {
    public static func parse(_ text: String) -> Result<any AgeRecipient, RecipientRefusal> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // OpenSSH's other key types (ECDSA, security keys) are named, so that the error says what to use instead.
        if ["ssh-", "ecdsa-", "sk-"].contains(where: trimmed.hasPrefix) {
            switch SSHPublicKey.parse(authorizedKey: trimmed) {
            case .failure(.unsupportedType(let type)): return .failure(.unsupportedSSHType(type))
            case .failure(.malformed): return .failure(.malformedSSH(trimmed))
            case .success(let key):
                switch key {
                case .ed25519:
                    guard let recipient = SSHEd25519Recipient(key, text: trimmed) else {
                        return .failure(.malformedSSH(trimmed))
                    }
                    return .success(recipient)
                case .rsa(let modulus, let exponent):
                    guard let rsa = try? RSAKey.publicKey(modulus: modulus, exponent: exponent) else {
                        return .failure(.malformedSSH(trimmed))
                    }
                    // age refuses keys under 2048 bits.
                    guard rsa.bits >= 2048 else { return .failure(.weakRSA(trimmed, bits: rsa.bits)) }
                    return .success(SSHRSARecipient(key: key, rsa: rsa, description: trimmed))
                }
            }
        }
        guard let recipient = X25519Recipient(trimmed) else { return .failure(.malformed(trimmed)) }
        guard !recipient.isLowOrder else { return .failure(.lowOrder(trimmed)) }
        return .success(recipient)
    }
}

/// Why a written recipient cannot be encrypted to, as the sentence after it.
public enum RecipientRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case lowOrder(String)
    case malformedSSH(String)
    case unsupportedSSHType(String)
    case weakRSA(String, bits: Int)

    public var description: String {
        switch self {
        case .malformed(let text):
            "\(text) is not an age recipient (age1… in lower case with a valid checksum, or an ssh-ed25519 or ssh-rsa public key)"
        case .lowOrder(let text): "the age recipient \(text) is a low-order point: no file key can be wrapped to it"
        case .malformedSSH(let text):
            "\(Self.abbreviated(text)) is not a valid SSH public key line (TYPE BASE64 [COMMENT])"
        case .unsupportedSSHType(let type):
            "the SSH key type \(type) cannot be an age recipient; use an ssh-ed25519 or ssh-rsa key"
        case .weakRSA(let text, let bits):
            "the SSH RSA key \(Self.abbreviated(text)) has \(bits) bits; age needs at least 2048"
        }
    }

    /// SSH key lines run to hundreds of characters; the type and the start of the key say which one it is.
    private static func abbreviated(_ text: String) -> String { text.count > 40 ? text.prefix(40) + "…" : text }
}

/// An X25519 recipient, `age1…`.
public struct X25519Recipient: AgeRecipient, Hashable, CustomStringConvertible {
    public let publicKey: [UInt8]

    public init(publicKey: [UInt8]) { self.publicKey = publicKey }

    public init?(_ text: String) {
        guard let (hrp, data) = Bech32.decode(text), hrp == "age", data.count == 32 else { return nil }
        publicKey = data
    }

    public var description: String { Bech32.encode(hrp: "age", data: publicKey) }

    /// Whether no file key can be wrapped to it: a low-order point gives every sender the all-zero shared secret, so
    /// age refuses it, and so does intops, as early as the recipient is read.
    public var isLowOrder: Bool {
        (try? X25519.sharedSecret(privateKey: Self.probeScalar, publicKey: publicKey)) == nil
    }

    /// Any fixed scalar tells a low-order point: the shared secret is zero for every one.
    private static let probeScalar: [UInt8] = [0x48] + [UInt8](repeating: 0x2a, count: 30) + [0x40]

    public func wrap(fileKey: [UInt8]) throws(AgeError) -> Stanza {
        var ephemeral = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(32) }
        defer { secureZero(&ephemeral) }
        return try wrap(fileKey: fileKey, ephemeral: ephemeral)
    }

    func wrap(fileKey: [UInt8], ephemeral: [UInt8]) throws(AgeError) -> Stanza {
        // A recipient comes from user input: a low-order point gives no shared secret, and libcrypto refuses it.
        guard let share = try? X25519.publicKey(privateKey: ephemeral),
            let shared = try? X25519.sharedSecret(privateKey: ephemeral, publicKey: publicKey)
        else { throw .header("the recipient \(self) is a low-order point; no file key can be wrapped to it") }
        let body = try withCrypto { () throws(CryptoFailure) in
            let key = try KDF.hkdfSHA256(key: shared, salt: share + publicKey, info: X25519Identity.info)
            return try ChaChaPoly.seal(fileKey, key: key, nonce: [UInt8](repeating: 0, count: 12))
        }
        return Stanza(type: "X25519", arguments: [StrictBase64.encode(share, padded: false)], body: body)
    }
}

/// A passphrase (scrypt) recipient and identity.
public struct ScryptPassphrase: AgeIdentity, AgeRecipient, CustomStringConvertible {
    let passphrase: [UInt8]
    /// The work factor used when encrypting.
    public var logN: Int
    /// The largest work factor accepted when decrypting (age's default).
    public var maximumLogN: Int

    public init(_ passphrase: String, logN: Int = 18, maximumLogN: Int = 22) {
        self.passphrase = Array(passphrase.utf8)
        self.logN = logN
        self.maximumLogN = maximumLogN
    }

    public var description: String { "passphrase (redacted)" }

    static let label = Array("age-encryption.org/v1/scrypt".utf8)

    public func wrap(fileKey: [UInt8]) throws(AgeError) -> Stanza {
        let salt = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(16) }
        guard let key = KDF.scrypt(password: passphrase, salt: Self.label + salt, logN: logN) else {
            throw .header("the scrypt work factor \(logN) is out of range")
        }
        let body = try withCrypto { () throws(CryptoFailure) in
            try ChaChaPoly.seal(fileKey, key: key, nonce: [UInt8](repeating: 0, count: 12))
        }
        return Stanza(type: "scrypt", arguments: [StrictBase64.encode(salt, padded: false), String(logN)], body: body)
    }

    public func unwrap(_ stanzas: [Stanza]) throws(AgeError) -> [UInt8]? {
        guard stanzas.contains(where: { $0.type == "scrypt" }) else { return nil }
        guard stanzas.count == 1 else { throw .header("a passphrase-encrypted file must have exactly one stanza") }
        let stanza = stanzas[0]
        guard stanza.arguments.count == 2 else { throw .header("an scrypt stanza takes two arguments") }
        guard let salt = StrictBase64.decode(Array(stanza.arguments[0].utf8), padded: false), salt.count == 16 else {
            throw .header("an scrypt salt is 16 bytes of canonical base64")
        }
        let factor = stanza.arguments[1]
        guard let first = factor.first, ("1"..."9").contains(first), factor.allSatisfy(\.isASCII),
            factor.allSatisfy(\.isNumber), factor.count <= 3, let logN = Int(factor), logN >= 1
        else { throw .header("an scrypt work factor is a decimal number without leading zeros") }
        guard logN <= maximumLogN else { throw .header("the scrypt work factor \(logN) exceeds \(maximumLogN)") }
        guard stanza.body.count == 32 else { throw .header("an scrypt stanza body is 32 bytes") }
        guard let key = KDF.scrypt(password: passphrase, salt: Self.label + salt, logN: logN) else {
            throw .header("scrypt failed")
        }
        return ChaChaPoly.open(stanza.body[...], key: key, nonce: [UInt8](repeating: 0, count: 12))
    }
}

import CryptoPrimitives
import Synchronization

/// age's `ssh-ed25519` recipient: the SSH key mapped to X25519, the shared secret tweaked by the key's wire form.
/// Unlike `age1…` recipients, the stanza names the key (by a four-byte tag).
public struct SSHEd25519Recipient: AgeRecipient {
    let key: SSHPublicKey
    let montgomery: [UInt8]
    /// The line it was written as; it stands for the recipient in SOPS metadata, as sops keeps it.
    public let description: String

    init?(_ key: SSHPublicKey, text: String) {
        guard case .ed25519(let edwards) = key, let montgomery = Ed25519Conversion.montgomeryPublicKey(edwards: edwards)
        else { return nil }
        self.key = key
        self.montgomery = montgomery
        description = text
    }

    static let label = Array("age-encryption.org/v1/ssh-ed25519".utf8)

    static func tweak(_ key: SSHPublicKey) throws(AgeError) -> [UInt8] {
        try withCrypto { () throws(CryptoFailure) in try KDF.hkdfSHA256(key: [], salt: key.wire, info: label) }
    }

    public func wrap(fileKey: [UInt8]) throws(AgeError) -> Stanza {
        var ephemeral = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(32) }
        defer { secureZero(&ephemeral) }
        guard let share = try? X25519.publicKey(privateKey: ephemeral),
            let exchanged = try? X25519.sharedSecret(privateKey: ephemeral, publicKey: montgomery),
            let shared = try? X25519.sharedSecret(privateKey: try Self.tweak(key), publicKey: exchanged)
        else { throw .header("the SSH recipient \(key.tag) is a low-order point; no file key can be wrapped to it") }
        let body = try withCrypto { () throws(CryptoFailure) in
            let wrapping = try KDF.hkdfSHA256(key: shared, salt: share + montgomery, info: Self.label)
            return try ChaChaPoly.seal(fileKey, key: wrapping, nonce: [UInt8](repeating: 0, count: 12))
        }
        return Stanza(type: "ssh-ed25519", arguments: [key.tag, StrictBase64.encode(share, padded: false)], body: body)
    }
}

/// age's `ssh-rsa` recipient: the file key under RSA-OAEP-SHA-256 with age's label.
public struct SSHRSARecipient: AgeRecipient {
    let key: SSHPublicKey
    let rsa: RSAKey
    public let description: String

    static let label = Array("age-encryption.org/v1/ssh-rsa".utf8)

    public func wrap(fileKey: [UInt8]) throws(AgeError) -> Stanza {
        let body = try withCrypto { () throws(CryptoFailure) in try rsa.encryptOAEP(fileKey, label: Self.label) }
        return Stanza(type: "ssh-rsa", arguments: [key.tag], body: body)
    }
}

/// The identity of an unencrypted SSH Ed25519 private key. It prints as a redaction.
public struct SSHEd25519Identity: AgeIdentity, CustomStringConvertible {
    let key: SSHPublicKey
    let scalar: [UInt8]
    let montgomery: [UInt8]

    init?(seed: [UInt8], publicKey: [UInt8]) {
        guard let scalar = Ed25519Conversion.x25519Scalar(seed: seed),
            let montgomery = try? X25519.publicKey(privateKey: scalar)
        else { return nil }
        key = .ed25519(publicKey)
        self.scalar = scalar
        self.montgomery = montgomery
    }

    public var description: String { "SSH Ed25519 identity \(key.tag)" }

    public func unwrap(_ stanzas: [Stanza]) throws(AgeError) -> [UInt8]? {
        for stanza in stanzas where stanza.type == "ssh-ed25519" {
            guard stanza.arguments.count == 2 else { throw .header("an ssh-ed25519 stanza takes two arguments") }
            guard stanza.arguments[0] == key.tag else { continue }
            guard let share = StrictBase64.decode(Array(stanza.arguments[1].utf8), padded: false), share.count == 32
            else { throw .header("an ssh-ed25519 share is 32 bytes of canonical base64") }
            guard let exchanged = try? X25519.sharedSecret(privateKey: scalar, publicKey: share),
                let shared = try? X25519.sharedSecret(
                    privateKey: try SSHEd25519Recipient.tweak(key), publicKey: exchanged)
            else { throw .header("an ssh-ed25519 share is a low-order point") }
            let wrapping = try withCrypto { () throws(CryptoFailure) in
                try KDF.hkdfSHA256(key: shared, salt: share + montgomery, info: SSHEd25519Recipient.label)
            }
            // A matching tag that does not open is a damaged stanza (or a tag collision, which age also reports).
            guard
                let fileKey = ChaChaPoly.open(stanza.body[...], key: wrapping, nonce: [UInt8](repeating: 0, count: 12))
            else { throw .header("the ssh-ed25519 stanza for \(key.tag) does not open with its key") }
            return fileKey
        }
        return nil
    }
}

/// The identity of an unencrypted SSH RSA private key. It prints as a redaction.
public struct SSHRSAIdentity: AgeIdentity, CustomStringConvertible {
    let key: SSHPublicKey
    let rsa: RSAKey

    init(rsa: RSAKey) {
        self.rsa = rsa
        key = .rsa(modulus: rsa.modulus, exponent: rsa.publicExponent)
    }

    public var description: String { "SSH RSA identity \(key.tag)" }

    public func unwrap(_ stanzas: [Stanza]) throws(AgeError) -> [UInt8]? {
        for stanza in stanzas where stanza.type == "ssh-rsa" {
            guard stanza.arguments.count == 1 else { throw .header("an ssh-rsa stanza takes one argument") }
            guard stanza.arguments[0] == key.tag else { continue }
            guard let fileKey = rsa.decryptOAEP(stanza.body, label: SSHRSARecipient.label) else {
                throw .header("the ssh-rsa stanza for \(key.tag) does not open with its key")
            }
            return fileKey
        }
        return nil
    }
}

/// A passphrase-protected SSH private key: the passphrase is asked for only when a stanza names this key, and the
/// key is decrypted once.
public final class EncryptedSSHIdentity: AgeIdentity, CustomStringConvertible {
    let key: SSHPublicKey
    let source: String
    private let open: @Sendable ([UInt8]) -> (any AgeIdentity)?
    private let passphrase: @Sendable () -> [UInt8]?
    private let opened = Mutex<(any AgeIdentity)?>(nil)

    init(
        key: SSHPublicKey, source: String, passphrase: @escaping @Sendable () -> [UInt8]?,
        open: @escaping @Sendable ([UInt8]) -> (any AgeIdentity)?
    ) {
        self.key = key
        self.source = source
        self.passphrase = passphrase
        self.open = open
    }

    public var description: String { "passphrase-protected SSH identity \(source)" }

    public func unwrap(_ stanzas: [Stanza]) throws(AgeError) -> [UInt8]? {
        guard stanzas.contains(where: { $0.type == key.typeName && $0.arguments.first == key.tag }) else { return nil }
        let identity: any AgeIdentity
        if let known = opened.withLock({ $0 }) {
            identity = known
        } else {
            guard var secret = passphrase() else {
                throw .identityUnavailable(
                    "\(source) is protected by a passphrase, which intops asks for on a terminal, and there is none")
            }
            defer { secureZero(&secret) }
            guard let decrypted = open(secret) else {
                throw .identityUnavailable("\(source) does not open with that passphrase")
            }
            opened.withLock { $0 = decrypted }
            identity = decrypted
        }
        return try identity.unwrap(stanzas)
    }
}

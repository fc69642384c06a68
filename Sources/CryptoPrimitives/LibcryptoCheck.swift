import Foundation

/// Checks once, before a program does any work, that libcrypto has every algorithm intops uses and computes each
/// one right (a known answer per algorithm). A provider configuration that lacks one (a FIPS-only OpenSSL has no
/// ChaCha20-Poly1305 and may have no X25519) then stops the program with a ``CryptoFailure`` carrying libcrypto's
/// error code, instead of stopping it half-way through a run.
public enum LibcryptoCheck {
    public static func verify() throws(CryptoFailure) {
        try expect("SHA-256", try Digest.sha256Checked(Array("abc".utf8)), sha256ABC)
        try expect("SHA-512", try Digest.sha512Checked(Array("abc".utf8)), sha512ABC)
        try expect(
            "HMAC-SHA-256",
            try Digest.hmacSHA256Checked(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8)),
            hmacJefe)
        let jefe = try HMACKey(Array("Jefe".utf8))
        let (what, nothing) = (Array("what do ya want ".utf8), Array("for nothing?".utf8))
        let keyed = what.withUnsafeBytes { first in
            nothing.withUnsafeBytes { second in
                Result { () throws(CryptoFailure) in try jefe.authenticateChecked([first, second]) }
            }
        }
        try expect("HMAC-SHA-256", try keyed.get(), hmacJefe)
        try expect(
            "HKDF-SHA-256",
            try KDF.hkdfSHA256(key: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], length: 42), hkdfCase3)
        let key = [UInt8](repeating: 7, count: 32)
        let nonce = [UInt8](repeating: 9, count: 12)
        let sealed = try ChaChaPoly.seal(Array("intops".utf8), key: key, nonce: nonce)
        try expect(
            "ChaCha20-Poly1305 decryption", ChaChaPoly.open(sealed[...], key: key, nonce: nonce) ?? [],
            Array("intops".utf8))
        let box = try? AESGCM.seal(Array("intops".utf8), key: key, nonce: nonce)
        guard let opened = box.flatMap({ try? AESGCM.open($0, key: key, nonce: nonce) }) else {
            throw .fromQueue("AES-256-GCM")
        }
        try expect("AES-256-GCM", opened, Array("intops".utf8))
        guard let publicKey = try? X25519.publicKey(privateKey: aliceScalar) else { throw .fromQueue("X25519") }
        try expect("X25519", publicKey, alicePublic)
        _ = try SecureRandom.bytes(16)
    }

    private static func expect(_ operation: String, _ actual: [UInt8], _ expected: [UInt8]) throws(CryptoFailure) {
        guard actual == expected else {
            throw CryptoFailure(operation: operation, code: 0, reason: "a known answer came out wrong")
        }
    }

    private static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        // A mistyped constant gives a wrong byte, which its known answer then reports.
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16) ?? 0
        }
    }

    /// FIPS 180-2, "abc".
    private static let sha256ABC = bytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    private static let sha512ABC = bytes(
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    /// RFC 4231, test case 2.
    private static let hmacJefe = bytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    /// RFC 5869, test case 3 (no salt, no info).
    private static let hkdfCase3 = bytes(
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    /// RFC 7748, section 6.1 (Alice).
    private static let aliceScalar = bytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    private static let alicePublic = bytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
}

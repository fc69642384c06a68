import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@Suite struct CryptoPrimitivesTests {
    /// Every known answer of the start-up check holds on the libcrypto the tests run with; the check refusing a
    /// libcrypto without the algorithms is shown end to end (HardeningTests).
    @Test func theStartUpCheckPassesOnAWorkingLibcrypto() throws { try LibcryptoCheck.verify() }

    @Test func sha256KnownAnswer() {
        #expect(
            Digest.sha256(Data("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256(Data()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// RFC 4231 test case 2.
    @Test func hmacKnownAnswer() {
        let mac = Digest.hmacSHA256(key: Data("Jefe".utf8), data: Data("what do ya want for nothing?".utf8))
        #expect(mac.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// RFC 4231 test cases 2 and 6 (a key longer than the block), through a key set up once, in pieces and from
    /// many threads at once.
    @Test func keyedHMACMatchesTheOneShotAndTheVectors() async throws {
        let jefe = try HMACKey(Data("Jefe".utf8))
        let message = Array("what do ya want for nothing?".utf8)
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        #expect(jefe.authenticate(message).hex == expected)
        let pieces = message.withUnsafeBytes { bytes in
            jefe.authenticate([
                UnsafeRawBufferPointer(rebasing: bytes[..<5]), UnsafeRawBufferPointer(rebasing: bytes[5..<5]),
                UnsafeRawBufferPointer(rebasing: bytes[5...]),
            ])
        }
        #expect(pieces.hex == expected)
        let long = try HMACKey([UInt8](repeating: 0xaa, count: 131))
        #expect(
            long.authenticate(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)).hex
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let results = await withTaskGroup(of: String.self) { group in
            for _ in 0..<64 { group.addTask { jefe.authenticate(message).hex } }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: expected, count: 64))
    }

    /// NIST GCM test vector (test case 16 of the GCM specification, AES-256 with additional data).
    @Test func aesGCMKnownAnswer() throws {
        let key = hexBytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = hexBytes("cafebabefacedbaddecaf888")
        let plaintext = hexBytes(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )
        let aad = hexBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let sealed = try AESGCM.seal(plaintext, key: key, nonce: nonce, additionalData: aad)
        #expect(
            sealed.ciphertext.hex
                == "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        )
        #expect(sealed.tag.hex == "76fc6ece0f4e1768cddf8853bb2d551b")
        #expect(try AESGCM.open(sealed, key: key, nonce: nonce, additionalData: aad) == plaintext)
    }

    @Test func aesGCMRefusesTamperingAndWrongData() throws {
        let key = try SecureRandom.bytes(32)
        let nonce = try SecureRandom.bytes(32)  // SOPS' nonce length
        let sealed = try AESGCM.seal(Data("payload".utf8), key: key, nonce: nonce, additionalData: Array("a:b:".utf8))
        #expect(
            try AESGCM.open(sealed, key: key, nonce: nonce, additionalData: Array("a:b:".utf8)) == Array("payload".utf8)
        )
        var flipped = sealed
        flipped.ciphertext[0] ^= 1
        #expect(throws: AESGCM.Failure.authenticationFailed) {
            try AESGCM.open(flipped, key: key, nonce: nonce, additionalData: Array("a:b:".utf8))
        }
        #expect(throws: AESGCM.Failure.authenticationFailed) {
            try AESGCM.open(sealed, key: key, nonce: nonce, additionalData: Array("a:c:".utf8))
        }
        #expect(throws: AESGCM.Failure.authenticationFailed) {
            try AESGCM.open(sealed, key: try SecureRandom.bytes(32), nonce: nonce, additionalData: Array("a:b:".utf8))
        }
        #expect(throws: AESGCM.Failure.invalidParameters) { try AESGCM.seal(Data(), key: [1, 2], nonce: nonce) }
    }

    @Test func randomBytesDiffer() throws {
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(try SecureRandom.bytes(0).isEmpty)
    }
}

import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import Age

@Suite struct AgeTests {
    /// Byte-exact re-encryption of the known-answer vectors, with their randomness injected.
    @Test func knownAnswers() throws {
        let directory = fixtures.appendingPathComponent("age/kat")
        let kat = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("kat.json")))
                as? [String: Any])
        let identity = try #require(X25519Identity(kat["identity"] as! String))
        #expect(identity.recipient.description == kat["recipient"] as? String)
        let recipient = try #require(X25519Recipient(kat["recipient"] as! String))
        let fileKey = hexBytes(kat["file_key_hex"] as! String)
        let ephemeral = hexBytes(kat["ephemeral_secret_hex"] as! String)
        let nonce = hexBytes(kat["payload_nonce_hex"] as! String)
        for vector in kat["vectors"] as! [[String: Any]] {
            let length = vector["plaintext_len"] as! Int
            let plaintext =
                vector["plaintext_rule"] is NSNull
                ? hexBytes(vector["plaintext_hex"] as! String) : (0..<length).map { UInt8($0 % 251) }
            let stanza = try recipient.wrap(fileKey: fileKey, ephemeral: ephemeral)
            #expect(stanza.body.hex == vector["stanza_body_hex"] as? String)
            let files = vector["files"] as! [String]
            let binary = try Age.assemble(plaintext, stanzas: [stanza], fileKey: fileKey, nonce: nonce, armor: false)
            #expect(binary == Array(try Data(contentsOf: directory.appendingPathComponent(files[0]))), "\(files[0])")
            let armored = try Age.assemble(plaintext, stanzas: [stanza], fileKey: fileKey, nonce: nonce, armor: true)
            #expect(armored == Array(try Data(contentsOf: directory.appendingPathComponent(files[1]))), "\(files[1])")
            #expect(try Age.decrypt(armored, identities: [identity]) == plaintext)
        }
    }

    @Test func bech32KnownAnswers() throws {
        let identity = try #require(
            X25519Identity("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"))
        #expect(identity.secret == [UInt8](repeating: 0x42, count: 32))
        #expect(identity.recipient.description == "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj")
        #expect(identity.encoded == "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
        #expect(
            X25519Recipient(publicKey: [UInt8](repeating: 0, count: 32)).description
                == "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z")
        // Refused: upper-case recipient, lower-case identity, mixed case, bad checksum, wrong length.
        #expect(X25519Recipient("AGE1ZVKYG2LQZRAA2LNJVQEJ32NKUU0UES2S82HZRYE869XEEXVN73EQUNUJWJ") == nil)
        #expect(X25519Identity("age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex") == nil)
        #expect(X25519Recipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwJ") == nil)
        #expect(X25519Recipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwk") == nil)
        #expect(X25519Recipient("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqcu47z") == nil)
        #expect("\(identity)".contains("AGE-SECRET-KEY") == false, "an identity prints as a redaction")
    }

    @Test func base64IsStrict() throws {
        #expect(StrictBase64.decode(Array("QQ".utf8), padded: false) == [0x41])
        #expect(StrictBase64.decode(Array("QR".utf8), padded: false) == nil, "non-canonical")
        #expect(StrictBase64.decode(Array("QQ==".utf8), padded: false) == nil, "padding where none belongs")
        #expect(StrictBase64.decode(Array("QQ==".utf8), padded: true) == [0x41])
        #expect(StrictBase64.decode(Array("QQ".utf8), padded: true) == nil)
        #expect(StrictBase64.decode(Array("Q".utf8), padded: false) == nil)
        #expect(StrictBase64.decode(Array("QQ\n".utf8), padded: false) == nil)
        for length in 0..<40 {
            let bytes = try SecureRandom.bytes(length)
            #expect(StrictBase64.decode(Array(StrictBase64.encode(bytes, padded: true).utf8), padded: true) == bytes)
            #expect(StrictBase64.decode(Array(StrictBase64.encode(bytes, padded: false).utf8), padded: false) == bytes)
        }
    }

    @Test(arguments: [0, 1, 32, 65_535, 65_536, 65_537, 200_000]) func roundTrips(_ length: Int) throws {
        let plaintext = try SecureRandom.bytes(length)
        let identity = try X25519Identity.generate()
        let other = try X25519Identity.generate()
        for armor in [false, true] {
            let file = try Age.encrypt(plaintext, to: [other.recipient, identity.recipient], armor: armor)
            #expect(try Age.decrypt(file, identities: [identity]) == plaintext)
            #expect(throws: AgeError.noMatch) { try Age.decrypt(file, identities: [try X25519Identity.generate()]) }
        }
    }

    /// A recipient is user input: one of low order (here the all-zero point) gives no shared secret, and encrypting
    /// to it is an error, not a crash; so is a scrypt work factor out of range.
    @Test func unusableRecipientsAreErrors() {
        #expect(throws: AgeError.self) {
            try Age.encrypt([1, 2, 3], to: [X25519Recipient(publicKey: [UInt8](repeating: 0, count: 32))])
        }
        #expect(throws: AgeError.self) { try Age.encrypt([1, 2, 3], to: [ScryptPassphrase("pw", logN: 64)]) }
        #expect(throws: AgeError.self) { try Age.encrypt([1, 2, 3], to: []) }
    }

    @Test func passphraseRoundTrip() throws {
        let file = try Age.encrypt(Array("secret".utf8), to: [ScryptPassphrase("correct horse", logN: 10)], armor: true)
        #expect(try Age.decrypt(file, identities: [ScryptPassphrase("correct horse")]) == Array("secret".utf8))
        #expect(throws: AgeError.noMatch) { try Age.decrypt(file, identities: [ScryptPassphrase("wrong")]) }
        let strict = ScryptPassphrase("correct horse", maximumLogN: 9)
        #expect(throws: AgeError.header("the scrypt work factor 10 exceeds 9")) {
            try Age.decrypt(file, identities: [strict])
        }
    }

    @Test func tamperingIsDetected() throws {
        let identity = try X25519Identity.generate()
        let plaintext = try SecureRandom.bytes(70_000)
        let file = try Age.encrypt(plaintext, to: [identity.recipient])
        let payloadStart = file.count - 70_000 - 32 - 16
        var flippedPayload = file
        flippedPayload[file.count - 5] ^= 1
        #expect(throws: AgeError.payload("chunk 1 does not authenticate")) {
            try Age.decrypt(flippedPayload, identities: [identity])
        }
        #expect(throws: AgeError.self) { try Age.decrypt(Array(file.dropLast(10)), identities: [identity]) }
        var flippedMAC = file
        let macLine = file.firstRange(of: Array("--- ".utf8))!.upperBound
        flippedMAC[macLine] = flippedMAC[macLine] == 65 ? 66 : 65
        #expect(throws: AgeError.self) { try Age.decrypt(flippedMAC, identities: [identity]) }
        // Swapping the two chunks is refused.
        let header = Array(file[..<(payloadStart + 16)])
        let first = Array(file[(payloadStart + 16)..<(payloadStart + 16 + 65_552)])
        let second = Array(file[(payloadStart + 16 + 65_552)...])
        #expect(throws: AgeError.self) { try Age.decrypt(header + second + first, identities: [identity]) }
        #expect(throws: AgeError.self) { try Age.decrypt(Array("garbage".utf8), identities: [identity]) }
    }

    @Test func identityFiles() throws {
        let identity = try X25519Identity.generate()
        let text = AgeIdentityFile.render(identity, created: "2026-11-27T09:00:00Z")
        #expect(
            try AgeIdentityFile.parse(text.replacingOccurrences(of: "\n", with: "\r\n"), source: "keys.txt").map(
                \.recipient) == [identity.recipient])
        #expect(
            throws: AgeKeyError(
                source: "keys.txt", line: 2,
                reason: "is not an age identity (expected AGE-SECRET-KEY-1…, a # comment or an empty line)")
        ) { try AgeIdentityFile.parse("# c\n \(identity.encoded)\n", source: "keys.txt") }
        #expect(throws: AgeKeyError(source: "keys.txt", line: nil, reason: "holds no age identity")) {
            try AgeIdentityFile.parse("# only a comment\n", source: "keys.txt")
        }
        // The real fixtures.
        let keys = try String(
            contentsOf: fixtures.appendingPathComponent("age/filosottile-age/example_keys.txt"), encoding: .utf8)
        let example = try Data(contentsOf: fixtures.appendingPathComponent("age/filosottile-age/example.age"))
        let plaintext = try Age.decrypt(
            Array(example), identities: try AgeIdentityFile.parse(keys, source: "example_keys.txt"))
        #expect(String(decoding: plaintext, as: UTF8.self).hasPrefix("Black lives matter."))
    }
}

import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import Age

/// age's ssh-ed25519 and ssh-rsa recipient types against the real `age` and keys made by the real `ssh-keygen`.
@Suite struct SSHInteropTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("age-ssh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A key pair made by ssh-keygen; `passphrase` empty for an unencrypted key. One bcrypt round keeps the
    /// protected case fast (the derivation is the same at any count).
    func keygen(_ type: String, _ name: String, format: String? = nil, passphrase: String = "") async throws {
        try Subprocess.requireTool("ssh-keygen")
        var arguments = ["ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", "intops-test", "-f", path(name)]
        if type == "rsa" { arguments += ["-b", "2048"] }
        if let format { arguments += ["-m", format] }
        if !passphrase.isEmpty { arguments += ["-a", "2"] }
        let result = try await Subprocess.run(arguments)
        #expect(result.status == 0, "\(result.stderrText)")
    }

    func publicLine(_ name: String) throws -> String {
        try String(contentsOfFile: path(name + ".pub"), encoding: .utf8).trimmingCharacters(in: .newlines)
    }

    func identity(_ name: String, passphrase: String? = nil) throws -> any AgeIdentity {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path(name))))
        return try SSHPrivateKeyFile.parse(bytes, source: name) { passphrase.map { Array($0.utf8) } }
    }

    func recipient(_ line: String) throws -> any AgeRecipient {
        switch AgeRecipients.parse(line) {
        case .success(let recipient): return recipient
        case .failure(let refusal): throw refusal
        }
    }

    @Test(arguments: [("ed25519", nil), ("rsa", nil), ("rsa", "PEM"), ("rsa", "PKCS8")] as [(String, String?)])
    func bothWaysWithAge(_ type: String, _ format: String?) async throws {
        try Subprocess.requireTool("age")
        try await keygen(type, "key", format: format)
        let plaintext = try SecureRandom.bytes(1000)
        try Data(plaintext).write(to: URL(fileURLWithPath: path("plain")))
        // age → intops
        let encrypted = try await Subprocess.run([
            "age", "-e", "-R", path("key.pub"), "-o", path("by-age"), path("plain"),
        ])
        #expect(encrypted.status == 0, "\(encrypted.stderrText)")
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: path("by-age"))))
        #expect(try Age.decrypt(file, identities: [identity("key")]) == plaintext)
        // intops → age
        try Data(Age.encrypt(plaintext, to: [recipient(publicLine("key"))])).write(
            to: URL(fileURLWithPath: path("by-intops")))
        let decrypted = try await Subprocess.run(["age", "-d", "-i", path("key"), path("by-intops")])
        #expect(decrypted.status == 0, "\(decrypted.stderrText)")
        #expect(Array(decrypted.stdout) == plaintext)
    }

    @Test(arguments: ["ed25519", "rsa"]) func passphraseProtectedKey(_ type: String) async throws {
        try Subprocess.requireTool("age")
        try await keygen(type, "locked", passphrase: "correct horse")
        let plaintext = Array("behind a passphrase".utf8)
        try Data(plaintext).write(to: URL(fileURLWithPath: path("plain")))
        let encrypted = try await Subprocess.run([
            "age", "-e", "-R", path("locked.pub"), "-o", path("by-age"), path("plain"),
        ])
        #expect(encrypted.status == 0, "\(encrypted.stderrText)")
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: path("by-age"))))
        #expect(try Age.decrypt(file, identities: [identity("locked", passphrase: "correct horse")]) == plaintext)
        #expect(throws: AgeError.identityUnavailable("locked does not open with that passphrase")) {
            try Age.decrypt(file, identities: [identity("locked", passphrase: "wrong")])
        }
        #expect(
            throws: AgeError.identityUnavailable(
                "locked is protected by a passphrase, which intops asks for on a terminal, and there is none")
        ) { try Age.decrypt(file, identities: [identity("locked", passphrase: nil)]) }
        // A file for another recipient never asks.
        let other = try X25519Identity.generate()
        let foreign = try Age.encrypt(plaintext, to: [other.recipient])
        #expect(throws: AgeError.noMatch) {
            try Age.decrypt(
                foreign,
                identities: [
                    SSHPrivateKeyFile.parse(
                        Array(try Data(contentsOf: URL(fileURLWithPath: path("locked")))), source: "locked"
                    ) {
                        Issue.record("asked for a passphrase no stanza needed")
                        return nil
                    }
                ])
        }
    }

    @Test func refusals() async throws {
        try await keygen("ecdsa", "ecdsa")
        #expect(AgeRecipients.parse(try publicLine("ecdsa")).failure == .unsupportedSSHType("ecdsa-sha2-nistp256"))
        #expect(throws: AgeKeyError.self) { try identity("ecdsa") }
        #expect(AgeRecipients.parse("ssh-ed25519 AAAA").failure == .malformedSSH("ssh-ed25519 AAAA"))
        try await keygen("rsa", "small-rsa-1024-bits-is-refused-by-age")
        let small = try await Subprocess.run([
            "ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", path("small"),
        ])
        #expect(small.status == 0)
        guard case .weakRSA(_, let bits) = AgeRecipients.parse(try publicLine("small")).failure else {
            Issue.record("a 1024-bit RSA key was accepted")
            return
        }
        #expect(bits == 1024)
        // Hostile files: truncated, a huge work factor.
        let key = Array(try Data(contentsOf: URL(fileURLWithPath: path("small"))))
        #expect(throws: AgeKeyError.self) { try SSHPrivateKeyFile.parse(Array(key.prefix(200)), source: "cut") { nil } }
    }

    @Test func ed25519ToMontgomeryMatchesRFC7748Basepoint() {
        // The Ed25519 base point (y = 4/5) maps to the X25519 base point u = 9.
        let edwardsBase = hexBytes("5866666666666666666666666666666666666666666666666666666666666666")
        #expect(Ed25519Conversion.montgomeryPublicKey(edwards: edwardsBase) == [9] + [UInt8](repeating: 0, count: 31))
        // y = 2 gives no point of the curve.
        #expect(Ed25519Conversion.montgomeryPublicKey(edwards: [2] + [UInt8](repeating: 0, count: 31)) == nil)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

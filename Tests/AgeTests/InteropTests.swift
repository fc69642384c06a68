import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import Age

/// intops' age against the real `age` 1.1 (Debian package), both directions.
@Suite struct AgeInteropTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("age-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @Test(arguments: [0, 1, 1000, 65_536, 65_537, 200_000]) func x25519BothWays(_ length: Int) async throws {
        try Subprocess.requireTool("age")
        try Subprocess.requireTool("age-keygen")
        let keygen = try await Subprocess.run(["age-keygen", "-o", path("keys.txt")])
        #expect(keygen.status == 0)
        let identities = try AgeIdentityFile.parse(
            String(contentsOfFile: path("keys.txt"), encoding: .utf8), source: "keys.txt")
        let recipient = identities[0].recipient.description
        let plaintext = try SecureRandom.bytes(length)
        try Data(plaintext).write(to: URL(fileURLWithPath: path("plain")))

        for armor in [false, true] {
            // age → intops
            let encrypted = try await Subprocess.run(
                ["age", "-e", "-r", recipient] + (armor ? ["-a"] : []) + ["-o", path("by-age"), path("plain")])
            #expect(encrypted.status == 0, "\(encrypted.stderrText)")
            let file = Array(try Data(contentsOf: URL(fileURLWithPath: path("by-age"))))
            #expect(
                try Age.decrypt(file, identities: identities) == plaintext,
                "age -e\(armor ? " -a" : "") → intops, \(length) bytes")
            // intops → age
            try Data(Age.encrypt(plaintext, to: [identities[0].recipient], armor: armor)).write(
                to: URL(fileURLWithPath: path("by-intops")))
            // age creates no output file for an empty plaintext, so read its standard output.
            let decrypted = try await Subprocess.run(["age", "-d", "-i", path("keys.txt"), path("by-intops")])
            #expect(decrypted.status == 0, "\(decrypted.stderrText)")
            #expect(Array(decrypted.stdout) == plaintext, "intops → age -d, \(length) bytes")
        }
    }

    @Test func passphraseBothWays() async throws {
        try Subprocess.requireTool("age")
        try Subprocess.requireTool("script")
        let plaintext = Array("the passphrase protects this".utf8)
        try Data(plaintext).write(to: URL(fileURLWithPath: path("plain")))
        for armor in [false, true] {
            let encrypted = try await Subprocess.runWithTerminal(
                "age -p \(armor ? "-a " : "")-o \(path("by-age")) \(path("plain"))",
                terminalInput: "pass phrase 1\npass phrase 1\n")
            #expect(encrypted.status == 0)
            let file = Array(try Data(contentsOf: URL(fileURLWithPath: path("by-age"))))
            #expect(try Age.decrypt(file, identities: [ScryptPassphrase("pass phrase 1")]) == plaintext)

            try Data(Age.encrypt(plaintext, to: [ScryptPassphrase("pass phrase 2")], armor: armor)).write(
                to: URL(fileURLWithPath: path("by-intops")))
            let decrypted = try await Subprocess.runWithTerminal(
                "age -d -o \(path("out")) \(path("by-intops"))", terminalInput: "pass phrase 2\n")
            #expect(decrypted.status == 0)
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path("out")))) == plaintext)
        }
    }
}

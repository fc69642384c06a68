import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import Testing

@testable import Age

/// The vendored fixtures (Tests/Fixtures/sops-age; origin and licences in its README).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/sops-age")

/// One C2SP/CCTV age test vector.
struct Vector: CustomTestStringConvertible, Sendable {
    var name: String
    var expect: String
    var payloadHash: String?
    var identities: [String]
    var passphrases: [String]
    var armored: Bool
    var file: [UInt8]

    var testDescription: String { name }

    static func load() throws -> [Vector] {
        let directory = fixtures.appendingPathComponent("age/cctv-testdata")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            // The post-quantum vectors need ML-KEM, which this X25519-only implementation lacks.
            .filter { !$0.hasPrefix("hybrid") && $0 != "armor_hybrid" || $0 == "hybrid_x25519_arg" }.map {
                try parse(name: $0, data: Array(Data(contentsOf: directory.appendingPathComponent($0))))
            }
    }

    static func parse(name: String, data: [UInt8]) throws -> Vector {
        var vector = Vector(name: name, expect: "", identities: [], passphrases: [], armored: false, file: [])
        var position = 0
        var compressed = false
        while let end = data[position...].firstIndex(of: 10) {
            let line = String(decoding: data[position..<end], as: UTF8.self)
            position = end + 1
            if line.isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch parts[0] {
            case "expect": vector.expect = parts[1]
            case "payload": vector.payloadHash = parts[1]
            case "identity": vector.identities.append(parts[1])
            case "passphrase": vector.passphrases.append(parts[1])
            case "armored": vector.armored = parts[1] == "yes"
            case "compressed": compressed = parts[1] == "zlib"
            default: break
            }
        }
        vector.file = Array(data[position...])
        if compressed { vector.file = try inflate(vector.file) }
        return vector
    }

    /// zlib is not among the product's libraries; the test inflates through Python's.
    static func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", "import sys,zlib;sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))",
        ]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let result = Data(output.fileHandleForReading.readAllBytes())
        process.waitUntilExit()
        return Array(result)
    }
}

@Suite struct VectorTests {
    @Test(arguments: try Vector.load()) func cctvVector(_ vector: Vector) throws {
        var identities: [any AgeIdentity] = vector.identities.compactMap { X25519Identity($0) }
        identities += vector.passphrases.map { ScryptPassphrase($0) }
        let outcome: String
        do {
            let plaintext = try Age.decrypt(vector.file, identities: identities)
            outcome = "success"
            if let hash = vector.payloadHash {
                #expect(Digest.sha256(plaintext).hex == hash, "payload of \(vector.name)")
            }
        } catch .armor { outcome = "armor failure" } catch .header { outcome = "header failure" } catch .noMatch {
            outcome = "no match"
        } catch .headerMAC { outcome = "HMAC failure" } catch .payload { outcome = "payload failure" } catch .crypto(
            let failure)
        { outcome = "\(failure)" } catch .identityUnavailable(let reason) { outcome = reason }
        #expect(outcome == vector.expect, "\(vector.name)")
        let detected = AgeArmor.isArmored(vector.file)
        #expect(detected == vector.armored, "armor detection of \(vector.name)")
    }

    @Test func vectorsAreAllHere() throws { #expect(try Vector.load().count == 125) }
}

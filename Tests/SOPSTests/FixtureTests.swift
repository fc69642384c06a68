import Age
import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import SOPS

/// The vendored fixtures (Tests/Fixtures/sops-age; origin and licences in its README).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/sops-age")

/// Every scalar leaf in MAC order: path, type and the exact plaintext.
func leaves(_ value: SOPSValue, path: [String] = []) -> [(path: [String], type: String, text: String)] {
    switch value {
    case .null, .comment: return []
    case .scalar(let scalar): return [(path, scalar.typeName, scalar.canonicalText)]
    case .sequence(let items): return items.flatMap { leaves($0, path: path) }
    case .mapping(let entries):
        return entries.filter { !$0.isComment }.flatMap { leaves($0.value, path: path + [$0.key]) }
    }
}

struct SOPSFixture: CustomTestStringConvertible, Sendable {
    var file: String
    var store: String
    var identityFiles: [String]
    var dataKey: String
    var expect: String
    var leaves: [[String: String]]
    var leafPaths: [[String]]

    var testDescription: String { file }

    var format: SOPS.Format {
        store.hasPrefix("json (binary") ? .binary : store == "dotenv" ? .dotenv : store == "json" ? .json : .yaml
    }

    static func load() throws -> [SOPSFixture] {
        let object =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: fixtures.appendingPathComponent("sops/expected.json"))) as! [String: Any]
        return (object["sops_fixtures"] as! [[String: Any]]).map { entry in
            let leafList = entry["leaves_in_walk_order"] as! [[String: Any]]
            return SOPSFixture(
                file: entry["file"] as! String, store: entry["store"] as! String,
                identityFiles: entry["age_identity_files"] as! [String], dataKey: entry["data_key_hex"] as! String,
                expect: entry["expect"] as! String,
                leaves: leafList.map { ["type": "\($0["type"]!)", "plaintext": "\($0["plaintext"]!)"] },
                leafPaths: leafList.map { $0["path"] as! [String] })
        }
    }
}

@Suite struct FixtureTests {
    @Test(arguments: try SOPSFixture.load()) func decryptsLikeSops(_ fixture: SOPSFixture) throws {
        let url = fixtures.appendingPathComponent(fixture.file)
        let bytes = Array(try Data(contentsOf: url))
        let decrypted: DecryptedSOPS
        let macMustFail = !fixture.expect.hasPrefix("success")
        if fixture.identityFiles.isEmpty {
            // PGP-only fixtures: the walk and the MAC with the data key the fixture gives.
            let (documents, metadata) = try SOPS.load(bytes, format: fixture.format, file: fixture.file)
            let parsed = try SOPSMetadata.parse(metadata!)
            if macMustFail {
                #expect(throws: SOPSError.macMismatch) {
                    try SOPS.decrypt(
                        documents, format: fixture.format, metadata: parsed, dataKey: hexBytes(fixture.dataKey),
                        ignoreMAC: false)
                }
                return
            }
            decrypted = try SOPS.decrypt(
                documents, format: fixture.format, metadata: parsed, dataKey: hexBytes(fixture.dataKey),
                ignoreMAC: false)
        } else {
            var identities: [any AgeIdentity] = []
            for name in fixture.identityFiles {
                identities += try AgeIdentityFile.parse(
                    String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8), source: name)
            }
            decrypted = try SOPS.decrypt(
                bytes, format: fixture.format, file: fixture.file, keyring: SOPSKeyring(identities: identities))
        }
        let found = decrypted.documents.flatMap { leaves($0) }
        #expect(found.map(\.path) == fixture.leafPaths, "leaf order of \(fixture.file)")
        for (index, leaf) in found.enumerated() where index < fixture.leaves.count {
            let expected = fixture.leaves[index]
            // An empty value carries no type (it is stored as "" and never encrypted).
            let typeMatches = expected["type"] == "<null>" || leaf.type == expected["type"]
            #expect(
                typeMatches && leaf.text == expected["plaintext"],
                "\(fixture.file) leaf \(leaf.path): \(leaf.type) '\(leaf.text)' vs \(expected["type"]!) '\(expected["plaintext"]!)'"
            )
        }
        #expect(found.count == fixture.leaves.count)
    }

    @Test func postQuantumOnlyFileFindsNoIdentity() throws {
        let file = fixtures.appendingPathComponent("sops/fluxcd/algorithms_age-pq.yaml")
        let other = try AgeIdentityFile.parse(
            String(contentsOf: fixtures.appendingPathComponent("sops/fluxcd/keys_age.txt"), encoding: .utf8),
            source: "keys_age.txt")
        #expect(throws: SOPSError.self) {
            try SOPS.decrypt(
                Array(try Data(contentsOf: file)), format: .yaml, file: "age-pq.yaml",
                keyring: SOPSKeyring(identities: other))
        }
    }
}

@Suite struct DelegationTests {
    /// A file encrypted only to PGP goes to the real sops, which here has no PGP key: the error says so.
    @Test func pgpOnlyFilesAreHandedToSops() throws {
        let url = fixtures.appendingPathComponent("sops/upstream-sops/example.yaml")
        let bytes = Array(try Data(contentsOf: url))
        #expect(throws: SOPSError.self) {
            try SOPS.decrypt(
                bytes, format: .yaml, file: url.path, keyring: SOPSKeyring(identities: [try X25519Identity.generate()]))
        }
        do { _ = try SOPS.decrypt(bytes, format: .yaml, file: url.path, keyring: SOPSKeyring(identities: [])) } catch {
            guard case .unsupportedKeys(let reason) = error else {
                Issue.record("expected unsupportedKeys, got \(error)")
                return
            }
            #expect(reason.hasPrefix("is encrypted only to pgp keys"))
            #expect(reason.contains("sops -d failed") || reason.contains("install sops"))
        }
    }
}

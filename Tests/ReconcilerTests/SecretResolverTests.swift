import CryptoPrimitives
import Foundation
import Testing
import YAML

@testable import Reconciler

@Suite struct SecretResolverTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")

    @Test func secretValuesPrintOnlyARedaction() throws {
        let secret = SecretValue("canary-5150-value")
        #expect("\(secret)" == "(sensitive)")
        #expect(String(describing: secret) == "(sensitive)")
        #expect(String(reflecting: secret) == "(sensitive)")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("canary"))
        let encoded = String(decoding: try JSONEncoder().encode(["k": secret]), as: UTF8.self)
        #expect(encoded == #"{"k":"(sensitive)"}"#)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([String: SecretValue].self, from: Data(encoded.utf8))
        }
        #expect(secret == SecretValue("canary-5150-value") && secret != SecretValue("other"))
        #expect(secret.exposedString() == "canary-5150-value")
    }

    @Test func resolvesEveryExampleReferenceDecryptingEachFileOnce() async throws {
        let loaded = try await ProjectLoader.load(from: Self.examples.path)
        let resolver = SecretResolver(
            root: loaded.project.root,
            environment: [
                "SOPS_AGE_KEY_FILE": Self.examples.appendingPathComponent(".intops/demo-age-key.txt").path,
                "XDG_CONFIG_HOME": "/nonexistent",
            ])
        var count = 0
        for integration in loaded.integrations {
            for secret in integration.secrets {
                let reference = secret.reference
                let value = try resolver.resolve(reference)
                #expect(!value.isEmpty)
                count += 1
            }
        }
        #expect(count >= 10)
        #expect(resolver.decryptedFileCount == 3, "three secrets files, each decrypted once")
        let key = try resolver.resolve(try #require(loaded.project.fingerprintKey))
        #expect(key.exposedString().count == 64)
    }

    /// Prefetching decrypts the files at once, each once; resolving afterwards gives the same values, and a
    /// file that cannot be decrypted still fails at its reference.
    @Test func prefetchedFilesResolveToTheSameValues() async throws {
        let loaded = try await ProjectLoader.load(from: Self.examples.path)
        let environment = [
            "SOPS_AGE_KEY_FILE": Self.examples.appendingPathComponent(".intops/demo-age-key.txt").path,
            "XDG_CONFIG_HOME": "/nonexistent",
        ]
        let references = loaded.integrations.flatMap { $0.secrets.map(\.reference) }
        let prefetched = SecretResolver(root: loaded.project.root, environment: environment)
        await prefetched.prefetch(references)
        #expect(prefetched.decryptedFileCount == 3)
        let plain = SecretResolver(root: loaded.project.root, environment: environment)
        for reference in references { #expect(try prefetched.resolve(reference) == (try plain.resolve(reference))) }
        #expect(prefetched.decryptedFileCount == 3, "nothing decrypted twice")

        let missing = try SecretReference.parse(
            "ref+sops://secrets/missing.enc.yaml#/a",
            at: YAML.SourceLocation(file: loaded.project.root + "/m.yaml", line: 3, column: 5),
            root: loaded.project.root
        ).get()
        await prefetched.prefetch(references + [missing])
        #expect(throws: Diagnostic.self) { try prefetched.resolve(missing) }
    }

    @Test func failuresNameTheReferenceNotTheValue() async throws {
        let loaded = try await ProjectLoader.load(from: Self.examples.path)
        let resolver = SecretResolver(
            root: loaded.project.root, environment: ["XDG_CONFIG_HOME": "/nonexistent", "HOME": "/nonexistent"])
        let reference = try #require(
            loaded.integrations.flatMap { $0.secrets.map(\.reference) }.first { $0.text.hasPrefix("ref+sops://") })
        #expect(throws: Diagnostic.self) { try resolver.resolve(reference) }
        do { _ = try resolver.resolve(reference) } catch {
            #expect(error.message.contains("cannot be decrypted: no age identity opens its data key"))
            #expect(error.location == reference.location)
        }
    }
}

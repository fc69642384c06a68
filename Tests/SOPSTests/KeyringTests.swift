import Age
import Foundation
import Testing

@testable import SOPS

/// Where identities come from, as sops reads them.
@Suite struct KeyringTests {
    static let first = (try? X25519Identity.generate())?.encoded ?? ""

    @Test func sopsAgeKeyTakesAWholeIdentityFileWithComments() throws {
        // The comment lines hold spaces and colons: split into words, they are not identities.
        let second = try X25519Identity.generate().encoded
        let text = "# created: 2026-11-27T09:08:33Z\n# public key: age1…\n\(Self.first)\n\n  # another\n\(second) \n"
        let keyring = try SOPSKeyring.fromEnvironment([
            "SOPS_AGE_KEY": text, "HOME": "/nonexistent", "XDG_CONFIG_HOME": "/nonexistent",
        ])
        #expect(keyring.identities.count == 2)
    }

    @Test func sopsAgeKeyTakesSeveralKeysOnOneLine() throws {
        let second = try X25519Identity.generate().encoded
        let keyring = try SOPSKeyring.fromEnvironment([
            "SOPS_AGE_KEY": "\(Self.first)\t\(second)", "HOME": "/nonexistent", "XDG_CONFIG_HOME": "/nonexistent",
        ])
        #expect(keyring.identities.count == 2)
    }

    @Test func aBadLineIsNamedByNumberNeverEchoed() {
        #expect {
            try SOPSKeyring.fromEnvironment([
                "SOPS_AGE_KEY": "# c\nnot-a-key-CANARY", "HOME": "/nonexistent", "XDG_CONFIG_HOME": "/nonexistent",
            ])
        } throws: { error in "\(error)".contains("SOPS_AGE_KEY:2") && !"\(error)".contains("CANARY") }
    }
}

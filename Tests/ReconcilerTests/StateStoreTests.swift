import CryptoPrimitives
import Foundation
import Testing

@testable import Reconciler

@Suite struct StateStoreTests {
    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func pendingCreatesAreWrittenWithTheStateAndReadBack() async throws {
        let store = StateStore(path: try directory().appendingPathComponent("state.json").path)
        var state = IntopsState()
        state.set(F.entry("a", id: "i1"))
        let intent = IntopsState.PendingCreate(
            organization: "o", name: "b", displayName: "B", provider: "AuthorizeNet", type: .payment)
        state.pendingCreates = [intent]
        try await store.save(&state, organizations: ["o"])
        let loaded = try await StateStore(path: store.template).load(organizations: ["o"])
        #expect(loaded.pendingCreates == [intent])
        #expect(loaded.serial == 1)
        #expect(loaded.exists)
    }

    @Test func noStateLoadsAsAnEmptyStateThatDoesNotExist() async throws {
        let store = StateStore(path: try directory().appendingPathComponent("state-{org}.json").path)
        let state = try await store.load(organizations: ["o1", "o2"])
        #expect(!state.exists)
        #expect(state.integrations.isEmpty && state.serial == 0)
    }

    @Test func shardedStateKeepsOneFilePerOrganization() async throws {
        let root = try directory()
        let store = StateStore(path: root.appendingPathComponent("state-{org}.json").path)
        var state = IntopsState()
        state.set(F.entry("a", id: "i1", org: "o1"))
        state.set(F.entry("b", id: "i2", org: "o2"))
        state.pendingCreates = [
            IntopsState.PendingCreate(
                organization: "o2", name: "c", displayName: "C", provider: "AuthorizeNet", type: .payment)
        ]
        try await store.save(&state, organizations: ["o1", "o2"])
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("state-o1.json").path))
        let o1 = try await StateStore(path: store.template).load(organizations: ["o1"])
        #expect(
            o1.integrations.map(\.name) == ["a"] && o1.pendingCreates == nil,
            "each shard holds only its organization's entries and intents")
        #expect(
            try await StateStore(path: store.template).load(organizations: ["o2"]).integrations.map(\.name) == ["b"])
        #expect(
            try await StateStore(path: store.template).load(organizations: ["o1", "o2"]).integrations.map(\.name) == [
                "a", "b",
            ])
    }

    /// Each object of a sharded state keeps its own lineage: a run over every organization must not rewrite one
    /// organization's lineage with another's (a pulled file of that organization would then look foreign).
    @Test func shardsKeepTheirOwnLineage() async throws {
        let root = try directory()
        let template = root.appendingPathComponent("state-{org}.json").path
        var first = IntopsState(lineage: "lineage-one")
        first.set(F.entry("a", id: "i1", org: "o1"))
        try await StateStore(path: template).save(&first, organizations: ["o1"])
        var second = IntopsState(lineage: "lineage-two")
        second.set(F.entry("b", id: "i2", org: "o2"))
        try await StateStore(path: template).save(&second, organizations: ["o2"])

        let store = StateStore(path: template)
        var both = try await store.load(organizations: ["o1", "o2"])
        both.set(F.entry("c", id: "i3", org: "o2"))
        try await store.save(&both, organizations: ["o1", "o2"])
        #expect(try await StateStore(path: template).load(organizations: ["o1"]).lineage == "lineage-one")
        let o2 = try await StateStore(path: template).load(organizations: ["o2"])
        #expect(o2.lineage == "lineage-two" && o2.integrations.map(\.name) == ["b", "c"])
    }

    @Test func aShardHoldingAnotherOrganizationsEntryIsRefused() async throws {
        let root = try directory()
        var state = IntopsState()
        state.set(F.entry("a", id: "i1", org: "o2"))
        try await StateStore(path: root.appendingPathComponent("state-o1.json").path).save(
            &state, organizations: ["o1"])
        await #expect(throws: StateError.self) {
            try await StateStore(path: root.appendingPathComponent("state-{org}.json").path).load(organizations: ["o1"])
        }
    }

    @Test func aWriteOverAStateChangedSinceItWasReadIsRefused() async throws {
        let path = try directory().appendingPathComponent("state.json").path
        let first = StateStore(path: path), second = StateStore(path: path)
        var state = try await first.load(organizations: ["o"])
        var other = try await second.load(organizations: ["o"])
        other.set(F.entry("b", id: "i2"))
        try await second.save(&other, organizations: ["o"])
        state.set(F.entry("a", id: "i1"))
        await #expect(throws: StateError.self) { try await first.save(&state, organizations: ["o"]) }
        #expect(
            try await StateStore(path: path).load(organizations: ["o"]).integrations.map(\.name) == ["b"],
            "the other run's write is kept")
    }

    @Test func aSecondLockHolderWaitsThenIsRefusedNamingTheHolder() async throws {
        let path = try directory().appendingPathComponent("state.json").path
        let first = StateStore(path: path), second = StateStore(path: path)
        try await first.lock(organizations: ["o"], operation: "apply", timeout: .seconds(1))
        let waited = WaitLog()
        do {
            try await second.lock(
                organizations: ["o"], operation: "plan", timeout: .milliseconds(300),
                waiting: { record, _ in waited.add(record) })
            Issue.record("a second lock was granted")
        } catch {
            #expect(error.kind == .locked)
            #expect(error.description.contains(first.runID), "the message names the holder's run id: \(error)")
            #expect(error.description.contains("intops state unlock"))
        }
        #expect(waited.records.first??.id == first.runID, "the waiting run was told who holds the lock")
        await first.unlock()
        try await second.lock(organizations: ["o"], operation: "plan", timeout: .seconds(1))
        await second.unlock()
    }

    /// Saves reuse the encoding of unchanged entries; the file must stay exactly what encoding the whole state
    /// gives, whatever changed in between.
    @Test func savesAreByteForByteTheEncodingOfTheWholeState() async throws {
        let store = StateStore(path: try directory().appendingPathComponent("state.json").path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        func expectSame(_ state: IntopsState) async throws {
            var copy = state
            try await store.save(&copy, organizations: ["o"])
            let written = try Data(contentsOf: URL(fileURLWithPath: store.template))
            #expect(written == (try encoder.encode(copy)) + Data([10]))
            #expect(try await StateStore(path: store.template).load(organizations: ["o"]) == copy)
        }
        var state = IntopsState()
        try await expectSame(state)
        state.set(F.entry("a", id: "i1"))
        state.set(F.entry("b", id: "i2"))
        try await expectSame(state)
        var changed = F.entry("a", id: "i1")
        changed.displayName = "Line\nbreak \"quoted\" / slash"
        changed.lastTest = IntopsState.TestRecord(passed: false, at: "2026-11-27T00:00:00Z", message: "nope")
        state.set(changed)
        state.set(F.entry("c", id: "i3"))
        state.revision = "abc123"
        state.pendingCreates = [
            IntopsState.PendingCreate(
                organization: "o", name: "d", displayName: "D", provider: "AuthorizeNet", type: .payment)
        ]
        try await expectSame(state)
        state.integrations.removeAll { $0.name == "b" }
        try await expectSame(state)
        // An entry with an empty collection (an OAuth integration has no secrets): the encoder leaves the line
        // inside it empty, and a spliced entry must too.
        var oauth = F.entry("e", id: "i5")
        oauth.secrets = [:]
        state.set(oauth)
        try await expectSame(state)
    }
}

final class WaitLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [LockRecord?] = []
    func add(_ record: LockRecord?) { lock.withLock { stored.append(record) } }
    var records: [LockRecord?] { lock.withLock { stored } }
}

@Suite struct SecretFingerprintTests {
    let bytes = (0..<32).map { UInt8($0 * 7 + 3) }

    @Test func itsHexIsTheDigestsHexAndReadsBack() throws {
        let fingerprint = SecretFingerprint(bytes: bytes)
        #expect(fingerprint.hex == bytes.hex)
        #expect(fingerprint.bytes == bytes)
        #expect(SecretFingerprint(hex: fingerprint.hex) == fingerprint)
        #expect(fingerprint.matches(bytes.hex))
    }

    @Test func aRecordThatIsNotThisFingerprintDoesNotMatch() {
        let fingerprint = SecretFingerprint(bytes: bytes)
        var other = bytes
        other[31] ^= 1
        #expect(!fingerprint.matches(other.hex))
        #expect(!fingerprint.matches(nil))
        #expect(!fingerprint.matches(bytes.hex.uppercased()))
        #expect(!fingerprint.matches(String(bytes.hex.dropLast())))
        #expect(!fingerprint.matches("fp:" + bytes.hex))
        #expect(SecretFingerprint(hex: String(repeating: "g", count: 64)) == nil)
    }

    @Test func theKeyedFingerprintDependsOnTheIdentityTheKeyAndTheValue() throws {
        let fingerprinter = try Fingerprinter(key: SecretValue(String(repeating: "k", count: 32)))
        let key = IntegrationKey(organization: "o", name: "a")
        let base = fingerprinter.fingerprint(key, secretKey: "ApiLoginId", value: SecretValue("v"))
        #expect(base == fingerprinter.fingerprint(key, secretKey: "ApiLoginId", value: SecretValue("v")))
        #expect(base != fingerprinter.fingerprint(key, secretKey: "ApiLoginId", value: SecretValue("w")))
        #expect(base != fingerprinter.fingerprint(key, secretKey: "TransactionKey", value: SecretValue("v")))
        #expect(
            base
                != fingerprinter.fingerprint(
                    IntegrationKey(organization: "o", name: "b"), secretKey: "ApiLoginId", value: SecretValue("v")))
    }
}

@Suite struct KeyedValuesTests {
    @Test func behavesAsTheDictionaryItStandsFor() {
        var values = KeyedValues(["b": 2, "a": 1, "d": 4])
        #expect(values.keys == ["a", "b", "d"])
        #expect(values["b"] == 2 && values["c"] == nil)
        values["c"] = 3
        values["a"] = 10
        values["d"] = nil
        values["z"] = nil
        #expect(values.keys == ["a", "b", "c"])
        #expect(values.values == [10, 2, 3])
        #expect(values.count == 3 && !values.isEmpty)
        #expect(values.mapValues { $0 * 2 } == ["a": 20, "b": 4, "c": 6])
        #expect(values.map(\.key) == ["a", "b", "c"])
        #expect(values == KeyedValues(["c": 3, "a": 10, "b": 2]))
        #expect(values != KeyedValues(["c": 3, "a": 10]))
        let empty: KeyedValues<Int> = [:]
        #expect(empty.isEmpty && empty["a"] == nil)
    }
}

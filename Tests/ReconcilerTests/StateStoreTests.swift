import Foundation
import Testing

@testable import Reconciler

@Suite struct StateStoreTests {
    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func journaledIntentsSurviveACrashAndJoinTheState() throws {
        let store = StateStore(path: try directory().appendingPathComponent("state.json").path)
        var state = IntopsState()
        state.set(F.entry("a", id: "i1"))
        try store.save(&state, organizations: ["o"])
        let intent = IntopsState.PendingCreate(organization: "o", name: "b", displayName: "B", provider: "AuthorizeNet", type: .payment)
        try store.appendIntents([intent, IntopsState.PendingCreate(organization: "o", name: "a", displayName: "A", provider: "AuthorizeNet", type: .payment)])
        // A torn last line (a crash mid-write) is skipped.
        let handle = FileHandle(forWritingAtPath: store.journalPath(for: "o"))!
        handle.seekToEndOfFile()
        handle.write(Data("{\"organization\":\"o\",\"na".utf8))
        try handle.close()

        let loaded = try store.load(organizations: ["o"])
        #expect(loaded.pendingCreates == [intent], "the intent of a recorded entry is dropped; the torn line is skipped")
        #expect(loaded.serial == 1)
        store.clearIntents(organizations: ["o"])
        #expect(try store.load(organizations: ["o"]).pendingCreates == nil)
    }

    @Test func shardedStateKeepsOneFilePerOrganization() throws {
        let root = try directory()
        let store = StateStore(path: root.appendingPathComponent("state-{org}.json").path)
        var state = IntopsState()
        state.set(F.entry("a", id: "i1", org: "o1"))
        state.set(F.entry("b", id: "i2", org: "o2"))
        try store.save(&state, organizations: ["o1", "o2"])
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("state-o1.json").path))
        #expect(try store.load(organizations: ["o2"]).integrations.map(\.name) == ["b"])
        #expect(try store.load(organizations: ["o1", "o2"]).integrations.map(\.name) == ["a", "b"])
    }

    @Test func aSecondLockHolderIsRefusedWithTheLockName() throws {
        let path = try directory().appendingPathComponent("state.json").path
        let first = StateStore(path: path), second = StateStore(path: path)
        try first.lock(organizations: ["o"])
        defer { first.unlock() }
        #expect(throws: StateError.self) { try second.lock(organizations: ["o"], timeout: .milliseconds(100)) }
    }

    /// Saves reuse the encoding of unchanged entries; the file must stay exactly what encoding the whole state
    /// gives, whatever changed in between.
    @Test func savesAreByteForByteTheEncodingOfTheWholeState() throws {
        let store = StateStore(path: try directory().appendingPathComponent("state.json").path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        func expectSame(_ state: IntopsState) throws {
            var copy = state
            try store.save(&copy, organizations: ["o"])
            let written = try Data(contentsOf: URL(fileURLWithPath: store.pathTemplate))
            #expect(written == (try encoder.encode(copy)) + Data([10]))
            #expect(try store.load(organizations: ["o"]) == copy)
        }
        var state = IntopsState()
        try expectSame(state)
        state.set(F.entry("a", id: "i1"))
        state.set(F.entry("b", id: "i2"))
        try expectSame(state)
        var changed = F.entry("a", id: "i1")
        changed.displayName = "Line\nbreak \"quoted\" / slash"
        changed.lastTest = IntopsState.TestRecord(passed: false, at: "2026-11-27T00:00:00Z", message: "nope")
        state.set(changed)
        state.set(F.entry("c", id: "i3"))
        state.revision = "abc123"
        state.pendingCreates = [IntopsState.PendingCreate(organization: "o", name: "d", displayName: "D", provider: "AuthorizeNet", type: .payment)]
        try expectSame(state)
        state.integrations.removeAll { $0.name == "b" }
        try expectSame(state)
    }
}

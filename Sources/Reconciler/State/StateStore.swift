import Foundation

/// Reads, writes and locks the state through its backend. A `{org}` in the location keeps one object per
/// organization, so jobs sharded by `--org` never contend. Every write is a compare-and-swap on the version this
/// run read, so a run never overwrites a state it did not see.
public actor StateStore {
    public nonisolated let backend: any StateBackend
    /// The object's name in the backend; may hold `{org}`.
    public nonisolated let template: String
    /// This run's identity in the locks it takes.
    public nonisolated let runID = UUID().uuidString.lowercased()

    /// The version each object had when this run last read or wrote it; `.some(nil)` when it did not exist.
    private var versions: [String: StateVersion?] = [:]
    private var held: [HeldLock] = []
    private var heldRecord: LockRecord?
    private var renewal: Task<Void, Never>?
    /// Set when another run took over a lock this run held: every later write is refused.
    private var lostLock: StateError?

    public init(backend: any StateBackend, template: String) {
        self.backend = backend
        self.template = template
    }

    /// A local state file (tests, and the default `.intops/state.json`).
    public init(path: String) {
        self.init(backend: LocalStateBackend(), template: path)
    }

    public nonisolated var isSharded: Bool { template.contains("{org}") }

    public nonisolated func object(for organization: String?) -> String {
        isSharded ? template.replacingOccurrences(of: "{org}", with: organization ?? "_") : template
    }

    /// The objects holding these organizations' state, with the organization each belongs to.
    public nonisolated func scopes(_ organizations: [String]) -> [LockScope] {
        guard isSharded else { return [LockScope(object: template, organization: nil)] }
        return Set(organizations).sorted().map { LockScope(object: object(for: $0), organization: $0) }
    }

    /// How a person finds the state of these organizations.
    public nonisolated func location(_ organizations: [String]) -> String {
        scopes(organizations).map { backend.location(of: $0.object) }.joined(separator: ", ")
    }

    // MARK: - Locking

    /// How long a run waits for another run's lock by default: 30 s, or INTOPS_LOCK_TIMEOUT seconds.
    public static func defaultLockTimeout(_ environment: [String: String]) -> Duration {
        .seconds(environment["INTOPS_LOCK_TIMEOUT"].flatMap(Double.init) ?? 30)
    }

    /// How long a remote lock outlives its last renewal: 30 s, or INTOPS_LOCK_LEASE seconds. A run renews it every
    /// third of that; a lock past its lease was left by a run that died, and the next run takes it over.
    public static func lease(_ environment: [String: String]) -> Duration {
        .seconds(environment["INTOPS_LOCK_LEASE"].flatMap(Double.init).map { max(1, $0) } ?? 30)
    }

    /// Takes the lock of every object the run will write. While another run holds one, it waits up to `timeout`,
    /// calling `waiting` every few seconds with the holder; a remote lock past its lease is taken over.
    public func lock(
        organizations: [String], operation: String, timeout: Duration, lease: Duration = .seconds(30),
        waiting: @Sendable (LockRecord?) -> Void = { _ in }
    ) async throws(StateError) {
        let deadline = ContinuousClock.now + timeout
        var lastReport: ContinuousClock.Instant?
        let since = Date()
        func record() -> LockRecord {
            LockRecord(
                id: runID, host: ProcessInfo.processInfo.hostName, pid: getpid(), operation: operation, since: since,
                expires: Date().addingTimeInterval(Self.seconds(lease)))
        }
        do throws(StateError) {
            for scope in scopes(organizations) where !held.contains(where: { $0.scope == scope }) {
                while true {
                    var attempt = try await backend.acquireLock(scope, record: record())
                    if case .held(let holder, let version) = attempt, backend.locksExpire, let holder, holder.expires < Date() {
                        attempt = try await backend.replaceLock(scope, version: version, record: record())
                    }
                    if case .acquired(let lock) = attempt {
                        held.append(lock)
                        break
                    }
                    guard case .held(let holder, _) = attempt else { continue }
                    let now = ContinuousClock.now
                    guard now < deadline else {
                        let who = holder.map { "\($0.holder), lease until \(LockRecord.timestamp($0.expires))" } ?? "another run"
                        let unlock = holder.map { " or, if that run is dead, intops state unlock \($0.id)" } ?? ""
                        throw StateError(.locked, "the state \(backend.location(of: scope.object)) is locked by \(who); wait for it to finish (--lock-timeout)\(unlock)")
                    }
                    if lastReport.map({ now - $0 >= .seconds(5) }) ?? true {
                        lastReport = now
                        waiting(holder)
                    }
                    try? await Task.sleep(for: min(backend.locksExpire ? .milliseconds(500) : .milliseconds(50), deadline - now))
                }
            }
        } catch {
            await unlock()
            throw error
        }
        heldRecord = record()
        if backend.locksExpire && renewal == nil && !held.isEmpty {
            renewal = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: lease / 3)
                    guard !Task.isCancelled, let self else { return }
                    await self.renew(lease: lease)
                }
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func renew(lease: Duration) async {
        guard var record = heldRecord else { return }
        record.expires = Date().addingTimeInterval(Self.seconds(lease))
        for (index, lock) in held.enumerated() {
            do {
                switch try await backend.replaceLock(lock.scope, version: lock.version, record: record) {
                case .acquired(let renewed): held[index] = renewed
                case .held(let holder, _):
                    lostLock = StateError(.locked, "the lock on \(backend.location(of: lock.scope.object)) was taken over by \(holder?.holder ?? "another run") while this run held it; nothing more is written")
                }
            } catch {
                // A renewal that did not reach the store is tried again at the next interval; the lease is three of them.
                continue
            }
        }
    }

    /// Releases every lock this run holds.
    public func unlock() async {
        renewal?.cancel()
        renewal = nil
        let locks = held
        held = []
        heldRecord = nil
        for lock in locks { try? await backend.releaseLock(lock.scope, version: lock.version) }
    }

    /// Waits, up to `timeout`, while another run holds a lock of these organizations, without taking one: a plan
    /// never reads a state that an apply is still writing, and writes nothing itself. A lock past its lease does
    /// not hold a reader back.
    public func waitUntilUnlocked(organizations: [String], timeout: Duration, waiting: @Sendable (LockRecord?) -> Void = { _ in }) async throws(StateError) {
        let deadline = ContinuousClock.now + timeout
        var lastReport: ContinuousClock.Instant?
        for scope in scopes(organizations) {
            while let (holder, _) = try await backend.readLock(scope), !(backend.locksExpire && (holder?.expires ?? .distantFuture) < Date()) {
                let now = ContinuousClock.now
                guard now < deadline else {
                    throw StateError(.locked, "the state \(backend.location(of: scope.object)) is locked by \(holder?.holder ?? "another run"); wait for it to finish (--lock-timeout)")
                }
                if lastReport.map({ now - $0 >= .seconds(5) }) ?? true {
                    lastReport = now
                    waiting(holder)
                }
                try? await Task.sleep(for: min(backend.locksExpire ? .milliseconds(500) : .milliseconds(50), deadline - now))
            }
        }
    }

    /// Who holds each lock of these organizations now.
    public func holders(organizations: [String]) async throws(StateError) -> [(scope: LockScope, record: LockRecord?, version: StateVersion)] {
        var found: [(scope: LockScope, record: LockRecord?, version: StateVersion)] = []
        for scope in scopes(organizations) {
            if let lock = try await backend.readLock(scope) { found.append((scope, lock.record, lock.version)) }
        }
        return found
    }

    /// Breaks the lock whose run id is `id` (`intops state unlock`); returns where it was.
    public func breakLock(id: String, organizations: [String]) async throws(StateError) -> String {
        for (scope, record, version) in try await holders(organizations: organizations) where record?.id == id {
            try await backend.releaseLock(scope, version: version)
            return backend.location(of: scope.object)
        }
        throw StateError(.invalid, "no lock of \(location(organizations)) has the id \(id); intops state unlock takes the run id a waiting run prints")
    }

    // MARK: - Reading and writing

    /// The raw objects holding these organizations' state (`state pull`), remembering their versions.
    public func readObjects(organizations: [String]) async throws(StateError) -> [(scope: LockScope, bytes: [UInt8]?)] {
        var objects: [(scope: LockScope, bytes: [UInt8]?)] = []
        for scope in scopes(organizations) {
            let stored = try await backend.read(scope.object)
            versions[scope.object] = .some(stored?.version)
            objects.append((scope, stored?.bytes))
        }
        return objects
    }

    /// Decodes one stored state, refusing what this intops cannot use.
    public nonisolated func decode(_ bytes: [UInt8], named name: String) throws(StateError) -> IntopsState {
        let state: IntopsState
        do {
            state = try JSONDecoder().decode(IntopsState.self, from: Data(bytes))
        } catch {
            throw StateError(.invalid, "\(name) is not a valid intops state; restore it from a backup, or remove it to re-adopt everything by identity")
        }
        guard state.version <= IntopsState.currentVersion else {
            throw StateError(.invalid, "\(name) was written by a newer intops (state version \(state.version)); upgrade intops")
        }
        return state
    }

    /// The state of the given organizations (every one for an unsharded object). One read per object.
    public func load(organizations: [String]) async throws(StateError) -> IntopsState {
        var merged: IntopsState?
        for (scope, bytes) in try await readObjects(organizations: organizations) {
            guard let bytes else { continue }
            let state = try decode(bytes, named: backend.location(of: scope.object))
            if merged == nil {
                merged = state
            } else {
                merged!.integrations += state.integrations
                merged!.serial = max(merged!.serial, state.serial)
                if let pending = state.pendingCreates { merged!.pendingCreates = (merged!.pendingCreates ?? []) + pending }
            }
        }
        var result = merged ?? IntopsState(serial: 0)
        result.integrations.sort { $0.key < $1.key }
        result.exists = merged != nil
        return result
    }

    /// Writes the state, one serial up, as a compare-and-swap on what this run read.
    public func save(_ state: inout IntopsState, organizations: [String]) async throws(StateError) {
        if let lostLock { throw lostLock }
        state.serial += 1
        for scope in scopes(organizations) {
            var part = state
            if let organization = scope.organization {
                part.integrations = state.integrations.filter { $0.organization == organization }
                part.pendingCreates = state.pendingCreates?.filter { $0.organization == organization }
                if part.pendingCreates?.isEmpty == true { part.pendingCreates = nil }
            }
            var bytes: [UInt8]
            do { bytes = try encode(part) } catch { throw StateError(.other, "cannot encode the state: \(error)") }
            bytes.append(10)
            let expected: StateVersion?
            if let known = versions[scope.object] {
                expected = known
            } else {
                expected = try await backend.read(scope.object)?.version
            }
            versions[scope.object] = .some(try await backend.write(scope.object, bytes, expected: expected))
        }
        state.exists = true
    }

    /// Replaces an object outright (`state push --force`, `state migrate`): a compare-and-swap on its current version.
    public func overwrite(_ scope: LockScope, with bytes: [UInt8]) async throws(StateError) {
        let current = try await backend.read(scope.object)?.version
        versions[scope.object] = .some(try await backend.write(scope.object, bytes, expected: current))
    }

    /// The state as `save` writes it, for `state pull`.
    public func encoded(_ state: IntopsState) throws(StateError) -> [UInt8] {
        do { return try encode(state) + [10] } catch { throw StateError(.other, "cannot encode the state: \(error)") }
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Entries as an earlier save encoded them, reused while unchanged: an apply rewrites the state a few times a
    /// second, and most of its entries are as they were (encoding all 2,000 of a large project each time was a
    /// tenth of the apply's CPU).
    private var encodedEntries: [IntegrationKey: (entry: IntopsState.Entry, json: [UInt8])] = [:]

    /// The same bytes as `JSONEncoder` with `prettyPrinted, sortedKeys, withoutEscapingSlashes` gives for the whole
    /// document: the document without entries, with the entries spliced into its empty `integrations` array.
    func encode(_ state: IntopsState) throws -> [UInt8] {
        let encoder = Self.encoder()
        var shell = state
        shell.integrations = []
        var document = Array(try encoder.encode(shell))
        let emptyList = Array("\"integrations\" : [\n\n  ]".utf8)
        guard !state.integrations.isEmpty, let range = document.firstRange(of: emptyList) else { return document }
        var list = Array("\"integrations\" : [\n".utf8)
        list.reserveCapacity(state.integrations.count * 1000)
        for (index, entry) in state.integrations.enumerated() {
            if index > 0 { list += [44, 10] }
            list += try encodedEntry(entry, encoder)
        }
        list += Array("\n  ]".utf8)
        document.replaceSubrange(range, with: list)
        return document
    }

    /// One entry as it appears inside the document's list: indented by two levels.
    private func encodedEntry(_ entry: IntopsState.Entry, _ encoder: JSONEncoder) throws -> [UInt8] {
        if let cached = encodedEntries[entry.key], cached.entry == entry { return cached.json }
        let plain = try encoder.encode(entry)
        let indent: [UInt8] = [32, 32, 32, 32]
        var json = indent
        json.reserveCapacity(plain.count + 200)
        // A newline only ever separates lines: inside strings JSON escapes it.
        for byte in plain {
            json.append(byte)
            if byte == 10 { json += indent }
        }
        encodedEntries[entry.key] = (entry, json)
        return json
    }
}

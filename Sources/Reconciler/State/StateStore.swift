import CryptoPrimitives
import Foundation
import Synchronization

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
    /// Each object's own lineage and serial: a sharded state's objects keep theirs, whatever the others hold.
    private var identities: [String: (lineage: String, serial: Int)] = [:]
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
    public init(path: String) { self.init(backend: LocalStateBackend(), template: path) }

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
    /// calling `waiting` every few seconds with the holder and the state's location; a remote lock past its lease is
    /// taken over. Renewal
    /// starts with the first lock taken, so a lock held while waiting for the next one never runs out.
    public func lock(
        organizations: [String], operation: String, timeout: Duration, lease: Duration = .seconds(30),
        waiting: @Sendable (LockRecord?, String) -> Void = { _, _ in }
    ) async throws(StateError) {
        let since = Date()
        let host = GitStateBackend.hostName
        func record() -> LockRecord {
            LockRecord(
                id: runID, host: host, pid: getpid(), operation: operation, since: since,
                expires: Date().addingTimeInterval(Self.seconds(lease)))
        }
        heldRecord = record()
        if backend.locksExpire && renewal == nil {
            renewal = Task { [weak self] in
                while !Task.isCancelled {
                    do { try await Task.sleep(for: lease / 3) } catch { return }
                    guard let self else { return }
                    // Its own task: unlock() cancels this loop, and a cancellation reaching a request inside
                    // URLSession's data(for:) can deadlock swift-corelibs-foundation.
                    await Task { await self.renew(lease: lease) }.value
                }
            }
        }
        let deadline = ContinuousClock.now + timeout
        do throws(StateError) {
            for scope in scopes(organizations) where !held.contains(where: { $0.scope == scope }) {
                try await wait(for: scope, deadline: deadline, waiting: waiting) {
                    () throws(StateError) -> LockRecord?? in
                    var attempt = try await self.backend.acquireLock(scope, record: record())
                    if case .held(let holder, let version) = attempt, self.backend.locksExpire, let holder {
                        if holder.id == self.runID {
                            // Our own write, whose answer was lost and whose retry found it (S3 answers 412).
                            attempt = .acquired(HeldLock(scope: scope, version: version))
                        } else if holder.expires < Date() {
                            do throws(StateError) {
                                attempt = try await self.backend.replaceLock(scope, version: version, record: record())
                            } catch  where error.kind == .conflict {
                                // Released or taken by another run in between: try again.
                                return .some(nil)
                            }
                        }
                    }
                    switch attempt {
                    case .acquired(let lock):
                        self.held.append(lock)
                        return nil
                    case .held(let holder, _): return .some(holder)
                    }
                }
            }
        } catch {
            await unlock()
            throw error
        }
    }

    /// Waits, up to `timeout`, while another run holds a lock of these organizations, without taking one: a plan
    /// never reads a state that an apply is still writing, and writes nothing itself. A lock past its lease does
    /// not hold a reader back.
    public func waitUntilUnlocked(
        organizations: [String], timeout: Duration, waiting: @Sendable (LockRecord?, String) -> Void = { _, _ in }
    ) async throws(StateError) {
        let deadline = ContinuousClock.now + timeout
        for scope in scopes(organizations) {
            try await wait(for: scope, deadline: deadline, waiting: waiting) { () throws(StateError) -> LockRecord?? in
                guard let (holder, _) = try await self.backend.readLock(scope) else { return nil }
                if self.backend.locksExpire, let holder, holder.expires < Date() { return nil }
                return .some(holder)
            }
        }
    }

    /// Repeats `attempt` until it answers nil (done) or the deadline passes; a non-nil answer is the holder of the
    /// lock (itself nil when the lock says nothing readable), reported every few seconds and named when giving up.
    private func wait(
        for scope: LockScope, deadline: ContinuousClock.Instant, waiting: @Sendable (LockRecord?, String) -> Void,
        _ attempt: () async throws(StateError) -> LockRecord??
    ) async throws(StateError) {
        var lastReport: ContinuousClock.Instant?
        while let holder = try await attempt() {
            let now = ContinuousClock.now
            guard now < deadline else {
                let who =
                    holder.map { "\($0.holder), lease until \(LockRecord.timestamp($0.expires))" } ?? "another run"
                let unlock = holder.map { " or, if that run is dead, intops state unlock \($0.id)" } ?? ""
                throw StateError(
                    .locked,
                    "the state \(backend.location(of: scope.object)) is locked by \(who); wait for it to finish (--lock-timeout)\(unlock)"
                )
            }
            if lastReport.map({ now - $0 >= .seconds(5) }) ?? true {
                lastReport = now
                waiting(holder, backend.location(of: scope.object))
            }
            do {
                try await Task.sleep(
                    for: min(backend.locksExpire ? .milliseconds(500) : .milliseconds(50), deadline - now))
            } catch {
                throw StateError(
                    .other, "stopped while waiting for the state lock of \(backend.location(of: scope.object))")
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Whether another run took over, or a renewal found the lock gone: the applier stops starting work then.
    public nonisolated var lockLost: Bool { lost.withLock { $0 } }
    private nonisolated let lost = Mutex(false)

    private func renew(lease: Duration) async {
        guard var record = heldRecord else { return }
        record.expires = Date().addingTimeInterval(Self.seconds(lease))
        for scope in held.map(\.scope) {
            guard let current = held.first(where: { $0.scope == scope }) else { continue }
            let outcome: LockAttempt
            do throws(StateError) {
                outcome = try await backend.replaceLock(scope, version: current.version, record: record)
            } catch  where error.kind == .unavailable {
                // A renewal that did not reach the store is tried again at the next interval; the lease is three of them.
                continue
            } catch {
                loseLock(scope, to: nil)
                continue
            }
            // unlock() may have run while the renewal was out.
            guard heldRecord != nil, let index = held.firstIndex(where: { $0.scope == scope }) else { return }
            switch outcome {
            case .acquired(let renewed): held[index] = renewed
            case .held(let holder, _): loseLock(scope, to: holder)
            }
        }
    }

    private func loseLock(_ scope: LockScope, to holder: LockRecord?) {
        lost.withLock { $0 = true }
        lostLock = StateError(
            .locked,
            "the lock on \(backend.location(of: scope.object)) was taken over by \(holder?.holder ?? "another run") or broken while this run held it; nothing more is written"
        )
    }

    /// Releases every lock this run holds, once no renewal is in flight.
    public func unlock() async {
        let renewing = renewal
        renewal = nil
        renewing?.cancel()
        await renewing?.value
        let locks = held
        held = []
        heldRecord = nil
        for lock in locks { try? await backend.releaseLock(lock.scope, version: lock.version) }
    }

    /// Who holds each lock of these organizations now.
    public func holders(
        organizations: [String]
    ) async throws(StateError) -> [(scope: LockScope, record: LockRecord?, version: StateVersion)] {
        var found: [(scope: LockScope, record: LockRecord?, version: StateVersion)] = []
        for scope in scopes(organizations) {
            if let lock = try await backend.readLock(scope) { found.append((scope, lock.record, lock.version)) }
        }
        return found
    }

    /// Breaks the lock whose run id is `id` (`intops state unlock`); returns where it was.
    /// A lock whose lease is still running belongs to a run that is alive, as far as anyone can tell: it is broken
    /// only with `force`.
    public func breakLock(id: String, organizations: [String], force: Bool = false) async throws(StateError) -> String {
        for (scope, record, version) in try await holders(organizations: organizations) where record?.id == id {
            if backend.locksExpire, let record, record.expires > Date(), !force {
                throw StateError(
                    .locked,
                    "the lock \(id) on \(backend.location(of: scope.object)) is held by \(record.holder), renewed until \(LockRecord.timestamp(record.expires)); if that run is gone, intops state unlock \(id) --force, or wait for the lease to run out"
                )
            }
            try await backend.releaseLock(scope, version: version)
            return backend.location(of: scope.object)
        }
        throw StateError(
            .invalid,
            "no lock of \(location(organizations)) has the id \(id); intops state unlock takes the run id a waiting run prints"
        )
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

    /// A digest of the version of every object these organizations' state is in (nil when none exists): what a
    /// saved plan compares, so that a write to any object, of any shard, makes it stale.
    public func versionsDigest(organizations: [String]) -> String? {
        let known = scopes(organizations).compactMap { scope in
            versions[scope.object].flatMap { $0 }.map { "\(scope.object)\u{0}\($0.token)" }
        }
        return known.isEmpty ? nil : Digest.sha256(Array(known.joined(separator: "\n").utf8)).hex
    }

    /// Decodes one stored state, refusing what this intops cannot use.
    public nonisolated func decode(_ bytes: [UInt8], named name: String) throws(StateError) -> IntopsState {
        let state: IntopsState
        do { state = try JSONDecoder().decode(IntopsState.self, from: Data(bytes)) } catch {
            throw StateError(
                .invalid,
                "\(name) is not a valid intops state; restore it from a backup, or remove it to re-adopt everything by identity"
            )
        }
        guard state.version <= IntopsState.currentVersion else {
            throw StateError(
                .invalid, "\(name) was written by a newer intops (state version \(state.version)); upgrade intops")
        }
        return state
    }

    /// The state of the given organizations (every one for an unsharded object). One read per object.
    public func load(organizations: [String]) async throws(StateError) -> IntopsState {
        var merged: IntopsState?
        for (scope, bytes) in try await readObjects(organizations: organizations) {
            guard let bytes else { continue }
            let state = try decode(bytes, named: backend.location(of: scope.object))
            identities[scope.object] = (state.lineage, state.serial)
            if let organization = scope.organization,
                let stray = state.integrations.first(where: { $0.organization != organization })
            {
                throw StateError(
                    .invalid,
                    "\(backend.location(of: scope.object)) is the state of \(organization) but records \(stray.key); restore the right file, or remove the stray entry with intops state rm"
                )
            }
            if merged == nil {
                merged = state
            } else {
                merged!.integrations += state.integrations
                merged!.serial = max(merged!.serial, state.serial)
                if let pending = state.pendingCreates {
                    merged!.pendingCreates = (merged!.pendingCreates ?? []) + pending
                }
            }
        }
        var result = merged ?? IntopsState(serial: 0)
        result.integrations.sort { $0.key < $1.key }
        result.exists = merged != nil
        return result
    }

    /// Writes the state, one serial up, as a compare-and-swap on what this run read. Each object keeps its own
    /// lineage, unless `replacingLineage` (`state push --force`, `state migrate --force`), where the state given
    /// replaces what the objects held.
    public func save(
        _ state: inout IntopsState, organizations: [String], replacingLineage: Bool = false
    ) async throws(StateError) {
        if let lostLock { throw lostLock }
        state.serial += 1
        var written = state.serial
        for scope in scopes(organizations) {
            var part = state
            if let identity = identities[scope.object] {
                if !replacingLineage { part.lineage = identity.lineage }
                part.serial = max(identity.serial + 1, part.serial)
            }
            if let organization = scope.organization {
                part.integrations = state.integrations.filter { $0.organization == organization }
                part.pendingCreates = state.pendingCreates?.filter { $0.organization == organization }
                if part.pendingCreates?.isEmpty == true { part.pendingCreates = nil }
            }
            var bytes: [UInt8]
            do { bytes = try encode(part) } catch { throw StateError(.other, "cannot encode the state: \(error)") }
            bytes.append(10)
            // An object this run never read is only ever created, never overwritten blind.
            let expected: StateVersion? = versions[scope.object] ?? nil
            versions[scope.object] = .some(try await backend.write(scope.object, bytes, expected: expected))
            identities[scope.object] = (part.lineage, part.serial)
            written = max(written, part.serial)
        }
        state.serial = written
        state.exists = true
    }

    /// The state as `save` writes it, for `state pull`.
    public func encoded(_ state: IntopsState) throws(StateError) -> [UInt8] {
        do { return try encode(state) + [10] } catch { throw StateError(.other, "cannot encode the state: \(error)") }
    }

    /// Entries as an earlier save encoded them, reused while unchanged: an apply rewrites the state a few times a
    /// second, and most of its entries are as they were (encoding all 2,000 of a large project each time was a
    /// tenth of the apply's CPU).
    private var encodedEntries: [IntegrationKey: (entry: IntopsState.Entry, json: [UInt8])] = [:]

    /// The same bytes as encoding the whole document: the document without entries, with the entries spliced into
    /// its empty `integrations` array.
    func encode(_ state: IntopsState) throws -> [UInt8] {
        let encoder = SplicedJSON.encoder()
        var shell = state
        shell.integrations = []
        let document = Array(try encoder.encode(shell))
        guard !state.integrations.isEmpty, let (head, tail) = SplicedJSON.split(document, atEmptyArray: "integrations")
        else { return document }
        var spliced = Array(head)
        spliced.reserveCapacity(document.count + state.integrations.count * 1000)
        for (index, entry) in state.integrations.enumerated() {
            if index > 0 { spliced += SplicedJSON.separator }
            spliced += try encodedEntry(entry, encoder)
        }
        spliced += tail
        return spliced
    }

    private func encodedEntry(_ entry: IntopsState.Entry, _ encoder: JSONEncoder) throws -> [UInt8] {
        if let cached = encodedEntries[entry.key], cached.entry == entry { return cached.json }
        let json = try SplicedJSON.element(entry, encoder)
        encodedEntries[entry.key] = (entry, json)
        return json
    }
}

/// A run's request for the state lock: the operation it names, how long to wait for another run's lock, the lease,
/// and whom to tell while waiting.
public struct LockRequest: Sendable {
    public var operation: String
    public var timeout: Duration
    public var lease: Duration
    /// Told the holder and the state's location every few seconds while the run waits.
    public var waiting: @Sendable (LockRecord?, String) -> Void
    public init(
        operation: String, timeout: Duration, lease: Duration = .seconds(30),
        waiting: @escaping @Sendable (LockRecord?, String) -> Void = { _, _ in }
    ) {
        self.operation = operation
        self.timeout = timeout
        self.lease = lease
        self.waiting = waiting
    }
}

extension StateStore {
    /// Takes the lock as `request` asks.
    public func lock(organizations: [String], _ request: LockRequest) async throws(StateError) {
        try await lock(
            organizations: organizations, operation: request.operation, timeout: request.timeout, lease: request.lease,
            waiting: request.waiting)
    }
}

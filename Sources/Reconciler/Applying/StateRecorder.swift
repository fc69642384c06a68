import Synchronization

/// Keeps the state in memory and in the store as steps complete. Writes run off the actor and are coalesced: steps
/// that complete while a write is under way go out with the next one (at most the backend's write interval later),
/// so a slow store never holds up the API calls. A step lost by a crash in that window is recovered by the next
/// run: creates are adopted by identity, rotations with unknown fingerprints are made again.
actor StateRecorder {
    private(set) var state: IntopsState
    private let store: StateStore
    private let organizations: [String]
    private var dirty = false
    private var writing = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var drainTask: Task<Void, Never>?
    private(set) var error: StateError?
    /// Set by the first failed write; read without the actor by the scheduler before every action and step.
    nonisolated let writeFailed = Atomic<Bool>(false)

    init(state: IntopsState, store: StateStore, organizations: [String]) {
        self.state = state
        self.store = store
        self.organizations = organizations
    }

    func update(_ change: (inout IntopsState) -> Void) {
        change(&state)
        dirty = true
        startWriting()
    }

    /// Records that the entry's connection test is owed, before it is sent: a run stopped before it ends leaves the
    /// test to the next one.
    func markTestDue(_ key: IntegrationKey) {
        guard var entry = state.entry(key), entry.testDue != true else { return }
        entry.testDue = true
        update { $0.set(entry) }
    }

    /// Returns once everything recorded so far is stored; a write waiting out the interval goes at once.
    func flush() async {
        guard writing || dirty else { return }
        startWriting()
        drainTask?.cancel()
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Records every create of the plan as pending, in the store, before the first request goes out: one write,
    /// instead of one on the path of each create. An intent whose create is never sent is harmless: the closing
    /// lists find nothing live by its identity and drop it, or the next run does. A plan without creates is
    /// written too, so that a state that cannot be written is known before anything is changed.
    func journal(_ intents: [IntopsState.PendingCreate]) async -> Bool {
        let keys = Set(intents.map(\.key))
        update { state in
            state.pendingCreates = (state.pendingCreates ?? []).filter { !keys.contains($0.key) } + intents
        }
        await flush()
        return error == nil
    }

    private func startWriting() {
        guard !writing, dirty else { return }
        writing = true
        drainTask = Task { await drain() }
    }

    private func drain() async {
        var first = true
        while dirty {
            if !first && waiters.isEmpty { try? await Task.sleep(for: store.backend.writeInterval) }
            first = false
            dirty = false
            let snapshot = state
            let store = self.store, organizations = self.organizations
            // Its own task: `flush()` cancels the wait between writes, and that must not cancel a write in flight.
            let result = await Task { () -> Result<Int, StateError> in
                var copy = snapshot
                do throws(StateError) {
                    try await store.save(&copy, organizations: organizations)
                    return .success(copy.serial)
                } catch { return .failure(error) }
            }.value
            switch result {
            case .success(let serial): state.serial = max(state.serial, serial)
            case .failure(let failure):
                error = failure
                writeFailed.store(true, ordering: .relaxed)
            }
        }
        writing = false
        let resumed = waiters
        waiters = []
        for waiter in resumed { waiter.resume() }
    }
}

import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// What became of one action.
public struct ActionResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case succeeded
        case failed(String)
        case skipped(String)
    }

    public var key: IntegrationKey
    public var action: ActionKind
    public var outcome: Outcome
    public var notes: [String]
}

public struct ApplyReport: Sendable {
    public var results: [ActionResult]
    public var state: IntopsState
    public var stateError: String?

    public var failed: Bool { stateError != nil || results.contains { if case .succeeded = $0.outcome { false } else { true } } }
}

/// Keeps the state in memory and on disk as steps complete. Writes run off the actor and are coalesced: steps
/// that complete while a write is under way go out with the next one (at most `writeInterval` later), so a slow
/// disk never holds up the API calls. A step lost by a crash in that window is recovered by the next run:
/// creates are adopted by identity, rotations with unknown fingerprints are made again.
actor StateRecorder {
    private(set) var state: IntopsState
    private let store: StateStore
    private let organizations: [String]
    private var dirty = false
    private var writing = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private(set) var error: String?

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

    /// Returns once everything recorded so far is on disk; a write waiting out the interval goes at once.
    func flush() async {
        guard writing || dirty else { return }
        startWriting()
        drainTask?.cancel()
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Records every create of the plan as pending, on the store, before the first request goes out: one write,
    /// instead of one on the path of each create. An intent whose create is never sent is harmless: the closing
    /// lists find nothing live by its name and drop it, or the next run does.
    func journal(_ intents: [IntopsState.PendingCreate]) async -> Bool {
        guard !intents.isEmpty else { return true }
        let keys = Set(intents.map(\.key))
        update { state in
            state.pendingCreates = (state.pendingCreates ?? []).filter { !keys.contains($0.key) } + intents
        }
        await flush()
        return error == nil
    }

    private var drainTask: Task<Void, Never>?

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
                } catch {
                    return .failure(error)
                }
            }.value
            switch result {
            case .success(let serial): state.serial = max(state.serial, serial)
            case .failure(let failure): error = failure.description
            }
        }
        writing = false
        let resumed = waiters
        waiters = []
        for waiter in resumed { waiter.resume() }
    }
}

/// One organization's list, or nil when it could not be read.
struct OrganizationList: Sendable {
    var organization: String
    var summaries: [IntegrationSummary]?
}

/// Plan → API calls → new state: bounded parallelism across integrations, steps in order within one,
/// dependencies between actions honoured, the state recorded as each step completes.
public struct Applier: Sendable {
    public let client: IntegrationsClient
    public let desired: [IntegrationKey: DesiredIntegration]
    public let templates: TemplateValidator
    public let parallelism: Int
    public let now: @Sendable () -> Date
    /// Told when an action starts and ends (progress on stderr for long runs).
    public let progress: @Sendable (String) -> Void
    /// Asked before every new action and every next step: true after SIGINT/SIGTERM. Steps in flight finish.
    public let shouldStop: @Sendable () -> Bool
    /// With `--rollback-on-test-failure`: where the previous values of rotated secrets come from, and the
    /// revision of the last successful apply.
    public var rollback: (history: SecretHistory, revision: String)?
    /// The project's git commit, recorded in the state when the apply succeeds entirely.
    public var recordRevision: String?

    public init(
        client: IntegrationsClient, desired: [DesiredIntegration], templates: TemplateValidator, parallelism: Int,
        now: @escaping @Sendable () -> Date = { Date() }, progress: @escaping @Sendable (String) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) {
        self.client = client
        self.desired = Dictionary(desired.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        self.templates = templates
        self.parallelism = max(1, parallelism)
        self.now = now
        self.progress = progress
        self.shouldStop = shouldStop
    }

    public func apply(_ plan: Plan, state: IntopsState, store: StateStore, organizations: [String]) async -> ApplyReport {
        let recorder = StateRecorder(state: state, store: store, organizations: organizations)
        var results = [ActionResult?](repeating: nil, count: plan.actions.count)
        let intents = plan.actions.flatMap { action in (action.preSteps + action.steps).compactMap { intent(for: $0, of: action) } }
        guard await recorder.journal(intents) else {
            // Nothing is sent that the state could not record.
            return ApplyReport(
                results: plan.actions.map { ActionResult(key: $0.key, action: $0.action, outcome: .skipped("the state could not be written before the first request"), notes: []) },
                state: await recorder.state, stateError: await recorder.error)
        }

        // Temporary renames that break swaps go first, all of them.
        var preFailed = Set<Int>()
        for (index, action) in plan.actions.enumerated() where !action.preSteps.isEmpty {
            do {
                for step in action.preSteps { try await run(step, action: action, recorder: recorder, id: action.integrationId) }
            } catch {
                preFailed.insert(index)
                results[index] = ActionResult(key: action.key, action: action.action, outcome: .failed(message(error)), notes: [])
            }
        }

        // Then the actions, as their dependencies allow, at most `parallelism` at once. An action becomes ready
        // when its last dependency finishes; one whose dependency failed is skipped, and so are its dependents.
        var remaining = plan.actions.map { Set($0.dependsOn) }
        var dependents = [[Int]](repeating: [], count: plan.actions.count)
        for (index, action) in plan.actions.enumerated() {
            for dependency in action.dependsOn { dependents[dependency].append(index) }
        }
        var ready = plan.actions.indices.filter { remaining[$0].isEmpty && !preFailed.contains($0) }
        var cursor = 0
        func finished(_ index: Int) {
            for dependent in dependents[index] where results[dependent] == nil {
                remaining[dependent].remove(index)
                guard remaining[dependent].isEmpty else { continue }
                if let blocker = plan.actions[dependent].dependsOn.first(where: { if case .succeeded = results[$0]?.outcome { false } else { true } }) {
                    results[dependent] = ActionResult(
                        key: plan.actions[dependent].key, action: plan.actions[dependent].action,
                        outcome: .skipped("\(plan.actions[blocker].key) did not complete"), notes: [])
                    finished(dependent)
                } else {
                    ready.append(dependent)
                }
            }
        }
        for index in preFailed { finished(index) }
        await withTaskGroup(of: (Int, ActionResult).self) { group in
            var running = 0
            while true {
                while running < parallelism, cursor < ready.count {
                    let action = plan.actions[ready[cursor]]
                    let index = ready[cursor]
                    cursor += 1
                    if shouldStop() {
                        results[index] = ActionResult(key: action.key, action: action.action, outcome: .skipped("interrupted before it started"), notes: [])
                        finished(index)
                        continue
                    }
                    running += 1
                    group.addTask { (index, await self.perform(action, recorder: recorder)) }
                }
                guard running > 0, let (index, result) = await group.next() else { break }
                running -= 1
                results[index] = result
                finished(index)
            }
        }

        // One list per touched organization records each changed integration's live updatedAt, and drops pending
        // creates that left nothing behind.
        let pendingOrganizations = Set((await recorder.state.pendingCreates ?? []).map(\.organization))
        let touched = Set(plan.actions.map(\.organization)).union(pendingOrganizations)
        let client = self.client
        // A task group's child results are structs here: Swift 6.3.1 with -O corrupts task-group results that are
        // tuples holding a `Result<_, any Error>` or an optional struct (a crash or a wrong index; reproduced in a
        // standalone program, fine at -Onone).
        let fetched = (try? await withThrowingTaskGroupTyped(Array(touched), limit: client.policy.maxInFlight) {
            (organization: String) async throws(APIError) -> OrganizationList in
            OrganizationList(organization: organization, summaries: try? await client.list(organization: organization))
        }) ?? []
        let lists = Dictionary(
            fetched.compactMap { list in list.summaries.map { (list.organization, $0) } }, uniquingKeysWith: { first, _ in first })
        let planned = Set(plan.actions.map(\.key))
        for organization in touched.sorted() {
            guard let summaries = lists[organization] else { continue }
            let updatedAt = Dictionary(summaries.map { ($0.integrationId, $0.updatedAt) }, uniquingKeysWith: { first, _ in first })
            await recorder.update { state in
                state.pendingCreates?.removeAll { pending in
                    pending.organization == organization && !summaries.contains {
                        $0.displayName == pending.displayName && $0.provider == pending.provider && $0.integrationType == pending.type
                    }
                }
                if state.pendingCreates?.isEmpty == true { state.pendingCreates = nil }
                for index in state.integrations.indices where state.integrations[index].organization == organization {
                    guard planned.contains(state.integrations[index].key),
                        let live = updatedAt[state.integrations[index].integrationId]
                    else { continue }
                    state.integrations[index].updatedAt = live
                }
            }
        }
        if let revision = recordRevision, results.allSatisfy({ if case .succeeded = $0?.outcome { true } else { false } }) {
            await recorder.update { state in state.revision = revision }
        }
        await recorder.flush()
        let final = await recorder.state
        let stateError = await recorder.error
        return ApplyReport(
            results: results.enumerated().map { index, result in
                result ?? ActionResult(key: plan.actions[index].key, action: plan.actions[index].action, outcome: .skipped("not reached"), notes: [])
            },
            state: final, stateError: stateError)
    }

    struct StepFailure: Error {
        var message: String
    }

    func message(_ error: any Error) -> String {
        if let failure = error as? StepFailure { return failure.message }
        return "\(error)"
    }

    /// One action's steps, in order; the state follows each completed step.
    func perform(_ action: PlannedAction, recorder: StateRecorder) async -> ActionResult {
        progress("\(action.action.symbol) \(action.key) …")
        var id = action.integrationId
        let notes = action.notes.filter { $0.hasPrefix("authorization needed") }
        do {
            if action.action == .adopt, let id, let wanted = desired[action.key] {
                await recorder.update { state in state.set(self.entry(for: wanted, id: id, previous: nil)) }
            }
            // A test after an update runs only when the API asks for one (or the policy is always).
            var testWanted = true
            for (number, step) in action.steps.enumerated() {
                if number > 0 && shouldStop() { throw StepFailure(message: "interrupted after \(number) of \(action.steps.count) steps; the next run finishes it") }
                switch step {
                case .update:
                    let asked = try await runUpdate(step, action: action, recorder: recorder, id: id)
                    testWanted = asked || desired[action.key]?.manifest.test == .always
                case .test:
                    if testWanted { try await run(step, action: action, recorder: recorder, id: id) }
                case .create:
                    id = try await runCreate(step, action: action, recorder: recorder)
                default:
                    try await run(step, action: action, recorder: recorder, id: id)
                }
            }
            progress("\(action.action.symbol) \(action.key) done")
            return ActionResult(key: action.key, action: action.action, outcome: .succeeded, notes: notes)
        } catch {
            progress("\(action.action.symbol) \(action.key) failed")
            return ActionResult(key: action.key, action: action.action, outcome: .failed(message(error)), notes: notes)
        }
    }

    func entry(for wanted: DesiredIntegration, id: String, previous: IntopsState.Entry?) -> IntopsState.Entry {
        IntopsState.Entry(
            organization: wanted.key.organization, name: wanted.key.name, integrationId: id,
            type: wanted.type ?? previous?.type ?? .payment, provider: wanted.provider ?? previous?.provider ?? "",
            displayName: wanted.displayName ?? previous?.displayName ?? "", updatedAt: previous?.updatedAt,
            configurationDigest: previous?.configurationDigest, secrets: previous?.secrets ?? [:], lastTest: previous?.lastTest)
    }

    func effectiveConfiguration(_ wanted: DesiredIntegration) -> [String: String] { templates.effectiveConfiguration(wanted) }

    func timestamp() -> String { Timestamp.string(now()) }

    /// The record of a create step, journaled before any request and kept until the integration is recorded: a
    /// kill between the create and its state entry leaves what lets the next plan find (and, if the entry is gone
    /// from the manifests, prune) the orphan.
    func intent(for step: PlannedStep, of action: PlannedAction) -> IntopsState.PendingCreate? {
        guard case .create(let temporaryName) = step, let wanted = desired[action.key], let type = wanted.type,
            let provider = wanted.provider, let displayName = wanted.displayName
        else { return nil }
        return IntopsState.PendingCreate(
            organization: action.organization, name: action.name, displayName: temporaryName ?? displayName, provider: provider, type: type)
    }

    func runCreate(_ step: PlannedStep, action: PlannedAction, recorder: StateRecorder) async throws -> String {
        guard case .create(let temporaryName) = step, let wanted = desired[action.key], let intent = intent(for: step, of: action) else {
            throw StepFailure(message: "the manifest entry is incomplete")
        }
        let request = CreateIntegrationRequest(
            integrationType: intent.type, provider: intent.provider, displayName: intent.displayName, isEnabled: wanted.enabled,
            configuration: wanted.configuration.isEmpty ? nil : wanted.configuration,
            secrets: wanted.secrets.isEmpty ? nil : wanted.secrets.mapValues { $0.exposedString() })
        let outcome = try await client.create(organization: action.organization, request)
        let id = outcome.integration.integrationId
        let setAt = timestamp()
        if outcome.recovered && !wanted.secrets.isEmpty {
            // The answer was lost and the integration found by listing: its secrets are set again to be sure.
            _ = try await client.rotateSecrets(
                organization: action.organization, id: id,
                RotateSecretsRequest(newSecrets: wanted.secrets.mapValues { $0.exposedString() }, testConnectionAfterRotation: false))
        }
        let configuration = effectiveConfiguration(wanted)
        await recorder.update { state in
            var entry = self.entry(for: wanted, id: id, previous: nil)
            if temporaryName != nil { entry.displayName = temporaryName! }
            entry.configurationDigest = IntopsState.configurationDigest(configuration)
            entry.secrets = wanted.fingerprints.mapValues { IntopsState.SecretRecord(fingerprint: $0, setAt: setAt) }
            // The state follows the replacement from here on.
            state.set(entry)
        }
        return id
    }

    /// - Returns: whether the API asked for a connection test.
    func runUpdate(_ step: PlannedStep, action: PlannedAction, recorder: StateRecorder, id: String?) async throws -> Bool {
        guard case .update(let displayName, let enabled, let configuration) = step, let id else { return false }
        let response = try await client.update(
            organization: action.organization, id: id,
            UpdateIntegrationRequest(displayName: displayName, isEnabled: enabled, configuration: configuration.isEmpty ? nil : configuration))
        if let wanted = desired[action.key] {
            let digest = IntopsState.configurationDigest(effectiveConfiguration(wanted))
            await recorder.update { state in
                var entry = state.entry(action.key) ?? self.entry(for: wanted, id: id, previous: nil)
                entry.integrationId = id
                if let displayName { entry.displayName = displayName }
                entry.configurationDigest = digest
                state.set(entry)
            }
        }
        return response.testConnectionRequired
    }

    func run(_ step: PlannedStep, action: PlannedAction, recorder: StateRecorder, id: String?) async throws {
        let organization = action.organization
        switch step {
        case .create, .update:
            return
        case .rename(let name):
            guard let id = currentId(action, id) else { return }
            _ = try await client.update(organization: organization, id: id, UpdateIntegrationRequest(displayName: name))
            await recorder.update { state in
                if var entry = state.entry(action.key) {
                    entry.displayName = name
                    state.set(entry)
                }
            }
        case .rotate(let keys):
            guard let id, let wanted = desired[action.key] else { return }
            let secrets = Dictionary(uniqueKeysWithValues: keys.compactMap { key in wanted.secrets[key].map { (key, $0.exposedString()) } })
            let template = wanted.type.flatMap { type in wanted.provider.flatMap { templates.template(type: type, provider: $0) } }
            let testable = wanted.manifest.test != .never && template?.requiresOAuth != true
            let response = try await client.rotateSecrets(
                organization: organization, id: id, RotateSecretsRequest(newSecrets: secrets, testConnectionAfterRotation: testable))
            let setAt = timestamp()
            await recorder.update { state in
                var entry = state.entry(action.key) ?? self.entry(for: wanted, id: id, previous: nil)
                for key in keys {
                    if let fingerprint = wanted.fingerprints[key] { entry.secrets[key] = IntopsState.SecretRecord(fingerprint: fingerprint, setAt: setAt) }
                }
                if testable {
                    entry.lastTest = IntopsState.TestRecord(passed: response.testConnectionSuccessful == true, at: response.rotatedAt ?? setAt, message: response.message)
                }
                state.set(entry)
            }
            if testable && response.testConnectionSuccessful != true {
                var message = "the connection test after rotating \(keys.joined(separator: ", ")) failed: \(response.message ?? "no message")"
                if let rollback {
                    message += "; " + (await rollBack(keys, action: action, id: id, wanted: wanted, rollback: rollback, recorder: recorder))
                }
                throw StepFailure(message: message)
            }
        case .test:
            guard let id else { return }
            let result = try await client.test(organization: organization, id: id)
            await recorder.update { state in
                if var entry = state.entry(action.key) {
                    entry.lastTest = IntopsState.TestRecord(passed: result.isSuccessful, at: result.testedAt ?? self.timestamp(), message: result.message)
                    state.set(entry)
                }
            }
            if !result.isSuccessful {
                throw StepFailure(message: "the connection test failed: \(result.message ?? "no message")")
            }
        case .disable:
            guard let id else { return }
            _ = try await client.update(organization: organization, id: id, UpdateIntegrationRequest(isEnabled: false))
        case .delete:
            guard let id else { return }
            try await client.delete(organization: organization, id: id)
            await recorder.update { state in
                if state.entry(action.key)?.integrationId == id { state.remove(action.key) }
            }
        case .deleteReplaced(let oldId):
            try await client.delete(organization: organization, id: oldId)
        }
    }

    func currentId(_ action: PlannedAction, _ id: String?) -> String? { id ?? action.integrationId }

    /// Rotates back to the values the secrets had at the last successful apply, and tests again.
    func rollBack(
        _ keys: [String], action: PlannedAction, id: String, wanted: DesiredIntegration,
        rollback: (history: SecretHistory, revision: String), recorder: StateRecorder
    ) async -> String {
        let short = String(rollback.revision.prefix(12))
        var previous: [String: SecretValue] = [:]
        for key in keys {
            guard let reference = wanted.manifest.secrets.first(where: { $0.key == key })?.reference,
                let value = rollback.history.value(of: reference, at: rollback.revision)
            else { return "no rollback: \(key) has no earlier value in git at \(short)" }
            previous[key] = value
        }
        do {
            let response = try await client.rotateSecrets(
                organization: action.organization, id: id,
                RotateSecretsRequest(newSecrets: previous.mapValues { $0.exposedString() }, testConnectionAfterRotation: true))
            let passed = response.testConnectionSuccessful == true
            await recorder.update { state in
                guard var entry = state.entry(action.key) else { return }
                // The fingerprints go back to unknown for these keys: the next plan rotates to the manifest again.
                for key in keys { entry.secrets[key] = nil }
                entry.lastTest = IntopsState.TestRecord(passed: passed, at: response.rotatedAt ?? self.timestamp(), message: response.message)
                state.set(entry)
            }
            return "rolled \(keys.joined(separator: ", ")) back to their values at \(short); the connection test then \(passed ? "passed" : "failed too")"
        } catch {
            return "the rollback to \(short) failed: \(error)"
        }
    }
}

/// RFC 3339 timestamps; one formatter for the process (making one per call is expensive).
enum Timestamp {
    private static let lock = NSLock()
    nonisolated(unsafe) private static let formatter = ISO8601DateFormatter()

    static func string(_ date: Date) -> String { lock.withLock { formatter.string(from: date) } }
}

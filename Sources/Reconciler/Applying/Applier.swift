import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// Plan → API calls → new state: the scheduler orders the actions, this runs each one's steps in order and records
/// the state as each step completes.
public struct Applier: Sendable {
    /// How an apply runs, beyond the plan.
    public struct Settings: Sendable {
        /// Integrations changed at once.
        public var parallelism: Int
        /// With `--rollback-on-test-failure`: where the previous values of rotated secrets come from, and the
        /// revision of the last successful apply.
        public var rollback: Rollback?
        /// The project's git commit, recorded in the state when the apply succeeds entirely. Asked for at the end,
        /// so that finding it (two git processes) runs beside the apply instead of before its first request.
        public var recordRevision: (@Sendable () async -> String?)?
        public var now: @Sendable () -> Date

        public init(
            parallelism: Int, rollback: Rollback? = nil, recordRevision: (@Sendable () async -> String?)? = nil,
            now: @escaping @Sendable () -> Date = { Date() }
        ) {
            self.parallelism = max(1, parallelism)
            self.rollback = rollback
            self.recordRevision = recordRevision
            self.now = now
        }
    }

    public struct Rollback: Sendable {
        public var history: SecretHistory
        public var revision: String
        public init(history: SecretHistory, revision: String) {
            self.history = history
            self.revision = revision
        }
    }

    let client: IntegrationsClient
    let desired: [IntegrationKey: DesiredIntegration]
    let templates: TemplateValidator
    let settings: Settings
    /// Told when an action starts and ends.
    let events: @Sendable (ApplyEvent) -> Void
    /// Asked before every new action and every next step: true after SIGINT/SIGTERM or a lost lock. Steps in flight
    /// finish.
    let shouldStop: @Sendable () -> Bool

    public init(
        client: IntegrationsClient, desired: [DesiredIntegration], templates: TemplateValidator, settings: Settings,
        events: @escaping @Sendable (ApplyEvent) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) {
        self.client = client
        self.desired = Dictionary(desired.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        self.templates = templates
        self.settings = settings
        self.events = events
        self.shouldStop = shouldStop
    }

    public func apply(_ plan: Plan, state: IntopsState, store: StateStore, organizations: [String]) async -> ApplyReport
    {
        let recorder = StateRecorder(state: state, store: store, organizations: organizations)
        let intents = plan.actions.flatMap { action in
            (action.preSteps + action.steps).compactMap { intent(for: $0, of: action) }
        }
        let journaled = plan.actions.isEmpty ? true : await recorder.journal(intents)
        guard journaled else {
            // Nothing is sent that the state could not record.
            return ApplyReport(
                results: plan.actions.map { ActionResult($0, .skipped(.stateNotWritable)) },
                state: await recorder.state, stateError: await recorder.error)
        }

        // Temporary renames that break swaps go first, all of them.
        var settled: [ActionID: ActionResult] = [:]
        for action in plan.actions where !action.preSteps.isEmpty {
            do throws(ApplyFailure) {
                for step in action.preSteps {
                    try await run(step, action: action, recorder: recorder, id: action.integrationId)
                }
            } catch { settled[action.id] = ActionResult(action, .failed(error)) }
        }
        let results = await ActionScheduler(actions: plan.actions, parallelism: settings.parallelism).run(
            settled: settled, stopReason: { self.stopReason(recorder) },
            perform: { action in await self.perform(action, recorder: recorder) })

        await recordLiveVersions(plan, recorder: recorder)
        if results.allSatisfy(\.succeeded), let revision = await settings.recordRevision?() {
            await recorder.update { state in state.revision = revision }
        }
        await recorder.flush()
        return ApplyReport(results: results, state: await recorder.state, stateError: await recorder.error)
    }

    /// One list per touched organization records each changed integration's live updatedAt, and drops pending
    /// creates that left nothing behind.
    func recordLiveVersions(_ plan: Plan, recorder: StateRecorder) async {
        let pendingOrganizations = Set((await recorder.state.pendingCreates ?? []).map(\.organization))
        let touched = Set(plan.actions.map(\.organization)).union(pendingOrganizations).sorted()
        let client = self.client
        let lists = await boundedMap(touched, limit: client.policy.maxInFlight) {
            (organization: String) async -> OrganizationList in
            OrganizationList(organization: organization, summaries: try? await client.list(organization: organization))
        }
        let planned = Set(plan.actions.map(\.key))
        for list in lists {
            guard let summaries = list.summaries else { continue }
            let organization = list.organization
            let updatedAt = Dictionary(
                summaries.map { ($0.integrationId, $0.updatedAt) }, uniquingKeysWith: { first, _ in first })
            await recorder.update { state in
                state.pendingCreates?.removeAll { pending in
                    pending.organization == organization && !summaries.contains(where: pending.identity.matches)
                }
                if state.pendingCreates?.isEmpty == true { state.pendingCreates = nil }
                for index in state.integrations.indices where state.integrations[index].organization == organization {
                    // A replace whose original is gone (deleted by hand) has nothing left to finish.
                    if let replaced = state.integrations[index].replaces, updatedAt[replaced] == nil {
                        state.integrations[index].replaces = nil
                    }
                    guard planned.contains(state.integrations[index].key),
                        let live = updatedAt[state.integrations[index].integrationId]
                    else { continue }
                    state.integrations[index].updatedAt = live
                }
            }
        }
    }

    /// Why no new action or step may start: an interrupt, a lost lock, or a state write that failed (what is
    /// changed after it could not be recorded).
    func stopReason(_ recorder: StateRecorder) -> SkipReason? {
        if recorder.writeFailed.load(ordering: .relaxed) { return .stateWriteFailed }
        return shouldStop() ? .interrupted : nil
    }

    /// One action's steps, in order; the state follows each completed step.
    func perform(_ action: PlannedAction, recorder: StateRecorder) async -> ActionResult {
        events(.started(action))
        var id = action.integrationId
        let notes = action.notes.filter { if case .authorizationNeeded = $0 { true } else { false } }
        let result: ActionResult
        var changed = false
        do throws(ApplyFailure) {
            if action.action == .adopt, let id, let wanted = desired[action.key] {
                await recorder.update { state in state.set(self.entry(for: wanted, id: id, previous: nil)) }
            }
            // A test after an update runs only when the API asks for one (or the policy is always).
            var testWanted = true
            for (number, step) in action.steps.enumerated() {
                if number > 0 && stopReason(recorder) != nil {
                    throw .interrupted(afterStep: number, of: action.steps.count)
                }
                switch step {
                case .update:
                    let asked = try await runUpdate(step, action: action, recorder: recorder, id: id)
                    let due = await recorder.state.entry(action.key)?.testDue == true
                    testWanted = asked || due || desired[action.key]?.manifest.test == .always
                    if testWanted && action.steps.contains(.test) { await recorder.markTestDue(action.key) }
                case .test: if testWanted { try await run(step, action: action, recorder: recorder, id: id) }
                case .create: id = try await runCreate(step, action: action, recorder: recorder)
                default: try await run(step, action: action, recorder: recorder, id: id)
                }
                if step != .test { changed = true }
            }
            result = ActionResult(action, .succeeded, notes: notes)
        } catch {
            // A rotation whose test failed was made all the same: the new values are live, unless rolled back.
            if case .testFailedAfterRotation(_, _, let rollback) = error {
                if case .rolledBack? = rollback {} else { changed = true }
            }
            result = ActionResult(action, .failed(error), notes: notes, changedBeforeFailing: changed)
        }
        events(.finished(result))
        return result
    }

    func entry(for wanted: DesiredIntegration, id: String, previous: IntopsState.Entry?) -> IntopsState.Entry {
        IntopsState.Entry(
            organization: wanted.key.organization, name: wanted.key.name, integrationId: id,
            type: wanted.type ?? previous?.type ?? .payment, provider: wanted.provider ?? previous?.provider ?? "",
            displayName: wanted.displayName ?? previous?.displayName ?? "", updatedAt: previous?.updatedAt,
            configurationDigest: previous?.configurationDigest, secrets: previous?.secrets ?? [:],
            lastTest: previous?.lastTest)
    }

    func timestamp() -> String { Timestamp.string(settings.now()) }

    /// The record of a create step, journaled before any request and kept until the integration is recorded: a
    /// kill between the create and its state entry leaves what lets the next plan find (and, if the entry is gone
    /// from the manifests, prune) the orphan.
    func intent(for step: PlannedStep, of action: PlannedAction) -> IntopsState.PendingCreate? {
        guard case .create(let temporaryName) = step, let identity = desired[action.key]?.identity else { return nil }
        return IntopsState.PendingCreate(
            organization: action.organization, name: action.name, displayName: temporaryName ?? identity.displayName,
            provider: identity.provider, type: identity.type)
    }

    func call<Output>(_ body: () async throws(APIError) -> Output) async throws(ApplyFailure) -> Output {
        do throws(APIError) { return try await body() } catch { throw .api(error) }
    }

    func runCreate(
        _ step: PlannedStep, action: PlannedAction, recorder: StateRecorder
    ) async throws(ApplyFailure) -> String {
        guard case .create(let temporaryName) = step, let wanted = desired[action.key],
            let intent = intent(for: step, of: action)
        else { throw .incompleteManifest }
        let request = CreateIntegrationRequest(
            integrationType: intent.type, provider: intent.provider, displayName: intent.displayName,
            isEnabled: wanted.enabled,
            configuration: wanted.configuration.isEmpty ? nil : wanted.configuration.mapValues { $0 },
            secrets: wanted.secrets.isEmpty ? nil : wanted.secrets.mapValues { $0.exposedString() })
        let client = self.client
        let outcome: CreateOutcome
        do throws(APIError) { outcome = try await client.create(organization: action.organization, request) } catch {
            if error.status == 409 {
                // The integration under the name is not ours: the journal must not lead a later plan to it.
                await recorder.update { state in
                    state.pendingCreates?.removeAll { $0 == intent }
                    if state.pendingCreates?.isEmpty == true { state.pendingCreates = nil }
                }
                throw .nameTaken(organization: action.organization, displayName: intent.displayName)
            }
            throw .api(error)
        }
        let id = outcome.integration.integrationId
        let setAt = timestamp()
        if outcome.recovered && !wanted.secrets.isEmpty {
            // The answer was lost and the integration found by listing: its secrets are set again to be sure.
            let rotation = RotateSecretsRequest(
                newSecrets: wanted.secrets.mapValues { $0.exposedString() }, testConnectionAfterRotation: false)
            _ = try await call { () async throws(APIError) in
                try await client.rotateSecrets(organization: action.organization, id: id, rotation)
            }
        }
        let digest = IntopsState.configurationDigest(templates.effectiveConfiguration(wanted))
        await recorder.update { state in
            var entry = self.entry(for: wanted, id: id, previous: nil)
            if let temporaryName { entry.displayName = temporaryName }
            // Until the original is deleted, the state says a replace is under way, so that a stopped run is
            // finished by the next one instead of leaving two integrations.
            if action.action == .replace { entry.replaces = action.integrationId }
            if action.steps.contains(.test) { entry.testDue = true }
            entry.configurationDigest = digest
            let previous = state.entry(action.key)?.secrets ?? [:]
            entry.secrets = wanted.fingerprints.reduce(into: [:]) { records, item in
                records[item.key] = .sent(item.value.hex, at: setAt, previous: previous[item.key])
            }
            // The state follows the replacement from here on.
            state.set(entry)
        }
        return id
    }

    /// - Returns: whether the API asked for a connection test.
    func runUpdate(
        _ step: PlannedStep, action: PlannedAction, recorder: StateRecorder, id: String?
    ) async throws(ApplyFailure) -> Bool {
        guard case .update(let displayName, let enabled, let configuration) = step, let id else { return false }
        let client = self.client
        let request = UpdateIntegrationRequest(
            displayName: displayName, isEnabled: enabled, configuration: configuration.isEmpty ? nil : configuration)
        let response = try await call { () async throws(APIError) in
            try await client.update(organization: action.organization, id: id, request)
        }
        if let wanted = desired[action.key] {
            let digest = IntopsState.configurationDigest(templates.effectiveConfiguration(wanted))
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

    func run(
        _ step: PlannedStep, action: PlannedAction, recorder: StateRecorder, id: String?
    ) async throws(ApplyFailure) {
        let organization = action.organization
        let client = self.client
        switch step {
        case .create, .update: return
        case .rename(let name):
            guard let id = id ?? action.integrationId else { return }
            _ = try await call { () async throws(APIError) in
                try await client.update(organization: organization, id: id, UpdateIntegrationRequest(displayName: name))
            }
            await recorder.update { state in
                if var entry = state.entry(action.key) {
                    entry.displayName = name
                    state.set(entry)
                }
            }
        case .rotate(let keys):
            guard let id, let wanted = desired[action.key] else { return }
            try await rotate(keys, action: action, id: id, wanted: wanted, recorder: recorder)
        case .test:
            guard let id else { return }
            let result = try await call { () async throws(APIError) in
                try await client.test(organization: organization, id: id)
            }
            await recorder.update { state in
                if var entry = state.entry(action.key) {
                    entry.lastTest = IntopsState.TestRecord(
                        passed: result.isSuccessful, at: result.testedAt ?? self.timestamp(), message: result.message)
                    entry.testDue = nil
                    state.set(entry)
                }
            }
            if !result.isSuccessful { throw .testFailed(message: result.message) }
        case .disable:
            guard let id else { return }
            _ = try await call { () async throws(APIError) in
                try await client.update(organization: organization, id: id, UpdateIntegrationRequest(isEnabled: false))
            }
        case .delete:
            guard let id else { return }
            try await call { () async throws(APIError) in try await client.delete(organization: organization, id: id) }
            await recorder.update { state in
                if state.entry(action.key)?.integrationId == id { state.remove(action.key) }
            }
        case .deleteReplaced(let deleted):
            try await call { () async throws(APIError) in
                try await client.delete(organization: organization, id: deleted)
            }
            await recorder.update { state in
                guard var entry = state.entry(action.key) else { return }
                if entry.replaces == deleted {
                    entry.replaces = nil
                } else if entry.integrationId == deleted, let original = entry.replaces {
                    // An undone replace: the entry is the original's again, whose secrets intops cannot vouch for.
                    survivor(&entry, id: original, key: action.key)
                    entry.lastTest = nil
                } else if entry.integrationId == deleted, entry.replaces == nil, let id, id != deleted {
                    // A replace found from the journal (killed before its state write): the entry becomes the
                    // replacement, whose secrets the killed run sent: unknown here, so the next plan sets them.
                    survivor(&entry, id: id, key: action.key)
                    state.pendingCreates?.removeAll { $0.key == action.key }
                    if state.pendingCreates?.isEmpty == true { state.pendingCreates = nil }
                }
                state.set(entry)
            }
        }
    }

    /// The entry of a replace that ended with `id` as the one left: the manifest's type and provider, and
    /// secrets and configuration intops cannot vouch for.
    func survivor(_ entry: inout IntopsState.Entry, id: String, key: IntegrationKey) {
        entry.integrationId = id
        entry.replaces = nil
        if let wanted = desired[key] {
            entry.type = wanted.type ?? entry.type
            entry.provider = wanted.provider ?? entry.provider
        }
        entry.secrets = [:]
        entry.configurationDigest = nil
    }

    func rotate(
        _ keys: [String], action: PlannedAction, id: String, wanted: DesiredIntegration, recorder: StateRecorder
    ) async throws(ApplyFailure) {
        let secrets = Dictionary(
            uniqueKeysWithValues: keys.compactMap { key in wanted.secrets[key].map { (key, $0.exposedString()) } })
        let template = wanted.type.flatMap { type in
            wanted.provider.flatMap { templates.template(type: type, provider: $0) }
        }
        let testable = wanted.manifest.test != .never && template?.requiresOAuth != true
        let client = self.client
        let request = RotateSecretsRequest(newSecrets: secrets, testConnectionAfterRotation: testable)
        let response = try await call { () async throws(APIError) in
            try await client.rotateSecrets(organization: action.organization, id: id, request)
        }
        let setAt = timestamp()
        await recorder.update { state in
            var entry = state.entry(action.key) ?? self.entry(for: wanted, id: id, previous: nil)
            for key in keys {
                if let fingerprint = wanted.fingerprints[key] {
                    entry.secrets[key] = .sent(fingerprint.hex, at: setAt, previous: entry.secrets[key])
                }
            }
            if testable {
                entry.lastTest = IntopsState.TestRecord(
                    passed: response.testConnectionSuccessful == true, at: response.rotatedAt ?? setAt,
                    message: response.message)
                entry.testDue = nil
            }
            state.set(entry)
        }
        if testable && response.testConnectionSuccessful != true {
            var rolledBack: RollbackOutcome?
            if let rollback = settings.rollback {
                rolledBack = await rollBack(
                    keys, action: action, id: id, wanted: wanted, rollback: rollback, recorder: recorder)
            }
            throw .testFailedAfterRotation(keys: keys, message: response.message, rollback: rolledBack)
        }
    }

    /// Rotates back to the values the secrets had at the last successful apply, and tests again.
    func rollBack(
        _ keys: [String], action: PlannedAction, id: String, wanted: DesiredIntegration, rollback: Rollback,
        recorder: StateRecorder
    ) async -> RollbackOutcome {
        var previous: [String: SecretValue] = [:]
        for key in keys {
            guard let reference = wanted.manifest.secrets.first(where: { $0.key == key })?.reference,
                let value = await rollback.history.value(of: reference, at: rollback.revision)
            else { return .noEarlierValue(key: key, revision: rollback.revision) }
            previous[key] = value
        }
        do throws(APIError) {
            let response = try await client.rotateSecrets(
                organization: action.organization, id: id,
                RotateSecretsRequest(
                    newSecrets: previous.mapValues { $0.exposedString() }, testConnectionAfterRotation: true))
            let passed = response.testConnectionSuccessful == true
            await recorder.update { state in
                guard var entry = state.entry(action.key) else { return }
                // The fingerprints go back to unknown for these keys: the next plan rotates to the manifest again.
                for key in keys { entry.secrets[key] = nil }
                entry.lastTest = IntopsState.TestRecord(
                    passed: passed, at: response.rotatedAt ?? self.timestamp(), message: response.message)
                state.set(entry)
            }
            return .rolledBack(keys: keys, revision: rollback.revision, testPassed: passed)
        } catch { return .failed(revision: rollback.revision, error) }
    }
}

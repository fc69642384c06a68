import CryptoPrimitives
import Emulator
import Foundation
import IntegrationsAPI

/// Why a run stopped before changing anything: diagnostics at file:line:column, or plain sentences.
public struct RunFailure: Error, Sendable {
    public var diagnostics: [Diagnostic]
    public var messages: [String]

    public init(diagnostics: [Diagnostic] = [], messages: [String] = []) {
        self.diagnostics = diagnostics
        self.messages = messages
    }
}

/// How much a refresh fetches.
public enum RefreshMode: String, Sendable, CaseIterable {
    /// One list per organization; a detail GET only where the configuration cannot be proven unchanged.
    case auto
    /// A detail GET of every live integration.
    case full
}

/// Everything a plan or an apply works from, gathered in the order that makes no API call for invalid input:
/// manifests, then secrets, then templates, state and the live side.
public struct Session: Sendable {
    public var loaded: LoadedProject
    public var project: Project { loaded.project }
    public var templates: TemplateValidator
    public var desired: [DesiredIntegration]
    public var organizations: [String]
    public var client: IntegrationsClient
    public var store: StateStore
    public var state: IntopsState
    public var live: LiveSnapshot
    public var warnings: [String]
    /// The key saved plans are authenticated with; nil when the project has no fingerprint key.
    public var planKey: SecretValue?
    /// What the state was read from, for saved-plan guards: a digest of every object's version.
    public var stateVersions: String?
    public var refresh: RefreshMode

    public struct Options: Sendable {
        public var organizations: [String]
        public var refresh: RefreshMode
        /// Set for runs that write the state: the operation named in the lock, how long to wait for another run's
        /// lock, and whom to tell while waiting.
        public var lock: LockRequest?
        /// Set for runs that only read but must not read a state mid-write (plan): they wait while it is locked.
        public var waitForUnlock: LockRequest?
        public init(organizations: [String] = [], refresh: RefreshMode = .auto, lock: LockRequest? = nil, waitForUnlock: LockRequest? = nil) {
            self.organizations = organizations
            self.refresh = refresh
            self.lock = lock
            self.waitForUnlock = waitForUnlock
        }
    }

    public struct LockRequest: Sendable {
        public var operation: String
        public var timeout: Duration
        public var lease: Duration
        /// Told the holder and the state's location every few seconds while the run waits.
        public var waiting: @Sendable (LockRecord?, String) -> Void
        public init(operation: String, timeout: Duration, lease: Duration = .seconds(30), waiting: @escaping @Sendable (LockRecord?, String) -> Void = { _, _ in }) {
            self.operation = operation
            self.timeout = timeout
            self.lease = lease
            self.waiting = waiting
        }
    }

    public static func open(from directory: String, environment: [String: String], options: Options) async throws(RunFailure) -> Session {
        var loaded: LoadedProject
        do {
            loaded = try await ProjectLoader.load(from: directory)
        } catch {
            throw RunFailure(diagnostics: error.diagnostics)
        }
        let project = loaded.project
        var warnings = loaded.warnings.map(\.message)
        let known = Set(project.organizations.map(\.id))
        if let unknown = options.organizations.first(where: { !known.contains($0) }) {
            throw RunFailure(messages: ["--org \(unknown) is not an organization of \(ProjectPaths.display(project.file, relativeTo: project.root)); it declares \(project.organizations.map(\.id).joined(separator: ", "))"])
        }
        let organizations = options.organizations.isEmpty ? project.organizations.map(\.id) : options.organizations

        // Secrets first: a missing key or a bad file stops the run before any request.
        let resolver = SecretResolver(root: project.root, environment: environment)
        var diagnostics: [Diagnostic] = []
        var tokens: [String: String] = [:]
        let declared = loaded.integrations.filter { organizations.contains($0.organization) && $0.ensure == .present }
        await resolver.prefetch(
            declared.flatMap { $0.secrets.map(\.reference) } + [project.fingerprintKey].compactMap { $0 }
                + project.organizations.compactMap { organizations.contains($0.id) ? $0.token : nil })
        if !project.api.isSandbox {
            for organization in project.organizations where organizations.contains(organization.id) {
                guard let reference = organization.token else {
                    diagnostics.append(.error(organization.location, "organization \(organization.id) has no token; add token: ref+env://…"))
                    continue
                }
                do { tokens[organization.id] = try resolver.resolve(reference).exposedString() } catch { diagnostics.append(error) }
            }
        }
        var fingerprinter: Fingerprinter?
        var planKey: SecretValue?
        let needsSecrets = loaded.integrations.contains { organizations.contains($0.organization) && $0.ensure == .present && !$0.secrets.isEmpty }
        if let reference = project.fingerprintKey {
            do {
                let key = try FingerprintKey.resolve(reference, with: resolver)
                fingerprinter = Fingerprinter(key: key)
                planKey = SavedPlan.planKey(fingerprintKey: key)
            } catch {
                diagnostics.append(error)
            }
        } else if needsSecrets {
            diagnostics.append(.error(SourceLocationHelper.start(of: project.file), "fingerprintKey is not set, and intops needs it to tell changed secrets apart; run intops init or add fingerprintKey: ref+sops://…"))
        }
        var desired: [DesiredIntegration] = []
        for manifest in loaded.integrations where organizations.contains(manifest.organization) {
            let key = IntegrationKey(organization: manifest.organization, name: manifest.name)
            var secrets: [String: SecretValue] = [:]
            var fingerprints: [String: String] = [:]
            if manifest.ensure == .present {
                for secret in manifest.secrets {
                    do {
                        let value = try resolver.resolve(secret.reference)
                        secrets[secret.key] = value
                        if let fingerprinter { fingerprints[secret.key] = fingerprinter.fingerprint(key, secretKey: secret.key, value: value) }
                    } catch {
                        diagnostics.append(error)
                    }
                }
            }
            desired.append(DesiredIntegration(
                key: key, manifest: manifest, type: manifest.type, provider: manifest.provider,
                displayName: manifest.displayName, enabled: manifest.enabled, configuration: [:], secrets: secrets,
                fingerprints: fingerprints))
        }
        warnings += resolver.warnings
        if !diagnostics.isEmpty { throw RunFailure(diagnostics: uniqueByMessage(diagnostics)) }

        let client: IntegrationsClient
        do {
            client = try APIConnector.client(for: project.limited(to: organizations), tokens: tokens)
        } catch {
            throw RunFailure(messages: [error.description])
        }

        let store: StateStore
        do throws(StateError) {
            store = try await StateBackends.store(for: project, environment: environment)
            if let lock = options.lock {
                try await store.lock(organizations: organizations, operation: lock.operation, timeout: lock.timeout, lease: lock.lease, waiting: lock.waiting)
            } else if let wait = options.waitForUnlock {
                try await store.waitUntilUnlocked(organizations: organizations, timeout: wait.timeout, waiting: wait.waiting)
            }
        } catch {
            throw RunFailure(messages: [error.description])
        }
        // A failure from here on releases the lock first: a remote lock would otherwise hold off the next run for a
        // whole lease.
        // The state is read while the templates request is out.
        let stateLoad = Task { () -> Result<IntopsState, StateError> in
            do throws(StateError) { return .success(try await store.load(organizations: organizations)) } catch { return .failure(error) }
        }
        func released(_ failure: RunFailure) async -> RunFailure {
            // Awaited, not cancelled: cancelling a task inside URLSession's data(for:) can deadlock
            // swift-corelibs-foundation (the S3 read), and the read is short.
            _ = await stateLoad.value
            await store.unlock()
            return failure
        }

        // Templates: the cache, else one request to the API. A cache that is there but damaged is an error, as it is
        // for validate, never a silent request.
        let templateList: [IntegrationTemplate]
        let cached: ([IntegrationTemplate], TemplateOrigin)?
        do throws(InvalidProject) {
            cached = try ProjectValidation.loadTemplates(for: project, offline: true)
        } catch where FileManager.default.fileExists(atPath: project.templatesCachePath) {
            throw await released(RunFailure(diagnostics: error.diagnostics))
        } catch {
            cached = nil
        }
        if let cached, case .cache = cached.1 {
            templateList = cached.0
        } else {
            do {
                templateList = try await client.templates(organization: organizations.first ?? project.organizations[0].id)
            } catch {
                throw await released(RunFailure(messages: ["cannot read the integration templates: \(error)"]))
            }
        }
        let validator = TemplateValidator(templates: templateList)
        for index in loaded.integrations.indices {
            diagnostics += validator.validate(&loaded.integrations[index]).filter { $0.severity == .error }
        }
        if !diagnostics.isEmpty { throw await released(RunFailure(diagnostics: diagnostics)) }
        let normalized = Dictionary(uniqueKeysWithValues: loaded.integrations.map {
            (IntegrationKey(organization: $0.organization, name: $0.name), $0)
        })
        for index in desired.indices {
            let manifest = normalized[desired[index].key] ?? desired[index].manifest
            desired[index].manifest = manifest
            desired[index].configuration = Dictionary(
                manifest.configuration.map { ($0.key, $0.normalized ?? $0.text) }, uniquingKeysWith: { $1 })
        }

        let state: IntopsState
        switch await stateLoad.value {
        case .success(let loaded): state = loaded
        case .failure(let error):
            throw await released(RunFailure(messages: [error.description]))
        }

        let live: LiveSnapshot
        do {
            live = try await Refresher(client: client, templates: validator).refresh(
                organizations: organizations, desired: desired, state: state, mode: options.refresh)
        } catch {
            throw await released(RunFailure(messages: [error.description]))
        }
        return Session(
            loaded: loaded, templates: validator, desired: desired, organizations: organizations, client: client,
            store: store, state: state, live: live, warnings: warnings, planKey: planKey,
            stateVersions: await store.versionsDigest(organizations: organizations), refresh: options.refresh)
    }

    /// A run that finds no state while live integrations match the manifests has lost its memory (a CI job on a
    /// fresh checkout with a local state file): say so, since it adopts them and sets their secrets again.
    public func missingStateWarning(_ plan: Plan) -> String? {
        let adopted = plan.actions.filter { $0.action == .adopt }.count
        guard !state.exists, adopted > 0 else { return nil }
        let whereState = project.state.isLocal
            ? "a state backend (state: backend: s3 or git) keeps CI runs' memory, see docs/ci.md"
            : "if this is not the first run, the state at \(store.location(organizations)) was lost"
        return "no state was found, although \(adopted) live integration\(adopted == 1 ? "" : "s") match the manifests: they will be adopted and their secrets, unknown to intops, set again; \(whereState)"
    }

    /// Plans with this session's inputs.
    public func plan(_ options: PlanOptions) -> Plan {
        Planner.plan(desired: desired, live: live, state: state, templates: templates, organizations: organizations, options: options)
    }
}

/// A file that cannot be decrypted is reported once, at its first reference, not once per reference.
func uniqueByMessage(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
    var seen = Set<String>()
    return diagnostics.filter { seen.insert($0.message).inserted }
}

enum SourceLocationHelper {
    static func start(of file: String) -> SourceLocation { SourceLocation(file: file, line: 1, column: 1) }
}

import YAML

/// An integration as a list names it.
private struct LiveReference: Hashable {
    var organization: String
    var id: String
}

/// One detail read: the integration, nothing for a 404, or the failure. (A struct, not a tuple: see
/// `OrganizationList`.)
private struct FetchedDetail: Sendable {
    var organization: String
    var detail: IntegrationDetail?
    var failure: APIError?
}

/// What adoption matches a live integration by.
private struct AdoptionName: Hashable {
    var organization: String
    var type: IntegrationType
    var provider: String
    var displayName: String
}

/// The live side with as few requests as the job allows.
struct Refresher: Sendable {
    let client: IntegrationsClient
    let templates: TemplateValidator

    func refresh(
        organizations: [String], desired: [DesiredIntegration], state: IntopsState, mode: RefreshMode
    ) async throws(APIError) -> LiveSnapshot {
        let client = self.client
        // A full refresh reads every listed integration in detail. Those the state knows are asked for beside the
        // lists rather than a round of requests after them; one deleted out of band answers 404 and is dropped.
        let known = mode == .full
            ? state.integrations.filter { organizations.contains($0.organization) }.map { ($0.organization, $0.integrationId) } : []
        async let early = Self.details(known, client: client)
        let lists = try await withThrowingTaskGroupTyped(organizations, limit: client.policy.maxInFlight) { (organization: String) async throws(APIError) -> (String, [IntegrationSummary]) in
            (organization, try await client.list(organization: organization))
        }
        var snapshot = LiveSnapshot(organizations: [:])
        var fetch: [(String, String)] = []
        let byKey = Dictionary(desired.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        let entries = Dictionary(
            state.integrations.map { (LiveReference(organization: $0.organization, id: $0.integrationId), $0) }, uniquingKeysWith: { first, _ in first })
        let adoptable = Set(desired.compactMap { wanted -> AdoptionName? in
            guard !wanted.isTombstone, let type = wanted.type, let provider = wanted.provider, let displayName = wanted.displayName else { return nil }
            return AdoptionName(organization: wanted.key.organization, type: type, provider: provider, displayName: displayName)
        })
        for (organization, summaries) in lists {
            var integrations: [LiveIntegration] = []
            for summary in summaries {
                var live = LiveIntegration(summary: summary, configuration: nil, configurationFetched: false)
                let entry = entries[LiveReference(organization: organization, id: summary.integrationId)]
                let wanted = entry.flatMap { byKey[$0.key] }
                var proven = false
                if mode == .auto, let entry, let wanted, !wanted.isTombstone, let updatedAt = summary.updatedAt,
                    updatedAt == entry.updatedAt, entry.configurationDigest == effectiveDigest(wanted) {
                    // Unchanged since the last apply, and the manifest asks for what was applied then.
                    live.configuration = effective(wanted)
                    proven = true
                }
                let adoptionCandidate = entry == nil && adoptable.contains(AdoptionName(
                    organization: organization, type: summary.integrationType, provider: summary.provider, displayName: summary.displayName))
                let needed = mode == .full || (!proven && (wanted.map { !$0.isTombstone } ?? false)) || adoptionCandidate
                if needed { fetch.append((organization, summary.integrationId)) }
                integrations.append(live)
            }
            snapshot.organizations[organization] = integrations
        }
        let fetchedEarly = try await early.get()
        let asked = Set(known.map { LiveReference(organization: $0.0, id: $0.1) })
        let details = try await fetchedEarly + withThrowingTaskGroupTyped(
            fetch.filter { !asked.contains(LiveReference(organization: $0.0, id: $0.1)) }, limit: client.policy.maxInFlight
        ) { (organization: String, id: String) async throws(APIError) -> (String, IntegrationDetail) in
            (organization, try await client.get(organization: organization, id: id))
        }
        for (organization, fetched) in Dictionary(grouping: details, by: \.0) {
            guard var list = snapshot.organizations[organization] else { continue }
            let positions = Dictionary(list.indices.map { (list[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
            for (_, detail) in fetched {
                guard let index = positions[detail.integrationId] else { continue }
                list[index].configuration = detail.configuration
                list[index].configurationFetched = true
            }
            snapshot.organizations[organization] = list
        }
        return snapshot
    }

    /// The details of these integrations, at most the client's in-flight bound at once, leaving out any that
    /// answers 404.
    static func details(_ references: [(String, String)], client: IntegrationsClient) async -> Result<[(String, IntegrationDetail)], APIError> {
        await withTaskGroup(of: FetchedDetail.self) { group in
            var found: [(String, IntegrationDetail)] = []
            var failure: APIError?
            func collect(_ fetched: FetchedDetail) {
                if let detail = fetched.detail { found.append((fetched.organization, detail)) }
                if let error = fetched.failure { failure = failure ?? error }
            }
            for (index, (organization, id)) in references.enumerated() {
                if index >= max(1, client.policy.maxInFlight), let fetched = await group.next() { collect(fetched) }
                if failure != nil { break }
                group.addTask {
                    switch await result({ () async throws(APIError) in try await client.get(organization: organization, id: id) }) {
                    case .success(let detail): FetchedDetail(organization: organization, detail: detail, failure: nil)
                    case .failure(let error): FetchedDetail(organization: organization, detail: nil, failure: error.status == 404 ? nil : error)
                    }
                }
            }
            for await fetched in group { collect(fetched) }
            return failure.map { .failure($0) } ?? .success(found)
        }
    }

    func effective(_ desired: DesiredIntegration) -> [String: String] { templates.effectiveConfiguration(desired) }

    func effectiveDigest(_ desired: DesiredIntegration) -> String { IntopsState.configurationDigest(effective(desired)) }
}

/// Runs `body` for every element concurrently (the client bounds requests in flight) and collects the results.
/// The outcome of `body` as a value, to carry a typed error out of a task.
func result<Success>(_ body: () async throws(APIError) -> Success) async -> Result<Success, APIError> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// `body` over `elements`, at most `limit` at once (more would only queue for the client's own bound), results in
/// the order they finish.
func withThrowingTaskGroupTyped<Element: Sendable, Result: Sendable>(
    _ elements: [Element], limit: Int = 64, _ body: @escaping @Sendable (Element) async throws(APIError) -> Result
) async throws(APIError) -> [Result] {
    do {
        return try await withThrowingTaskGroup(of: Result.self) { group in
            var results: [Result] = []
            results.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                if index >= max(1, limit), let result = try await group.next() { results.append(result) }
                group.addTask { try await body(element) }
            }
            for try await result in group { results.append(result) }
            return results
        }
    } catch let error as APIError {
        throw error
    } catch {
        throw APIError(method: "-", path: "-", organizationId: nil, reason: .transport(TransportFailure(.cancelled, "cancelled")))
    }
}

func withThrowingTaskGroupTyped<A: Sendable, B: Sendable, Result: Sendable>(
    _ elements: [(A, B)], limit: Int = 64, _ body: @escaping @Sendable (A, B) async throws(APIError) -> Result
) async throws(APIError) -> [Result] {
    try await withThrowingTaskGroupTyped(elements.map { Pair(first: $0.0, second: $0.1) }, limit: limit) { (pair: Pair<A, B>) async throws(APIError) -> Result in
        try await body(pair.first, pair.second)
    }
}

struct Pair<A: Sendable, B: Sendable>: Sendable {
    var first: A
    var second: B
}

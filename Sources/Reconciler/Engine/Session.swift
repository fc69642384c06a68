import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import HTTPSupport
import IntegrationsAPI
import YAML

/// Everything a plan or an apply works from, gathered in the order that makes no API call for invalid input:
/// manifests, then secrets, then templates, state and the live side. The data planning needs is `inputs`; the
/// session adds what acts on the world: the client, the state store and its lock.
public struct Session: Sendable {
    public var inputs: PlanningInputs
    public var client: IntegrationsClient
    public var store: StateStore
    public var warnings: [String]
    /// The key saved plans are authenticated with; nil when the project has no fingerprint key.
    public var planKey: SecretValue?

    public var loaded: LoadedProject { inputs.loaded }
    public var project: Project { inputs.project }
    public var templates: TemplateValidator { inputs.templates }
    public var desired: [DesiredIntegration] { inputs.desired }
    public var organizations: [String] { inputs.organizations }
    public var state: IntopsState { inputs.state }
    public var live: LiveSnapshot { inputs.live }

    public struct Options: Sendable {
        public var organizations: [String]
        public var refresh: RefreshMode
        /// Set for runs that write the state: the operation named in the lock, how long to wait for another run's
        /// lock, and whom to tell while waiting.
        public var lock: LockRequest?
        /// Set for runs that only read but must not read a state mid-write (plan): they wait while it is locked.
        public var waitForUnlock: LockRequest?
        /// Whether the session may open with organizations or integrations it could not read (plan, apply and
        /// drift report them); otherwise the first such failure is the session's error.
        public var partialLive: Bool
        /// Names the command acts on, checked before any request: each must be a declared present entry
        /// (`entries`: test, rotate, connect) or a declared entry or one the state manages (`targets`: --target).
        public var entries: [String]
        public var targets: [String]
        /// Told when an organization's request rate changes (see ``PacingChange``).
        public var pacingChanged: (@Sendable (PacingChange) -> Void)?
        public init(
            organizations: [String] = [], refresh: RefreshMode = .auto, lock: LockRequest? = nil,
            waitForUnlock: LockRequest? = nil, partialLive: Bool = false, entries: [String] = [], targets: [String] = []
        ) {
            self.organizations = organizations
            self.refresh = refresh
            self.lock = lock
            self.waitForUnlock = waitForUnlock
            self.partialLive = partialLive
            self.entries = entries
            self.targets = targets
        }
    }

    public static func open(
        from directory: String, environment: [String: String], options: Options, sandbox: (any SandboxProvider)?
    ) async throws(EngineError) -> Session {
        var loaded: LoadedProject
        do { loaded = try await ProjectLoader.load(from: directory) } catch { throw .invalid(error.diagnostics) }
        let project = loaded.project
        var warnings = loaded.warnings.map(\.message)
        let known = Set(project.organizations.map(\.id))
        if let unknown = options.organizations.first(where: { !known.contains($0) }) {
            throw .unknownOrganization(
                unknown, project: ProjectPaths.display(project.file, relativeTo: project.root),
                declared: project.organizations.map(\.id))
        }
        let organizations = options.organizations.isEmpty ? project.organizations.map(\.id) : options.organizations

        // Passes over every entry are made only for what was asked: a project can hold 100,000 of them.
        if !options.entries.isEmpty {
            let present = Set(
                loaded.integrations.lazy.filter { organizations.contains($0.organization) && $0.ensure == .present }
                    .map(\.name))
            if let unknown = options.entries.first(where: { !present.contains($0) }) {
                throw .unknownIntegration(unknown)
            }
        }

        // Secrets first: a missing key or a bad file stops the run before any request.
        let resolver = SecretResolver(root: project.root, environment: environment)
        var references =
            [project.fingerprintKey].compactMap { $0 }
            + project.organizations.compactMap { organizations.contains($0.id) ? $0.token : nil }
        var sopsFiles = Set<String>()
        for integration in loaded.integrations
        where integration.ensure == .present && organizations.contains(integration.organization) {
            // Prefetching decrypts the SOPS files references name: one reference a file is enough.
            for secret in integration.secrets {
                if case .sops(let file, _) = secret.reference.source, sopsFiles.insert(file).inserted {
                    references.append(secret.reference)
                }
            }
        }
        await resolver.prefetch(references)
        var (tokens, diagnostics) = APIConnector.tokens(for: project, organizations: organizations, resolver: resolver)
        var fingerprinter: Fingerprinter?
        var planKey: SecretValue?
        let needsSecrets = loaded.integrations.contains {
            organizations.contains($0.organization) && $0.ensure == .present && !$0.secrets.isEmpty
        }
        if let reference = project.fingerprintKey {
            do throws(Diagnostic) {
                let key = try FingerprintKey.resolve(reference, with: resolver)
                do throws(CryptoFailure) { fingerprinter = try Fingerprinter(key: key) } catch {
                    throw Diagnostic.error(reference.location, "the fingerprint key cannot be used: \(error)")
                }
                planKey = FingerprintKey.planKey(fingerprintKey: key)
            } catch { diagnostics.append(error) }
        } else if needsSecrets {
            diagnostics.append(
                .error(
                    SourceLocationHelper.start(of: project.file),
                    "fingerprintKey is not set, and intops needs it to tell changed secrets apart; run intops init or add fingerprintKey: ref+sops://…"
                ))
        }
        // Every organization is the usual case: the manifests are shared then, not copied.
        let allInScope = loaded.integrations.allSatisfy { organizations.contains($0.organization) }
        var desired: [DesiredIntegration] = []
        // A block, so that `selected` is let go with it: an async function keeps its locals to the end otherwise,
        // and the loaded manifests with them.
        do {
            let selected =
                allInScope
                ? loaded.integrations : loaded.integrations.filter { organizations.contains($0.organization) }
            let chunks = Self.chunks(of: selected)
            // Resolving and fingerprinting 200,000 secrets is CPU-bound: chunks of the entries, one task per core.
            let resolved = await boundedMap(chunks, limit: ProcessInfo.processInfo.activeProcessorCount) {
                [fingerprinter] chunk in Self.resolved(chunk, resolver: resolver, fingerprinter: fingerprinter)
            }
            desired.reserveCapacity(selected.count)
            for (chunk, manifests) in zip(resolved, chunks) {
                for (secrets, manifest) in zip(chunk.secrets, manifests) {
                    desired.append(
                        DesiredIntegration(
                            manifest: manifest, configuration: [:], secrets: secrets.values,
                            fingerprints: secrets.fingerprints))
                }
                diagnostics += chunk.diagnostics
            }
        }
        // The entries out of scope are kept for their template errors only; those in scope are in `desired`, and
        // the loaded copies are let go: a project of 100,000 entries would otherwise hold each manifest twice.
        let outOfScope = allInScope ? [] : loaded.integrations.filter { !organizations.contains($0.organization) }
        loaded.integrations = []
        warnings += resolver.warnings
        // Every secret is resolved: the decrypted files are let go now, beside the work that follows, so that what
        // comes next reuses their memory; freeing those of a large project takes a tenth of a second.
        Task.detached(priority: .background) { resolver.releaseDecryptedFiles() }
        if !diagnostics.isEmpty { throw .invalid(uniqueByMessage(diagnostics)) }

        // Text the API sends back is cleaned of every value this run holds, not only of those a request carried.
        let redactor = Redactor()
        redactor.register(tokens.values)
        let held = desired.flatMap { $0.secrets.values }
        redactor.registerLater { held.map { $0.exposedString() } }

        let client: IntegrationsClient
        do throws(APIConnectionError) {
            client = try APIConnector.client(
                for: project.limited(to: organizations), tokens: tokens, sandbox: sandbox, redactor: redactor,
                pacingChanged: options.pacingChanged)
        } catch { throw .connection(error) }

        let store: StateStore
        do throws(StateError) {
            store = try await StateBackends.store(for: project, environment: environment)
            if let lock = options.lock {
                try await store.lock(organizations: organizations, lock)
            } else if let wait = options.waitForUnlock {
                try await store.waitUntilUnlocked(
                    organizations: organizations, timeout: wait.timeout, waiting: wait.waiting)
            }
        } catch { throw .state(error) }
        // A failure from here on releases the lock first: a remote lock would otherwise hold off the next run for a
        // whole lease.
        // The state is read while the templates request is out.
        let stateLoad = Task { () -> Result<IntopsState, StateError> in
            do throws(StateError) { return .success(try await store.load(organizations: organizations)) } catch {
                return .failure(error)
            }
        }
        func released(_ failure: EngineError) async -> EngineError {
            // Awaited, not cancelled: cancelling a task inside URLSession's data(for:) can deadlock
            // swift-corelibs-foundation (the S3 read), and the read is short.
            _ = await stateLoad.value
            await store.unlock()
            return failure
        }
        // A --target the manifests do not declare may still name an entry the state manages; one that names
        // neither stops the run before any request.
        let declaredNames =
            options.targets.isEmpty ? [] : Set(desired.lazy.map(\.manifest.name)).union(outOfScope.lazy.map(\.name))
        let undeclared = options.targets.filter { !declaredNames.contains($0) }
        if !undeclared.isEmpty {
            let managed = (try? await stateLoad.value.get())?.integrations.map(\.name) ?? []
            if let unknown = undeclared.first(where: { !managed.contains($0) }) {
                throw await released(.unknownTarget(unknown))
            }
        }

        // Templates: a fresh cache, else one request to the API, whose answer becomes the cache. A cache that is
        // there but damaged is an error, as it is for validate, never a silent request; a stale one is used only
        // when the API cannot be asked.
        let templateList: [IntegrationTemplate]
        let cached: ([IntegrationTemplate], TemplateOrigin)?
        do throws(InvalidProject) {
            cached = try ProjectValidation.loadTemplates(for: project, offline: true, sandbox: sandbox)
        } catch  where FileManager.default.fileExists(atPath: project.templatesCachePath) {
            throw await released(.invalid(error.diagnostics))
        } catch { cached = nil }
        let cachedFile: [IntegrationTemplate]? = cached.flatMap { if case .cache = $0.1 { $0.0 } else { nil } }
        if let cachedFile, project.api.isSandbox || TemplatesCache.isFresh(project.templatesCachePath) {
            templateList = cachedFile
        } else {
            // The catalog is the same for every organization: one whose token is refused must not stop the others.
            var fetched: [IntegrationTemplate]?
            var firstFailure: APIError?
            for organization in organizations.isEmpty ? [project.organizations[0].id] : organizations {
                do throws(APIError) {
                    fetched = try await client.templates(organization: organization)
                    break
                } catch {
                    firstFailure = firstFailure ?? error
                    if error.status != 401 && error.status != 403 { break }
                }
            }
            if let fetched, !project.api.isSandbox {
                try? TemplatesCache.write(fetched, to: project.templatesCachePath)
            } else if fetched == nil, let cachedFile, let firstFailure {
                warnings.append(
                    "the templates cache is older than a day and the API could not be asked for a new one (\(firstFailure)); the cache is used"
                )
                fetched = cachedFile
            }
            guard let fetched else {
                throw await released(
                    .api(
                        firstFailure
                            ?? APIError(
                                method: "GET", path: "/api/integration-templates", organizationId: nil,
                                reason: .noCredential), while: "cannot read the integration templates"))
            }
            templateList = fetched
        }
        let validator = TemplateValidator(templates: templateList)
        // Checked against the templates in chunks, one task per core, as the secrets were resolved.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let checked = await boundedMap(Self.chunks(of: desired), limit: cores) { chunk in
            chunk.map { validator.validate($0.manifest) }
        }
        var position = 0
        for validation in checked.joined() {
            desired[position].configuration = validation.configuration
            diagnostics += validation.diagnostics.filter { $0.severity == .error }
            position += 1
        }
        diagnostics += await boundedMap(Self.chunks(of: outOfScope), limit: cores) { chunk in
            chunk.flatMap { validator.validate($0).diagnostics.filter { $0.severity == .error } }
        }.joined()
        if !diagnostics.isEmpty { throw await released(.invalid(diagnostics)) }

        let state: IntopsState
        switch await stateLoad.value {
        case .success(let loaded): state = loaded
        case .failure(let error): throw await released(.state(error))
        }

        let live = await Refresher(client: client, templates: validator).refresh(
            organizations: organizations, desired: desired, state: state, mode: options.refresh,
            targets: Set(options.targets))
        // Plans and drift report an organization or an integration that cannot be read beside the rest; the
        // commands that act on named integrations need all of it.
        if !options.partialLive {
            if let organization = live.unreachable.keys.sorted().first, let failure = live.unreachable[organization] {
                throw await released(.api(failure))
            }
            for list in live.organizations.values {
                if let failure = list.lazy.compactMap(\.unreadable).first { throw await released(.api(failure)) }
            }
        }
        let inputs = PlanningInputs(
            loaded: loaded, templates: validator, desired: desired, organizations: organizations, state: state,
            live: live, stateVersions: await store.versionsDigest(organizations: organizations),
            refresh: options.refresh)
        return Session(inputs: inputs, client: client, store: store, warnings: warnings, planKey: planKey)
    }

    /// The secrets of a chunk of entries, in their order: only what resolving adds, so that the entries are not
    /// built twice, once a chunk and once in the whole list.
    private struct ResolvedChunk: Sendable {
        var secrets: [(values: KeyedValues<SecretValue>, fingerprints: KeyedValues<SecretFingerprint>)] = []
        var diagnostics: [Diagnostic] = []
    }

    /// Slices of 4,096 entries, the unit of work spread over the cores.
    private static func chunks<Element>(of entries: [Element]) -> [ArraySlice<Element>] {
        stride(from: 0, to: entries.count, by: 4096).map { entries[$0..<min($0 + 4096, entries.count)] }
    }

    /// Each present entry's secrets resolved and fingerprinted.
    private static func resolved(
        _ manifests: ArraySlice<IntegrationManifest>, resolver: SecretResolver, fingerprinter: Fingerprinter?
    ) -> ResolvedChunk {
        var chunk = ResolvedChunk()
        chunk.secrets.reserveCapacity(manifests.count)
        for manifest in manifests {
            let key = IntegrationKey(organization: manifest.organization, name: manifest.name)
            var secrets = KeyedValues<SecretValue>()
            var fingerprints = KeyedValues<SecretFingerprint>()
            secrets.reserveCapacity(manifest.secrets.count)
            if fingerprinter != nil { fingerprints.reserveCapacity(manifest.secrets.count) }
            if manifest.ensure == .present {
                for secret in manifest.secrets {
                    do {
                        let value = try resolver.resolve(secret.reference)
                        secrets[secret.key] = value
                        if let fingerprinter {
                            fingerprints[secret.key] = fingerprinter.fingerprint(
                                key, secretKey: secret.key, value: value)
                        }
                    } catch { chunk.diagnostics.append(error) }
                }
            }
            chunk.secrets.append((secrets, fingerprints))
        }
        return chunk
    }

    /// A run that finds no state while live integrations match the manifests has lost its memory (a CI job on a
    /// fresh checkout with a local state file): say so, since it adopts them and sets their secrets again.
    public func missingStateWarning(_ plan: Plan) -> String? {
        let adopted = plan.actions.filter { $0.action == .adopt }.count
        guard !state.exists, adopted > 0 else { return nil }
        let whereState =
            project.state.isLocal
            ? "a state backend (state: backend: s3 or git) keeps CI runs' memory, see docs/ci.md"
            : "if this is not the first run, the state at \(store.location(organizations)) was lost"
        return
            "no state was found, although \(adopted) live integration\(adopted == 1 ? "" : "s") match the manifests: they will be adopted and their secrets, unknown to intops, set again; \(whereState)"
    }

    public func plan(_ options: PlanOptions) -> Plan { inputs.plan(options) }
}

/// A file that cannot be decrypted is reported once, at its first reference, not once per reference.
func uniqueByMessage(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
    var seen = Set<String>()
    return diagnostics.filter { seen.insert($0.message).inserted }
}

enum SourceLocationHelper {
    static func start(of file: String) -> SourceLocation { SourceLocation(file: file, line: 1, column: 1) }
}

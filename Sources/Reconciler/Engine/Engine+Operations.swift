import Age
import ConcurrencyToolkit
import Foundation
import IntegrationsAPI

/// What `drift` found, with what its renderers need.
public struct DriftReport: Sendable {
    public var items: [DriftItem]
    public var organizations: [String]
    /// The declared (present) manifest entries, for reports that list what is clean too (JUnit).
    public var declared: [IntegrationKey]
    /// Organizations and integrations that could not be read: the report covers everything else.
    public var unreadable: [String]
}

/// One connection test: its answer, or why there is none.
public struct ConnectionTestOutcome: Sendable {
    public var key: IntegrationKey
    public var result: Result<TestConnectionResult, APIError>
}

/// One row of `status`: an integration type in one organization.
public struct StatusRow: Sendable, Equatable {
    public var type: String
    public var available: Int
    public var configured: Int
    public var enabled: Int
    public var tested: Int
    public var declared: Int
}

public struct OrganizationStatus: Sendable, Equatable {
    public var organization: String
    public var configured: Int
    public var enabled: Int
    public var providersAvailable: Int
    /// Types with anything to show, in the API's order.
    public var rows: [StatusRow]
}

/// What `templates` read, and where it wrote the cache.
public struct TemplatesReport: Sendable {
    public var templates: [IntegrationTemplate]
    public var cacheWritten: String?
}

extension Engine {
    /// Drift from a full refresh: what the live organizations hold that the manifests do not say.
    ///
    /// - Parameter now: the clock secrets' ages are measured with.
    public func drift(
        organizations: [String], now: Date, observer: EngineObserver
    ) async throws(EngineError) -> DriftReport {
        let session = try await open(
            Session.Options(organizations: organizations, refresh: .full, partialLive: true), observer: observer)
        let live = session.live
        var unreadable = live.unreachable.keys.sorted().map {
            "organization \($0) could not be read: \(live.unreachable[$0]!)"
        }
        for organization in session.organizations {
            for integration in live.organizations[organization] ?? [] {
                if let failure = integration.unreadable {
                    unreadable.append(
                        "\(organization): the live integration \(integration.id) (\(integration.summary.displayName)) could not be read: \(failure)"
                    )
                }
            }
        }
        return DriftReport(
            items: DriftDetector.detect(inputs: session.inputs, now: now), organizations: session.organizations,
            declared: session.desired.filter { !$0.isTombstone }.map(\.key), unreadable: unreadable)
    }

    /// The live integration id of each named manifest entry (all present entries when no name is given).
    func liveTargets(_ session: Session, names: [String]) throws(EngineError) -> [(DesiredIntegration, String)] {
        let present = session.desired.filter { !$0.isTombstone }
        if let unknown = names.first(where: { name in !present.contains { $0.key.name == name } }) {
            throw .unknownIntegration(unknown)
        }
        var result: [(DesiredIntegration, String)] = []
        for desired in present where names.isEmpty || names.contains(desired.key.name) {
            let live = session.live.organizations[desired.key.organization] ?? []
            let id =
                session.state.entry(desired.key)?.integrationId
                ?? desired.identity.flatMap { identity in live.first { identity.matches($0.summary) }?.id }
            guard let id, live.contains(where: { $0.id == id }) else { throw .notLive(desired.key) }
            result.append((desired, id))
        }
        return result
    }

    /// Connection tests of the named entries (all when none is named), as many at once as the client allows; the
    /// outcomes follow the manifests' order.
    public func test(
        names: [String], organizations: [String], observer: EngineObserver
    ) async throws(EngineError) -> [ConnectionTestOutcome] {
        let session = try await open(Session.Options(organizations: organizations, entries: names), observer: observer)
        let targets = try liveTargets(session, names: names).map { LiveTarget(key: $0.0.key, id: $0.1) }
        let client = session.client
        return await boundedMap(targets, limit: client.policy.maxInFlight) {
            (target: LiveTarget) async -> ConnectionTestOutcome in
            let result = await Result { () async throws(APIError) in
                try await client.test(organization: target.key.organization, id: target.id)
            }
            return ConnectionTestOutcome(key: target.key, result: result)
        }
    }

    /// Rotates the named entries' secrets to the manifests' values even when their fingerprints match.
    public func rotate(
        names: [String], organizations: [String], lockTimeout: Duration?, observer: EngineObserver
    ) async throws(EngineError) -> ApplyReport {
        try await withLockedSession(
            "rotate", organizations: organizations, lockTimeout: lockTimeout, entries: names, observer: observer
        ) { (session: Session) async throws(EngineError) -> ApplyReport in
            let actions = try liveTargets(session, names: names).filter { !$0.0.secrets.isEmpty }.map { desired, id in
                let keys = desired.secrets.keys
                return PlannedAction(
                    organization: desired.key.organization, name: desired.key.name, action: .rotate, integrationId: id,
                    type: desired.type, provider: desired.provider, displayName: desired.displayName,
                    changes: PlannedChanges(
                        keys.map {
                            PlannedChange(field: .secret($0), old: "(sensitive)", new: "(sensitive)", sensitive: true)
                        }), reason: nil, notes: [], steps: [.rotate(keys: keys)], preSteps: [], dependsOn: [])
            }
            let applier = Applier(
                client: session.client, desired: session.desired, templates: session.templates,
                settings: Applier.Settings(parallelism: session.project.api.parallelism), events: observer.apply)
            return await applier.apply(
                Plan(actions: actions), state: session.state, store: session.store, organizations: session.organizations
            )
        }
    }

    /// Starts the OAuth authorization of one entry; returns the URL to open.
    public func connect(
        name: String, returnURL: String, observer: EngineObserver
    ) async throws(EngineError) -> (key: IntegrationKey, url: String) {
        let session = try await open(Session.Options(entries: [name]), observer: observer)
        guard let (desired, id) = try liveTargets(session, names: [name]).first else { throw .unknownIntegration(name) }
        do throws(APIError) {
            let response = try await session.client.connect(
                organization: desired.key.organization, id: id, state: returnURL)
            return (desired.key, response.authorizationUrl)
        } catch { throw .api(error) }
    }

    /// The provider templates: the cache (or the sandbox catalog), else the API; `refresh` always asks the API and
    /// writes the cache.
    public func templates(refresh: Bool) async throws(EngineError) -> TemplatesReport {
        let project = try loadProject()
        if !refresh {
            // A cache that is there but damaged is an error, as for validate and plan; --refresh replaces it.
            do throws(InvalidProject) {
                let cached = try ProjectValidation.loadTemplates(for: project, offline: true, sandbox: sandbox)
                if cached.1 != .sandboxCatalog { return TemplatesReport(templates: cached.0, cacheWritten: nil) }
            } catch  where FileManager.default.fileExists(atPath: project.templatesCachePath) {
                throw .invalid(error.diagnostics)
            } catch {}
        }
        guard let organization = project.organizations.first else {
            throw .missingSetting("intops.yaml declares no organization to read the templates as")
        }
        let client = try connectedClient(organizations: [organization.id], project: project)
        let list: [IntegrationTemplate]
        do throws(APIError) { list = try await client.templates(organization: organization.id) } catch {
            throw .api(error, while: "cannot fetch the templates")
        }
        guard refresh else { return TemplatesReport(templates: list, cacheWritten: nil) }
        do throws(AtomicFile.Failure) { try TemplatesCache.write(list, to: project.templatesCachePath) } catch {
            throw .file(error)
        }
        return TemplatesReport(templates: list, cacheWritten: project.templatesCachePath)
    }

    /// Per organization and integration type: what the API offers and holds beside what the manifests declare.
    public func status(
        organizations: [String], observer: EngineObserver
    ) async throws(EngineError) -> [Result<OrganizationStatus, APIError>] {
        let session = try await open(Session.Options(organizations: organizations), observer: observer)
        let client = session.client
        // Every organization's answer, in the project's order: one that fails does not hide the others.
        let answers = await boundedMap(session.organizations, limit: client.policy.maxInFlight) {
            (organization: String) async -> Result<AvailableIntegrations, APIError> in
            await Result { () async throws(APIError) in try await client.available(organization: organization) }
        }
        return zip(session.organizations, answers).map { organization, answer in
            answer.map { available in status(of: organization, available, session: session) }
        }
    }

    func status(of organization: String, _ available: AvailableIntegrations, session: Session) -> OrganizationStatus {
        let live = session.live.organizations[organization] ?? []
        let declared = session.desired.filter { $0.key.organization == organization && !$0.isTombstone }
        let rows = IntegrationType.allCases.compactMap { type -> StatusRow? in
            let ofType = live.filter { $0.summary.integrationType == type }
            let row = StatusRow(
                type: type.name, available: (available.integrationsByType[type.name] ?? []).count,
                configured: ofType.count, enabled: ofType.filter(\.summary.isEnabled).count,
                tested: ofType.filter { $0.summary.testStatus == .passed }.count,
                declared: declared.filter { $0.type == type }.count)
            return [row.available, row.configured, row.enabled, row.tested, row.declared].contains { $0 > 0 }
                ? row : nil
        }
        return OrganizationStatus(
            organization: organization, configured: available.configuredCount, enabled: available.enabledCount,
            providersAvailable: available.totalAvailable, rows: rows)
    }

    /// Writes manifests and a secrets skeleton for an organization's live integrations.
    ///
    /// - Parameter directory: where the manifest goes (default `integrations/` of the project).
    public func export(
        organization: String, into directory: String?, force: Bool = false
    ) async throws(EngineError) -> Exporter.Result {
        let project = try loadProject()
        guard project.organizations.contains(where: { $0.id == organization }) else {
            throw .unknownOrganization(
                organization, project: ProjectPaths.display(project.file, relativeTo: project.root),
                declared: project.organizations.map(\.id))
        }
        // The skeleton is encrypted as a new file at its place would be: the .sops.yaml rule, else the project's.
        let recipients: [any AgeRecipient]
        do throws(SecretFileError) {
            let keys = try EncryptionKeys.forNewFile(
                project.root + "/secrets/\(organization).secrets.enc.yaml", given: [], rule: EncryptionRule(),
                macOnlyEncrypted: false, project: project, environment: environment)
            recipients = try keys.singleGroup(instead: "intops export writes files of one group")
        } catch { throw .missingSetting("export encrypts the secrets skeleton: \(error)") }
        let target = directory.map { ProjectPaths.resolve($0, from: self.directory) } ?? project.root + "/integrations"
        let manifestFile = target + "/\(organization).yaml"
        // Checked before any request: a hand-written manifest is never replaced silently.
        if !force && FileManager.default.fileExists(atPath: manifestFile) {
            throw .write(
                path: manifestFile,
                reason:
                    "it exists, and export writes new files only; pass --out DIR for another folder, or --force to replace it"
            )
        }
        let client = try connectedClient(organizations: [organization], project: project)
        let templates: [IntegrationTemplate]
        do throws(APIError) { templates = try await client.templates(organization: organization) } catch {
            throw .api(error)
        }
        return try await Exporter.export(
            organization: organization, client: client, templates: TemplateValidator(templates: templates),
            into: target, secretsDirectory: project.root + "/secrets", recipients: recipients)
    }

    /// Records the declared integrations of `organization` that match live ones in the state, trusting the
    /// manifests' secrets; returns how many.
    public func adopt(
        organization: String, lockTimeout: Duration?, observer: EngineObserver
    ) async throws(EngineError) -> Int {
        try await withLockedSession(
            "export --adopt", organizations: [organization], lockTimeout: lockTimeout, observer: observer
        ) { (session: Session) async throws(EngineError) -> Int in
            do throws(StateError) {
                return try await Exporter.adopt(session: session, organization: organization)
            } catch { throw .state(error) }
        }
    }

    /// `validate`: syntax, schema, templates and secret references, with at most one request (the templates).
    public func validate(offline: Bool) async throws(InvalidProject) -> ValidationReport {
        try await ProjectValidation.run(from: directory, offline: offline, environment: environment, sandbox: sandbox)
    }
}

private struct LiveTarget: Sendable {
    var key: IntegrationKey
    var id: String
}

extension Engine {
    /// The API's name of an integration type given by name or number ("Payment", "1"); nil when there is none.
    public static func integrationTypeName(_ text: String) -> String? {
        (IntegrationType(name: text) ?? Int(text).flatMap(IntegrationType.init(rawValue:)))?.name
    }
}

extension Engine {
    /// The project's client for these organizations.
    func connectedClient(organizations: [String], project: Project) throws(EngineError) -> IntegrationsClient {
        do throws(APIConnectionError) {
            return try APIConnector.client(
                for: project, organizations: organizations, environment: environment, sandbox: sandbox)
        } catch { throw EngineError(error) }
    }
}

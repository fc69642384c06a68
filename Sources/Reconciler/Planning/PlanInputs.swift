import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// What the manifests want for one integration, secrets resolved and fingerprinted.
public struct DesiredIntegration: Sendable {
    public var manifest: IntegrationManifest
    /// In the API's string form, sorted by key: a project can hold 100,000 of these, and a dictionary each costs
    /// twice the room.
    public var configuration: KeyedValues<String>
    public var secrets: KeyedValues<SecretValue>
    public var fingerprints: KeyedValues<SecretFingerprint>

    // Read from the manifest rather than copied beside it: a project can hold 100,000 of these.
    public var key: IntegrationKey { IntegrationKey(organization: manifest.organization, name: manifest.name) }
    public var type: IntegrationType? { manifest.type }
    public var provider: String? { manifest.provider }
    public var displayName: String? { manifest.displayName }
    public var enabled: Bool { manifest.enabled }

    public init(
        manifest: IntegrationManifest, configuration: KeyedValues<String>, secrets: KeyedValues<SecretValue>,
        fingerprints: KeyedValues<SecretFingerprint>
    ) {
        self.manifest = manifest
        self.configuration = configuration
        self.secrets = secrets
        self.fingerprints = fingerprints
    }

    public var isTombstone: Bool { manifest.ensure == .absent }
    /// What adoption and create recovery match a live integration by; nil while the entry is incomplete.
    public var identity: LiveIdentity? {
        guard let type, let provider, let displayName else { return nil }
        return LiveIdentity(type: type, provider: provider, displayName: displayName)
    }
}

/// What a plan is made from: the manifests as loaded and validated, the desired state with resolved secrets, the
/// state and the live side. Plain data, no I/O: the planner, drift and saved plans work from it.
public struct PlanningInputs: Sendable {
    /// The project and the manifest files read. Its manifests are in `desired`, those of the organizations in
    /// scope: a session does not keep a second copy of them.
    public var loaded: LoadedProject
    public var templates: TemplateValidator
    public var desired: [DesiredIntegration]
    public var organizations: [String]
    public var state: IntopsState
    public var live: LiveSnapshot
    /// What the state was read from, for saved-plan guards: a digest of every object's version.
    public var stateVersions: String?
    public var refresh: RefreshMode

    public init(
        loaded: LoadedProject, templates: TemplateValidator, desired: [DesiredIntegration], organizations: [String],
        state: IntopsState, live: LiveSnapshot, stateVersions: String?, refresh: RefreshMode
    ) {
        self.loaded = loaded
        self.templates = templates
        self.desired = desired
        self.organizations = organizations
        self.state = state
        self.live = live
        self.stateVersions = stateVersions
        self.refresh = refresh
    }

    public var project: Project { loaded.project }

    public func plan(_ options: PlanOptions) -> Plan {
        Planner.plan(
            desired: desired, live: live, state: state, templates: templates, organizations: organizations,
            options: options)
    }
}

/// Options of one planning run.
public struct PlanOptions: Sendable {
    public var prune: Bool
    public var allowReplace: Bool
    public var force: Bool
    /// Only these names (all when empty).
    public var targets: Set<String>
    public var safety: Safety
    public var now: Date

    public init(
        prune: Bool = false, allowReplace: Bool = false, force: Bool = false, targets: Set<String> = [], safety: Safety,
        now: Date = Date()
    ) {
        self.prune = prune
        self.allowReplace = allowReplace
        self.force = force
        self.targets = targets
        self.safety = safety
        self.now = now
    }
}

extension TemplateValidator {
    /// The template's defaults with the manifest's values over them: what the API holds after a create.
    public func effectiveConfiguration(_ desired: DesiredIntegration) -> [String: String] {
        var result: [String: String] = [:]
        if let type = desired.type, let provider = desired.provider,
            let template = template(type: type, provider: provider)
        {
            for field in template.configurationFields {
                if let value = field.defaultValue { result[field.key] = value }
            }
        }
        for (key, value) in desired.configuration { result[key] = value }
        return result
    }
}

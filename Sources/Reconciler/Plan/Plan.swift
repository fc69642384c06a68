import IntegrationsAPI

/// One field that changes, as the plan shows it. Secret values never appear: `sensitive` changes show only that
/// they change.
public struct PlannedChange: Codable, Sendable, Equatable {
    public var field: String
    public var old: String?
    public var new: String?
    public var sensitive: Bool

    public init(field: String, old: String? = nil, new: String? = nil, sensitive: Bool = false) {
        self.field = field
        self.old = old
        self.new = new
        self.sensitive = sensitive
    }
}

/// An API call the applier makes for an action, in order. Steps carry no secret: values are looked up from the
/// desired state at apply time.
public enum PlannedStep: Codable, Sendable, Equatable {
    /// Create with the manifest's fields; `temporaryName` when the final displayName is still taken.
    case create(temporaryName: String?)
    /// PUT of displayName/enabled/configuration fields (only the ones listed change).
    case update(displayName: String?, enabled: Bool?, configuration: [String: String])
    case rename(to: String)
    case rotate(keys: [String])
    case test
    case disable
    case delete
    /// For replace: delete the integration being replaced.
    case deleteReplaced(integrationId: String)
}

public enum ActionKind: String, Codable, Sendable, CaseIterable {
    case create, update, rotate, test, delete, replace, adopt

    var symbol: String {
        switch self {
        case .create: "+"
        case .update: "~"
        case .rotate: "±"
        case .test: "?"
        case .delete: "-"
        case .replace: "-/+"
        case .adopt: "<="
        }
    }
}

/// One integration's change.
public struct PlannedAction: Codable, Sendable, Equatable {
    public var organization: String
    public var name: String
    public var action: ActionKind
    public var integrationId: String?
    public var type: IntegrationType?
    public var provider: String?
    public var displayName: String?
    public var changes: [PlannedChange]
    /// Why, when it is not obvious ("unknown secrets", "deleted out of band").
    public var reason: String?
    public var notes: [String]
    public var steps: [PlannedStep]
    /// Steps run before every other action (temporary renames that break displayName swaps).
    public var preSteps: [PlannedStep]
    /// Actions (by position in the plan) that must finish before this one starts.
    public var dependsOn: [Int]

    public var key: IntegrationKey { IntegrationKey(organization: organization, name: name) }

    public init(
        organization: String, name: String, action: ActionKind, integrationId: String?, type: IntegrationType?,
        provider: String?, displayName: String?, changes: [PlannedChange], reason: String?, notes: [String],
        steps: [PlannedStep], preSteps: [PlannedStep], dependsOn: [Int]
    ) {
        self.organization = organization
        self.name = name
        self.action = action
        self.integrationId = integrationId
        self.type = type
        self.provider = provider
        self.displayName = displayName
        self.changes = changes
        self.reason = reason
        self.notes = notes
        self.steps = steps
        self.preSteps = preSteps
        self.dependsOn = dependsOn
    }
}

/// The plan: actions, a summary, and what a saved plan needs to detect staleness.
public struct Plan: Codable, Sendable, Equatable {
    public var formatVersion: Int = 1
    public var actions: [PlannedAction]
    public var summary: [String: Int]
    /// Problems that stop an apply (too many deletions without --force, ambiguous adoption, …).
    public var errors: [String]
    public var warnings: [String]
    /// Saved-plan guards.
    public var guards: PlanGuards?

    public init(actions: [PlannedAction], errors: [String] = [], warnings: [String] = []) {
        self.actions = actions
        self.errors = errors
        self.warnings = warnings
        var counts = Dictionary(uniqueKeysWithValues: ActionKind.allCases.map { ($0.rawValue, 0) })
        for action in actions { counts[action.action.rawValue, default: 0] += 1 }
        summary = counts
    }

    public var isEmpty: Bool { actions.isEmpty }
}

/// What `apply PLANFILE` checks before doing anything: nothing moved since the plan was made.
public struct PlanGuards: Codable, Sendable, Equatable {
    public var manifestsDigest: String
    /// nil when there was no state yet (a first deployment): the plan then applies only where there still is none.
    public var stateLineage: String?
    public var stateSerial: Int
    /// A digest of the version of every state object read (each shard of a sharded state); nil without state.
    public var stateVersions: String?
    /// Per touched integration, a digest of the live snapshot (updatedAt and fields); "absent" when not live.
    public var live: [String: String]
    /// Per integration, each secret's keyed fingerprint.
    public var fingerprints: [String: [String: String]]
    public var organizations: [String]
    public var targets: [String]
    public var prune: Bool
    public var allowReplace: Bool
    public var force: Bool
    /// The refresh the plan was made with: the live digests are only comparable under the same one.
    public var refresh: String
}

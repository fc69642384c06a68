import IntegrationsAPI

/// The field a change is about. Code matches on the case; people and `plan --format json` see its name
/// ("displayName", "configuration.region", "secrets.apiKey").
public enum ChangeField: Hashable, Sendable, Codable, CustomStringConvertible {
    case displayName
    case enabled
    case configuration(String)
    case secret(String)
    /// The connection test an action runs.
    case test
    /// A replace: the integration id that changes.
    case integration
    /// A replace: the type/provider that changes.
    case provider

    public var description: String {
        switch self {
        case .displayName: "displayName"
        case .enabled: "enabled"
        case .configuration(let key): "configuration.\(key)"
        case .secret(let key): "secrets.\(key)"
        case .test: "test"
        case .integration: "integration"
        case .provider: "provider"
        }
    }

    public init?(name: String) {
        switch name {
        case "displayName": self = .displayName
        case "enabled": self = .enabled
        case "test": self = .test
        case "integration": self = .integration
        case "provider": self = .provider
        default:
            if name.hasPrefix("configuration.") {
                self = .configuration(String(name.dropFirst("configuration.".count)))
            } else if name.hasPrefix("secrets.") {
                self = .secret(String(name.dropFirst("secrets.".count)))
            } else {
                return nil
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let field = ChangeField(name: name) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown field \(name)"))
        }
        self = field
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The secret's key, for a secret change.
    public var secretKey: String? { if case .secret(let key) = self { key } else { nil } }
}

/// One field that changes, as the plan shows it. Secret values never appear: `sensitive` changes show only that
/// they change.
public struct PlannedChange: Codable, Sendable, Equatable {
    public var field: ChangeField
    public var old: String?
    public var new: String?
    public var sensitive: Bool

    public init(field: ChangeField, old: String? = nil, new: String? = nil, sensitive: Bool = false) {
        self.field = field
        self.old = old
        self.new = new
        self.sensitive = sensitive
    }
}

/// The fields an action changes. A create's are those of its desired entry, read from it when they are shown
/// rather than held: a plan of 100,000 creates would otherwise hold 600,000 changes at once. Encoded as the list.
public struct PlannedChanges: Sequence, Sendable, Equatable, Codable, ExpressibleByArrayLiteral {
    private enum Storage: Sendable {
        case listed([PlannedChange])
        /// A create: its displayName, enabled, configuration and secret keys, then its connection test.
        case created(
            displayName: String?, enabled: Bool, configuration: KeyedValues<String>,
            secrets: KeyedValues<SecretFingerprint>, tested: Bool)
    }

    private var storage: Storage

    public init(_ changes: [PlannedChange]) { storage = .listed(changes) }

    public init(arrayLiteral changes: PlannedChange...) { storage = .listed(changes) }

    /// The changes of creating `desired`; `tested` when a connection test follows.
    init(creating desired: DesiredIntegration, tested: Bool) {
        // The fingerprints name the secrets without holding their values; without them, the list is made now.
        guard desired.fingerprints.count == desired.secrets.count else {
            storage = .listed(
                Self.creation(
                    displayName: desired.displayName, enabled: desired.enabled, configuration: desired.configuration,
                    secretKeys: desired.secrets.keys, tested: tested))
            return
        }
        storage = .created(
            displayName: desired.displayName, enabled: desired.enabled, configuration: desired.configuration,
            secrets: desired.fingerprints, tested: tested)
    }

    private static func creation(
        displayName: String?, enabled: Bool, configuration: KeyedValues<String>, secretKeys: [String], tested: Bool
    ) -> [PlannedChange] {
        var changes: [PlannedChange] = []
        changes.reserveCapacity(3 + configuration.count + secretKeys.count)
        if let displayName { changes.append(PlannedChange(field: .displayName, new: displayName)) }
        changes.append(PlannedChange(field: .enabled, new: String(enabled)))
        for (key, value) in configuration { changes.append(PlannedChange(field: .configuration(key), new: value)) }
        for key in secretKeys { changes.append(PlannedChange(field: .secret(key), sensitive: true)) }
        if tested { changes.append(PlannedChange(field: .test, new: "connection test after create")) }
        return changes
    }

    /// Made anew on each read for a create: read it once where it is used more than once.
    public var list: [PlannedChange] {
        switch storage {
        case .listed(let changes): changes
        case .created(let displayName, let enabled, let configuration, let secrets, let tested):
            Self.creation(
                displayName: displayName, enabled: enabled, configuration: configuration, secretKeys: secrets.keys,
                tested: tested)
        }
    }

    public func makeIterator() -> IndexingIterator<[PlannedChange]> { list.makeIterator() }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.list == rhs.list }

    public init(from decoder: any Decoder) throws { storage = .listed(try [PlannedChange](from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try list.encode(to: encoder) }
}

/// Why an action is planned, when it is not obvious from its kind. Drift and the applier match on the case; the
/// description is the sentence people read. Indirect: every action has room for one, and the largest inline would
/// make each of 100,000 creates 32 bytes larger for a reason they do not have.
public indirect enum PlanReason: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The state's integration is gone from the API; it is created again.
    case deletedOutOfBand(integrationId: String)
    /// No state entry, and exactly one live integration has the entry's identity.
    case adopts(integrationId: String, secretsUnknown: Bool)
    /// The state has no fingerprint for some secrets.
    case unknownFingerprints
    case testAlways
    case lastTestFailed
    /// The connection test after the last change never ran.
    case testDue
    /// Why a replace is needed: the type or provider changes…
    case typeOrProviderChanges(from: String, to: String)
    /// …or configuration keys the template gives no default for would have to be removed.
    case configurationCannotBeRemoved(keys: [String])
    case ensureAbsent
    case pruned
    /// A create an interrupted apply sent for an entry no longer in the manifests.
    case orphanedCreate
    /// A replace stopped after its replacement was created: the rest of its steps.
    case finishesReplace(replacedId: String)
    /// A replace stopped after its replacement was created, and the manifest wants the original again.
    case undoesReplace(replacementId: String)

    public var description: String {
        switch self {
        case .deletedOutOfBand(let id): "deleted out of band: \(id) is gone; it will be created again"
        case .adopts(let id, let secretsUnknown):
            "adopts \(id), the live integration with this type, provider and displayName"
                + (secretsUnknown ? "; its secrets are unknown to intops and are set again" : "")
        case .unknownFingerprints: "unknown fingerprints: the state has no record of these secrets"
        case .testAlways: "test: always"
        case .lastTestFailed: "the last connection test failed"
        case .testDue: "the connection test after the last change has not run"
        case .typeOrProviderChanges(let from, let to): "type/provider changes from \(from) to \(to)"
        case .configurationCannotBeRemoved(let keys):
            "configuration \(keys.joined(separator: ", ")) cannot be removed in place (no default in the template)"
        case .ensureAbsent: "ensure: absent"
        case .pruned: "pruned: no longer in the manifests"
        case .orphanedCreate: "created by an interrupted apply for an entry no longer in the manifests"
        case .finishesReplace(let id): "finishes an interrupted replace: \(id) is still live"
        case .undoesReplace(let id):
            "undoes an interrupted replace: the manifest wants the original again, so the replacement \(id) is deleted"
        }
    }
}

/// Why a plan cannot be applied as it is. Each names the entry and says what to do.
public enum PlanProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    /// No state entry, and several live integrations have the entry's identity.
    case ambiguousAdoption(IntegrationKey, candidates: [String])
    /// A change needs a replace, and the entry is protected.
    case replaceOfProtected(IntegrationKey, why: PlanReason)
    /// A change needs a replace, which was not allowed.
    case replaceNotAllowed(IntegrationKey, why: PlanReason, replacedId: String)
    /// A tombstone whose identity several live integrations have.
    case ambiguousTombstone(IntegrationKey, candidates: [String])
    case tombstoneOfProtected(IntegrationKey)
    /// More deletions than the safety limits allow.
    case overSafetyLimit(deletes: Int, percent: Int, managed: Int, maxDeletes: Int, maxPercent: Int)
    /// The displayName an action takes is held by a live integration nothing frees.
    case displayNameTaken(IntegrationKey, displayName: String, holder: String)
    /// The organization's integrations could not be listed: nothing of it is planned.
    case organizationUnreachable(String, reason: String)
    /// A live integration's detail could not be read: it is not planned.
    case integrationUnreadable(IntegrationKey, integrationId: String, reason: String)

    public var description: String {
        switch self {
        case .ambiguousAdoption(let key, let candidates):
            "\(key): \(candidates.count) live integrations match for adoption (\(candidates.joined(separator: ", "))); delete the duplicates or record one with intops state"
        case .replaceOfProtected(let key, let why):
            "\(key): \(why), which needs a replace, and the integration is protected (protect: true)"
        case .replaceNotAllowed(let key, let why, let id):
            if case .configurationCannotBeRemoved(let keys) = why {
                "\(key): the live integration \(id) has configuration \(keys.joined(separator: ", ")) that the manifest does not (set out of band?), and the API cannot remove it in place; add \(keys.count == 1 ? "it" : "them") to the manifest's configuration to keep \(keys.count == 1 ? "it" : "them"), or run with --allow-replace to create a new integration without \(keys.count == 1 ? "it" : "them") and delete \(id)"
            } else {
                "\(key): \(why); this needs a replace (create a new integration, then delete \(id)): run with --allow-replace"
            }
        case .ambiguousTombstone(let key, let candidates):
            "\(key): ensure: absent matches \(candidates.count) live integrations (\(candidates.joined(separator: ", "))); intops will not guess which to delete"
        case .tombstoneOfProtected(let key):
            "\(key): ensure: absent on a protected integration; remove protect: true first"
        case .overSafetyLimit(let deletes, let percent, let managed, let maxDeletes, let maxPercent):
            "the plan deletes \(deletes) integrations (\(percent)% of the \(managed) managed), over the safety limit of \(maxDeletes) or \(maxPercent)%; check the manifests, or run with --force"
        case .displayNameTaken(let key, let name, let holder):
            "\(key): displayName \"\(name)\" is used by live integration \(holder), which the manifests do not rename or delete; the API would refuse it (409)"
        case .organizationUnreachable(let organization, let reason):
            "organization \(organization) could not be read, so nothing of it is planned: \(reason)"
        case .integrationUnreadable(let key, let id, let reason):
            "\(key): the live integration \(id) could not be read, so it is not planned: \(reason)"
        }
    }
}

/// Something a plan leaves alone that a person should know of.
public enum PlanWarning: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Managed, no longer in the manifests, and the plan does not prune.
    case unmanagedLeftover(IntegrationKey)
    /// A create an interrupted apply sent for an entry no longer declared, not pruned.
    case orphanLeftover(IntegrationKey, integrationId: String)

    public var description: String {
        switch self {
        case .unmanagedLeftover(let key):
            "\(key) is managed by intops but no longer in the manifests; plan --prune deletes it, or intops state rm forgets it"
        case .orphanLeftover(let key, let id):
            "\(key): an interrupted apply created \(id) for an entry no longer in the manifests; plan --prune deletes it"
        }
    }
}

/// Something a person should know about an action.
public enum PlanNote: Codable, Sendable, Equatable, CustomStringConvertible {
    /// An OAuth provider: the integration works only once someone authorizes it.
    case authorizationNeeded(name: String)
    case disabledFirst
    /// A replace keeping its displayName: the new integration is created under a temporary name.
    case createdUnderTemporaryName(replacedId: String)
    /// A displayName swap: this one moves to a temporary name before everything else.
    case renamedFirstForSwap(temporaryName: String)

    public var description: String {
        switch self {
        case .authorizationNeeded(let name): "authorization needed: run intops connect \(name)"
        case .disabledFirst: "disabled first, then deleted"
        case .createdUnderTemporaryName(let id): "created under a temporary name, renamed once \(id) is deleted"
        case .renamedFirstForSwap(let name): "renamed to \"\(name)\" first, to free its name for the swap"
        }
    }
}

/// An action's identity within a plan: the manifest entry it is for, and for deletions the integration it removes
/// (a pruned entry and an orphaned create may share a name). Dependencies name actions by it, never by position.
public struct ActionID: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var organization: String
    public var name: String
    public var integrationId: String?

    public init(organization: String, name: String, integrationId: String? = nil) {
        self.organization = organization
        self.name = name
        self.integrationId = integrationId
    }

    public var description: String { "\(organization)/\(name)" + (integrationId.map { " (\($0))" } ?? "") }

    public static func < (lhs: ActionID, rhs: ActionID) -> Bool {
        (lhs.organization, lhs.name, lhs.integrationId ?? "") < (rhs.organization, rhs.name, rhs.integrationId ?? "")
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

    public var symbol: String {
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
    public var changes: PlannedChanges
    public var reason: PlanReason?
    public var notes: [PlanNote]
    public var steps: [PlannedStep]
    /// Steps run before every other action (temporary renames that break displayName swaps).
    public var preSteps: [PlannedStep]
    /// Actions that must finish before this one starts.
    public var dependsOn: [ActionID]

    public var key: IntegrationKey { IntegrationKey(organization: organization, name: name) }

    /// The displayName the integration has live before the action, when the action changes it.
    public var liveDisplayName: String? { changes.first { $0.field == .displayName }?.old }

    public var id: ActionID {
        ActionID(organization: organization, name: name, integrationId: action == .delete ? integrationId : nil)
    }

    public init(
        organization: String, name: String, action: ActionKind, integrationId: String?, type: IntegrationType?,
        provider: String?, displayName: String?, changes: PlannedChanges, reason: PlanReason?, notes: [PlanNote],
        steps: [PlannedStep], preSteps: [PlannedStep], dependsOn: [ActionID]
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
    /// The format of a plan's encoding (saved plans): 2 since reasons, notes, fields and dependencies are typed.
    public static let currentFormat = 2
    public var formatVersion: Int = Plan.currentFormat
    public var actions: [PlannedAction]
    public var summary: [String: Int]
    /// Problems that stop an apply (too many deletions without --force, ambiguous adoption, …).
    public var errors: [PlanProblem]
    public var warnings: [PlanWarning]
    /// Saved-plan guards.
    public var guards: PlanGuards?

    public init(actions: [PlannedAction], errors: [PlanProblem] = [], warnings: [PlanWarning] = []) {
        self.actions = actions
        self.errors = errors
        self.warnings = warnings
        var counts: [ActionKind: Int] = [:]
        for index in actions.indices { counts[actions[index].action, default: 0] += 1 }
        summary = Dictionary(uniqueKeysWithValues: ActionKind.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
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

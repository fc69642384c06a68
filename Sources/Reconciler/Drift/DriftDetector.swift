import Foundation
import IntegrationsAPI
import YAML

/// Something a refresh found that the manifests do not say.
public struct DriftItem: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A managed integration's fields differ from the manifest.
        case changed
        /// The state manages it, but it is gone from the API.
        case deleted
        /// Declared, never created.
        case missing
        /// A secret in the manifests differs from the one last set.
        case secretChanged = "secret-changed"
        /// intops has no record of a secret (no state entry, or one without its fingerprint): it cannot tell whether
        /// the live value differs, and the next apply sets it.
        case secretUnknown = "secret-unknown"
        /// Live in a managed organization, in no manifest and not in the state.
        case unmanaged
        /// The last connection test failed.
        case testFailing = "test-failing"
        /// Never tested.
        case neverTested = "never-tested"
        /// A secret set longer ago than `rotation.maxAge`.
        case secretExpired = "secret-expired"
        /// An OAuth provider not yet authorized.
        case unauthorized
    }

    public var organization: String
    public var name: String
    public var kind: Kind
    public var details: [String]
    public var integrationId: String?
    /// The manifest line the drift points at (for annotations), when the integration is declared.
    public var file: String?
    public var line: Int?
}

/// Drift from the same inputs as a plan: the plan's changes, read as drift, and what only a refresh shows.
public enum DriftDetector {
    public static func detect(inputs: PlanningInputs, now: Date) -> [DriftItem] {
        let plan = inputs.plan(PlanOptions(safety: Safety(maxDeletes: Int.max, maxDeletePercent: 100), now: now))
        var items: [DriftItem] = []
        let desired = Dictionary(inputs.desired.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        func located(_ key: IntegrationKey, _ kind: DriftItem.Kind, _ details: [String], id: String?) -> DriftItem {
            let location = desired[key]?.manifest.location
            return DriftItem(
                organization: key.organization, name: key.name, kind: kind, details: details, integrationId: id,
                file: location.map { ProjectPaths.display($0.file, relativeTo: inputs.project.root) },
                line: location?.line)
        }
        func describe(_ change: PlannedChange) -> String {
            if change.sensitive { return "\(change.field) differs from the manifest (values not shown)" }
            return
                "\(change.field): live \(change.old.map { "\"\($0)\"" } ?? "(none)"), manifest \(change.new.map { "\"\($0)\"" } ?? "(none)")"
        }
        /// Secrets split by what the state knows of them: a recorded fingerprint that differs, or no record at all.
        func secretItems(_ action: PlannedAction, _ secrets: [PlannedChange]) -> [DriftItem] {
            let recorded = inputs.state.entry(action.key)?.secrets ?? [:]
            let unknown = secrets.filter { $0.field.secretKey.map { recorded[$0] == nil } ?? false }
            let changed = secrets.filter { $0.field.secretKey.map { recorded[$0] != nil } ?? false }
            var items: [DriftItem] = []
            if !changed.isEmpty {
                items.append(located(action.key, .secretChanged, changed.map(describe), id: action.integrationId))
            }
            if !unknown.isEmpty {
                items.append(
                    located(
                        action.key, .secretUnknown,
                        unknown.map { "intops has no record of \($0.field); apply sets it" }, id: action.integrationId))
            }
            return items
        }
        for action in plan.actions {
            let changes = action.changes.list
            let plain = changes.filter { !$0.sensitive && $0.field != .test }
            let secrets = changes.filter(\.sensitive)
            switch action.action {
            case .create:
                if let reason = action.reason, case .deletedOutOfBand = reason {
                    items.append(located(action.key, .deleted, [reason.description], id: nil))
                } else {
                    items.append(
                        located(action.key, .missing, ["declared in the manifests but not created yet"], id: nil))
                }
            case .update, .replace, .adopt:
                if !plain.isEmpty {
                    items.append(located(action.key, .changed, plain.map(describe), id: action.integrationId))
                }
                items += secretItems(action, secrets)
            case .rotate: items += secretItems(action, secrets)
            case .delete:
                items.append(
                    located(
                        action.key, .changed, ["live but \(action.reason?.description ?? "to be deleted")"],
                        id: action.integrationId))
            case .test: break
            }
        }
        // Differences the plan cannot act on without a replace are drift all the same.
        for problem in plan.errors {
            let key: IntegrationKey, why: PlanReason, liveId: String?
            switch problem {
            case .replaceNotAllowed(let entry, let reason, let id): (key, why, liveId) = (entry, reason, id)
            case .replaceOfProtected(let entry, let reason):
                (key, why, liveId) = (entry, reason, inputs.state.entry(entry)?.integrationId)
            default: continue
            }
            if case .configurationCannotBeRemoved(let keys) = why {
                items.append(
                    located(
                        key, .changed,
                        keys.map {
                            "configuration.\($0): live has it, the manifest does not, and it cannot be removed in place"
                        }, id: liveId))
            } else {
                items.append(located(key, .changed, ["\(why)"], id: liveId))
            }
        }
        // What only the live side and the state tell.
        let managed = Set(inputs.state.integrations.map(\.integrationId))
        for organization in inputs.organizations {
            for live in inputs.live.organizations[organization] ?? [] {
                let summary = live.summary
                let key =
                    inputs.state.integrations.first { $0.integrationId == live.id }?.key
                    ?? inputs.desired.first {
                        $0.key.organization == organization && $0.identity?.matches(summary) == true
                    }?.key
                guard let key, managed.contains(live.id) || desired[key] != nil else {
                    items.append(
                        DriftItem(
                            organization: organization, name: summary.displayName, kind: .unmanaged,
                            details: [
                                "\(summary.provider) \(live.id) is in no manifest; adopt it with a manifest entry or delete it"
                            ], integrationId: live.id, file: nil, line: nil))
                    continue
                }
                let template = inputs.templates.template(type: summary.integrationType, provider: summary.provider)
                if template?.requiresOAuth == true && summary.testStatus != .passed {
                    items.append(
                        located(
                            key, .unauthorized, ["authorization needed: run intops connect \(key.name)"], id: live.id))
                } else if summary.testStatus == .failed {
                    items.append(
                        located(
                            key, .testFailing, ["last test failed\(summary.lastTestMessage.map { ": \($0)" } ?? "")"],
                            id: live.id))
                } else if summary.testStatus == .notTested || summary.testStatus == nil {
                    items.append(located(key, .neverTested, ["no connection test has run"], id: live.id))
                }
                if let maxAge = desired[key]?.manifest.rotationMaxAge, let entry = inputs.state.entry(key) {
                    for secretKey in entry.secrets.keys.sorted() {
                        guard let record = entry.secrets[secretKey], let set = Timestamp.date(record.setAt) else {
                            continue
                        }
                        let age = now.timeIntervalSince(set)
                        if age > maxAge.seconds {
                            items.append(
                                located(
                                    key, .secretExpired,
                                    [
                                        "\(secretKey) was set \(Int(age / 86_400)) days ago, over rotation.maxAge \(maxAge)"
                                    ], id: live.id))
                        }
                    }
                }
            }
        }
        return items.sorted {
            ($0.organization, $0.name, $0.kind.rawValue) < ($1.organization, $1.name, $1.kind.rawValue)
        }
    }
}

import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// What the manifests want for one integration, secrets resolved and fingerprinted.
public struct DesiredIntegration: Sendable {
    public var key: IntegrationKey
    public var manifest: IntegrationManifest
    public var type: IntegrationType?
    public var provider: String?
    public var displayName: String?
    public var enabled: Bool
    /// In the API's string form.
    public var configuration: [String: String]
    public var secrets: [String: SecretValue]
    public var fingerprints: [String: String]

    public var isTombstone: Bool { manifest.ensure == .absent }
    public var configurationDigest: String { IntopsState.configurationDigest(configuration) }
}

/// One live integration as refreshed: the list summary, and the configuration when it was fetched or proven.
public struct LiveIntegration: Sendable {
    public var summary: IntegrationSummary
    /// nil when not fetched (a refresh that proved it unchanged records the applied configuration instead).
    public var configuration: [String: String]?
    public var configurationFetched: Bool

    public var id: String { summary.integrationId }
}

/// The live side of every organization in the run.
public struct LiveSnapshot: Sendable {
    public var organizations: [String: [LiveIntegration]]

    public func integration(_ organization: String, id: String) -> LiveIntegration? {
        organizations[organization]?.first { $0.id == id }
    }

    /// A digest of what the plan saw of one integration (updatedAt and fields), for saved-plan guards.
    public static func digest(_ live: LiveIntegration?) -> String {
        guard let live else { return "absent" }
        let summary = live.summary
        var text = "\(summary.integrationId)|\(summary.updatedAt ?? "")|\(summary.displayName)|\(summary.isEnabled)|\(summary.provider)|\(summary.integrationType.rawValue)"
        if let configuration = live.configuration { text += "|" + IntopsState.configurationDigest(configuration) }
        return Digest.sha256(Array(text.utf8)).hex
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

    public init(prune: Bool = false, allowReplace: Bool = false, force: Bool = false, targets: Set<String> = [], safety: Safety, now: Date = Date()) {
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
        if let type = desired.type, let provider = desired.provider, let template = template(type: type, provider: provider) {
            for field in template.configurationFields { if let value = field.defaultValue { result[field.key] = value } }
        }
        result.merge(desired.configuration) { $1 }
        return result
    }
}

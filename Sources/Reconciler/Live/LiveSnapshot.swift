import CryptoPrimitives
import IntegrationsAPI

/// One live integration as refreshed: the list summary, and the configuration when it was fetched or proven.
public struct LiveIntegration: Sendable {
    public var summary: IntegrationSummary
    /// nil when not fetched (a refresh that proved it unchanged records the applied configuration instead).
    public var configuration: [String: String]?
    public var configurationFetched: Bool
    /// Why its detail could not be read (after the client's retries): it is reported and left out of the plan,
    /// and the rest of the run goes on.
    public var unreadable: APIError? = nil

    public var id: String { summary.integrationId }
}

/// The live side of every organization in the run.
public struct LiveSnapshot: Sendable {
    public var organizations: [String: [LiveIntegration]]
    /// Organizations whose list could not be read, and why: nothing of theirs is planned; the others are.
    public var unreachable: [String: APIError] = [:]

    public func integration(_ organization: String, id: String) -> LiveIntegration? {
        organizations[organization]?.first { $0.id == id }
    }

    /// A digest of what the plan saw of one integration (updatedAt and fields), for saved-plan guards.
    public static func digest(_ live: LiveIntegration?) -> String {
        guard let live else { return "absent" }
        let summary = live.summary
        var text =
            "\(summary.integrationId)|\(summary.updatedAt ?? "")|\(summary.displayName)|\(summary.isEnabled)|\(summary.provider)|\(summary.integrationType.rawValue)"
        if let configuration = live.configuration { text += "|" + IntopsState.configurationDigest(configuration) }
        return Digest.sha256(Array(text.utf8)).hex
    }
}

/// One organization's list, or nil when it could not be read.
struct OrganizationList: Sendable {
    var organization: String
    var summaries: [IntegrationSummary]?
}

/// What makes a live integration the one a manifest entry (or a lost create) means when no id is known: the same
/// type, provider and displayName. Adoption, create recovery, orphan pruning and export all match by this one rule,
/// so they can never disagree about which integration is whose.
public struct LiveIdentity: Hashable, Sendable, Codable {
    public var type: IntegrationType
    public var provider: String
    public var displayName: String

    public init(type: IntegrationType, provider: String, displayName: String) {
        self.type = type
        self.provider = provider
        self.displayName = displayName
    }

    public init(_ summary: IntegrationSummary) {
        self.init(type: summary.integrationType, provider: summary.provider, displayName: summary.displayName)
    }

    public init(_ request: CreateIntegrationRequest) {
        self.init(type: request.integrationType, provider: request.provider, displayName: request.displayName)
    }

    /// The same identity under another displayName (the temporary name a create was sent with).
    public func named(_ displayName: String) -> LiveIdentity {
        LiveIdentity(type: type, provider: provider, displayName: displayName)
    }

    /// Whether `summary` is the integration this identity names.
    public func matches(_ summary: IntegrationSummary) -> Bool { Pattern(self).matches(summary) }

    /// An identity whose type or provider may be left open: a tombstone (`ensure: absent`) may name only the
    /// displayName.
    public struct Pattern: Sendable {
        public var type: IntegrationType?
        public var provider: String?
        public var displayName: String

        public init(type: IntegrationType?, provider: String?, displayName: String) {
            self.type = type
            self.provider = provider
            self.displayName = displayName
        }

        public init(_ identity: LiveIdentity) {
            self.init(type: identity.type, provider: identity.provider, displayName: identity.displayName)
        }

        public func matches(_ summary: IntegrationSummary) -> Bool {
            summary.displayName == displayName && (provider.map { $0 == summary.provider } ?? true)
                && (type.map { $0 == summary.integrationType } ?? true)
        }
    }
}

import IntegrationsAPI
import YAML

/// One integration as a manifest declares it.
public struct IntegrationManifest: Sendable {
    public enum Ensure: String, Sendable, CaseIterable {
        case present
        case absent
    }

    public enum TestPolicy: String, Sendable, CaseIterable {
        case onChange = "on-change"
        case always
        case never
    }

    /// A configuration value as written, and (after template validation) in the API's string form.
    public struct ConfigurationValue: Sendable {
        public var key: String
        public var value: ResolvedScalar
        /// The scalar's text as written.
        public var text: String
        /// The API's string form, set by validation against the template.
        public var normalized: String?
        public var location: SourceLocation
    }

    public struct Secret: Sendable {
        public var key: String
        public var reference: SecretReference
        public var location: SourceLocation
    }

    public var organization: String
    public var name: String
    public var ensure: Ensure
    /// Required unless the entry is a tombstone.
    public var type: IntegrationType?
    public var provider: String?
    public var displayName: String?
    public var enabled: Bool
    public var configuration: [ConfigurationValue]
    public var secrets: [Secret]
    public var test: TestPolicy
    public var rotationMaxAge: ManifestDuration?
    public var protect: Bool
    /// Where the entry starts, and where each of its fields was written (for annotations that point at a line).
    public var location: SourceLocation
    public var fieldLocations: [String: SourceLocation]

    public func location(of field: String) -> SourceLocation { fieldLocations[field] ?? location }
}

/// An `IntegrationSet` document.
public struct IntegrationSet: Sendable {
    public var organization: String
    public var integrations: [IntegrationManifest]
    public var location: SourceLocation
}

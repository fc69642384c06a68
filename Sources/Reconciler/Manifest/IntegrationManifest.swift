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
    public var fieldLocations: FieldLocations

    public func location(of field: String) -> SourceLocation {
        fieldLocations.position(of: field).map { SourceLocation(file: location.file, line: $0.line, column: $0.column) }
            ?? location
    }
}

/// Where each field of a manifest entry was written, in the entry's own file: a few bytes a field rather than a
/// dictionary of locations per entry, which a project of 100,000 entries holds all at once.
public struct FieldLocations: Sendable, ExpressibleByDictionaryLiteral {
    private var fields: [String] = []
    private var positions: [(line: Int32, column: Int32)] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, SourceLocation)...) {
        for (field, location) in elements { set(field, line: location.line, column: location.column) }
    }

    public mutating func set(_ field: String, line: Int, column: Int) {
        fields.append(field)
        positions.append((Int32(clamping: line), Int32(clamping: column)))
    }

    public func position(of field: String) -> (line: Int, column: Int)? {
        guard let index = fields.lastIndex(of: field) else { return nil }
        return (Int(positions[index].line), Int(positions[index].column))
    }
}

/// An `IntegrationSet` document.
public struct IntegrationSet: Sendable {
    public var organization: String
    public var integrations: [IntegrationManifest]
    public var location: SourceLocation
}

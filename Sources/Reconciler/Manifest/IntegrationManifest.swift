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

    /// A configuration value as written; ``TemplateValidator`` gives its API form.
    public struct ConfigurationValue: Sendable {
        public var key: String
        public var value: ResolvedScalar
        /// The scalar's text as written.
        public var text: String
        public var location: SourceLocation
    }

    public struct Secret: Sendable {
        public var key: String
        public var reference: SecretReference
        /// Where the reference is written.
        public var location: SourceLocation { reference.location }
    }

    /// The fields an entry may have.
    public static let fields = [
        "name", "ensure", "type", "provider", "displayName", "enabled", "configuration", "secrets", "test", "rotation",
        "protect",
    ]

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

/// Where each field of a manifest entry was written, in the entry's own file. A project of 100,000 entries holds
/// them all at once, so each field is one packed word in an array of exactly its size: the field's position in
/// ``IntegrationManifest/fields``, its line and its column.
public struct FieldLocations: Sendable, ExpressibleByDictionaryLiteral {
    private var packed: [UInt64] = []

    public init() {}

    /// Room for `capacity` fields, allocated once.
    public init(capacity: Int) { packed.reserveCapacity(capacity) }

    public init(dictionaryLiteral elements: (String, SourceLocation)...) {
        for (field, location) in elements { set(field, line: location.line, column: location.column) }
    }

    /// Records a field of ``IntegrationManifest/fields``; another name is not a field and is not recorded.
    public mutating func set(_ field: String, line: Int, column: Int) {
        guard let index = IntegrationManifest.fields.firstIndex(of: field) else { return }
        packed.append(UInt64(index) << 56 | UInt64(UInt32(clamping: line)) << 24 | UInt64(min(column, 0xFF_FFFF)))
    }

    public func position(of field: String) -> (line: Int, column: Int)? {
        guard let index = IntegrationManifest.fields.firstIndex(of: field),
            let word = packed.last(where: { Int($0 >> 56) == index })
        else { return nil }
        return (Int((word >> 24) & 0xFFFF_FFFF), Int(word & 0xFF_FFFF))
    }
}

/// An `IntegrationSet` document.
public struct IntegrationSet: Sendable {
    public var organization: String
    public var integrations: [IntegrationManifest]
    public var location: SourceLocation
}

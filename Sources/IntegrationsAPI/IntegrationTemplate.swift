/// `GET /api/integration-templates`: which providers exist and which fields each one takes.
public struct TemplatesResponse: Codable, Sendable {
    public var templates: [IntegrationTemplate]

    public init(templates: [IntegrationTemplate]) { self.templates = templates }
}

/// One provider's template. Unknown fields are ignored; optional ones may be omitted (the QuickBooks example
/// omits `documentationUrl` and `supportedFeatures`).
public struct IntegrationTemplate: Codable, Sendable, Hashable {
    public var type: IntegrationType
    public var provider: String
    public var displayName: String
    public var description: String?
    public var requiresOAuth: Bool
    public var callbackUrl: String?
    public var documentationUrl: String?
    public var supportedFeatures: [String]?
    public var configurationFields: [ConfigurationField]
    public var secretFields: [SecretField]

    public init(
        type: IntegrationType, provider: String, displayName: String, description: String? = nil,
        requiresOAuth: Bool = false, callbackUrl: String? = nil, documentationUrl: String? = nil,
        supportedFeatures: [String]? = nil, configurationFields: [ConfigurationField] = [],
        secretFields: [SecretField] = []
    ) {
        self.type = type
        self.provider = provider
        self.displayName = displayName
        self.description = description
        self.requiresOAuth = requiresOAuth
        self.callbackUrl = callbackUrl
        self.documentationUrl = documentationUrl
        self.supportedFeatures = supportedFeatures
        self.configurationFields = configurationFields
        self.secretFields = secretFields
    }

    enum CodingKeys: String, CodingKey {
        case type, provider, displayName, description, requiresOAuth, callbackUrl, documentationUrl, supportedFeatures,
            configurationFields, secretFields
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(IntegrationType.self, forKey: .type)
        provider = try container.decode(String.self, forKey: .provider)
        displayName = try container.decodeIfPresent(String.self, forKey: .displayName) ?? provider
        description = try container.decodeIfPresent(String.self, forKey: .description)
        requiresOAuth = try container.decodeIfPresent(Bool.self, forKey: .requiresOAuth) ?? false
        callbackUrl = try container.decodeIfPresent(String.self, forKey: .callbackUrl)
        documentationUrl = try container.decodeIfPresent(String.self, forKey: .documentationUrl)
        supportedFeatures = try container.decodeIfPresent([String].self, forKey: .supportedFeatures)
        configurationFields =
            try container.decodeIfPresent([ConfigurationField].self, forKey: .configurationFields) ?? []
        secretFields = try container.decodeIfPresent([SecretField].self, forKey: .secretFields) ?? []
    }

    public func configurationField(_ key: String) -> ConfigurationField? { configurationFields.first { $0.key == key } }

    public func secretField(_ key: String) -> SecretField? { secretFields.first { $0.key == key } }
}

/// The type of a configuration field. The reference gives `3`, the guide `"Boolean"`; both decode. Values
/// beyond the five known ones are kept, so a newer API does not break older clients.
public enum FieldType: Sendable, Hashable, Codable, CustomStringConvertible {
    case string
    case number
    case boolean
    case url
    case select
    case other(String)

    public init(code: Int) {
        switch code {
        case 1: self = .string
        case 2: self = .number
        case 3: self = .boolean
        case 4: self = .url
        case 5: self = .select
        default: self = .other(String(code))
        }
    }

    public init(name: String) {
        switch name.lowercased() {
        case "string", "text", "password": self = .string
        case "number", "integer", "int", "decimal": self = .number
        case "boolean", "bool": self = .boolean
        case "url", "uri": self = .url
        case "select", "enum", "choice": self = .select
        default: self = Int(name).map(FieldType.init(code:)) ?? .other(name)
        }
    }

    public var code: Int? {
        switch self {
        case .string: 1
        case .number: 2
        case .boolean: 3
        case .url: 4
        case .select: 5
        case .other(let text): Int(text)
        }
    }

    public var description: String {
        switch self {
        case .string: "String"
        case .number: "Number"
        case .boolean: "Boolean"
        case .url: "Url"
        case .select: "Select"
        case .other(let text): text
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let code = try? container.decode(Int.self) {
            self.init(code: code)
        } else {
            self.init(name: try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let code { try container.encode(code) } else { try container.encode(description) }
    }
}

/// A non-secret setting of a template.
public struct ConfigurationField: Codable, Sendable, Hashable {
    public var key: String
    public var displayName: String?
    public var description: String?
    public var type: FieldType
    public var required: Bool
    /// The value the API uses when none is given; always in the API's string form.
    public var defaultValue: String?
    /// The allowed values of a `Select` field, when the template lists them.
    public var options: [String]?

    public init(
        key: String, displayName: String? = nil, description: String? = nil, type: FieldType = .string,
        required: Bool = false, defaultValue: String? = nil, options: [String]? = nil
    ) {
        self.key = key
        self.displayName = displayName
        self.description = description
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case key, displayName, description, type, required, defaultValue, options }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        displayName = try container.decodeIfPresent(String.self, forKey: .displayName)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        type = try container.decodeIfPresent(FieldType.self, forKey: .type) ?? .string
        required = try container.decodeIfPresent(Bool.self, forKey: .required) ?? false
        defaultValue = try container.decodeIfPresent(LenientString.self, forKey: .defaultValue)?.value
        options = try container.decodeIfPresent([String].self, forKey: .options)
    }
}

/// A write-only credential of a template. The reference's prose calls the marker `isSecret`, its JSON
/// `isSensitive`; both are read, and every secret field is write-only whatever the markers say.
public struct SecretField: Codable, Sendable, Hashable {
    public var key: String
    public var displayName: String?
    public var description: String?
    public var required: Bool
    public var isSensitive: Bool?
    public var isSecret: Bool?

    public init(
        key: String, displayName: String? = nil, description: String? = nil, required: Bool = true,
        isSensitive: Bool? = true, isSecret: Bool? = nil
    ) {
        self.key = key
        self.displayName = displayName
        self.description = description
        self.required = required
        self.isSensitive = isSensitive
        self.isSecret = isSecret
    }

    enum CodingKeys: String, CodingKey { case key, displayName, description, required, isSensitive, isSecret }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        displayName = try container.decodeIfPresent(String.self, forKey: .displayName)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        required = try container.decodeIfPresent(Bool.self, forKey: .required) ?? false
        isSensitive = try container.decodeIfPresent(Bool.self, forKey: .isSensitive)
        isSecret = try container.decodeIfPresent(Bool.self, forKey: .isSecret)
    }
}

/// A string the API may also send as a number or boolean (`"defaultValue": true`).
struct LenientString: Decodable {
    var value: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else if let bool = try? container.decode(Bool.self) {
            value = bool ? "true" : "false"
        } else if let int = try? container.decode(Int.self) {
            value = String(int)
        } else {
            value = String(try container.decode(Double.self))
        }
    }
}

/// Requests and responses of the Integrations API, field by field as the API reference names them. Decoding is
/// tolerant: unknown fields are ignored, enums arrive as integers or names, optional fields may be missing.
/// Timestamps stay ISO 8601 strings, exactly as sent.

/// `POST /api/organizations/{organizationId}/integrations`.
public struct CreateIntegrationRequest: Codable, Sendable, Equatable {
    public var integrationType: IntegrationType
    public var provider: String
    public var displayName: String
    public var isEnabled: Bool?
    public var configuration: [String: String]?
    public var secrets: [String: String]?

    public init(
        integrationType: IntegrationType, provider: String, displayName: String, isEnabled: Bool? = nil,
        configuration: [String: String]? = nil, secrets: [String: String]? = nil
    ) {
        self.integrationType = integrationType
        self.provider = provider
        self.displayName = displayName
        self.isEnabled = isEnabled
        self.configuration = configuration
        self.secrets = secrets
    }
}

/// The create response.
public struct IntegrationCreated: Codable, Sendable, Equatable {
    public var integrationId: String
    public var organizationId: String
    public var integrationType: IntegrationType
    public var provider: String
    public var displayName: String
    public var isEnabled: Bool
    public var createdAt: String

    public init(
        integrationId: String, organizationId: String, integrationType: IntegrationType, provider: String,
        displayName: String, isEnabled: Bool, createdAt: String
    ) {
        self.integrationId = integrationId
        self.organizationId = organizationId
        self.integrationType = integrationType
        self.provider = provider
        self.displayName = displayName
        self.isEnabled = isEnabled
        self.createdAt = createdAt
    }
}

/// A connection test's recorded outcome. Values beyond the three known ones are kept.
public enum TestStatus: Codable, Sendable, Hashable {
    case notTested
    case passed
    case failed
    case other(String)

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch text.lowercased() {
        case "nottested", "not_tested", "none": self = .notTested
        case "passed", "success", "succeeded": self = .passed
        case "failed", "failure": self = .failed
        default: self = .other(text)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }

    public var name: String {
        switch self {
        case .notTested: "NotTested"
        case .passed: "Passed"
        case .failed: "Failed"
        case .other(let text): text
        }
    }
}

/// One element of `GET /api/organizations/{organizationId}/integrations` (secrets omitted).
public struct IntegrationSummary: Codable, Sendable, Equatable {
    public var integrationId: String
    public var organizationId: String
    public var integrationType: IntegrationType
    public var provider: String
    public var displayName: String
    public var isEnabled: Bool
    public var createdAt: String?
    public var updatedAt: String?
    public var testStatus: TestStatus?
    public var lastTestedAt: String?
    public var lastTestMessage: String?

    public init(
        integrationId: String, organizationId: String, integrationType: IntegrationType, provider: String,
        displayName: String, isEnabled: Bool, createdAt: String? = nil, updatedAt: String? = nil,
        testStatus: TestStatus? = nil, lastTestedAt: String? = nil, lastTestMessage: String? = nil
    ) {
        self.integrationId = integrationId
        self.organizationId = organizationId
        self.integrationType = integrationType
        self.provider = provider
        self.displayName = displayName
        self.isEnabled = isEnabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.testStatus = testStatus
        self.lastTestedAt = lastTestedAt
        self.lastTestMessage = lastTestMessage
    }
}

public struct IntegrationList: Codable, Sendable, Equatable {
    public var integrations: [IntegrationSummary]

    public init(integrations: [IntegrationSummary]) { self.integrations = integrations }
}

/// The template fields a get response carries in `availableFields`.
public struct AvailableFields: Codable, Sendable, Equatable {
    public var configurationFields: [ConfigurationField]?
    public var secretFields: [SecretField]?
    public var requiresOAuth: Bool?
    public var documentationUrl: String?
    public var supportedFeatures: [String]?

    public init(
        configurationFields: [ConfigurationField]? = nil, secretFields: [SecretField]? = nil,
        requiresOAuth: Bool? = nil, documentationUrl: String? = nil, supportedFeatures: [String]? = nil
    ) {
        self.configurationFields = configurationFields
        self.secretFields = secretFields
        self.requiresOAuth = requiresOAuth
        self.documentationUrl = documentationUrl
        self.supportedFeatures = supportedFeatures
    }
}

/// `GET /api/organizations/{organizationId}/integrations/{integrationId}`.
public struct IntegrationDetail: Codable, Sendable, Equatable {
    public var integrationId: String
    public var organizationId: String
    public var integrationType: IntegrationType
    public var provider: String
    public var displayName: String
    public var isEnabled: Bool
    public var createdAt: String?
    public var updatedAt: String?
    public var configuration: [String: String]
    public var createdBy: String?
    public var availableFields: AvailableFields?
    public var testStatus: TestStatus?
    public var lastTestedAt: String?
    public var lastTestMessage: String?

    public init(
        integrationId: String, organizationId: String, integrationType: IntegrationType, provider: String,
        displayName: String, isEnabled: Bool, createdAt: String? = nil, updatedAt: String? = nil,
        configuration: [String: String], createdBy: String? = nil, availableFields: AvailableFields? = nil,
        testStatus: TestStatus? = nil, lastTestedAt: String? = nil, lastTestMessage: String? = nil
    ) {
        self.integrationId = integrationId
        self.organizationId = organizationId
        self.integrationType = integrationType
        self.provider = provider
        self.displayName = displayName
        self.isEnabled = isEnabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.configuration = configuration
        self.createdBy = createdBy
        self.availableFields = availableFields
        self.testStatus = testStatus
        self.lastTestedAt = lastTestedAt
        self.lastTestMessage = lastTestMessage
    }
}

/// `PUT /api/organizations/{organizationId}/integrations/{integrationId}`; every field optional, configuration
/// merged, secrets overwritten per key supplied.
public struct UpdateIntegrationRequest: Codable, Sendable, Equatable {
    public var displayName: String?
    public var isEnabled: Bool?
    public var configuration: [String: String]?
    public var secrets: [String: String]?

    public init(
        displayName: String? = nil, isEnabled: Bool? = nil, configuration: [String: String]? = nil,
        secrets: [String: String]? = nil
    ) {
        self.displayName = displayName
        self.isEnabled = isEnabled
        self.configuration = configuration
        self.secrets = secrets
    }
}

public struct UpdateIntegrationResponse: Codable, Sendable, Equatable {
    public var testConnectionRequired: Bool

    public init(testConnectionRequired: Bool) { self.testConnectionRequired = testConnectionRequired }
}

/// `POST …/{integrationId}/test`.
public struct TestConnectionResult: Codable, Sendable, Equatable {
    public var integrationId: String
    public var isSuccessful: Bool
    public var message: String?
    public var testedAt: String?

    public init(integrationId: String, isSuccessful: Bool, message: String? = nil, testedAt: String? = nil) {
        self.integrationId = integrationId
        self.isSuccessful = isSuccessful
        self.message = message
        self.testedAt = testedAt
    }
}

/// `POST …/{integrationId}/connect`.
public struct ConnectRequest: Codable, Sendable, Equatable {
    public var state: String

    public init(state: String) { self.state = state }
}

public struct ConnectResponse: Codable, Sendable, Equatable {
    public var authorizationUrl: String

    public init(authorizationUrl: String) { self.authorizationUrl = authorizationUrl }
}

/// `POST …/{integrationId}/rotate-secrets`.
public struct RotateSecretsRequest: Codable, Sendable, Equatable {
    public var newSecrets: [String: String]
    public var testConnectionAfterRotation: Bool?

    public init(newSecrets: [String: String], testConnectionAfterRotation: Bool? = true) {
        self.newSecrets = newSecrets
        self.testConnectionAfterRotation = testConnectionAfterRotation
    }
}

public struct RotateSecretsResponse: Codable, Sendable, Equatable {
    public var integrationId: String?
    public var organizationId: String?
    public var rotationSuccessful: Bool?
    public var testConnectionSuccessful: Bool?
    public var message: String?
    public var rotatedAt: String?
    public var rotatedSecretKeys: [String]?

    public init(
        integrationId: String? = nil, organizationId: String? = nil, rotationSuccessful: Bool? = nil,
        testConnectionSuccessful: Bool? = nil, message: String? = nil, rotatedAt: String? = nil,
        rotatedSecretKeys: [String]? = nil
    ) {
        self.integrationId = integrationId
        self.organizationId = organizationId
        self.rotationSuccessful = rotationSuccessful
        self.testConnectionSuccessful = testConnectionSuccessful
        self.message = message
        self.rotatedAt = rotatedAt
        self.rotatedSecretKeys = rotatedSecretKeys
    }
}

/// `GET /api/integrations/available`: templates enriched with the organization's status, grouped by type.
public struct AvailableIntegrations: Codable, Sendable, Equatable {
    public var organizationId: String
    public var totalAvailable: Int
    public var configuredCount: Int
    public var enabledCount: Int
    public var integrationsByType: [String: [AvailableIntegration]]

    public init(
        organizationId: String, totalAvailable: Int, configuredCount: Int, enabledCount: Int,
        integrationsByType: [String: [AvailableIntegration]]
    ) {
        self.organizationId = organizationId
        self.totalAvailable = totalAvailable
        self.configuredCount = configuredCount
        self.enabledCount = enabledCount
        self.integrationsByType = integrationsByType
    }
}

/// Undefined by the documentation; the emulator's choice: template fields plus status.
public struct AvailableIntegration: Codable, Sendable, Equatable {
    public var type: IntegrationType
    public var provider: String
    public var displayName: String
    public var requiresOAuth: Bool?
    public var isConfigured: Bool
    public var isEnabled: Bool
    public var integrationId: String?
    public var testStatus: TestStatus?

    public init(
        type: IntegrationType, provider: String, displayName: String, requiresOAuth: Bool? = nil, isConfigured: Bool,
        isEnabled: Bool, integrationId: String? = nil, testStatus: TestStatus? = nil
    ) {
        self.type = type
        self.provider = provider
        self.displayName = displayName
        self.requiresOAuth = requiresOAuth
        self.isConfigured = isConfigured
        self.isEnabled = isEnabled
        self.integrationId = integrationId
        self.testStatus = testStatus
    }
}

/// RFC 9110 problem details, the API's error body.
public struct ProblemDetails: Codable, Sendable, Equatable {
    public var type: String?
    public var title: String?
    public var status: Int?
    public var detail: String?
    public var errors: [String: [String]]?

    public init(
        type: String? = nil, title: String? = nil, status: Int? = nil, detail: String? = nil,
        errors: [String: [String]]? = nil
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.errors = errors
    }

    /// One sentence for an error message: the detail, else the title, with field errors appended.
    public var summary: String {
        var text = detail ?? title ?? "no details given"
        if let errors, !errors.isEmpty {
            text +=
                " ("
                + errors.keys.sorted().map { "\($0): \(errors[$0]!.joined(separator: "; "))" }.joined(separator: ", ")
                + ")"
        }
        return text
    }
}

import ConcurrencyToolkit
import Emulator
import EmulatorHTTP
import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// Where the contract suite runs: the same client against the in-process emulator (`sandbox:`) and against the
/// `integrations-emulator` binary over HTTP.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case inProcess
    case http

    var testDescription: String { rawValue }
}

/// A running emulator with the contract's organizations: org123 (admin-token, viewer-token) and org999.
final class ContractHarness: @unchecked Sendable {
    let transport: any HTTPTransport
    private let process: EmulatorProcess?

    static let arguments = [
        "--org", "org123=admin-token", "--org", "org123=viewer-token:viewer", "--org", "org999=other-token",
    ]

    init(_ backend: Backend, extraArguments: [String] = []) async throws {
        switch backend {
        case .inProcess:
            let options = try EmulatorOptionsForTests.parse(Self.arguments + extraArguments)
            transport = SandboxTransport(emulator: Emulator(credentials: options.credentials, faults: options.faults))
            process = nil
        case .http:
            let started = try await EmulatorProcess.start(Self.arguments + extraArguments)
            transport = try URLSessionTransport(baseURL: started.baseURL, maximumConnections: 32)
            process = started
        }
    }

    deinit { process?.stop() }

    func client(
        _ credentials: [String: APICredential] = ["org123": .bearer("admin-token"), "org999": .apiKey("other-token")],
        policy: ClientPolicy = ClientPolicy(baseDelay: .milliseconds(5), maxDelay: .milliseconds(50))
    ) -> IntegrationsClient { IntegrationsClient(transport: transport, credentials: credentials, policy: policy) }

    /// The emulator's test-only view of an integration's secrets.
    func digests(_ organization: String, _ id: String) async throws -> [String: String] {
        let response = try await client().send(
            HTTPRequest(method: "GET", path: "/_emulator/secrets/\(organization)/\(id)"), organization: nil)
        return try JSONDecoder().decode([String: String].self, from: response.body)
    }

    func statistics() async throws -> EmulatorStatistics {
        let response = try await client().send(HTTPRequest(method: "GET", path: "/_emulator/stats"), organization: nil)
        return try JSONDecoder().decode(EmulatorStatistics.self, from: response.body)
    }
}

typealias EmulatorOptionsForTests = EmulatorOptions

func sha256(_ text: String) -> String {
    // The same digest the emulator reports, computed independently with the system's sha256sum would be
    // stronger still; a fixed known answer for one value is checked in ``ContractTests/secretsAreWriteOnly``.
    let process = SpawnedProcess()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try? process.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
    let text = String(decoding: Data(output.fileHandleForReading.readAllBytes()), as: UTF8.self)
    return String(text.prefix(64))
}

@Suite struct ContractTests {
    static let authorizeNet = CreateIntegrationRequest(
        integrationType: .payment, provider: "AuthorizeNet", displayName: "Main Payment Gateway", isEnabled: true,
        configuration: ["IsSandbox": "true"],
        secrets: ["ApiLoginId": "your-api-login-id", "TransactionKey": "your-transaction-key"])

    @Test(arguments: Backend.allCases) func templates(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        let client = harness.client()
        let all = try await client.templates(organization: "org123")
        let providers = Set(all.map(\.provider))
        #expect(providers.isSuperset(of: ["AuthorizeNet", "WorldPay", "QuickBooks"]))
        #expect(Set(all.map(\.type)) == Set(IntegrationType.allCases), "a template for every type")
        let authorizeNet = try #require(all.first { $0.provider == "AuthorizeNet" })
        #expect(authorizeNet.configurationFields.map(\.key) == ["IsSandbox"])
        #expect(authorizeNet.secretFields.map(\.key) == ["ApiLoginId", "TransactionKey"])
        #expect(authorizeNet.secretFields.allSatisfy { $0.isSensitive == true && $0.required == true })
        let quickBooks = try #require(all.first { $0.provider == "QuickBooks" })
        #expect(
            quickBooks.requiresOAuth
                && quickBooks.callbackUrl == "https://api.achievemomentum.com/api/integrations/QuickBooks/callback")

        let payments = try await client.templates(organization: "org123", type: .payment)
        #expect(!payments.isEmpty && payments.allSatisfy { $0.type == .payment })
        let bad = await #expect(throws: APIError.self) {
            _ = try await client.send(
                HTTPRequest(
                    method: "GET", path: "/api/integration-templates",
                    query: [URLQueryItem(name: "integrationType", value: "Telepathy")]), organization: "org123")
        }
        #expect(bad?.status == 400)
    }

    @Test(arguments: Backend.allCases) func authenticationStatuses(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        // 401: no valid credential in either header, answered once (no retry storm).
        let wrong = harness.client(["org123": .bearer("not-a-token")])
        let unauthorized = await #expect(throws: APIError.self) { try await wrong.list(organization: "org123") }
        #expect(unauthorized?.status == 401 && unauthorized?.attempts == 1)
        #expect(unauthorized?.description.contains("not-a-token") == false)
        // 403: a valid token without the Admin role.
        let viewer = harness.client(["org123": .apiKey("viewer-token")])
        let forbidden = await #expect(throws: APIError.self) { try await viewer.templates(organization: "org123") }
        #expect(forbidden?.status == 403 && forbidden?.attempts == 1)
        // x-api-key is accepted as well as Bearer.
        let apiKey = harness.client(["org123": .apiKey("admin-token")])
        #expect(try await apiKey.list(organization: "org123").isEmpty)
        // 404: an organization path outside the token's organization.
        let crossing = harness.client(["org123": .bearer("other-token")])
        let notFound = await #expect(throws: APIError.self) { try await crossing.list(organization: "org123") }
        #expect(notFound?.status == 404)
        // A missing credential fails before any request.
        let none = harness.client([:])
        let missing = await #expect(throws: APIError.self) { try await none.list(organization: "org123") }
        #expect(missing?.reason == .noCredential)
    }

    @Test(arguments: Backend.allCases) func createListGetAndValidation(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        let client = harness.client()
        let outcome = try await client.create(organization: "org123", Self.authorizeNet)
        #expect(!outcome.recovered)
        let created = outcome.integration
        #expect(
            created.organizationId == "org123" && created.provider == "AuthorizeNet"
                && created.integrationType == .payment)
        #expect(
            created.displayName == "Main Payment Gateway" && created.isEnabled
                && created.integrationId.hasPrefix("int_"))

        // 409: displayName is unique within an organization.
        let duplicate = await #expect(throws: APIError.self) {
            var again = Self.authorizeNet
            again.provider = "WorldPay"
            again.configuration = nil
            again.secrets = ["AccountId": "1", "AccountToken": "2", "AcceptorId": "3"]
            _ = try await client.create(organization: "org123", again)
        }
        #expect(duplicate?.status == 409)
        // 400 with field errors: unknown provider, missing required secret, unknown configuration key.
        for request in [
            CreateIntegrationRequest(integrationType: .payment, provider: "Stripe", displayName: "x"),
            CreateIntegrationRequest(
                integrationType: .payment, provider: "AuthorizeNet", displayName: "y", secrets: ["ApiLoginId": "a"]),
            CreateIntegrationRequest(
                integrationType: .payment, provider: "AuthorizeNet", displayName: "z", configuration: ["Colour": "red"],
                secrets: ["ApiLoginId": "a", "TransactionKey": "b"]),
            CreateIntegrationRequest(integrationType: .email, provider: "AuthorizeNet", displayName: "w"),
        ] {
            let invalid = await #expect(throws: APIError.self) {
                _ = try await client.create(organization: "org123", request)
            }
            #expect(invalid?.status == 400)
            #expect(invalid?.description.contains("(organization org123) failed with 400 Bad Request: ") == true)
        }

        let email = try await client.create(
            organization: "org123",
            CreateIntegrationRequest(
                integrationType: .email, provider: "SendGrid", displayName: "Mail", isEnabled: false,
                configuration: ["FromAddress": "shop@example.com"], secrets: ["ApiKey": "SG.key"])
        ).integration
        #expect(!email.isEnabled)

        let all = try await client.list(organization: "org123")
        #expect(all.map(\.integrationId) == [created.integrationId, email.integrationId])
        #expect(all.allSatisfy { $0.testStatus == .notTested && $0.updatedAt != nil })
        #expect(
            try await client.list(organization: "org123", type: .email).map(\.integrationId) == [email.integrationId])
        #expect(
            try await client.list(organization: "org123", isEnabled: true).map(\.integrationId) == [
                created.integrationId
            ])
        #expect(try await client.list(organization: "org999").isEmpty, "organizations are isolated")

        let detail = try await client.get(organization: "org123", id: created.integrationId)
        #expect(detail.configuration == ["IsSandbox": "true"])
        #expect(detail.createdBy?.isEmpty == false)
        #expect(detail.availableFields?.secretFields?.map(\.key) == ["ApiLoginId", "TransactionKey"])
        #expect(detail.createdAt == created.createdAt && detail.updatedAt == created.createdAt)

        let missing = await #expect(throws: APIError.self) {
            try await client.get(organization: "org123", id: "int_404")
        }
        #expect(missing?.status == 404)
        #expect(
            missing?.description
                == "GET /api/organizations/org123/integrations/int_404 (organization org123) failed with 404 Not Found: integration int_404 was not found"
        )
        let otherOrg = await #expect(throws: APIError.self) {
            try await client.get(organization: "org999", id: created.integrationId)
        }
        #expect(otherOrg?.status == 404)

        let available = try await client.available(organization: "org123")
        #expect(available.organizationId == "org123" && available.configuredCount == 2 && available.enabledCount == 1)
        #expect(
            available.integrationsByType["Payment"]?.contains { $0.provider == "AuthorizeNet" && $0.isConfigured }
                == true)
    }

    @Test(arguments: Backend.allCases) func updateMergesAndFlagsTests(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        let client = harness.client()
        let id = try await client.create(organization: "org123", Self.authorizeNet).integration.integrationId
        let before = try await client.get(organization: "org123", id: id)

        let rename = try await client.update(
            organization: "org123", id: id, UpdateIntegrationRequest(displayName: "Production Payment Gateway"))
        #expect(!rename.testConnectionRequired)
        let critical = try await client.update(
            organization: "org123", id: id,
            UpdateIntegrationRequest(isEnabled: false, configuration: ["IsSandbox": "false"]))
        #expect(critical.testConnectionRequired)
        let after = try await client.get(organization: "org123", id: id)
        #expect(after.displayName == "Production Payment Gateway" && !after.isEnabled)
        #expect(after.configuration == ["IsSandbox": "false"])
        #expect(after.updatedAt! > before.updatedAt!, "updatedAt moves on every change")

        let secrets = try await client.update(
            organization: "org123", id: id, UpdateIntegrationRequest(secrets: ["TransactionKey": "tk-2"]))
        #expect(secrets.testConnectionRequired)
        #expect(try await harness.digests("org123", id)["TransactionKey"] == sha256("tk-2"))

        let unknown = await #expect(throws: APIError.self) {
            _ = try await client.update(
                organization: "org123", id: id, UpdateIntegrationRequest(configuration: ["Colour": "red"]))
        }
        #expect(unknown?.status == 400)
        _ = try await client.create(
            organization: "org123",
            CreateIntegrationRequest(
                integrationType: .sms, provider: "Twilio", displayName: "Texts",
                configuration: ["FromNumber": "+15550100", "Environment": "sandbox"],
                secrets: ["AccountSid": "AC1", "AuthToken": "t"]))
        let clash = await #expect(throws: APIError.self) {
            _ = try await client.update(organization: "org123", id: id, UpdateIntegrationRequest(displayName: "Texts"))
        }
        #expect(clash?.status == 409)
    }

    @Test(arguments: Backend.allCases) func testsRotationsAndSecretsAreWriteOnly(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        let client = harness.client()
        let id = try await client.create(organization: "org123", Self.authorizeNet).integration.integrationId
        #expect(
            try await harness.digests("org123", id) == [
                "ApiLoginId": sha256("your-api-login-id"), "TransactionKey": sha256("your-transaction-key"),
            ])
        #expect(sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

        let passed = try await client.test(organization: "org123", id: id)
        #expect(passed.isSuccessful && passed.integrationId == id && passed.message == "Connection test successful")
        #expect(try await client.list(organization: "org123").first?.testStatus == .passed)

        let rotated = try await client.rotateSecrets(
            organization: "org123", id: id,
            RotateSecretsRequest(newSecrets: [
                "ApiLoginId": "new-rotated-api-login-id", "TransactionKey": "invalid-key",
            ]))
        #expect(rotated.rotationSuccessful == true && rotated.testConnectionSuccessful == false)
        #expect(rotated.rotatedSecretKeys == ["ApiLoginId", "TransactionKey"])
        #expect(try await harness.digests("org123", id)["TransactionKey"] == sha256("invalid-key"))
        let summary = try #require(try await client.list(organization: "org123").first)
        #expect(summary.testStatus == .failed && summary.lastTestedAt == rotated.rotatedAt)
        let failed = try await client.test(organization: "org123", id: id)
        #expect(!failed.isSuccessful)

        let fixed = try await client.rotateSecrets(
            organization: "org123", id: id,
            RotateSecretsRequest(newSecrets: ["TransactionKey": "good"], testConnectionAfterRotation: false))
        #expect(fixed.rotatedSecretKeys == ["TransactionKey"])
        #expect(try await client.get(organization: "org123", id: id).testStatus == .notTested)

        let empty = await #expect(throws: APIError.self) {
            _ = try await client.rotateSecrets(organization: "org123", id: id, RotateSecretsRequest(newSecrets: [:]))
        }
        #expect(empty?.status == 400)

        // No read path returns a secret value.
        let raw = try await client.send(
            HTTPRequest(method: "GET", path: "/api/organizations/org123/integrations/\(id)"), organization: "org123")
        let text = String(decoding: raw.body, as: UTF8.self)
        #expect(!text.contains("good") && !text.contains("new-rotated-api-login-id"))
    }

    @Test(arguments: Backend.allCases) func oauthConnectAndCallback(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        let client = harness.client()
        let id = try await client.create(
            organization: "org123",
            CreateIntegrationRequest(integrationType: .accounting, provider: "QuickBooks", displayName: "Books")
        ).integration.integrationId
        let untested = try await client.test(organization: "org123", id: id)
        #expect(!untested.isSuccessful, "an OAuth integration not yet authorized fails its test")

        let returnURL = "https://yourapp.com/integrations/callback"
        let connect = try await client.connect(organization: "org123", id: id, state: returnURL)
        let components = try #require(URLComponents(string: connect.authorizationUrl))
        #expect(components.scheme == "https")
        let query = Dictionary(uniqueKeysWithValues: (components.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        #expect(query["redirect_uri"] == "https://api.achievemomentum.com/api/integrations/QuickBooks/callback")
        let state = try #require(query["state"])

        let callback = HTTPRequest(
            method: "GET", path: "/api/integrations/QuickBooks/callback",
            query: [URLQueryItem(name: "code", value: "auth-code"), URLQueryItem(name: "state", value: state)])
        let redirect = try await client.send(callback, organization: nil)
        #expect(redirect.status == 302 && redirect.header("location") == returnURL)
        #expect(try await client.get(organization: "org123", id: id).testStatus == .passed)
        #expect(try await client.test(organization: "org123", id: id).isSuccessful)

        let reused = await #expect(throws: APIError.self) { _ = try await client.send(callback, organization: nil) }
        #expect(reused?.status == 400)

        let authorizeNet = try await client.create(organization: "org123", Self.authorizeNet).integration.integrationId
        let notOAuth = await #expect(throws: APIError.self) {
            _ = try await client.connect(organization: "org123", id: authorizeNet, state: returnURL)
        }
        #expect(notOAuth?.status == 400)
    }

    @Test(arguments: Backend.allCases) func deleteAndStatistics(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend)
        let client = harness.client()
        let id = try await client.create(organization: "org123", Self.authorizeNet).integration.integrationId
        try await client.delete(organization: "org123", id: id)
        let gone = await #expect(throws: APIError.self) { try await client.get(organization: "org123", id: id) }
        #expect(gone?.status == 404)
        let again = await #expect(throws: APIError.self) { try await client.delete(organization: "org123", id: id) }
        #expect(again?.status == 404, "a delete whose first answer arrived is not silently repeated")

        let statistics = try await harness.statistics()
        #expect(statistics.requests["POST /api/organizations/{organizationId}/integrations"] == 1)
        #expect(statistics.requests["DELETE /api/organizations/{organizationId}/integrations/{integrationId}"] == 2)
        #expect(statistics.requests["GET /api/organizations/{organizationId}/integrations/{integrationId}"] == 1)
        #expect(statistics.total == 4)
        _ = try await client.send(HTTPRequest(method: "POST", path: "/_emulator/reset"), organization: nil)
        #expect(try await harness.statistics().total == 0)
    }
}

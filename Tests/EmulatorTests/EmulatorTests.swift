import Foundation
import IntegrationsAPI
import Testing

@testable import Emulator

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

@Suite struct EmulatorTests {
    let clock = ManualClock()
    let emulator: Emulator

    init() {
        let clock = self.clock
        emulator = Emulator(
            credentials: [
                EmulatorCredential(token: "admin-token", organizationId: "org123"),
                EmulatorCredential(token: "other-token", organizationId: "org999"),
                EmulatorCredential(token: "viewer-token", organizationId: "org123", isAdmin: false),
            ], now: { clock.now })
    }

    private let base = "/api/organizations/org123/integrations"

    func send(
        _ method: String, _ path: String, json: String? = nil, query: [URLQueryItem] = [],
        headers: [String: String] = ["Authorization": "Bearer admin-token"]
    ) async -> HTTPResponse {
        await emulator.handle(
            HTTPRequest(method: method, path: path, query: query, headers: headers, body: json.map { Data($0.utf8) }))
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws -> T {
        try JSONDecoder().decode(type, from: response.body)
    }

    static let authorizeNet = """
        {"integrationType": 1, "provider": "AuthorizeNet", "displayName": "Main Payment Gateway", "isEnabled": true,
         "configuration": {"IsSandbox": "true"},
         "secrets": {"ApiLoginId": "your-api-login-id", "TransactionKey": "your-transaction-key"}}
        """

    @discardableResult func createAuthorizeNet(_ body: String = authorizeNet) async throws -> IntegrationCreated {
        let response = await send("POST", base, json: body)
        #expect(response.status == 201)
        return try decode(IntegrationCreated.self, response)
    }

    @Test func authenticationAndAuthorization() async throws {
        #expect(await send("GET", "/api/integration-templates", headers: [:]).status == 401)
        #expect(
            await send("GET", "/api/integration-templates", headers: ["Authorization": "Bearer nope"]).status == 401)
        #expect(
            await send("GET", "/api/integration-templates", headers: ["Authorization": "Bearer viewer-token"]).status
                == 403)
        #expect(await send("GET", "/api/integration-templates", headers: ["x-api-key": "admin-token"]).status == 200)
        let crossOrg = await send("GET", base, headers: ["Authorization": "Bearer other-token"])
        #expect(crossOrg.status == 404)
        let problem = try decode(ProblemDetails.self, crossOrg)
        #expect(problem.status == 404 && problem.type?.contains("rfc9110") == true)
    }

    @Test func templatesAsDocumentedAndFiltered() async throws {
        let all = try decode(TemplatesResponse.self, await send("GET", "/api/integration-templates"))
        let authorizeNet = try #require(all.templates.first { $0.provider == "AuthorizeNet" })
        #expect(authorizeNet.configurationFields.first?.type == .boolean)
        #expect(authorizeNet.secretFields.map(\.key) == ["ApiLoginId", "TransactionKey"])
        #expect(Set(all.templates.map(\.type)) == Set(IntegrationType.allCases))
        let payments = try decode(
            TemplatesResponse.self,
            await send(
                "GET", "/api/integration-templates", query: [URLQueryItem(name: "integrationType", value: "payment")]))
        #expect(payments.templates.allSatisfy { $0.type == .payment } && payments.templates.count == 2)
        let raw = String(decoding: await send("GET", "/api/integration-templates").body, as: UTF8.self)
        #expect(raw.contains("\"isSensitive\":true") && raw.contains("\"type\":1"))
    }

    @Test func createGetAndWriteOnlySecrets() async throws {
        let created = try await createAuthorizeNet()
        #expect(created.integrationId.hasPrefix("int_") && created.organizationId == "org123")
        let response = await send("GET", "\(base)/\(created.integrationId)")
        #expect(response.status == 200)
        let body = String(decoding: response.body, as: UTF8.self)
        #expect(!body.contains("your-transaction-key") && !body.contains("your-api-login-id"))
        let detail = try decode(IntegrationDetail.self, response)
        #expect(detail.configuration == ["IsSandbox": "true"])
        #expect(detail.availableFields?.secretFields?.count == 2)
        #expect(detail.testStatus == .notTested && detail.createdBy == "admin@org123")
        let digests = await emulator.secretDigests(organizationId: "org123", integrationId: created.integrationId)
        #expect(digests?["ApiLoginId"]?.count == 64)
    }

    @Test func createIsCaseInsensitiveAndTakesEnumNames() async throws {
        let created = try await createAuthorizeNet(
            #"{"IntegrationType": "Payment", "PROVIDER": "AuthorizeNet", "displayname": "X", "Secrets": {"ApiLoginId": "a", "TransactionKey": "b"}, "configuration": {"IsSandbox": false}}"#
        )
        let detail = try decode(IntegrationDetail.self, await send("GET", "\(base)/\(created.integrationId)"))
        #expect(detail.configuration["IsSandbox"] == "false")
    }

    @Test func validationErrorsAndConflicts() async throws {
        let bad = await send(
            "POST", base, json: #"{"integrationType": 2, "provider": "AuthorizeNet", "displayName": "X"}"#)
        #expect(bad.status == 400)
        #expect(try decode(ProblemDetails.self, bad).errors?["integrationType"] != nil)
        let missing = await send(
            "POST", base,
            json:
                #"{"integrationType": 1, "provider": "AuthorizeNet", "displayName": "X", "secrets": {"ApiLoginId": "a", "Bogus": "b"}}"#
        )
        let errors = try decode(ProblemDetails.self, missing).errors ?? [:]
        #expect(errors["secrets.TransactionKey"] != nil && errors["secrets.Bogus"] != nil)
        try await createAuthorizeNet()
        #expect(await send("POST", base, json: Self.authorizeNet).status == 409)
    }

    @Test func listFilters() async throws {
        try await createAuthorizeNet()
        _ = await send(
            "POST", base,
            json: #"{"integrationType": 2, "provider": "QuickBooks", "displayName": "Books", "isEnabled": false}"#)
        let all = try decode(IntegrationList.self, await send("GET", base))
        #expect(all.integrations.count == 2)
        let disabled = try decode(
            IntegrationList.self, await send("GET", base, query: [URLQueryItem(name: "isEnabled", value: "false")]))
        #expect(disabled.integrations.map(\.provider) == ["QuickBooks"])
        let accounting = try decode(
            IntegrationList.self, await send("GET", base, query: [URLQueryItem(name: "integrationType", value: "2")]))
        #expect(accounting.integrations.count == 1)
        #expect(await send("GET", base, query: [URLQueryItem(name: "integrationType", value: "9")]).status == 400)
    }

    @Test func updateMergesAndFlagsTests() async throws {
        let created = try await createAuthorizeNet()
        let path = "\(base)/\(created.integrationId)"
        let before = try decode(IntegrationDetail.self, await send("GET", path)).updatedAt
        let rename = try decode(
            UpdateIntegrationResponse.self,
            await send("PUT", path, json: #"{"displayName": "Production Payment Gateway"}"#))
        #expect(!rename.testConnectionRequired)
        let after = try decode(IntegrationDetail.self, await send("GET", path))
        #expect(after.displayName == "Production Payment Gateway" && after.updatedAt != before)
        let critical = try decode(
            UpdateIntegrationResponse.self, await send("PUT", path, json: #"{"configuration": {"IsSandbox": "false"}}"#)
        )
        #expect(critical.testConnectionRequired)
        let secrets = try decode(
            UpdateIntegrationResponse.self, await send("PUT", path, json: #"{"secrets": {"TransactionKey": "k2"}}"#))
        #expect(secrets.testConnectionRequired)
    }

    @Test func testsPassOrFailAndAreRecorded() async throws {
        let created = try await createAuthorizeNet()
        let path = "\(base)/\(created.integrationId)"
        let passed = try decode(TestConnectionResult.self, await send("POST", "\(path)/test"))
        #expect(passed.isSuccessful && passed.message == "Connection test successful")
        _ = await send("PUT", path, json: #"{"secrets": {"TransactionKey": "invalid-key"}}"#)
        let failed = try decode(TestConnectionResult.self, await send("POST", "\(path)/test"))
        #expect(!failed.isSuccessful)
        let summary = try decode(IntegrationList.self, await send("GET", base)).integrations[0]
        #expect(summary.testStatus == .failed && summary.lastTestMessage == failed.message)
    }

    @Test func rotateSecretsWithTest() async throws {
        let created = try await createAuthorizeNet()
        let path = "\(base)/\(created.integrationId)/rotate-secrets"
        let response = try decode(
            RotateSecretsResponse.self,
            await send(
                "POST", path,
                json:
                    #"{"newSecrets": {"ApiLoginId": "new-rotated-api-login-id", "TransactionKey": "new-rotated-transaction-key"}, "testConnectionAfterRotation": true}"#
            ))
        #expect(response.rotationSuccessful == true && response.testConnectionSuccessful == true)
        #expect(response.rotatedSecretKeys == ["ApiLoginId", "TransactionKey"])
        #expect(response.message == "Secrets rotated successfully and connection test passed")
        #expect(await send("POST", path, json: #"{"newSecrets": {}}"#).status == 400)
    }

    @Test func oauthConnectAndCallback() async throws {
        let created = try decode(
            IntegrationCreated.self,
            await send("POST", base, json: #"{"integrationType": 2, "provider": "QuickBooks", "displayName": "Books"}"#)
        )
        let path = "\(base)/\(created.integrationId)"
        #expect(try decode(TestConnectionResult.self, await send("POST", "\(path)/test")).isSuccessful == false)
        let connect = try decode(
            ConnectResponse.self, await send("POST", "\(path)/connect", json: #"{"state": "https://yourapp.com/done"}"#)
        )
        let components = try #require(URLComponents(string: connect.authorizationUrl))
        let state = try #require(components.queryItems?.first { $0.name == "state" }?.value)
        #expect(
            components.queryItems?.first { $0.name == "redirect_uri" }?.value?.hasSuffix("/QuickBooks/callback") == true
        )
        let callback = await send(
            "GET", "/api/integrations/QuickBooks/callback",
            query: [URLQueryItem(name: "code", value: "abc"), URLQueryItem(name: "state", value: state)], headers: [:])
        #expect(callback.status == 302 && callback.header("Location") == "https://yourapp.com/done")
        #expect(try decode(IntegrationDetail.self, await send("GET", path)).testStatus == .passed)

        let again = try decode(ConnectResponse.self, await send("POST", "\(path)/connect", json: #"{"state": "x"}"#))
        let expired = try #require(
            URLComponents(string: again.authorizationUrl)?.queryItems?.first { $0.name == "state" }?.value)
        clock.advance(16 * 60)
        let late = await send(
            "GET", "/api/integrations/QuickBooks/callback",
            query: [URLQueryItem(name: "code", value: "abc"), URLQueryItem(name: "state", value: expired)], headers: [:]
        )
        #expect(late.status == 400)
        #expect(
            await send(
                "POST", "\(base)/\(try await createAuthorizeNet().integrationId)/connect", json: #"{"state": "x"}"#
            ).status == 400)
    }

    @Test func deleteThenGone() async throws {
        let created = try await createAuthorizeNet()
        let path = "\(base)/\(created.integrationId)"
        #expect(await send("DELETE", path).status == 204)
        #expect(await send("GET", path).status == 404)
        #expect(await send("DELETE", path).status == 404)
    }

    @Test func availableAndStatistics() async throws {
        try await createAuthorizeNet()
        let available = try decode(AvailableIntegrations.self, await send("GET", "/api/integrations/available"))
        #expect(available.organizationId == "org123" && available.configuredCount == 1 && available.enabledCount == 1)
        #expect(available.integrationsByType["Payment"]?.first { $0.provider == "AuthorizeNet" }?.isConfigured == true)
        let stats = await emulator.statistics()
        #expect(stats["POST /api/organizations/{organizationId}/integrations"] == 1)
        #expect(stats["GET /api/integrations/available"] == 1)
    }
}

import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// Drift of every kind, in every format, against the HTTP emulator; and the operations commands.
@Suite(.serialized) struct DriftAndOperationsTests {
    /// The examples applied, then changed behind intops' back in every way drift reports.
    static func driftingProject() async throws -> (ExampleProject, [String: String]) {
        let project = try await ExampleProject(.http)
        let applied = try await project.intops(["apply", "--auto-approve", "--parallelism", "1"])
        #expect(applied.status == 0, "\(applied.stderr)")
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        let client = IntegrationsClient(transport: transport, credentials: ["acme-us": .bearer("token-acme"), "globex-eu": .bearer("token-globex")])
        func id(_ organization: String, _ displayName: String) async throws -> String {
            try #require(try await client.list(organization: organization).first { $0.displayName == displayName }).integrationId
        }
        // changed: a configuration value edited in the API.
        _ = try await client.update(organization: "acme-us", id: id("acme-us", "Order Confirmation Email"), UpdateIntegrationRequest(configuration: ["FromName": "Someone Else"]))
        // deleted: removed out of band.
        try await client.delete(organization: "acme-us", id: id("acme-us", "Shipping Notifications (SMS)"))
        // unmanaged: created by hand.
        _ = try await client.create(organization: "globex-eu", CreateIntegrationRequest(
            integrationType: .crm, provider: "HubSpot", displayName: "Hand-made CRM", secrets: ["AccessToken": "x"]))
        // test-failing: a secret set by hand that the provider rejects.
        let analytics = try await id("globex-eu", "Storefront Analytics")
        _ = try await client.rotateSecrets(organization: "globex-eu", id: analytics, RotateSecretsRequest(newSecrets: ["ApiSecret": "invalid-by-hand"]))
        // never-tested: a secret set by hand without a test.
        _ = try await client.update(organization: "globex-eu", id: id("globex-eu", "EU Card Payments"), UpdateIntegrationRequest(secrets: ["ApiLoginId": "by-hand"]))
        // secret-changed: a value edited in the SOPS file.
        _ = try await project.intops(["secrets", "edit", "secrets/globex.enc.yaml"], environment: ["EDITOR": "sed -i s/demo-globex-key/demo-globex-key-2/"])
        // secret-expired: the clock 100 days on (rotation.maxAge is 90d on eu-card-payments); unauthorized: books.
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(100 * 86_400))
        return (project, ["INTOPS_NOW": later])
    }

    @Test func everyKindInEveryFormat() async throws {
        let (project, clock) = try await Self.driftingProject()
        let golden = TestSupport.fixtures.appendingPathComponent("golden")
        for (format, file) in [("text", "drift.txt"), ("json", "drift.json"), ("markdown", "drift.md"), ("github", "drift-github.txt"), ("junit", "drift-junit.xml")] {
            let result = try await project.intops(["drift", "--format", format], environment: clock)
            #expect(result.status == 2, "\(format): \(result.stderr)")
            try TestSupport.expectGolden(result.stdout, file: golden.appendingPathComponent(file))
        }
        let text = try await project.intops(["drift"], environment: clock)
        for kind in ["changed", "deleted", "unmanaged", "test-failing", "never-tested", "secret-changed", "secret-expired", "unauthorized"] {
            #expect(text.stdout.contains(": \(kind)"), "drift reports \(kind)")
        }
        #expect(!text.stdout.contains("demo-globex-key") && !text.stdout.contains("invalid-by-hand") && !text.stdout.contains("by-hand\""))
    }

    @Test func noDriftAfterApplyExceptAuthorization() async throws {
        let project = try await ExampleProject(.sandbox)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let drift = try await project.intops(["drift", "--format", "json"])
        #expect(drift.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(drift.stdout.utf8)) as? [String: Any])
        let items = try #require(object["drift"] as? [[String: Any]])
        #expect(items.map { "\($0["kind"]!):\($0["name"]!)" } == ["unauthorized:books"])
    }

    @Test func operationsCommands() async throws {
        let project = try await ExampleProject(.sandbox)
        let notLive = try await project.intops(["test", "eu-newsletter"])
        #expect(notLive.status == 1 && notLive.stderr.contains("globex-eu/eu-newsletter is not live yet; run intops apply first"))
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)

        let tested = try await project.intops(["test", "eu-newsletter", "main-payment-gateway"])
        #expect(tested.status == 0 && tested.stdout.contains("✓ globex-eu/eu-newsletter: Connection test successful") && tested.stdout.hasSuffix("2 passed, 0 failed.\n"))
        let all = try await project.intops(["test"])
        #expect(all.status == 1 && all.stdout.contains("✗ acme-us/books: Not connected"), "an unauthorized OAuth integration fails its test")

        let rotated = try await project.intops(["rotate", "eu-newsletter"])
        #expect(rotated.status == 0 && rotated.stdout.contains("✓ globex-eu/eu-newsletter rotated"))
        #expect(try await project.plan().actions.isEmpty, "a forced rotation leaves nothing to do")

        let connect = try await project.intops(["connect", "books", "--return-url", "https://shop.example/back"])
        #expect(connect.status == 0)
        let url = try #require(URLComponents(string: connect.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(url.queryItems?.contains { $0.name == "redirect_uri" && $0.value == "https://api.achievemomentum.com/api/integrations/QuickBooks/callback" } == true)
        let noURL = try await project.intops(["connect", "books"])
        #expect(noURL.status == 64)

        let templates = try await project.intops(["templates", "--type", "Email"])
        #expect(templates.status == 0 && templates.stdout.hasPrefix("Email/SendGrid  SendGrid\n"))
        let refresh = try await project.intops(["templates", "--refresh"])
        #expect(refresh.status == 0)
        #expect(FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".intops/templates.json").path))
        let offline = try await project.intops(["validate", "--offline"])
        #expect(offline.status == 0 && offline.stdout.contains("templates cache"), "\(offline.stdout)")
    }
}

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
        let client = IntegrationsClient(
            transport: transport, credentials: ["acme-us": .bearer("token-acme"), "globex-eu": .bearer("token-globex")])
        func id(_ organization: String, _ displayName: String) async throws -> String {
            try #require(try await client.list(organization: organization).first { $0.displayName == displayName })
                .integrationId
        }
        // changed: a configuration value edited in the API.
        _ = try await client.update(
            organization: "acme-us", id: id("acme-us", "Order Confirmation Email"),
            UpdateIntegrationRequest(configuration: ["FromName": "Someone Else"]))
        // deleted: removed out of band.
        try await client.delete(organization: "acme-us", id: id("acme-us", "Shipping Notifications (SMS)"))
        // unmanaged: created by hand.
        _ = try await client.create(
            organization: "globex-eu",
            CreateIntegrationRequest(
                integrationType: .crm, provider: "HubSpot", displayName: "Hand-made CRM", secrets: ["AccessToken": "x"])
        )
        // test-failing: a secret set by hand that the provider rejects.
        let analytics = try await id("globex-eu", "Storefront Analytics")
        _ = try await client.rotateSecrets(
            organization: "globex-eu", id: analytics, RotateSecretsRequest(newSecrets: ["ApiSecret": "invalid-by-hand"])
        )
        // never-tested: a secret set by hand without a test.
        _ = try await client.update(
            organization: "globex-eu", id: id("globex-eu", "EU Card Payments"),
            UpdateIntegrationRequest(secrets: ["ApiLoginId": "by-hand"]))
        // secret-changed: a value edited in the SOPS file.
        _ = try await project.intops(
            ["secrets", "edit", "secrets/globex.enc.yaml"],
            environment: ["EDITOR": "sed -i s/demo-globex-key/demo-globex-key-2/"])
        // secret-expired: the clock 100 days on (rotation.maxAge is 90d on eu-card-payments); unauthorized: books.
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(100 * 86_400))
        return (project, ["INTOPS_NOW": later])
    }

    /// A full refresh reads every live integration in detail, those the state knows beside the lists; it plans
    /// what the default refresh plans, one deleted out of band included (its early read answers 404).
    @Test func aFullRefreshPlansWhatTheDefaultRefreshPlans() async throws {
        let (project, clock) = try await Self.driftingProject()
        let auto = try await project.intops(["plan", "--format", "json"], environment: clock)
        #expect(auto.status == 0, "\(auto.stderr)")
        let live = try await project.liveCount()
        let before = try await project.requestCount()
        let full = try await project.intops(["plan", "--refresh", "full", "--format", "json"], environment: clock)
        #expect(full.status == 0, "\(full.stderr)")
        #expect(full.stdout == auto.stdout, "the same plan from both refreshes")
        #expect(
            full.stdout.contains("\"create\"") && full.stdout.contains("\"update\""),
            "the deleted and the changed integration are planned")
        let requests = try await project.requestCount() - before
        // The templates come from the cache the first plan wrote.
        #expect(requests == 2 + live + 1, "two lists, every live integration, and the deleted one's 404: \(requests)")
    }

    /// The age of a secret is the age of its value: rotating to the same value does not clear secret-expired; a
    /// new value does.
    @Test func onlyANewValueMakesASecretYoung() async throws {
        let project = try await ExampleProject(.sandbox)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let later = ["INTOPS_NOW": ISO8601DateFormatter().string(from: Date().addingTimeInterval(100 * 86_400))]
        func expired() async throws -> Bool {
            let drift = try await project.intops(["drift", "--org", "globex-eu"], environment: later)
            return drift.stdout.contains("globex-eu/eu-card-payments: secret-expired")
        }
        #expect(try await expired())
        let rotate = try await project.intops(["rotate", "eu-card-payments", "--org", "globex-eu"], environment: later)
        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(try await expired(), "the same value, sent again, is as old as before")
    }

    @Test func everyKindInEveryFormat() async throws {
        let (project, clock) = try await Self.driftingProject()
        let golden = TestSupport.fixtures.appendingPathComponent("golden")
        for (format, file) in [
            ("text", "drift.txt"), ("json", "drift.json"), ("markdown", "drift.md"), ("github", "drift-github.txt"),
            ("junit", "drift-junit.xml"),
        ] {
            let result = try await project.intops(["drift", "--format", format], environment: clock)
            #expect(result.status == 2, "\(format): \(result.stderr)")
            try TestSupport.expectGolden(result.stdout, file: golden.appendingPathComponent(file))
        }
        // The JSON agrees with schemas/drift.schema.json.
        let json = try await project.intops(["drift", "--format", "json"], environment: clock)
        let document = project.root.appendingPathComponent("drift.json")
        try json.stdout.write(to: document, atomically: true, encoding: .utf8)
        let schema = TestSupport.packageRoot.appendingPathComponent("schemas/drift.schema.json")
        let check = try await Subprocess.run([
            "python3", "-c",
            "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
            schema.path, document.path,
        ])
        #expect(check.status == 0, "\(check.stderrText)")
        let text = try await project.intops(["drift"], environment: clock)
        for kind in [
            "changed", "deleted", "unmanaged", "test-failing", "never-tested", "secret-changed", "secret-expired",
            "unauthorized",
        ] { #expect(text.stdout.contains(": \(kind)"), "drift reports \(kind)") }
        #expect(
            !text.stdout.contains("demo-globex-key") && !text.stdout.contains("invalid-by-hand")
                && !text.stdout.contains("by-hand\""))
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
        #expect(
            notLive.status == 1
                && notLive.stderr.contains("globex-eu/eu-newsletter is not live yet; run intops apply first"))
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)

        let tested = try await project.intops(["test", "eu-newsletter", "main-payment-gateway"])
        #expect(
            tested.status == 0 && tested.stdout.contains("✓ globex-eu/eu-newsletter: Connection test successful")
                && tested.stdout.hasSuffix("2 passed, 0 failed.\n"))
        let all = try await project.intops(["test"])
        #expect(
            all.status == 1 && all.stdout.contains("✗ acme-us/books: Not connected"),
            "an unauthorized OAuth integration fails its test")

        let rotated = try await project.intops(["rotate", "eu-newsletter"])
        #expect(rotated.status == 0 && rotated.stdout.contains("✓ globex-eu/eu-newsletter rotated"))
        #expect(try await project.plan().actions.isEmpty, "a forced rotation leaves nothing to do")

        let connect = try await project.intops(["connect", "books", "--return-url", "https://shop.example/back"])
        #expect(connect.status == 0)
        let url = try #require(URLComponents(string: connect.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(
            url.queryItems?.contains {
                $0.name == "redirect_uri"
                    && $0.value == "https://api.achievemomentum.com/api/integrations/QuickBooks/callback"
            } == true)
        let noURL = try await project.intops(["connect", "books"])
        #expect(noURL.status == 64)

        let status = try await project.intops(["status", "--org", "globex-eu"])
        #expect(status.status == 0)
        try TestSupport.expectGolden(
            status.stdout, file: TestSupport.fixtures.appendingPathComponent("golden/status.txt"))

        let templates = try await project.intops(["templates", "--type", "Email"])
        #expect(templates.status == 0 && templates.stdout.hasPrefix("Email/SendGrid  SendGrid\n"))
        let refresh = try await project.intops(["templates", "--refresh"])
        #expect(refresh.status == 0)
        #expect(
            FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".intops/templates.json").path))
        let offline = try await project.intops(["validate", "--offline"])
        #expect(offline.status == 0 && offline.stdout.contains("templates cache"), "\(offline.stdout)")
    }
}

/// An organization built by hand through the API, exported, filled in, planned and adopted.
@Suite struct ExportTests {
    @Test func exportFillPlanAndAdoptRoundTrip() async throws {
        let project = try await ExampleProject(.http)
        for file in try FileManager.default.contentsOfDirectory(
            atPath: project.root.appendingPathComponent("integrations").path)
        { try FileManager.default.removeItem(at: project.root.appendingPathComponent("integrations/\(file)")) }
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL, maximumConnections: 8)
        let client = IntegrationsClient(transport: transport, credentials: ["globex-eu": .bearer("token-globex")])
        for index in 0..<50 {
            let request =
                index % 2 == 0
                ? CreateIntegrationRequest(
                    integrationType: .email, provider: "SendGrid", displayName: "Mail \(index)",
                    isEnabled: index % 5 != 0, configuration: ["FromAddress": "m\(index)@globex.example"],
                    secrets: ["ApiKey": "key-\(index)"])
                : CreateIntegrationRequest(
                    integrationType: .payment, provider: "AuthorizeNet", displayName: "Gateway \(index) / EU",
                    configuration: ["IsSandbox": index % 3 == 0 ? "false" : "true"],
                    secrets: ["ApiLoginId": "login-\(index)", "TransactionKey": "key-\(index)"])
            _ = try await client.create(organization: "globex-eu", request)
        }

        let export = try await project.intops(["export", "--org", "globex-eu"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("exported 50 integrations of globex-eu to integrations/globex-eu.yaml"))
        #expect(export.stdout.contains("intops secrets edit secrets/globex-eu.secrets.enc.yaml"), "\(export.stdout)")
        // The skeleton is encrypted, as its name says, and its placeholders are never sent.
        let skeleton = project.root.appendingPathComponent("secrets/globex-eu.secrets.enc.yaml")
        #expect(!(try String(contentsOf: skeleton, encoding: .utf8)).contains("FILL-ME"))
        let unfilled = try await project.intops(["plan", "--org", "globex-eu"])
        #expect(unfilled.status == 1 && unfilled.stderr.contains("still holds the placeholder intops export wrote"))
        // A second export does not replace the manifest, which may have been edited by hand since.
        let again = try await project.intops(["export", "--org", "globex-eu"])
        #expect(again.status == 1 && again.stderr.contains("export writes new files only"), "\(again.stderr)")
        #expect(try await project.intops(["export", "--org", "globex-eu", "--force"]).status == 0)
        // Fill the skeleton with the values in use (decrypted, filled, encrypted again, as an editor would).
        let decrypted = try await project.intops(["secrets", "decrypt", "secrets/globex-eu.secrets.enc.yaml"])
        var text = decrypted.stdout.replacingOccurrences(of: "intops-export:FILL-ME", with: "FILL-ME")
        #expect(text.components(separatedBy: "FILL-ME").count - 1 == 75)
        let manifest = try String(
            contentsOf: project.root.appendingPathComponent("integrations/globex-eu.yaml"), encoding: .utf8)
        for index in 0..<50 {
            let name = index % 2 == 0 ? "mail-\(index)" : "gateway-\(index)-eu"
            #expect(manifest.contains("name: \(name)"), "\(name)")
            let block =
                index % 2 == 0
                ? "\(name):\n    ApiKey: FILL-ME" : "\(name):\n    ApiLoginId: FILL-ME\n    TransactionKey: FILL-ME"
            let filled =
                index % 2 == 0
                ? "\(name):\n    ApiKey: key-\(index)"
                : "\(name):\n    ApiLoginId: login-\(index)\n    TransactionKey: key-\(index)"
            text = text.replacingOccurrences(of: block, with: filled)
        }
        #expect(!text.contains("FILL-ME"))
        try text.write(to: skeleton, atomically: true, encoding: .utf8)
        #expect(
            try await project.intops(["secrets", "encrypt", "-i", "secrets/globex-eu.secrets.enc.yaml"]).status == 0)

        // The plan adopts every one; its only changes are the unknown secrets.
        let plan = try await project.intops(["plan", "--format", "json", "--org", "globex-eu"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let actions = try #require(object["actions"] as? [[String: Any]])
        #expect(actions.count == 50 && actions.allSatisfy { $0["action"] as? String == "adopt" })
        let fields = Set(actions.flatMap { ($0["changes"] as? [[String: Any]] ?? []).map { $0["field"] as! String } })
        #expect(fields.allSatisfy { $0.hasPrefix("secrets.") || $0 == "test" }, "only secrets change: \(fields)")

        // Adopting records them as they are: the plan is empty.
        let adopt = try await project.intops(["export", "--org", "globex-eu", "--adopt"])
        #expect(adopt.status == 0 && adopt.stdout.contains("adopted 50 integrations"), "\(adopt.stderr)")
        let after = try await project.intops(["plan", "--detailed-exitcode", "--org", "globex-eu"])
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
    }
}

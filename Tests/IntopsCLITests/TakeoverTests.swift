import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// intops never takes over an integration it did not create, and finds its own again when someone re-creates it.
@Suite struct TakeoverTests {
    static func client(_ project: ExampleProject) throws -> (IntegrationsClient, URLSessionTransport) {
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        return (
            IntegrationsClient(transport: transport, credentials: ["globex-eu": .bearer("token-globex")]), transport
        )
    }

    static let theirs = CreateIntegrationRequest(
        integrationType: .email, provider: "SendGrid", displayName: "Newsletter", isEnabled: true,
        configuration: ["FromAddress": "someone-else@globex.example"], secrets: ["ApiKey": "their-own-key-value"])

    /// A saved plan says create; before it is applied, someone creates an integration under that name. The apply
    /// refuses the saved plan, changes none of theirs, and the next plan offers adopting it for review. (A name
    /// taken between the refresh and the create is refused by name: ApplierTests.)
    @Test func aForeignIntegrationUnderAPlannedNameIsNotTakenOver() async throws {
        let project = try await ExampleProject(.http)
        let saved = try await project.intops(["plan", "--out", "changes.plan"])
        #expect(saved.status == 0, "\(saved.stderr)")
        let (client, transport) = try Self.client(project)
        let foreign = try await client.create(organization: "globex-eu", Self.theirs).integration.integrationId
        let secretsBefore = try await transport.send(
            HTTPRequest(method: "GET", path: "/_emulator/secrets/globex-eu/\(foreign)")
        ).body

        let apply = try await project.intops(["apply", "changes.plan", "--auto-approve"])
        #expect(apply.status == 1, "\(apply.stdout)\(apply.stderr)")
        #expect(
            apply.stderr.contains("would create globex-eu/eu-newsletter differently from a plan made now (adopt)"),
            "\(apply.stderr)")
        let detail = try await client.get(organization: "globex-eu", id: foreign)
        #expect(detail.configuration["FromAddress"] == "someone-else@globex.example", "their configuration stays")
        let secretsAfter = try await transport.send(
            HTTPRequest(method: "GET", path: "/_emulator/secrets/globex-eu/\(foreign)")
        ).body
        #expect(secretsAfter == secretsBefore, "their secret stays")
        let state = try? String(contentsOf: project.root.appendingPathComponent(".intops/state.json"), encoding: .utf8)
        #expect(state?.contains(foreign) != true, "the state does not claim it")

        let next = try await project.plan()
        #expect(next.actions.contains("adopt:globex-eu/eu-newsletter"), "\(next.actions) \(next.output.stderr)")
    }

    /// The recorded integration was deleted and re-created by hand under its name: the plan adopts it, and the
    /// apply converges.
    @Test func anIntegrationRecreatedByHandIsAdopted() async throws {
        let project = try await ExampleProject(.http)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let (client, _) = try Self.client(project)
        let original = try #require(
            try await client.list(organization: "globex-eu").first { $0.displayName == "Newsletter" })
        try await client.delete(organization: "globex-eu", id: original.integrationId)
        _ = try await client.create(organization: "globex-eu", Self.theirs)

        let plan = try await project.plan()
        #expect(plan.actions == ["adopt:globex-eu/eu-newsletter"], "\(plan.actions) \(plan.output.stderr)")
        let apply = try await project.intops(["apply", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stderr)")
        let again = try await project.plan()
        #expect(again.actions.isEmpty && again.status == 0, "\(again.actions) \(again.output.stderr)")
    }
}

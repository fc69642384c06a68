import EmbeddedSandbox
import Foundation
import IntegrationsAPI
import Testing

@testable import Reconciler

@Suite struct APIConnectorTests {
    func project(
        url: String, organizations: String = "acme: {auth: bearer, token: ref+env://ACME}"
    ) throws -> (Project, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("connector-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("integrations"), withIntermediateDirectories: true)
        let file = root.appendingPathComponent("intops.yaml")
        try """
        apiVersion: intops/v1
        kind: Project
        api:
          url: \(url)
        organizations:
          \(organizations)
        manifests: [integrations/]
        allowPlaintextSecrets: true
        """.write(to: file, atomically: true, encoding: .utf8)
        return (try ProjectLoader.loadProject(file: file.path), root)
    }

    @Test func sandboxPersistsAcrossRunsWithoutTokens() async throws {
        let (project, root) = try project(url: "sandbox:.intops/sandbox.json")
        let first = try APIConnector.client(for: project, tokens: [:], sandbox: EmbeddedSandbox())
        let created = try await first.create(
            organization: "acme",
            CreateIntegrationRequest(
                integrationType: .email, provider: "SendGrid", displayName: "Mail",
                configuration: ["FromAddress": "a@example.com"], secrets: ["ApiKey": "k"]))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(".intops/sandbox.json").path))
        // A later run, this time with a token from the environment, sees the same organization.
        let second = try APIConnector.client(for: project, tokens: ["acme": "from-env"], sandbox: EmbeddedSandbox())
        #expect(try await second.list(organization: "acme").map(\.integrationId) == [created.integration.integrationId])
    }

    @Test func remoteNeedsATokenPerOrganization() throws {
        let (project, _) = try project(url: "https://api.achievemomentum.com")
        #expect(throws: APIConnectionError.self) {
            try APIConnector.client(for: project, tokens: [:], sandbox: EmbeddedSandbox())
        }
        do throws(APIConnectionError) {
            _ = try APIConnector.client(for: project, tokens: [:], sandbox: EmbeddedSandbox())
        } catch { #expect(error.description.hasSuffix("organization acme has no API token; set its token: reference")) }
        let client = try APIConnector.client(for: project, tokens: ["acme": "t"], sandbox: EmbeddedSandbox())
        #expect(client.transport is URLSessionTransport)
        #expect(client.policy.maxInFlight == project.api.parallelism)
    }
}

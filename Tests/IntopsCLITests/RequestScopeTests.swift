import Foundation
import IntegrationsAPI
import Testing

/// A run asks the API only for what its command names: `--target` reads one list and the targets' details, a fresh
/// templates cache saves the templates request, `drift --org` reads that organization only.
@Suite(.serialized) struct RequestScopeTests {
    static let bulk = 40

    /// The examples plus `bulk` SendGrid integrations in acme-us, applied; then every one of them changed.
    func changedBulkProject() async throws -> ExampleProject {
        let project = try await ExampleProject(.http)
        var manifest = "apiVersion: intops/v1\nkind: IntegrationSet\norganization: acme-us\nintegrations:\n"
        for index in 0..<Self.bulk {
            manifest += """
                  - name: bulk-\(index)
                    type: Email
                    provider: SendGrid
                    displayName: Bulk \(index)
                    configuration: { FromAddress: bulk\(index)@acme.example, FromName: Bulk }
                    secrets: { ApiKey: ref+sops://../secrets/acme-backoffice.enc.yaml#/sendgrid/ApiKey }
                    test: never

                """
        }
        try manifest.write(
            to: project.root.appendingPathComponent("integrations/bulk.yaml"), atomically: true, encoding: .utf8)
        let apply = try await project.intops(["apply", "--auto-approve", "--quiet"])
        #expect(apply.status == 0, "\(apply.stderr)")
        try project.edit("integrations/bulk.yaml") {
            $0.replacingOccurrences(of: "FromName: Bulk", with: "FromName: Changed")
        }
        return project
    }

    func statistics(_ project: ExampleProject) async throws -> [String: Int] {
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/_emulator/stats"))
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        return object?["requests"] as? [String: Int] ?? [:]
    }

    func reset(_ project: ExampleProject) async throws {
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        _ = try await transport.send(HTTPRequest(method: "POST", path: "/_emulator/reset"))
    }

    @Test func aTargetedPlanReadsOneListAndTheTargetsDetails() async throws {
        let project = try await changedBulkProject()
        let everything = try await project.plan()
        #expect(everything.actions.count == Self.bulk, "\(everything.actions)")

        try await reset(project)
        let targeted = try await project.plan(["--target", "bulk-7"])
        #expect(targeted.actions == ["update:acme-us/bulk-7"], "\(targeted.output.stderr)")
        let requests = try await statistics(project)
        #expect(
            requests == [
                "GET /api/organizations/{organizationId}/integrations": 1,
                "GET /api/organizations/{organizationId}/integrations/{integrationId}": 1,
            ], "\(requests)")

        // Targets in two organizations: each one's list, each target's detail.
        try project.edit("integrations/globex.yaml") {
            $0.replacingOccurrences(of: "news@globex.example", with: "letters@globex.example")
        }
        try await reset(project)
        let both = try await project.plan(["--target", "bulk-3", "--target", "eu-newsletter"])
        #expect(both.status == 2, "\(both.output.stderr)")
        let twoOrganizations = try await statistics(project)
        #expect(twoOrganizations["GET /api/organizations/{organizationId}/integrations"] == 2, "\(twoOrganizations)")
        #expect(
            twoOrganizations["GET /api/organizations/{organizationId}/integrations/{integrationId}"] ?? 0 <= 2,
            "\(twoOrganizations)")
    }

    @Test func aFreshTemplatesCacheSavesTheRequestAndAStaleOneIsRefreshed() async throws {
        let project = try await ExampleProject(.http)
        let cache = project.root.appendingPathComponent(".intops/templates.json")
        try? FileManager.default.removeItem(at: cache)
        _ = try await project.plan()
        #expect(FileManager.default.fileExists(atPath: cache.path), "a plan that asked the API keeps its answer")

        try await reset(project)
        _ = try await project.plan()
        #expect(try await statistics(project)["GET /api/integration-templates"] == nil)

        // Two days old: asked again, and written again.
        let old = Date(timeIntervalSinceNow: -2 * 24 * 3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: cache.path)
        try await reset(project)
        _ = try await project.plan()
        #expect(try await statistics(project)["GET /api/integration-templates"] == 1)
        let written = try FileManager.default.attributesOfItem(atPath: cache.path)[.modificationDate] as? Date
        #expect(written.map { $0 > old } == true)
    }

    @Test func driftOfOneOrganizationReadsOnlyIt() async throws {
        let project = try await ExampleProject(.http)
        let apply = try await project.intops(["apply", "--auto-approve", "--quiet"])
        #expect(apply.status == 0, "\(apply.stderr)")
        try await reset(project)
        let drift = try await project.intops(["drift", "--org", "globex-eu", "--format", "json"])
        #expect(drift.status == 0 || drift.status == 2, "\(drift.stderr)")
        let requests = try await statistics(project)
        // globex-eu holds three integrations: one list and three details, nothing of acme-us.
        #expect(requests["GET /api/organizations/{organizationId}/integrations"] == 1, "\(requests)")
        #expect(
            requests["GET /api/organizations/{organizationId}/integrations/{integrationId}"] ?? 0 <= 3, "\(requests)")
    }
}

/// The rate adapts to a server that throttles, and --verbose shows it.
@Suite struct PacingEndToEndTests {
    @Test func aThrottlingServerIsFollowedAndVerboseShowsTheRate() async throws {
        let project = try await ExampleProject(.http, emulatorArguments: ["--rate-limit", "4"])
        let apply = try await project.intops(["apply", "--auto-approve", "--verbose"])
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stderr.contains("answered 429: pausing 1 s, then pacing at"), "the cut is shown: \(apply.stderr)")
        let again = try await project.plan()
        #expect(again.actions.isEmpty && again.status == 0, "\(again.output.stderr)")
    }
}

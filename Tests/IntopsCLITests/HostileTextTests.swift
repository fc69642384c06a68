import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// Display names and configuration values are set by anyone in an organization, on the live API or in a manifest.
/// Rendered in every format, they must not drive the terminal, break a document or inject markup: each output is
/// read by its real consumer.
@Suite struct HostileTextTests {
    static let corpus = [
        "\u{1B}[31mred\u{1B}[0m\u{1B}]0;title\u{7}", "two\nlines\r\nand\rreturn", "pipe | in | cell",
        "<script>alert(1)</script><img src=x onerror=alert(1)>", "]]> & &amp; \"quotes\" 'single'",
        "\u{202E}desrever\u{2066}isolate", "`tick` ``two`` **bold** _em_ [link](https://evil.example) ~~s~~",
        "::error::forged command", "%0A%25 percent", "title=x,file=y:z", "nul\u{0}bell\u{7}back\u{8}del\u{7F}",
        "@everyone #1", "\u{85}next\u{2028}line\u{9B}csi", "tab\there",
    ]

    static let hostile = corpus.joined(separator: " ◆ ")

    func check(_ format: String, _ text: String, in project: ExampleProject) async throws {
        let file = project.root.appendingPathComponent("rendered-\(format)-\(UUID().uuidString)")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let checker = TestSupport.fixtures.appendingPathComponent("consumers/check_rendering.py")
        let result = try await Subprocess.run(["python3", checker.path, format, file.path])
        #expect(result.status == 0, "\(format): \(result.stdoutText)\(result.stderrText)\n\(text)")
    }

    @Test func everyFormatEscapesForItsConsumer() async throws {
        let project = try await ExampleProject(.http)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        let client = IntegrationsClient(transport: transport, credentials: ["acme-us": .bearer("token-acme")])
        let email = try #require(try await client.list(organization: "acme-us").first { $0.provider == "SendGrid" })
        _ = try await client.update(
            organization: "acme-us", id: email.integrationId,
            UpdateIntegrationRequest(configuration: ["FromName": Self.hostile]))
        _ = try await client.create(
            organization: "acme-us",
            CreateIntegrationRequest(
                integrationType: .crm, provider: "HubSpot", displayName: Self.hostile,
                secrets: ["AccessToken": "hand-made-token"]))

        for (format, consumer) in [
            ("text", "text"), ("markdown", "markdown"), ("github", "github"), ("junit", "junit"),
        ] {
            let drift = try await project.intops(["drift", "--format", format])
            #expect(drift.status == 2, "\(format): \(drift.stderr)")
            try await check(consumer, drift.stdout, in: project)
            try await check("text", drift.stderr, in: project)
        }
        let json = try await project.intops(["drift", "--format", "json"])
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let names = (document?["drift"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains(Self.hostile), "JSON carries the value exactly; its consumers escape it")

        for (format, consumer) in [("text", "text"), ("markdown", "markdown")] {
            let plan = try await project.intops(["plan", "--format", format])
            try await check(consumer, plan.stdout, in: project)
            try await check("text", plan.stderr, in: project)
        }
        let verbose = try await project.intops(["--verbose", "apply", "--auto-approve"])
        try await check("text", verbose.stdout, in: project)
        try await check("text", verbose.stderr, in: project)
    }
}

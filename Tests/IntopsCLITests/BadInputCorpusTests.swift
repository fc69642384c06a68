import ConcurrencyToolkit
import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// The bad-input corpus: every malformed manifest, project file, SOPS file, age key and reference stops `intops
/// plan` with one clear line and exit 1 before a single request reaches the API, as the emulator's statistics
/// show.
@Suite(.serialized) struct BadInputCorpusTests {
    /// Damage done to a copy of examples/, for the secrets-side cases validate cannot see.
    static let secretsCases: [(String, @Sendable (ExampleProject) throws -> Void, String)] = [
        (
            "tampered SOPS value",
            { project in
                try project.edit("secrets/globex.enc.yaml") { text in
                    let line = text.components(separatedBy: "\n").first { $0.hasPrefix("ApiLoginId: ENC[") }!
                    return text.replacingOccurrences(
                        of: line, with: line.replacingOccurrences(of: "data:", with: "data:QUFB"))
                }
            }, "was altered: the value at ApiLoginId does not decrypt"
        ),
        (
            "edited MAC",
            { project in
                try project.edit("secrets/globex.enc.yaml") { text in
                    let line = text.components(separatedBy: "\n").first { $0.contains("mac: ENC[") }!
                    return text.replacingOccurrences(
                        of: line, with: line.replacingOccurrences(of: "data:", with: "data:QUFB"))
                }
            }, "was altered: the value at sops.mac does not decrypt"
        ),
        (
            "value added after encryption",
            { project in try project.edit("secrets/globex.enc.yaml") { "Extra: plain\n" + $0 } },
            "the value at Extra should be encrypted but is not an ENC[…] string"
        ),
        (
            "truncated SOPS file",
            { project in try project.edit("secrets/globex.enc.yaml") { String($0.prefix($0.count / 3)) } },
            "secrets/globex.enc.yaml"
        ),
        (
            "garbage age armor",
            { project in
                try project.edit("secrets/globex.enc.yaml") { text in
                    let line = text.components(separatedBy: "\n").first { $0.contains("YWdl") }!
                    return text.replacingOccurrences(of: line, with: "        !!!not base64!!!")
                }
            }, "the age armor is malformed"
        ),
        (
            "unknown age version",
            { project in
                try project.edit("secrets/globex.enc.yaml") { text in
                    let line = text.components(separatedBy: "\n").first { $0.contains("YWdlLWVuY3J5cHRpb24ub3JnL3Yx") }!
                    return text.replacingOccurrences(
                        of: line,
                        with: line.replacingOccurrences(
                            of: "YWdlLWVuY3J5cHRpb24ub3JnL3Yx", with: "YWdlLWVuY3J5cHRpb24ub3JnL3Yy"))
                }
            }, "the age header is malformed: unsupported version"
        ),
        (
            "SOPS file not encrypted",
            { project in
                try "ApiLoginId: a\nTransactionKey: b\nSendGridApiKey: c\nAnalyticsApiSecret: d\n".write(
                    to: project.root.appendingPathComponent("secrets/globex.enc.yaml"), atomically: true,
                    encoding: .utf8)
            }, "is not encrypted (it has no sops metadata)"
        ),
        (
            "identity file of another key",
            { project in
                try "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n".write(
                    to: project.root.appendingPathComponent(".intops/demo-age-key.txt"), atomically: true,
                    encoding: .utf8)
            }, "no age identity opens its data key"
        ),
        (
            "malformed identity file",
            { project in
                try "AGE-SECRET-KEY-1NOTAKEY\n".write(
                    to: project.root.appendingPathComponent(".intops/demo-age-key.txt"), atomically: true,
                    encoding: .utf8)
            }, "demo-age-key.txt:1: is not an age identity"
        ),
        (
            "fingerprint key of the wrong length",
            { project in
                let secrets = project.root.appendingPathComponent(".intops/fingerprint-key.enc.yaml")
                try "key: abc\n".write(to: secrets, atomically: true, encoding: .utf8)
                let result = try project.intopsSync(["secrets", "encrypt", "-i", ".intops/fingerprint-key.enc.yaml"])
                #expect(result == 0)
            }, "the fingerprint key must be 64 hexadecimal characters"
        ),
        (
            "unset API token environment variable",
            { project in
                try project.edit("intops.yaml") {
                    $0.replacingOccurrences(
                        of: "token: ref+env://INTOPS_TOKEN_GLOBEX_EU", with: "token: ref+env://INTOPS_TOKEN_NOT_SET")
                }
            }, "environment variable INTOPS_TOKEN_NOT_SET is not set"
        ),
        (
            "missing ref+file secret",
            { project in
                try project.edit("integrations/globex.yaml") {
                    $0.replacingOccurrences(
                        of: "ApiSecret: ref+sops://../secrets/globex.enc.yaml#/AnalyticsApiSecret",
                        with: "ApiSecret: ref+file://../secrets/analytics.txt")
                }
            }, "secret file secrets/analytics.txt"
        ),
        (
            "pointer to a mapping",
            { project in
                try project.edit("integrations/acme-payments.yaml") {
                    $0.replacingOccurrences(
                        of: "acme-payments.enc.yaml#/authorizenet/ApiLoginId",
                        with: "acme-payments.enc.yaml#/authorizenet")
                }
            }, "holds a mapping at #/authorizenet, not a single value"
        ),
    ]

    @Test func secretsSideInputsStopBeforeAnyRequest() async throws {
        for (name, damage, message) in Self.secretsCases {
            let project = try await ExampleProject(.http)
            try damage(project)
            let result = try await project.intops(["plan"])
            #expect(result.status == 1, "\(name): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(name): one line, got \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(try await project.requestCount() == 0, "\(name): no request reached the API")
        }
    }

    /// Every malformed-manifest fixture also stops plan before any request.
    @Test func manifestFixturesStopPlanBeforeAnyRequest() async throws {
        let emulator = try await EmulatorProcess.start(["--org", "org123=t", "--org", "acme=t", "--org", "globex=t"])
        defer { emulator.stop() }
        let corpus = TestSupport.fixtures.appendingPathComponent("invalid")
        var cases = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted() {
            let source = corpus.appendingPathComponent(name)
            guard !FileManager.default.fileExists(atPath: source.appendingPathComponent("args").path) else { continue }
            let project = try TestSupport.copy(source)
            defer { try? FileManager.default.removeItem(at: project) }
            let file = project.appendingPathComponent("intops.yaml")
            if let text = try? String(contentsOf: file, encoding: .utf8) {
                try text.replacingOccurrences(of: "sandbox:.intops/sandbox.json", with: emulator.baseURL.absoluteString)
                    .write(to: file, atomically: true, encoding: .utf8)
            }
            let result = try await TestSupport.runProcess(
                ["plan"], in: project, environment: ["XDG_CONFIG_HOME": "/nonexistent"])
            #expect(result.status == 1, "\(name): \(result.stderr)")
            #expect(!result.stderr.isEmpty && result.stdout.isEmpty, "\(name)")
            cases += 1
        }
        let stats = try await URLSessionStats.total(emulator.baseURL)
        #expect(stats == 0, "no request reached the API across \(cases) malformed projects")
        #expect(cases + Self.secretsCases.count >= 60, "the corpus has \(cases + Self.secretsCases.count) cases")
    }
}

enum URLSessionStats {
    static func total(_ base: URL) async throws -> Int {
        let response = try await URLSessionTransport(baseURL: base).send(
            HTTPRequest(method: "GET", path: "/_emulator/stats"))
        return (try JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["total"] as? Int ?? -1
    }
}

extension ExampleProject {
    /// Runs intops and waits, for set-up steps inside synchronous closures.
    func intopsSync(_ arguments: [String]) throws -> Int32 {
        let process = SpawnedProcess()
        process.executableURL = try TestSupport.executable
        process.arguments = arguments
        process.currentDirectoryURL = root
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(
            environment
        ) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

import Age
import Foundation
import SOPS

/// Plan and apply of a large project against the HTTP emulator with latency, compared with the lower bound that
/// the latency and the parallelism set, and the request counts of a no-change plan.
enum ReconcileBenchmark {
    static func run(
        intops: String, emulator: String, integrations: Int, organizations: Int, latency: Int, parallelism: Int
    ) throws {
        let tokens = (0..<organizations).map { "org\($0)=token-\($0)" }
        let server = try EmulatorServerProcess(
            emulator, tokens.flatMap { ["--org", $0] } + ["--latency", "\(latency)ms"])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "intops-bench-reconcile-\(integrations)")
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        let environment = try generate(
            root: root, baseURL: server.baseURL, integrations: integrations, organizations: organizations,
            parallelism: parallelism)

        func stats() throws -> Int {
            let connection = try LoadConnection(port: server.port)
            let body = connection.body(Array("GET /_emulator/stats HTTP/1.1\r\nHost: b\r\n\r\n".utf8))
            let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            return object?["total"] as? Int ?? -1
        }
        func reset() throws {
            _ = try LoadConnection(port: server.port).exchange(
                Array("POST /_emulator/reset HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n".utf8))
        }
        func timed(_ arguments: [String]) throws -> (Double, Int) {
            try reset()
            let (samples, status) = try Measure.process(
                intops, arguments, in: root, runs: 1, environment: environment, warmUp: false)
            guard status == 0 || status == 2 else {
                throw BenchFailure("intops \(arguments.joined(separator: " ")) exited \(status)")
            }
            return (samples[0], try stats())
        }
        func bound(_ requests: Int) -> Double {
            Double((requests + parallelism - 1) / parallelism) * Double(latency) / 1000
        }

        let (apply, applyRequests) = try timed(["apply", "--auto-approve", "--quiet"])
        let (noChange, noChangeRequests) = try timed(["plan", "--detailed-exitcode"])
        let (full, fullRequests) = try timed(["plan", "--refresh", "full", "--detailed-exitcode"])

        print(
            "reconcile: \(integrations) integrations in \(organizations) organizations, integrations-emulator at \(latency) ms latency, api.parallelism \(parallelism); the release intops binary, process start included"
        )
        print("")
        print("| run | wall time | requests | lower bound ⌈requests/\(parallelism)⌉ × \(latency) ms | ratio |")
        print("|---|---|---|---|---|")
        for (name, time, requests) in [
            ("apply: \(integrations) creates (each tested)", apply, applyRequests),
            ("plan --refresh full", full, fullRequests), ("plan, no change, current state", noChange, noChangeRequests),
        ] {
            print(
                String(
                    format: "| %@ | %@ | %d | %@ | %.2f× |", name, Measure.ms(time), requests,
                    Measure.ms(bound(requests)), time / bound(requests)))
        }
        print("")
        print(
            "no-change plan: \(noChangeRequests) requests for \(organizations) organizations (limit \(organizations + 1): one list each plus the templates)"
        )
        print(
            noChangeRequests <= organizations + 1
                ? "target met: at most one request per organization plus the templates"
                : "TARGET MISSED: too many requests")
        print(
            apply / bound(applyRequests) <= 1.3 && full / bound(fullRequests) <= 1.3
                ? "target met: apply and full-refresh plan within 1.3× of the lower bound"
                : "TARGET MISSED: over 1.3× the lower bound")
    }

    /// A project of `integrations` Authorize.Net integrations spread over `organizations`. - Parameters:
    ///   - parallelism: `api.parallelism`; nil leaves the default.
    ///   - untested: every integration says `test: never`, so that an apply sends one request per create.
    static func generate(
        root: URL, baseURL: String, integrations: Int, organizations: Int, parallelism: Int?, untested: Bool = false
    ) throws -> [String: String] {
        let manager = FileManager.default
        try manager.createDirectory(at: root.appendingPathComponent("integrations"), withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appendingPathComponent("secrets"), withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appendingPathComponent(".intops"), withIntermediateDirectories: true)
        let identity = try X25519Identity.generate()
        let keyFile = root.appendingPathComponent(".intops/key.txt")
        try AgeIdentityFile.render(identity, created: "2026-11-27T00:00:00Z").write(
            to: keyFile, atomically: true, encoding: .utf8)
        chmod(keyFile.path, 0o600)
        let fingerprint = SOPSValue.mapping([
            SOPSEntry(key: "key", value: .scalar(.string(String(repeating: "ab", count: 32))))
        ])
        try Data(SOPS.encrypt([fingerprint], format: .yaml, recipients: [identity.recipient])).write(
            to: root.appendingPathComponent(".intops/fingerprint.enc.yaml"))
        var project = """
            apiVersion: intops/v1
            kind: Project
            api:
              url: \(baseURL)
            \(parallelism.map { "  parallelism: \($0)\n" } ?? "")organizations:

            """
        var environment = ["SOPS_AGE_KEY_FILE": keyFile.path, "XDG_CONFIG_HOME": "/nonexistent"]
        let perOrganization = integrations / organizations
        for organization in 0..<organizations {
            project += "  org\(organization):\n    auth: bearer\n    token: ref+env://TOKEN_ORG\(organization)\n"
            environment["TOKEN_ORG\(organization)"] = "token-\(organization)"
            var manifest =
                "apiVersion: intops/v1\nkind: IntegrationSet\norganization: org\(organization)\nintegrations:\n"
            var secrets: [SOPSEntry] = []
            for index in 0..<perOrganization {
                let name = "gateway-\(index)"
                manifest += """
                      - name: \(name)
                        type: Payment
                        provider: AuthorizeNet
                        displayName: Gateway \(index)
                        configuration: { IsSandbox: \(index % 2 == 0) }\(untested ? "\n    test: never" : "")
                        secrets:
                          ApiLoginId: ref+sops://../secrets/org\(organization).enc.yaml#/\(name)/ApiLoginId
                          TransactionKey: ref+sops://../secrets/org\(organization).enc.yaml#/\(name)/TransactionKey

                    """
                secrets.append(
                    SOPSEntry(
                        key: name,
                        value: .mapping([
                            SOPSEntry(key: "ApiLoginId", value: .scalar(.string("login-\(organization)-\(index)"))),
                            SOPSEntry(key: "TransactionKey", value: .scalar(.string("key-\(organization)-\(index)"))),
                        ])))
            }
            try manifest.write(
                to: root.appendingPathComponent("integrations/org\(organization).yaml"), atomically: true,
                encoding: .utf8)
            try Data(SOPS.encrypt([.mapping(secrets)], format: .yaml, recipients: [identity.recipient])).write(
                to: root.appendingPathComponent("secrets/org\(organization).enc.yaml"))
        }
        project +=
            "manifests: [integrations/]\nstate: .intops/state.json\nfingerprintKey: ref+sops://.intops/fingerprint.enc.yaml#/key\n"
        try project.write(to: root.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
        return environment
    }
}

extension LoadConnection {
    /// Sends a request and returns the response body.
    func body(_ request: [UInt8]) -> [UInt8] {
        _ = exchange(request)
        return lastBody
    }
}

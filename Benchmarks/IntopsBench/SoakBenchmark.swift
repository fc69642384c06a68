import Age
import CryptoPrimitives
import Emulator
import Foundation
import IntegrationsAPI
import SOPS

/// `make soak`: successive applies of a changing project against a faulty emulator, and applies killed at random
/// moments; after each, what the emulator holds is compared with what the manifests ask for.
enum SoakBenchmark {
    /// One integration of the generated project.
    struct Spec {
        var organization: Int
        var name: String
        var displayName: String
        var sandbox: Bool
        var login: String
        var key: String
    }

    struct World {
        var specs: [Spec]
        var serial = 0
        var random: SeededRandom

        /// Changes about a tenth of the integrations: configuration, secrets, names; removes and adds a few.
        mutating func mutate() {
            serial += 1
            for index in specs.indices {
                switch random.next() % 40 {
                case 0, 1: specs[index].sandbox.toggle()
                case 2, 3: specs[index].key = "key-\(serial)-\(index)-\(random.next() % 1000)"
                case 4: specs[index].displayName = "Gateway \(specs[index].name) r\(serial)"
                default: break
                }
            }
            let removed = Int(random.next() % 4)
            for _ in 0..<removed where specs.count > 10 { specs.remove(at: Int(random.next() % UInt64(specs.count))) }
            for extra in 0..<removed {
                let name = "g\(serial)-\(extra)"
                specs.append(
                    Spec(
                        organization: Int(random.next() % 3), name: name, displayName: "Gateway \(name)", sandbox: true,
                        login: "login-\(name)", key: "key-\(name)"))
            }
        }
    }

    static let organizations = 3

    static func write(_ world: World, root: URL, identity: X25519Identity) throws {
        for organization in 0..<organizations {
            let specs = world.specs.filter { $0.organization == organization }
            var manifest =
                "apiVersion: intops/v1\nkind: IntegrationSet\norganization: org\(organization)\nintegrations:\n"
            var secrets: [SOPSEntry] = []
            for spec in specs {
                manifest += """
                      - name: \(spec.name)
                        type: Payment
                        provider: AuthorizeNet
                        displayName: \(spec.displayName)
                        configuration: { IsSandbox: \(spec.sandbox) }
                        secrets:
                          ApiLoginId: ref+sops://../secrets/org\(organization).enc.yaml#/\(spec.name)/ApiLoginId
                          TransactionKey: ref+sops://../secrets/org\(organization).enc.yaml#/\(spec.name)/TransactionKey

                    """
                secrets.append(
                    SOPSEntry(
                        key: spec.name,
                        value: .mapping([
                            SOPSEntry(key: "ApiLoginId", value: .scalar(.string(spec.login))),
                            SOPSEntry(key: "TransactionKey", value: .scalar(.string(spec.key))),
                        ])))
            }
            if specs.isEmpty { manifest += "  []\n" }
            try manifest.write(
                to: root.appendingPathComponent("integrations/org\(organization).yaml"), atomically: true,
                encoding: .utf8)
            try Data(SOPS.encrypt([.mapping(secrets)], format: .yaml, recipients: [identity.recipient])).write(
                to: root.appendingPathComponent("secrets/org\(organization).enc.yaml"))
        }
    }

    /// Live equals desired, as the emulator sees it: names, configuration, and secrets by the emulator's digests.
    static func verify(_ world: World, client: IntegrationsClient, base: URL) async throws -> [String] {
        var problems: [String] = []
        for organization in 0..<organizations {
            let org = "org\(organization)"
            let live = try await client.list(organization: org)
            let specs = world.specs.filter { $0.organization == organization }
            if live.count != specs.count {
                problems.append("\(org): \(live.count) live integrations for \(specs.count) declared")
            }
            let names = Dictionary(grouping: live, by: \.displayName)
            for (name, group) in names where group.count > 1 { problems.append("\(org): duplicate \"\(name)\"") }
            for spec in specs {
                guard let summary = names[spec.displayName]?.first else {
                    problems.append("\(org)/\(spec.name): missing")
                    continue
                }
                let detail = try await client.get(organization: org, id: summary.integrationId)
                if detail.configuration["IsSandbox"] != String(spec.sandbox) {
                    problems.append("\(org)/\(spec.name): lost configuration update")
                }
                let response = try await client.transport.send(
                    HTTPRequest(method: "GET", path: "/_emulator/secrets/\(org)/\(summary.integrationId)"))
                let digests = try JSONDecoder().decode([String: String].self, from: response.body)
                if digests["TransactionKey"] != Digest.sha256(Array(spec.key.utf8)).hex
                    || digests["ApiLoginId"] != Digest.sha256(Array(spec.login.utf8)).hex
                {
                    problems.append("\(org)/\(spec.name): lost rotation")
                }
            }
        }
        return problems
    }

    /// Where the soak keeps the state: the project's local file, an S3 bucket on `moto_server`, or a branch of a
    /// bare git remote. Remote locks outlive a killed run, so the soak shortens their lease to 2 s: the next run
    /// waits that long and takes the lock over.
    struct StateSetup {
        var settings: String
        var environment: [String: String]
        var cleanup: () -> Void
    }

    static func stateSetup(_ backend: String, root: URL) throws -> StateSetup {
        switch backend {
        case "local": return StateSetup(settings: ".intops/state.json", environment: [:], cleanup: {})
        case "s3":
            let moto = try MotoProcess()
            return StateSetup(
                settings:
                    "{ backend: s3, bucket: soak-state, key: \"intops/state-{org}.json\", endpoint: \"\(moto.endpoint)\" }",
                environment: [
                    "AWS_ACCESS_KEY_ID": "AKIDSOAK", "AWS_SECRET_ACCESS_KEY": "soak-secret", "AWS_REGION": "us-east-1",
                    "INTOPS_LOCK_LEASE": "2",
                ], cleanup: { moto.stop() })
        case "git":
            let remote = root.deletingLastPathComponent().appendingPathComponent(root.lastPathComponent + "-remote.git")
            try? FileManager.default.removeItem(at: remote)
            try shell(["git", "init", "-q", "--bare", remote.path])
            try shell(["git", "-C", root.path, "init", "-q"])
            try shell(["git", "-C", root.path, "remote", "add", "origin", "file://" + remote.path])
            return StateSetup(
                settings: "{ backend: git, path: \"state-{org}.json\" }", environment: ["INTOPS_LOCK_LEASE": "2"],
                cleanup: { try? FileManager.default.removeItem(at: remote) })
        default: throw BenchFailure("--backend takes local, s3 or git, not \(backend)")
        }
    }

    static func shell(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.runToExit()
        guard process.terminationStatus == 0 else { throw BenchFailure("\(arguments.joined(separator: " ")) failed") }
    }

    static func run(
        intops: String, emulator: String, iterations: Int, integrations: Int, kills: Int, seed: UInt64,
        backend: String = "local"
    ) async throws {
        let faults = [
            "--fault-rate", "0.1", "--throttle-rate", "0.05", "--drop-rate", "0.02", "--latency", "5ms", "--jitter",
            "5ms", "--seed", String(seed),
        ]
        let server = try EmulatorServerProcess(
            emulator, (0..<organizations).flatMap { ["--org", "org\($0)=token-\($0)"] } + faults)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("intops-soak-\(seed)")
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        for folder in ["integrations", "secrets", ".intops"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let state = try stateSetup(backend, root: root)
        defer { state.cleanup() }
        let identity = X25519Identity.generate()
        let keyFile = root.appendingPathComponent(".intops/key.txt")
        try AgeIdentityFile.render(identity, created: "2026-11-27T00:00:00Z").write(
            to: keyFile, atomically: true, encoding: .utf8)
        chmod(keyFile.path, 0o600)
        let fingerprint = SOPSValue.mapping([SOPSEntry(key: "key", value: .scalar(.string(SecureRandom.bytes(32).hex)))]
        )
        try Data(SOPS.encrypt([fingerprint], format: .yaml, recipients: [identity.recipient])).write(
            to: root.appendingPathComponent(".intops/fingerprint.enc.yaml"))
        var project =
            "apiVersion: intops/v1\nkind: Project\napi:\n  url: \(server.baseURL)\n  parallelism: 16\n  maxRequestsPerSecond: 10000\norganizations:\n"
        var environment = ["SOPS_AGE_KEY_FILE": keyFile.path, "XDG_CONFIG_HOME": "/nonexistent"].merging(
            state.environment
        ) { $1 }
        for organization in 0..<organizations {
            project += "  org\(organization):\n    auth: bearer\n    token: ref+env://TOKEN_ORG\(organization)\n"
            environment["TOKEN_ORG\(organization)"] = "token-\(organization)"
        }
        project +=
            "manifests: [integrations/]\nstate: \(state.settings)\nfingerprintKey: ref+sops://.intops/fingerprint.enc.yaml#/key\nsafety: { maxDeletes: 100, maxDeletePercent: 100 }\n"
        try project.write(to: root.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)

        var world = World(
            specs: (0..<integrations).map {
                Spec(
                    organization: $0 % organizations, name: "g\($0)", displayName: "Gateway g\($0)",
                    sandbox: $0 % 2 == 0, login: "login-\($0)", key: "key-\($0)")
            }, random: SeededRandom(seed: seed))
        let client = IntegrationsClient(
            transport: try URLSessionTransport(baseURL: URL(string: server.baseURL)!),
            credentials: Dictionary(
                uniqueKeysWithValues: (0..<organizations).map { ("org\($0)", APICredential.bearer("token-\($0)")) }),
            policy: ClientPolicy(
                maxInFlight: 8, maxAttempts: 20, baseDelay: .milliseconds(20), maxDelay: .milliseconds(500)))

        func runIntops(_ arguments: [String], killAfter: Double? = nil, stderr: URL? = nil) throws -> (Int32, Double) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: intops)
            process.arguments = arguments
            process.currentDirectoryURL = root
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = FileHandle.nullDevice
            if let stderr {
                _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
                process.standardError = try FileHandle(forWritingTo: stderr)
            } else {
                process.standardError = FileHandle.nullDevice
            }
            let start = ContinuousClock.now
            try process.runToExit(killAfter: killAfter)
            return (process.terminationStatus, Measure.seconds(ContinuousClock.now - start))
        }

        print(
            "soak (\(backend) state): \(iterations) applies of a changing set of \(integrations) integrations in \(organizations) organizations; emulator faults \(faults.joined(separator: " "))"
        )
        print("")
        print("| apply | integrations | exit | re-applies | wall time | problems after | next plan |")
        print("|---|---|---|---|---|---|---|")
        var failures = 0
        for iteration in stride(from: 1, through: iterations, by: 1) {
            if iteration > 1 { world.mutate() }
            try write(world, root: root, identity: identity)
            var (status, seconds) = try runIntops(["apply", "--auto-approve", "--prune", "--quiet"])
            var reapplies = 0
            while status != 0 && reapplies < 3 {
                reapplies += 1
                (status, seconds) = try runIntops(["apply", "--auto-approve", "--prune", "--quiet"])
            }
            let problems = try await verify(world, client: client, base: URL(string: server.baseURL)!)
            let (planStatus, _) = try runIntops(["plan", "--detailed-exitcode", "--prune"])
            if !problems.isEmpty || planStatus != 0 || status != 0 { failures += 1 }
            print(
                "| \(iteration) | \(world.specs.count) | \(status) | \(reapplies) | \(Measure.ms(seconds)) | \(problems.isEmpty ? "none" : problems.prefix(3).joined(separator: "; ")) | \(planStatus == 0 ? "empty" : "exit \(planStatus)") |"
            )
        }

        // Crash consistency: applies killed with SIGKILL at random moments, then one that converges.
        print("")
        print("crash consistency: \(kills) applies killed with SIGKILL at random moments")
        var invalidStates = 0
        var random = SeededRandom(seed: seed ^ 0xC0FFEE)
        for _ in 0..<kills {
            world.mutate()
            try write(world, root: root, identity: identity)
            let moment = Double(random.next() % 1500) / 1000
            _ = try runIntops(["apply", "--auto-approve", "--prune", "--quiet"], killAfter: moment)
            // What the kill left, read as the next run reads it: every object of the state must decode.
            let pullErrors = root.appendingPathComponent(".intops/pull.err")
            let (pulled, _) = try runIntops(["state", "pull"], stderr: pullErrors)
            let message = (try? String(contentsOf: pullErrors, encoding: .utf8)) ?? ""
            if pulled != 0 && !message.contains("there is no state") { invalidStates += 1 }
        }
        var (status, _) = try runIntops(["apply", "--auto-approve", "--prune", "--quiet"])
        if status != 0 { (status, _) = try runIntops(["apply", "--auto-approve", "--prune", "--quiet"]) }
        let problems = try await verify(world, client: client, base: URL(string: server.baseURL)!)
        let (planStatus, _) = try runIntops(["plan", "--detailed-exitcode", "--prune"])
        print("")
        print("| state files left by kills | invalid | final apply | problems after | next plan |")
        print("|---|---|---|---|---|")
        print(
            "| \(kills) | \(invalidStates) | exit \(status) | \(problems.isEmpty ? "none" : problems.prefix(3).joined(separator: "; ")) | \(planStatus == 0 ? "empty" : "exit \(planStatus)") |"
        )
        print("")
        let ok = failures == 0 && invalidStates == 0 && problems.isEmpty && planStatus == 0 && status == 0
        print(
            ok
                ? "soak passed: live equals desired after every apply, no duplicate, no lost update or rotation, every next plan empty"
                : "SOAK FAILED")
        if !ok { exit(1) }
    }
}

import Age
import ConcurrencyToolkit
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
        /// WorldPay instead of Authorize.Net: switching it is a replace.
        var worldpay = false

        var secretKeys: (login: String, key: String) {
            worldpay ? ("AccountId", "AccountToken") : ("ApiLoginId", "TransactionKey")
        }
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
                let (login, key) = spec.secretKeys
                let file = "ref+sops://../secrets/org\(organization).enc.yaml#/\(spec.name)"
                manifest += """
                      - name: \(spec.name)
                        type: Payment
                        provider: \(spec.worldpay ? "WorldPay" : "AuthorizeNet")
                        displayName: \(spec.displayName)
                        configuration: { IsSandbox: \(spec.sandbox) }
                        secrets:
                          \(login): \(file)/\(login)
                          \(key): \(file)/\(key)\(spec.worldpay ? "\n      AcceptorId: \(file)/AcceptorId" : "")

                    """
                var values = [
                    SOPSEntry(key: login, value: .scalar(.string(spec.login))),
                    SOPSEntry(key: key, value: .scalar(.string(spec.key))),
                ]
                if spec.worldpay { values.append(SOPSEntry(key: "AcceptorId", value: .scalar(.string("3928907")))) }
                secrets.append(SOPSEntry(key: spec.name, value: .mapping(values)))
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
                let (loginKey, secretKey) = spec.secretKeys
                if digests[secretKey] != Digest.sha256(Array(spec.key.utf8)).hex
                    || digests[loginKey] != Digest.sha256(Array(spec.login.utf8)).hex
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
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.runToExit()
        guard process.terminationStatus == 0 else { throw BenchFailure("\(arguments.joined(separator: " ")) failed") }
    }

    static func run(
        intops: String, emulator: String, iterations: Int, integrations: Int, kills: Int, seed: UInt64,
        backend: String = "local", scenarioRounds: Int = 0
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
        let identity = try X25519Identity.generate()
        let keyFile = root.appendingPathComponent(".intops/key.txt")
        try AgeIdentityFile.render(identity, created: "2026-11-27T00:00:00Z").write(
            to: keyFile, atomically: true, encoding: .utf8)
        chmod(keyFile.path, 0o600)
        let fingerprint = SOPSValue.mapping([
            SOPSEntry(key: "key", value: .scalar(.string(try SecureRandom.bytes(32).hex)))
        ])
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

        /// What each plan that should have been empty, and each apply that failed without being killed, said
        /// (printed at the end, to find the cause).
        var unexpectedPlans: [String] = []
        func runIntops(
            _ arguments: [String], killAfter: Double? = nil, stderr: URL? = nil, signal: Int32 = SIGKILL
        ) throws -> (Int32, Double) {
            let process = SpawnedProcess()
            process.executableURL = URL(fileURLWithPath: intops)
            process.arguments = arguments
            process.currentDirectoryURL = root
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = FileHandle.nullDevice
            let isCheck =
                (arguments.first == "plan" && arguments.contains("--detailed-exitcode"))
                || (arguments.first == "apply" && killAfter == nil && stderr == nil)
            let transcript = root.appendingPathComponent("../soak-transcript.txt").standardizedFileURL
            var handles: [FileHandle] = []
            defer { for handle in handles { try? handle.close() } }
            if isCheck {
                // One handle each: a FileHandle given as both stdout and stderr is closed twice.
                for (stream, suffix) in [(1, ".out"), (2, ".err")] {
                    let path = transcript.path + suffix
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    handles.append(handle)
                    if stream == 1 { process.standardOutput = handle } else { process.standardError = handle }
                }
            } else if let stderr {
                _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
                let handle = try FileHandle(forWritingTo: stderr)
                handles.append(handle)
                process.standardError = handle
            } else {
                process.standardError = FileHandle.nullDevice
            }
            let start = ContinuousClock.now
            try process.runToExit(killAfter: killAfter, signal: signal)
            if isCheck, process.terminationStatus != 0 {
                let text = [".out", ".err"].map {
                    (try? String(contentsOfFile: transcript.path + $0, encoding: .utf8)) ?? ""
                }.joined()
                unexpectedPlans.append(text.split(separator: "\n").prefix(12).joined(separator: "\n"))
            }
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
        // The scenarios edit the local state file by hand; the remote backends run the soak above only.
        let scenarios = try await hardeningScenarios(
            rounds: backend == "local" ? scenarioRounds : 0, world: &world, root: root, identity: identity,
            client: client, base: URL(string: server.baseURL)!, random: &random,
            runIntops: { arguments, kill, signal in try runIntops(arguments, killAfter: kill, signal: signal).0 })
        print("")
        for (index, plan) in unexpectedPlans.enumerated() { print("unexpected outcome \(index + 1):\n\(plan)\n") }
        let ok = failures == 0 && invalidStates == 0 && problems.isEmpty && planStatus == 0 && status == 0 && scenarios
        print(
            ok
                ? "soak passed: live equals desired after every apply, no duplicate, no lost update or rotation, every next plan empty"
                : "SOAK FAILED")
        if !ok { exit(1) }
    }

    /// One row of the scenario table.
    struct ScenarioResult {
        var rounds = 0
        var duplicates = 0
        var stuck = 0
        var takeovers = 0
        var changedWithoutState = 0
        var extraApplies = 0
    }

    /// The fault scenarios of the hardening trials, `rounds` each: replaces interrupted at random moments, foreign
    /// integrations appearing under planned names, connection tests lost after creates, and a state that cannot be
    /// written. After each round: no duplicate, nothing stuck, the next plan empty after at most one more apply.
    static func hardeningScenarios(
        rounds: Int, world: inout World, root: URL, identity: X25519Identity, client: IntegrationsClient, base: URL,
        random: inout SeededRandom,
        runIntops: (_ arguments: [String], _ killAfter: Double?, _ signal: Int32) throws -> Int32
    ) async throws -> Bool {
        guard rounds > 0 else { return true }
        let apply = ["apply", "--auto-approve", "--prune", "--allow-replace", "--quiet"]
        func run(_ arguments: [String], killAfter: Double? = nil, signal: Int32 = SIGKILL) throws -> Int32 {
            try runIntops(arguments, killAfter, signal)
        }
        /// Applies until the plan is empty (at most twice); counts what the round left wrong.
        func settle(_ result: inout ScenarioResult) async throws {
            var status = try run(apply)
            if status != 0 {
                result.extraApplies += 1
                status = try run(apply)
            }
            let problems = try await verify(world, client: client, base: base)
            result.duplicates +=
                problems.filter { $0.contains("duplicate") || $0.contains("live integrations for") }.count
            let plan = try run(["plan", "--detailed-exitcode", "--prune", "--allow-replace"])
            if status != 0 || plan != 0 || !problems.isEmpty { result.stuck += 1 }
        }
        func changes() async throws -> Int {
            let response = try await client.transport.send(HTTPRequest(method: "GET", path: "/_emulator/stats"))
            let counts =
                (try JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["requests"] as? [String: Int]
                ?? [:]
            return counts.filter { !$0.key.hasPrefix("GET") }.values.reduce(0, +)
        }
        var table: [(String, ScenarioResult)] = []

        // Replaces stopped at a random moment, by SIGKILL or SIGTERM.
        var replaces = ScenarioResult()
        for round in 0..<rounds {
            for _ in 0..<3 {
                let index = Int(random.next() % UInt64(world.specs.count))
                world.specs[index].worldpay.toggle()
            }
            try write(world, root: root, identity: identity)
            let moment = 0.2 + Double(random.next() % 1200) / 1000
            _ = try run(apply, killAfter: moment, signal: round % 2 == 0 ? SIGKILL : SIGTERM)
            replaces.rounds += 1
            try await settle(&replaces)
        }
        table.append(("replaces interrupted at random steps", replaces))

        // A saved plan creates an integration; someone else creates one under its name first.
        var foreign = ScenarioResult()
        for _ in 0..<rounds {
            world.serial += 1
            let name = "f\(world.serial)"
            let organization = Int(random.next() % UInt64(organizations))
            world.specs.append(
                Spec(
                    organization: organization, name: name, displayName: "Gateway \(name)", sandbox: true,
                    login: "login-\(name)", key: "key-\(name)"))
            try write(world, root: root, identity: identity)
            _ = try run(["plan", "--out", "soak.plan", "--prune", "--allow-replace", "--quiet"])
            let theirs = try await client.create(
                organization: "org\(organization)",
                CreateIntegrationRequest(
                    integrationType: .payment, provider: "AuthorizeNet", displayName: "Gateway \(name)",
                    configuration: ["IsSandbox": "false"],
                    secrets: ["ApiLoginId": "theirs-\(name)", "TransactionKey": "theirs-\(name)"])
            ).integration.integrationId
            let before = try await client.transport.send(
                HTTPRequest(method: "GET", path: "/_emulator/secrets/org\(organization)/\(theirs)")
            ).body
            _ = try run(["apply", "soak.plan", "--quiet"])
            let after = try await client.transport.send(
                HTTPRequest(method: "GET", path: "/_emulator/secrets/org\(organization)/\(theirs)")
            ).body
            if before != after { foreign.takeovers += 1 }
            foreign.rounds += 1
            // Reviewed and applied fresh, the plan adopts it (it has the entry's identity) and converges.
            try await settle(&foreign)
        }
        table.append(("foreign integrations under planned names (saved plans)", foreign))

        // Creates whose connection test is lost: the run is killed right after the creates go out.
        var tests = ScenarioResult()
        for _ in 0..<rounds {
            world.serial += 1
            for extra in 0..<3 {
                let name = "t\(world.serial)-\(extra)"
                world.specs.append(
                    Spec(
                        organization: extra % organizations, name: name, displayName: "Gateway \(name)", sandbox: true,
                        login: "login-\(name)", key: "key-\(name)"))
            }
            try write(world, root: root, identity: identity)
            _ = try run(apply, killAfter: 0.3 + Double(random.next() % 700) / 1000)
            tests.rounds += 1
            try await settle(&tests)
            for organization in 0..<organizations {
                for summary in try await client.list(organization: "org\(organization)")
                where summary.testStatus == .notTested {
                    tests.stuck += 1
                    print("never tested: org\(organization) \(summary.displayName) \(summary.integrationId)")
                }
            }
        }
        table.append(("connection tests lost after creates", tests))

        // A state folder that cannot be written — read-only, or full — while it can still be read: the apply must
        // change nothing it cannot record; the next one converges. (A tmpfs mounted over .intops: root ignores
        // file permissions, but not a read-only or a full file system.)
        let folder = root.appendingPathComponent(".intops")
        let backup = root.appendingPathComponent(".intops-backup")
        func mounted(_ options: String) throws -> Bool {
            try? FileManager.default.removeItem(at: backup)
            try FileManager.default.copyItem(at: folder, to: backup)
            guard (try? shell(["mount", "-t", "tmpfs", "-o", options, "tmpfs", folder.path])) != nil else {
                return false
            }
            for file in try FileManager.default.contentsOfDirectory(atPath: backup.path) {
                try FileManager.default.copyItem(
                    at: backup.appendingPathComponent(file), to: folder.appendingPathComponent(file))
            }
            return true
        }
        func unmounted() throws {
            try shell(["umount", folder.path])
            try FileManager.default.removeItem(at: folder)
            try FileManager.default.moveItem(at: backup, to: folder)
        }
        for (name, readOnly) in [("a read-only state folder", true), ("a full state folder", false)] {
            var result = ScenarioResult()
            for _ in 0..<rounds {
                world.mutate()
                try write(world, root: root, identity: identity)
                guard try mounted("size=4m") else { break }
                if readOnly {
                    try shell(["mount", "-o", "remount,ro", folder.path])
                } else {
                    // Fill what is left, so that no new copy of the state fits.
                    let filler = folder.appendingPathComponent("filler")
                    _ = FileManager.default.createFile(atPath: filler.path, contents: nil)
                    let handle = try FileHandle(forWritingTo: filler)
                    let block = Data(count: 4096)
                    while (try? handle.write(contentsOf: block)) != nil {}
                    try? handle.close()
                }
                let before = try await changes()
                _ = try run(apply)
                if try await changes() != before { result.changedWithoutState += 1 }
                try unmounted()
                result.rounds += 1
                try await settle(&result)
            }
            table.append((result.rounds == 0 ? name + " (skipped: cannot mount a tmpfs here)" : name, result))
        }

        print("")
        print("| scenario | rounds | duplicates | stuck projects | takeovers | changes without state | extra applies |")
        print("|---|---|---|---|---|---|---|")
        for (name, result) in table {
            print(
                "| \(name) | \(result.rounds) | \(result.duplicates) | \(result.stuck) | \(result.takeovers) | \(result.changedWithoutState) | \(result.extraApplies) |"
            )
        }
        return table.allSatisfy {
            $0.1.duplicates == 0 && $0.1.stuck == 0 && $0.1.takeovers == 0 && $0.1.changedWithoutState == 0
        }
    }
}

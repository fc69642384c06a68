import CYAML
import ConcurrencyToolkit
import Dispatch
import Foundation

// intops-bench: synthetic projects of any size, and timings reported as ratios against a lower bound.
//
//   intops-bench generate --integrations N --files F --out DIR
//   intops-bench validate --integrations N --files F [--runs R]
//   intops-bench bad-inputs DIR [--runs R]
//   intops-bench emulator-throughput [--connections 32] [--requests 2000] [--runs 5]
//   intops-bench sops-decrypt [--files 1000] [--values 10] [--peer-sample 100] [--runs 5]
//   intops-bench reconcile [--integrations 2000] [--organizations 10] [--latency-ms 20] [--parallelism 32]
//   intops-bench state-backend [--integrations 480] [--organizations 4] [--latency-ms 20] [--runs 9]
//   intops-bench pacing [--latency-ms 20]
//   intops-bench scale [--integrations 100000] [--organizations 10] [--runs 3]
//   intops-bench shards [--organizations 20] [--per-organization 200] [--latency-ms 20] [--rate-limit 1000]
//   intops-bench soak [--iterations 20] [--integrations 300] [--kills 20] [--seed 42] [--backend local|s3|git]
//                     [--scenario-rounds 20]
//   intops-bench fuzz --target yaml|manifest|sops|age [--seconds 600] [--seed 1]   (from the package root)
//   intops-bench client-parallel [--count 2000] [--parallelism 32] [--latency-ms 20] [--runs 5]
//
// Wall-clock figures come from running the release `intops` binary as a user would (process start included).

struct Options {
    var values: [String: String] = [:]
    var positionals: [String] = []

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument.hasPrefix("--") {
                values[String(argument.dropFirst(2))] = iterator.next() ?? ""
            } else {
                positionals.append(argument)
            }
        }
    }

    func int(_ name: String, _ fallback: Int) -> Int { values[name].flatMap(Int.init) ?? fallback }
    func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }
}

enum Synthetic {
    struct Provider {
        var type: String
        var name: String
        var configuration: [String]
        var secrets: [String]
    }

    static let providers: [Provider] = [
        Provider(
            type: "Payment", name: "AuthorizeNet", configuration: ["IsSandbox: true"],
            secrets: ["ApiLoginId", "TransactionKey"]),
        Provider(
            type: "Payment", name: "WorldPay", configuration: ["IsSandbox: false", "MarketCode: ECommerce"],
            secrets: ["AccountId", "AccountToken", "AcceptorId"]),
        Provider(
            type: "Email", name: "SendGrid", configuration: ["FromAddress: shop@example.com", "TimeoutSeconds: 20"],
            secrets: ["ApiKey"]),
        Provider(
            type: "Sms", name: "Twilio", configuration: ["FromNumber: \"+15005550006\"", "Environment: sandbox"],
            secrets: ["AccountSid", "AuthToken"]),
        Provider(
            type: "Shipping", name: "ShipStation",
            configuration: ["DefaultCarrier: ups", "WebhookUrl: https://hooks.example.com/ship"],
            secrets: ["ApiKey", "ApiSecret"]),
        Provider(
            type: "Analytics", name: "GoogleAnalytics", configuration: ["MeasurementId: G-BENCH0001"],
            secrets: ["ApiSecret"]),
        Provider(type: "Crm", name: "HubSpot", configuration: ["SyncIntervalMinutes: 30"], secrets: ["AccessToken"]),
        Provider(type: "Inventory", name: "Cin7", configuration: ["AccountId: acct-1"], secrets: ["ApplicationKey"]),
        Provider(type: "Accounting", name: "QuickBooks", configuration: [], secrets: []),
    ]

    /// Writes a project with `integrations` integrations spread over `files` manifest files and one
    /// organization per ten files; each manifest has a secrets file beside it holding its keys.
    static func generate(integrations: Int, files: Int, into root: URL) throws {
        let manager = FileManager.default
        try? manager.removeItem(at: root)
        for folder in ["integrations", "secrets", ".intops"] {
            try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let organizations = max(1, files / 10)
        var project = """
            apiVersion: intops/v1
            kind: Project
            api:
              url: sandbox:.intops/sandbox.json
            organizations:

            """
        for org in 0..<organizations {
            project += "  org-\(String(format: "%03d", org)):\n    token: ref+env://TOKEN_\(org)\n"
        }
        project += "manifests: [integrations/]\nfingerprintKey: ref+sops://.intops/fingerprint-key.enc.yaml#/key\n"
        try project.write(to: root.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
        // validate reads structure only, but refuses a secrets file without sops metadata as plan does.
        let metadata =
            "sops:\n  mac: ENC[AES256_GCM,data:placeholder,iv:placeholder,tag:placeholder,type:str]\n  version: 3.11.0\n"
        try ("key: ENC[AES256_GCM,data:placeholder,iv:placeholder,tag:placeholder,type:str]\n" + metadata).write(
            to: root.appendingPathComponent(".intops/fingerprint-key.enc.yaml"), atomically: true, encoding: .utf8)

        var next = 0
        for file in 0..<files {
            let count = integrations / files + (file < integrations % files ? 1 : 0)
            let org = String(format: "org-%03d", file % organizations)
            let fileName = String(format: "set-%04d", file)
            var manifest = "apiVersion: intops/v1\nkind: IntegrationSet\norganization: \(org)\nintegrations:\n"
            var secrets = ""
            for _ in 0..<count {
                let provider = providers[next % providers.count]
                let name = "int-\(next)"
                manifest += "  - name: \(name)\n    type: \(provider.type)\n    provider: \(provider.name)\n"
                manifest += "    displayName: Integration \(next)\n"
                if next % 7 == 0 { manifest += "    enabled: false\n" }
                if next % 5 == 0 { manifest += "    rotation: {maxAge: 90d}\n" }
                if !provider.configuration.isEmpty {
                    manifest += "    configuration:\n" + provider.configuration.map { "      \($0)\n" }.joined()
                }
                if !provider.secrets.isEmpty {
                    manifest += "    secrets:\n"
                    secrets += "\(name):\n"
                    for key in provider.secrets {
                        manifest += "      \(key): ref+sops://../secrets/\(fileName).enc.yaml#/\(name)/\(key)\n"
                        secrets +=
                            "  \(key): ENC[AES256_GCM,data:placeholder,iv:placeholder,tag:placeholder,type:str]\n"
                    }
                }
                next += 1
            }
            try manifest.write(
                to: root.appendingPathComponent("integrations/\(fileName).yaml"), atomically: true, encoding: .utf8)
            try (secrets + metadata).write(
                to: root.appendingPathComponent("secrets/\(fileName).enc.yaml"), atomically: true, encoding: .utf8)
        }
    }
}

enum Measure {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Wall time of a command, run `runs` times after one warm-up; returns sorted samples in seconds.
    /// Runs the binary `runs` times after one warm-up run (unless `warmUp` is false) and returns sorted timings.
    static func process(
        _ executable: String, _ arguments: [String], in directory: URL, runs: Int, environment: [String: String]? = nil,
        warmUp: Bool = true
    ) throws -> ([Double], Int32) {
        var samples: [Double] = []
        var status: Int32 = 0
        for run in (warmUp ? 0 : 1)...runs {
            let process = SpawnedProcess()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.currentDirectoryURL = directory
            if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let start = ContinuousClock.now
            try process.runToExit()
            let elapsed = seconds(ContinuousClock.now - start)
            status = process.terminationStatus
            if run > 0 { samples.append(elapsed) }
        }
        return (samples.sorted(), status)
    }

    static func inProcess(runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
        var samples: [Double] = []
        for run in 0...runs {
            let start = ContinuousClock.now
            try body()
            if run > 0 { samples.append(seconds(ContinuousClock.now - start)) }
        }
        return samples.sorted()
    }

    /// One run's standard output and exit status.
    static func output(
        _ executable: String, _ arguments: [String], in directory: URL, environment: [String: String]
    ) throws -> (Data, Int32) {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = Data(pipe.fileHandleForReading.readAllBytes())
        process.waitUntilExit()
        return (data, process.terminationStatus)
    }

    /// One run: its wall time, the peak resident set of the child in kilobytes (wait4's rusage), its exit status.
    static func peak(
        _ executable: String, _ arguments: [String], in directory: URL, environment: [String: String]
    ) throws -> (Double, Int, Int32) {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // env -C changes the folder and execs the program, which keeps the process (and so its rusage).
        let argv = (["/usr/bin/env", "-C", directory.path, executable] + arguments).map { strdup($0) } + [nil]
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let start = ContinuousClock.now
        guard posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp) == 0 else {
            throw BenchFailure("cannot start \(executable)")
        }
        var status: Int32 = 0
        var usage = rusage()
        _ = wait4(pid, &status, 0, &usage)
        let seconds = Self.seconds(ContinuousClock.now - start)
        return (seconds, Int(usage.ru_maxrss), (status >> 8) & 0xFF)
    }

    static func median(_ samples: [Double]) -> Double { samples.isEmpty ? 0 : samples[samples.count / 2] }

    static func ms(_ value: Double) -> String { String(format: "%.1f ms", value * 1000) }
}

/// The least work any validator must do: read every YAML file and run libyaml's parser over it, on one core.
func libyamlScan(_ files: [URL]) throws -> Int {
    var events = 0
    for file in files {
        let data = try Data(contentsOf: file)
        var parser = yaml_parser_t()
        yaml_parser_initialize(&parser)
        defer { yaml_parser_delete(&parser) }
        let bytes = [UInt8](data)
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw NSError(
                        domain: "bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "parse error in \(file.path)"])
                }
                let done = event.type == YAML_STREAM_END_EVENT
                yaml_event_delete(&event)
                events += 1
                if done { break }
            }
        }
    }
    return events
}

func yamlFiles(in root: URL) -> [URL] {
    let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
    var files: [URL] = []
    while let url = enumerator?.nextObject() as? URL { if url.pathExtension == "yaml" { files.append(url) } }
    return files
}

let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
let intops = binDirectory.appendingPathComponent("intops").path
let emulatorBinary = binDirectory.appendingPathComponent("integrations-emulator").path
let arguments = CommandLine.arguments.dropFirst()
guard let command = arguments.first else {
    print("usage: intops-bench generate|validate|bad-inputs|emulator-throughput|client-parallel …")
    exit(64)
}
let options = Options(arguments.dropFirst())

switch command {
case "generate":
    let out = URL(fileURLWithPath: options.values["out"] ?? "bench-project")
    try Synthetic.generate(
        integrations: options.int("integrations", 10_000), files: options.int("files", 100), into: out)
    print("wrote \(out.path)")

case "validate":
    /// Any valid age recipient: validate only compares it with intops.yaml's.
    let benchRecipient = "age1tsjm6nlj0mv4n4nexqgmkf0a7dc3gk3e2zlq0qsne4mmqxmync5qgq5gwa"
    let integrations = options.int("integrations", 10_000)
    let files = options.int("files", 100)
    let runs = options.int("runs", 10)
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bench-\(integrations)-\(files)")
    try Synthetic.generate(integrations: integrations, files: files, into: root)
    defer { try? FileManager.default.removeItem(at: root) }
    let allYAML = yamlFiles(in: root)
    let bytes = try allYAML.reduce(0) { $0 + (try Data(contentsOf: $1)).count }

    let (validate, status) = try Measure.process(intops, ["validate", "--quiet"], in: root, runs: runs)
    guard status == 0 else {
        print("intops validate failed on the synthetic project (exit \(status)); run it in \(root.path)")
        exit(1)
    }
    // The same project with a .sops.yaml of 50 creation rules, the last one matching: validate finds the file
    // upward from each secrets file and matches every rule's path_regex, as sops does when it encrypts.
    let sopsYAML = root.appendingPathComponent(".sops.yaml")
    var rules = "creation_rules:\n"
    for number in 1..<50 { rules += "  - path_regex: ^elsewhere/\(number)/.*\\.ya?ml$\n    age: \(benchRecipient)\n" }
    rules += "  - path_regex: .*\n    age: \(benchRecipient)\n"
    try rules.write(to: sopsYAML, atomically: true, encoding: .utf8)
    let (withRules, rulesStatus) = try Measure.process(intops, ["validate", "--quiet"], in: root, runs: runs)
    try FileManager.default.removeItem(at: sopsYAML)
    guard rulesStatus == 0 else {
        print("intops validate failed with a .sops.yaml (exit \(rulesStatus)); run it in \(root.path)")
        exit(1)
    }
    let (startup, _) = try Measure.process(intops, ["version"], in: root, runs: runs)
    var events = 0
    let scan = try Measure.inProcess(runs: runs) { events = try libyamlScan(allYAML) }
    let python = "import yaml,sys\nfor p in sys.argv[1:]:\n  list(yaml.load_all(open(p), Loader=yaml.CSafeLoader))"
    let (peer, peerStatus) = try Measure.process(
        "/usr/bin/env", ["python3", "-c", python] + allYAML.map(\.path), in: root, runs: max(3, runs / 2))

    let lowerBound = Measure.median(scan) + Measure.median(startup)
    print(
        "validate: \(integrations) integrations in \(files) files (+\(files) secrets files, \(bytes / 1024) KiB of YAML, \(events) libyaml events), \(runs) runs after a warm-up, \(ProcessInfo.processInfo.activeProcessorCount) cores"
    )
    print("")
    print("| measurement | median | min | max |")
    print("|---|---|---|---|")
    print(
        "| `intops validate` (whole process) | \(Measure.ms(Measure.median(validate))) | \(Measure.ms(validate.first ?? 0)) | \(Measure.ms(validate.last ?? 0)) |"
    )
    print(
        "| `intops validate` with a `.sops.yaml` of 50 creation rules | \(Measure.ms(Measure.median(withRules))) | \(Measure.ms(withRules.first ?? 0)) | \(Measure.ms(withRules.last ?? 0)) |"
    )
    print(
        "| lower bound: `intops version` (process start) | \(Measure.ms(Measure.median(startup))) | \(Measure.ms(startup.first ?? 0)) | \(Measure.ms(startup.last ?? 0)) |"
    )
    print(
        "| lower bound: libyaml parse of every file, one core, in process | \(Measure.ms(Measure.median(scan))) | \(Measure.ms(scan.first ?? 0)) | \(Measure.ms(scan.last ?? 0)) |"
    )
    if peerStatus == 0 {
        print(
            "| peer: PyYAML CSafeLoader load of every file (no validation) | \(Measure.ms(Measure.median(peer))) | \(Measure.ms(peer.first ?? 0)) | \(Measure.ms(peer.last ?? 0)) |"
        )
    }
    print("")
    print(String(format: "ratio to lower bound (start + libyaml parse): %.2f×", Measure.median(validate) / lowerBound))
    if peerStatus == 0 {
        print(
            String(
                format: "ratio to peer (PyYAML with libyaml, parsing only): %.2f×",
                Measure.median(validate) / Measure.median(peer)))
    }
    print(
        String(
            format: "a .sops.yaml of 50 rules: %+.1f ms (%.2f× validate without one)",
            (Measure.median(withRules) - Measure.median(validate)) * 1000,
            Measure.median(withRules) / Measure.median(validate)))
    print(Measure.median(validate) < 1.0 ? "target met: median under 1 s" : "TARGET MISSED: median is 1 s or more")

case "bad-inputs":
    guard let corpus = options.positionals.first else {
        print("usage: intops-bench bad-inputs DIR")
        exit(64)
    }
    let runs = options.int("runs", 3)
    let names = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted()
    var slowest: (String, Double) = ("", 0)
    for name in names {
        // A private copy, so that no intops.yaml above the corpus can be found by the missing-project case.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bad-\(name)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: corpus).appendingPathComponent(name), to: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let extra =
            (try? String(contentsOf: directory.appendingPathComponent("args"), encoding: .utf8)).map {
                $0.split(whereSeparator: \.isWhitespace).map(String.init)
            } ?? []
        let (samples, status) = try Measure.process(intops, ["validate"] + extra, in: directory, runs: runs)
        guard status == 1 else {
            print("\(name): expected exit 1, got \(status)")
            exit(1)
        }
        if let worst = samples.last, worst > slowest.1 { slowest = (name, worst) }
    }
    print("bad inputs: \(names.count) cases, each exits 1; slowest run: \(slowest.0) in \(Measure.ms(slowest.1))")
    print(slowest.1 < 1.0 ? "target met: every case under 1 s" : "TARGET MISSED: a case took 1 s or more")

case "emulator-throughput":
    try APIBenchmarks.throughput(
        emulator: emulatorBinary, connections: options.int("connections", 32),
        requestsPerConnection: options.int("requests", 2000), runs: options.int("runs", 5))

case "sops-decrypt":
    try SOPSBenchmark.run(
        files: options.int("files", 1000), values: options.int("values", 10),
        peerSample: options.int("peer-sample", 100), runs: options.int("runs", 5))

case "reconcile":
    try ReconcileBenchmark.run(
        intops: intops, emulator: emulatorBinary, integrations: options.int("integrations", 2000),
        organizations: options.int("organizations", 10), latency: options.int("latency-ms", 20),
        parallelism: options.int("parallelism", 32))

case "scale":
    try ScaleBenchmark.plan(
        intops: intops, integrations: options.int("integrations", 100_000),
        organizations: options.int("organizations", 10), runs: options.int("runs", 3))

case "shards":
    try ScaleBenchmark.shards(
        intops: intops, emulator: emulatorBinary, organizations: options.int("organizations", 20),
        perOrganization: options.int("per-organization", 200), latency: options.int("latency-ms", 20),
        rateLimit: options.int("rate-limit", 1000))

case "pacing": try PacingBenchmark.run(intops: intops, emulator: emulatorBinary, latency: options.int("latency-ms", 20))

case "state-backend":
    try StateBackendBenchmark.run(
        intops: intops, emulator: emulatorBinary, integrations: options.int("integrations", 480),
        organizations: options.int("organizations", 4), latency: options.int("latency-ms", 20),
        runs: options.int("runs", 9))

case "soak":
    let semaphore = DispatchSemaphore(value: 0)
    let failure = FailureBox()
    let (iterations, integrations, kills) = (
        options.int("iterations", 20), options.int("integrations", 300), options.int("kills", 20)
    )
    let seed = UInt64(options.int("seed", 42))
    let backend = options.string("backend", "local")
    let scenarioRounds = options.int("scenario-rounds", 0)
    // Detached: top-level code runs on the main actor, which the semaphore below holds.
    Task.detached {
        do {
            try await SoakBenchmark.run(
                intops: intops, emulator: emulatorBinary, iterations: iterations, integrations: integrations,
                kills: kills, seed: seed, backend: backend, scenarioRounds: scenarioRounds)
        } catch { failure.set("\(error)") }
        semaphore.signal()
    }
    semaphore.wait()
    if let message = failure.message {
        print("soak failed: \(message)")
        exit(1)
    }

case "fuzz":
    let semaphore = DispatchSemaphore(value: 0)
    let failure = FailureBox()
    let target = options.values["target"] ?? "yaml"
    let seconds = Double(options.values["seconds"] ?? "60") ?? 60
    let seed = UInt64(options.int("seed", 1))
    let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    Task.detached {
        do { try await FuzzHarness.run(target: target, seconds: seconds, seed: seed, root: root) } catch {
            failure.set("\(error)")
        }
        semaphore.signal()
    }
    semaphore.wait()
    if let message = failure.message {
        print("fuzz failed: \(message)")
        exit(1)
    }

case "reconcile-project":
    // Writes the reconcile benchmark's project for a server already running, for profiling by hand.
    let environment = try ReconcileBenchmark.generate(
        root: URL(fileURLWithPath: options.values["out"] ?? "bench-reconcile"),
        baseURL: options.values["url"] ?? "http://127.0.0.1:8080", integrations: options.int("integrations", 2000),
        organizations: options.int("organizations", 10), parallelism: options.int("parallelism", 32))
    print(environment.sorted { $0.key < $1.key }.map { "export \($0.key)=\($0.value)" }.joined(separator: "\n"))

case "client-parallel":
    try APIBenchmarks.clientParallel(
        emulator: emulatorBinary, count: options.int("count", 2000), parallelism: options.int("parallelism", 32),
        latencyMilliseconds: options.int("latency-ms", 20), runs: options.int("runs", 5))

default:
    print("unknown command \(command)")
    exit(64)
}

final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?
    func set(_ value: String) { lock.withLock { text = value } }
    var message: String? { lock.withLock { text } }
}

extension SpawnedProcess {
    /// Starts the process and returns when it has exited. `waitUntilExit()` on Linux looks every 50 ms, which
    /// added up to 50 ms to every timed run (the reconcile timings came out in steps of 50 ms). With `killAfter`,
    /// a process still running that many seconds after its start is killed with SIGKILL.
    func runToExit(killAfter seconds: Double? = nil, signal: Int32 = SIGKILL) throws {
        let exited = DispatchSemaphore(value: 0)
        terminationHandler = { _ in exited.signal() }
        try run()
        guard let seconds else { return exited.wait() }
        if exited.wait(timeout: .now() + seconds) == .timedOut {
            kill(processIdentifier, signal)
            exited.wait()
        }
    }
}

import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// intops started in the background, its error output collected as it comes, so a test can wait for a moment
/// (polling with a deadline) and then signal it.
final class RunningIntops: @unchecked Sendable {
    let process = SpawnedProcess()
    private let lock = NSLock()
    private var errorText = ""
    private var outputText = ""

    init(_ arguments: [String], in directory: URL, environment: [String: String]) throws {
        process.executableURL = try TestSupport.executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(
            environment
        ) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.withLock { self?.errorText += text }
        }
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.withLock { self?.outputText += text }
        }
        try process.run()
    }

    var stderr: String { lock.withLock { errorText } }
    var stdout: String { lock.withLock { outputText } }

    /// Polls until `condition` holds (or, with `orExit`, until the process ended on its own).
    func waitFor(_ condition: (String) -> Bool, orExit: Bool = false, deadline: Duration = .seconds(60)) async throws {
        let limit = ContinuousClock.now + deadline
        while !condition(stderr) {
            if orExit && !process.isRunning { return }
            guard ContinuousClock.now < limit, process.isRunning else {
                throw TestFailure("the condition was not met; stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func exit(deadline: Duration = .seconds(60)) async throws -> Int32 {
        let limit = ContinuousClock.now + deadline
        while process.isRunning {
            guard ContinuousClock.now < limit else {
                process.terminate()
                throw TestFailure("intops did not exit in time")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }
}

@Suite(.serialized) struct ReliabilityTests {
    /// SIGINT mid-apply: nothing new starts, what is in flight finishes, the state is saved, exit 130; the next
    /// apply finishes the job without duplicates.
    @Test func interruptedApplySavesStateAndTheNextOneConverges() async throws {
        // 800 ms a request, one action at a time: over ten seconds between the first completed action and the last,
        // so the interrupt lands mid-apply even when a loaded machine is slow to read intops's output (400 ms left
        // too little on CI: the interrupt came after the last action had started).
        let project = try await ExampleProject(.http, emulatorArguments: ["--latency", "800ms"])
        let running = try RunningIntops(
            ["--verbose", "apply", "--auto-approve", "--parallelism", "1"], in: project.root,
            environment: project.environment)
        try await running.waitFor { $0.contains(" done") }
        kill(running.process.processIdentifier, SIGINT)
        let status = try await running.exit()
        #expect(status == 130, "\(running.stderr)")
        #expect(running.stderr.contains("interrupted: finishing the steps in flight and saving the state"))
        let stateData = try Data(contentsOf: project.root.appendingPathComponent(".intops/state.json"))
        let state = try #require(try JSONSerialization.jsonObject(with: stateData) as? [String: Any])
        let recorded = (state["integrations"] as? [Any])?.count ?? 0
        #expect(recorded >= 1 && recorded < 8, "the state holds what completed: \(recorded)")

        let again = try await project.intops(["apply", "--auto-approve"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await project.plan().actions.isEmpty)
        let live = try await project.liveCount()
        #expect(live == 8, "no duplicate integration: \(live)")
    }

    /// SIGTERM while the apply is still planning: the handler is already there, so the run ends before any change
    /// with 130 and its lock released, instead of dying with it held.
    @Test func anInterruptWhilePlanningStopsBeforeAnyChange() async throws {
        // 3 s a request: the emulator counts a request when it answers, so the first count (the templates) leaves
        // the whole refresh, 3 s, before any change; 800 ms was too short on a loaded CI machine.
        let project = try await ExampleProject(.http, emulatorArguments: ["--latency", "3s"])
        let running = try RunningIntops(
            ["apply", "--auto-approve", "--parallelism", "1"], in: project.root, environment: project.environment)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await project.requestCount() < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(running.process.processIdentifier, SIGTERM)
        let status = try await running.exit()
        #expect(status == 130, "\(running.stderr)")
        #expect(running.stderr.contains("interrupted: stopping before any change"), "\(running.stderr)")
        #expect(try await project.liveCount() == 0, "nothing was created")
        // A plan waits while the state is locked: with a 1 s wait, it runs only if the lock was released.
        let again = try await project.intops(["plan"], environment: ["INTOPS_LOCK_TIMEOUT": "1"])
        #expect(again.status == 0, "the lock was released: \(again.stderr)")
    }

    /// SIGKILL at several moments of an apply: every state file left behind is valid JSON, and the next apply
    /// converges without duplicates (the long version, 20 kills, is `make soak`).
    @Test func killedApplyLeavesAValidStateAndConverges() async throws {
        let project = try await ExampleProject(.http, emulatorArguments: ["--latency", "40ms"])
        for moment in [1, 3, 5] {
            let running = try RunningIntops(
                ["--verbose", "apply", "--auto-approve", "--parallelism", "2"], in: project.root,
                environment: project.environment)
            try await running.waitFor({ text in text.components(separatedBy: " done").count > moment }, orExit: true)
            kill(running.process.processIdentifier, SIGKILL)
            _ = try await running.exit()
            if let data = FileManager.default.contents(
                atPath: project.root.appendingPathComponent(".intops/state.json").path)
            {
                #expect((try? JSONSerialization.jsonObject(with: data)) != nil, "the state after a kill is valid JSON")
            }
        }
        let final = try await project.intops(["apply", "--auto-approve"])
        #expect(final.status == 0, "\(final.stderr)")
        #expect(try await project.plan().actions.isEmpty)
        #expect(try await project.liveCount() == 8)
    }

    /// A second apply on the same project waits for the lock, then refuses with a clear message.
    @Test func secondApplyRefusesTheLock() async throws {
        let project = try await ExampleProject(.http, emulatorArguments: ["--latency", "300ms"])
        let first = try RunningIntops(
            ["--verbose", "apply", "--auto-approve", "--parallelism", "1"], in: project.root,
            environment: project.environment)
        try await first.waitFor { $0.contains("+ ") }
        let second = try await project.intops(["apply", "--auto-approve"], environment: ["INTOPS_LOCK_TIMEOUT": "1"])
        #expect(second.status == 1)
        #expect(
            second.stderr.contains("waiting for the state lock, held by run "),
            "it says whom it waits for: \(second.stderr)")
        #expect(second.stderr.contains("is locked by run "), "\(second.stderr)")
        #expect(second.stderr.contains("(apply on "), "the holder's operation and host: \(second.stderr)")
        #expect(second.stderr.contains("intops state unlock "), "\(second.stderr)")
        kill(first.process.processIdentifier, SIGTERM)
        #expect(try await first.exit() == 130)
    }

    /// 401 and 403 give one clear line per organization and no retry storm; tokens never show.
    @Test func authenticationFailuresAreClearAndNotRetried() async throws {
        let project = try await ExampleProject(.http)
        let result = try await project.intops(["plan"], environment: ["INTOPS_TOKEN_ACME_US": "wrong-token-canary"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("(organization acme-us) failed with 401 Unauthorized"), "\(result.stderr)")
        #expect(result.stderr.contains("check the organization's API token"))
        #expect(!result.stderr.contains("wrong-token-canary") && !result.stdout.contains("wrong-token-canary"))
        // The templates and the list of each organization, once each (the other organization is still planned).
        let requests = try await project.requestCount()
        #expect(requests <= 4, "no retry storm: \(requests)")
    }

    @Test func plainHTTPToANonLoopbackHostIsRefusedBeforeAnyRequest() async throws {
        let project = try await ExampleProject(.sandbox)
        try project.edit("intops.yaml") {
            $0.replacingOccurrences(
                of: "url: sandbox:.intops/sandbox.json", with: "url: http://api.achievemomentum.com")
        }
        let result = try await project.intops(
            ["plan"], environment: ["INTOPS_TOKEN_ACME_US": "t", "INTOPS_TOKEN_GLOBEX_EU": "t"])
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "intops.yaml:9:8: error: api.url uses http:// to a host that is not loopback; credentials need https://\n",
            "\(result.stderr)")
    }
}

extension ExampleProject {
    /// Integrations live in both organizations, as the emulator counts them.
    func liveCount() async throws -> Int {
        let transport = try URLSessionTransport(baseURL: emulator!.baseURL)
        let client = IntegrationsClient(
            transport: transport, credentials: ["acme-us": .bearer("token-acme"), "globex-eu": .bearer("token-globex")])
        return try await client.list(organization: "acme-us").count + client.list(organization: "globex-eu").count
    }

    func requestCount() async throws -> Int {
        let transport = try URLSessionTransport(baseURL: emulator!.baseURL)
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/_emulator/stats"))
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        return object?["total"] as? Int ?? -1
    }
}

/// A rotation whose connection test fails is rolled back to the values of the last successful apply, read from git.
@Suite struct RollbackTests {
    func git(_ arguments: [String], in directory: URL) async throws {
        let result = try await Subprocess.run(
            ["git", "-C", directory.path] + arguments,
            environment: [
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com",
            ])
        #expect(result.status == 0, "git \(arguments): \(result.stderrText)")
    }

    @Test func failedRotationRollsBackFromGit() async throws {
        let project = try await ExampleProject(.http)
        try await git(["init", "-q"], in: project.root)
        try await git(["add", "-A"], in: project.root)
        try await git(["commit", "-q", "-m", "initial"], in: project.root)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let state = try String(contentsOf: project.root.appendingPathComponent(".intops/state.json"), encoding: .utf8)
        #expect(state.contains("\"revision\" : \""), "a clean, successful apply records the revision")

        // A bad credential is committed and applied: its rotation test fails and is rolled back.
        _ = try await project.intops(
            ["secrets", "edit", "secrets/globex.enc.yaml"],
            environment: ["EDITOR": "sed -i s/SG.demo-globex-key/invalid-new-key/"])
        try await git(["commit", "-q", "-am", "bad key"], in: project.root)
        let apply = try await project.intops(["apply", "--auto-approve", "--rollback-on-test-failure"])
        #expect(apply.status == 1)
        #expect(
            apply.stderr.contains(
                "globex-eu/eu-newsletter: rotate failed: the connection test after rotating ApiKey failed"),
            "\(apply.stderr)")
        #expect(apply.stderr.contains("rolled ApiKey back to their values at"), "\(apply.stderr)")
        #expect(apply.stderr.contains("the connection test then passed"), "\(apply.stderr)")
        #expect(!apply.stderr.contains("invalid-new-key") && !apply.stdout.contains("invalid-new-key"))

        // The emulator holds the previous value again.
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        let client = IntegrationsClient(transport: transport, credentials: ["globex-eu": .bearer("token-globex")])
        let newsletter = try #require(
            try await client.list(organization: "globex-eu").first { $0.displayName == "Newsletter" })
        let digests = try await transport.send(
            HTTPRequest(method: "GET", path: "/_emulator/secrets/globex-eu/\(newsletter.integrationId)"))
        #expect(String(decoding: digests.body, as: UTF8.self).contains(sha256Hex("SG.demo-globex-key")))
    }
}

func sha256Hex(_ text: String) -> String { Digest.sha256(Array(text.utf8)).hex }

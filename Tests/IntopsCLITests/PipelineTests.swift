import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where a simulated pipeline keeps the state between its jobs.
enum PipelineBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, s3, git
    var testDescription: String { rawValue }
}

/// A CI pipeline on one machine: the project in a bare git remote, every job a fresh clone of it with nothing
/// carried over but what the pipeline itself carries (an artifact, the remote state), the API served by the HTTP
/// emulator, and for the s3 backend a real S3-protocol server.
final class SimulatedPipeline: @unchecked Sendable {
    let workspace: URL
    let remote: URL
    let emulator: EmulatorProcess
    let moto: MotoServer?
    let environment: [String: String]
    private var jobs = 0

    init(_ backend: PipelineBackend, emulatorArguments: [String] = []) async throws {
        workspace = try TestSupport.temporaryDirectory()
        remote = workspace.appendingPathComponent("project.git")
        emulator = try await EmulatorProcess.start(
            ["--org", "acme-us=token-acme", "--org", "globex-eu=token-globex"] + emulatorArguments)
        let identity = try String(
            contentsOf: TestSupport.examples.appendingPathComponent(".intops/demo-age-key.txt"), encoding: .utf8)
        var environment = [
            // What a CI job has: the identity and the tokens as secret variables, a home of its own, no git identity.
            "SOPS_AGE_KEY": identity, "INTOPS_TOKEN_ACME_US": "token-acme", "INTOPS_TOKEN_GLOBEX_EU": "token-globex",
            "HOME": workspace.path, "XDG_CONFIG_HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "NO_COLOR": "1",
        ]
        var state: String
        switch backend {
        case .local:
            moto = nil
            state = ".intops/state.json"
        case .s3:
            let server = try await MotoServer.start()
            moto = server
            let bucket = try await Subprocess.run([
                "curl", "-fsS", "-X", "PUT", "\(server.endpoint.absoluteString)/intops-pipeline",
            ])
            guard bucket.status == 0 else { throw TestFailure("cannot create the bucket: \(bucket.stderrText)") }
            environment["AWS_ACCESS_KEY_ID"] = "AKIDPIPELINE"
            environment["AWS_SECRET_ACCESS_KEY"] = "pipeline-secret-key"
            environment["AWS_REGION"] = "eu-west-1"
            state =
                "\n  backend: s3\n  bucket: intops-pipeline\n  key: intops/state-{org}.json\n  endpoint: \(server.endpoint.absoluteString)"
        case .git:
            moto = nil
            state = "\n  backend: git\n  path: state-{org}.json"
        }
        self.environment = environment

        // The team's repository: the examples, pointed at the emulator and the backend, without the demo identity.
        let seed = workspace.appendingPathComponent("seed")
        try FileManager.default.copyItem(at: TestSupport.examples, to: seed)
        for name in ["sandbox.json", "sandbox.json.key", "state.json", "templates.json", "demo-age-key.txt"] {
            try? FileManager.default.removeItem(at: seed.appendingPathComponent(".intops/\(name)"))
        }
        let projectFile = seed.appendingPathComponent("intops.yaml")
        let text = try String(contentsOf: projectFile, encoding: .utf8).replacingOccurrences(
            of: "url: sandbox:.intops/sandbox.json", with: "url: \(emulator.baseURL.absoluteString)"
        ).replacingOccurrences(of: "state: .intops/state.json", with: "state: \(state)")
        try text.write(to: projectFile, atomically: true, encoding: .utf8)
        try await git(["init", "-q", "--bare", "-b", "main", remote.path], in: workspace)
        try await git(["init", "-q", "-b", "main"], in: seed)
        try await git(["add", "-A"], in: seed)
        try await git(
            ["-c", "user.name=Team", "-c", "user.email=team@example.com", "commit", "-q", "-m", "the project"], in: seed
        )
        try await git(["push", "-q", remote.path, "main"], in: seed)
    }

    deinit {
        emulator.stop()
        try? FileManager.default.removeItem(at: workspace)
    }

    func stop() async { await moto?.stop() }

    @discardableResult func git(_ arguments: [String], in directory: URL) async throws -> ProcessOutput {
        let result = try await Subprocess.run(["git"] + arguments, environment: environment, directory: directory)
        guard result.status == 0 else {
            throw TestFailure("git \(arguments.joined(separator: " ")): \(result.stderrText)")
        }
        return result
    }

    /// A new job: a fresh shallow clone of the project, as CI checks it out.
    func job() async throws -> URL {
        jobs += 1
        let checkout = workspace.appendingPathComponent("job-\(jobs)")
        try await git(["clone", "-q", "--depth", "1", "file://\(remote.path)", checkout.path], in: workspace)
        return checkout
    }

    func intops(_ arguments: [String], in job: URL, environment extra: [String: String] = [:]) async throws -> RunResult
    {
        try await TestSupport.runProcess(
            arguments, in: job, environment: environment.merging(extra) { $1 }, timeout: .seconds(120))
    }

    /// Requests the emulator counted since the last reset, by route.
    func requests() async throws -> [String: Int] {
        let (data, _) = try await URLSession.shared.data(
            from: emulator.baseURL.appendingPathComponent("_emulator/stats"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (object?["requests"] as? [String: Int]) ?? [:]
    }

    func resetRequests() async throws {
        var request = URLRequest(url: emulator.baseURL.appendingPathComponent("_emulator/reset"))
        request.httpMethod = "POST"
        _ = try await URLSession.shared.data(for: request)
    }

    /// Requests that change something live (every method but GET), by route.
    func changingRequests() async throws -> [String: Int] { try await requests().filter { !$0.key.hasPrefix("GET ") } }

    /// The live integrations' display names in one organization.
    func liveNames(_ organization: String, token: String) async throws -> [String] {
        var request = URLRequest(
            url: emulator.baseURL.appendingPathComponent("api/organizations/\(organization)/integrations"))
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        let object = try JSONSerialization.jsonObject(with: data)
        let list =
            (object as? [[String: Any]]) ?? ((object as? [String: Any])?["integrations"] as? [[String: Any]]) ?? []
        return list.compactMap { $0["displayName"] as? String }.sorted()
    }
}

/// The pipeline path end to end (`make pipeline-test`): pull request, merge, next run, schedule — each a fresh clone.
/// The suites that start a pipeline's worth of processes (emulators, moto, git, dozens of intops runs) take turns:
/// on two cores, all of them at once starve the timing-sensitive tests that run beside them.
@Suite(.serialized) enum SimulatedPipelines {}

extension SimulatedPipelines {
    @Suite(.serialized) struct PipelineTests {
        @Test(arguments: PipelineBackend.allCases) func aPipelineRemembersWhatItDidBetweenJobs(
            _ backend: PipelineBackend
        ) async throws {
            let pipeline = try await SimulatedPipeline(backend)
            let artifacts = pipeline.workspace.appendingPathComponent("artifacts")
            try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)

            // Job 1, the pull request: validate, the plan as markdown for the comment, the saved plan as an artifact.
            let pullRequest = try await pipeline.job()
            let validate = try await pipeline.intops(["validate"], in: pullRequest)
            #expect(validate.status == 0, "validate in CI asks the API for the templates: \(validate.stderr)")
            #expect(validate.stdout.contains("from the API (as organization acme-us)"), "\(validate.stdout)")
            #expect(try await pipeline.requests().values.reduce(0, +) == 1, "one request: the templates")
            let markdown = try await pipeline.intops(["plan", "--format", "markdown"], in: pullRequest)
            #expect(
                markdown.status == 0 && markdown.stdout.contains("8 to create"), "\(markdown.stdout)\(markdown.stderr)")
            let saved = try await pipeline.intops(["plan", "--out", "change.plan"], in: pullRequest)
            #expect(saved.status == 0, "\(saved.stderr)")
            try FileManager.default.copyItem(
                at: pullRequest.appendingPathComponent("change.plan"),
                to: artifacts.appendingPathComponent("change.plan"))
            #expect(try await pipeline.changingRequests().isEmpty, "the pull request job changes nothing")

            // Job 2, the merge: apply the artifact, where there is still no state.
            let merge = try await pipeline.job()
            try FileManager.default.copyItem(
                at: artifacts.appendingPathComponent("change.plan"), to: merge.appendingPathComponent("change.plan"))
            let apply = try await pipeline.intops(["apply", "change.plan"], in: merge)
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
            #expect(apply.stdout.contains("8 created"), "\(apply.stdout)")

            // Job 3, the next pipeline: a plan from a fresh clone.
            try await pipeline.resetRequests()
            let next = try await pipeline.job()
            let plan = try await pipeline.intops(["plan", "--detailed-exitcode"], in: next)
            // Job 4, the schedule: drift from a fresh clone.
            let schedule = try await pipeline.job()
            let drift = try await pipeline.intops(["drift", "--format", "json"], in: schedule)
            #expect(drift.status == 2, "\(drift.stderr)")
            let kinds = Set(
                ((try? JSONSerialization.jsonObject(with: Data(drift.stdout.utf8)) as? [String: Any])?["drift"]
                    as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String })
            #expect(
                try await pipeline.changingRequests().isEmpty,
                "jobs 3 and 4 send no create, update or rotate-secrets request")

            switch backend {
            case .s3, .git:
                #expect(plan.status == 0, "the state carried over: \(plan.stdout)\(plan.stderr)")
                #expect(kinds == ["unauthorized"], "nothing but the OAuth authorization: \(drift.stdout)")
            case .local:
                // A local state does not survive a fresh clone: the run says so in one line instead of re-sending
                // secrets silently, and drift calls the secrets unknown, not changed.
                #expect(plan.status == 2)
                let warnings = plan.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: no state was found") }
                #expect(warnings.count == 1, "\(plan.stderr)")
                #expect(
                    warnings.first?.contains("their secrets, unknown to intops, set again") == true
                        && warnings.first?.contains("docs/ci.md") == true)
                #expect(kinds.contains("secret-unknown") && !kinds.contains("secret-changed"), "\(drift.stdout)")
            }
            await pipeline.stop()
        }

        /// Two merges applying at once share one remote state: one waits for the other's lock, nothing is created twice,
        /// and the plan after both is empty.
        @Test(arguments: [PipelineBackend.s3, .git]) func twoConcurrentAppliesWaitForTheLock(
            _ backend: PipelineBackend
        ) async throws {
            let pipeline = try await SimulatedPipeline(backend, emulatorArguments: ["--latency", "30ms"])
            let first = try await pipeline.job(), second = try await pipeline.job()
            async let one = pipeline.intops(["apply", "--auto-approve"], in: first)
            async let two = pipeline.intops(["apply", "--auto-approve"], in: second)
            let results = try await [one, two]
            #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
            #expect(
                results.contains { $0.stderr.contains("waiting for the state lock, held by run ") },
                "one waited: \(results.map(\.stderr))")
            #expect(
                results.map { $0.stdout.contains("8 created") }.filter { $0 }.count == 1,
                "one created, the other found nothing to do: \(results.map(\.stdout))")
            let acme = try await pipeline.liveNames("acme-us", token: "token-acme")
            #expect(acme.count == Set(acme).count, "no duplicate: \(acme)")
            let after = try await pipeline.intops(["plan", "--detailed-exitcode"], in: try await pipeline.job())
            #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
            await pipeline.stop()
        }
    }
}

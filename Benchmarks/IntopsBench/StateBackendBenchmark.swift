import Foundation

/// What a remote state costs: the requests a plan and an apply make to an S3-protocol server (moto), and the time
/// the backend adds to a no-change plan over the local file.
enum StateBackendBenchmark {
    static func run(
        intops: String, emulator: String, integrations: Int, organizations: Int, latency: Int, runs: Int
    ) throws {
        let tokens = (0..<organizations).map { "org\($0)=token-\($0)" }
        let server = try EmulatorServerProcess(
            emulator, tokens.flatMap { ["--org", $0] } + ["--latency", "\(latency)ms"])
        let moto = try MotoProcess()
        defer { moto.stop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bench-state-\(integrations)")
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        var environment = try ReconcileBenchmark.generate(
            root: root, baseURL: server.baseURL, integrations: integrations, organizations: organizations,
            parallelism: 16)
        environment.merge([
            "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_REGION": "us-east-1",
        ]) { $1 }
        let projectFile = root.appendingPathComponent("intops.yaml")
        let localProject = try String(contentsOf: projectFile, encoding: .utf8)
        let key = "intops/state.json"
        let s3Project = localProject.replacingOccurrences(
            of: "state: .intops/state.json",
            with: "state: { backend: s3, bucket: bench-state, key: \(key), endpoint: \"\(moto.endpoint)\" }")
        try s3Project.write(to: projectFile, atomically: true, encoding: .utf8)
        let object = "/bench-state/\(key)"

        let start = ContinuousClock.now
        let (_, applyStatus) = try Measure.process(
            intops, ["apply", "--auto-approve", "--quiet"], in: root, runs: 1, environment: environment, warmUp: false)
        let applySeconds = Measure.seconds(ContinuousClock.now - start)
        guard applyStatus == 0 else { throw BenchFailure("the apply exited \(applyStatus)") }
        let applyWrites = moto.count("PUT", object)
        // The journal of pending creates before the first request, one write a second while steps complete, the last.
        let writeBound = Int(applySeconds.rounded(.up)) + 2

        let readsBefore = moto.count("GET", object), writesBefore = moto.count("PUT", object)
        let lockReadsBefore = moto.count("GET", object + ".lock"),
            lockWritesBefore = moto.count("PUT", object + ".lock")
        let (_, planStatus) = try Measure.process(
            intops, ["plan", "--detailed-exitcode"], in: root, runs: 1, environment: environment, warmUp: false)
        guard planStatus == 0 else { throw BenchFailure("the plan after the apply exited \(planStatus)") }
        let planReads = moto.count("GET", object) - readsBefore, planWrites = moto.count("PUT", object) - writesBefore
        let planLockReads = moto.count("GET", object + ".lock") - lockReadsBefore
        let planLockWrites = moto.count("PUT", object + ".lock") - lockWritesBefore

        let (s3Samples, _) = try Measure.process(
            intops, ["plan", "--detailed-exitcode"], in: root, runs: runs, environment: environment)
        // The same state as a local file.
        let (pulled, _) = try Measure.output(intops, ["state", "pull"], in: root, environment: environment)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent(".intops"), withIntermediateDirectories: true)
        try pulled.write(to: root.appendingPathComponent(".intops/state.json"))
        try localProject.write(to: projectFile, atomically: true, encoding: .utf8)
        let (localSamples, localStatus) = try Measure.process(
            intops, ["plan", "--detailed-exitcode"], in: root, runs: runs, environment: environment)
        guard localStatus == 0 else {
            throw BenchFailure("the plan with the local copy of the state exited \(localStatus)")
        }
        let s3 = Measure.median(s3Samples.sorted()), local = Measure.median(localSamples.sorted())

        print(
            "state backend: \(integrations) integrations in \(organizations) organizations, integrations-emulator at \(latency) ms latency; the state in moto_server (S3 protocol, loopback) as one object"
        )
        print("")
        print("| run | state reads | state writes | lock reads | lock writes | wall time | target |")
        print("|---|---|---|---|---|---|---|")
        print(
            "| apply, \(integrations) creates | \(readsBefore) | \(applyWrites) | – | – | \(Measure.ms(applySeconds)) | writes ≤ ⌈wall time in s⌉ + 2 = \(writeBound): \(applyWrites <= writeBound ? "met" : "MISSED") |"
        )
        print(
            "| no-change plan | \(planReads) | \(planWrites) | \(planLockReads) | \(planLockWrites) | – | ≤ 1 read, 0 writes: \(planReads <= 1 && planWrites == 0 && planLockWrites == 0 ? "met" : "MISSED") |"
        )
        print("")
        print("| no-change plan, median of \(runs) | local file | s3 backend | added by the backend | goal |")
        print("|---|---|---|---|---|")
        print(
            "| wall time | \(Measure.ms(local)) | \(Measure.ms(s3)) | \(Measure.ms(s3 - local)) | < 50 ms: \(s3 - local < 0.05 ? "met" : "MISSED") |"
        )
    }
}

import ConcurrencyToolkit
import Foundation

/// Large projects and sharded runs: a plan of 100,000 integrations (wall time and peak memory of the process), and
/// one project of many organizations applied by 1, 2, 4 and 8 shards at once against one emulator, each shard with
/// its own organizations' states in an S3 bucket.
enum ScaleBenchmark {
    /// A plan of `integrations` creates against the embedded sandbox: its wall time and its peak resident set.
    static func plan(intops: String, integrations: Int, organizations: Int, runs: Int) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bench-scale-\(integrations)")
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        let environment = try ReconcileBenchmark.generate(
            root: root, baseURL: "sandbox:.intops/sandbox.json", integrations: integrations,
            organizations: organizations, parallelism: nil)
        var samples: [(seconds: Double, kilobytes: Int)] = []
        for format in ["text", "json"] {
            var times: [Double] = []
            var peak = 0
            for _ in 0..<runs {
                let (seconds, kilobytes, status) = try Measure.peak(
                    intops, ["plan", "--format", format], in: root, environment: environment)
                guard status == 2 || status == 0 else {
                    throw BenchFailure("the plan exited \(status) in \(root.path)")
                }
                times.append(seconds)
                peak = max(peak, kilobytes)
            }
            times.sort()
            samples.append((Measure.median(times), peak))
        }
        print(
            "scale: a plan of \(integrations) creates in \(organizations) organizations (sandbox, secrets in \(organizations) SOPS files), median of \(runs) runs"
        )
        print("")
        print("| plan | wall time | peak resident set |")
        print("|---|---|---|")
        for (format, sample) in zip(["text", "json"], samples) {
            print("| --format \(format) | \(Measure.ms(sample.seconds)) | \(sample.kilobytes / 1024) MB |")
        }
        print(
            samples[0].seconds <= 3 && samples[0].kilobytes <= 200 * 1024
                ? "target met: ≤ 3 s and ≤ 200 MB" : "TARGET MISSED: over 3 s or over 200 MB")
        print("")
    }

    /// `organizations` × `perOrganization` creates split over 1, 2, 4 and 8 shards, each an `intops apply --org …`
    /// process of its own, all at once against one emulator and one S3 server.
    static func shards(
        intops: String, emulator: String, organizations: Int, perOrganization: Int, latency: Int, rateLimit: Int
    ) throws {
        print(
            "shards: \(organizations) organizations × \(perOrganization) integrations (each tested after its create), integrations-emulator at \(latency) ms latency limited to \(rateLimit) requests/s in all, states in moto_server (intops/state-{org}.json)"
        )
        print("")
        print("| shards | wall time | requests | answered 429 | speed-up over 1 shard |")
        print("|---|---|---|---|---|")
        var first: Double?
        for shards in [1, 2, 4, 8] {
            let server = try EmulatorServerProcess(
                emulator,
                (0..<organizations).flatMap { ["--org", "org\($0)=token-\($0)"] } + [
                    "--latency", "\(latency)ms", "--rate-limit", "\(rateLimit)",
                ])
            let moto = try MotoProcess(buckets: ["bench-state"])
            defer { moto.stop() }
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bench-shards-\(shards)")
            try? FileManager.default.removeItem(at: root)
            defer { try? FileManager.default.removeItem(at: root) }
            var environment = try ReconcileBenchmark.generate(
                root: root, baseURL: server.baseURL, integrations: organizations * perOrganization,
                organizations: organizations, parallelism: nil)
            environment.merge([
                "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_REGION": "us-east-1",
            ]) { $1 }
            let project = root.appendingPathComponent("intops.yaml")
            try String(contentsOf: project, encoding: .utf8).replacingOccurrences(
                of: "state: .intops/state.json",
                with:
                    "state: { backend: s3, bucket: bench-state, key: \"intops/state-{org}.json\", endpoint: \"\(moto.endpoint)\" }"
            ).write(to: project, atomically: true, encoding: .utf8)

            let start = ContinuousClock.now
            let processes = try (0..<min(shards, organizations)).map { shard -> SpawnedProcess in
                let mine = stride(from: shard, to: organizations, by: shards).flatMap { ["--org", "org\($0)"] }
                let process = SpawnedProcess()
                process.executableURL = URL(fileURLWithPath: intops)
                process.arguments = ["apply", "--auto-approve", "--quiet"] + mine
                process.currentDirectoryURL = root
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                return process
            }
            for process in processes { process.waitUntilExit() }
            let seconds = Measure.seconds(ContinuousClock.now - start)
            if let failed = processes.first(where: { $0.terminationStatus != 0 }) {
                throw BenchFailure("a shard's apply exited \(failed.terminationStatus) in \(root.path)")
            }
            let stats = try PacingBenchmark.Statistics(port: server.port)
            first = first ?? seconds
            print(
                String(
                    format: "| %d | %@ | %d | %d | %.2f× |", shards, Measure.ms(seconds), stats.total, stats.throttled,
                    (first ?? seconds) / seconds))
        }
        print("")
    }
}

import Foundation

/// The adaptive request pacing with default settings: against a server without a limit (the latency bound), one
/// with a fixed rate limit (the limit's bound and the share of 429s), and one whose limit falls and rises while
/// the apply runs (the rate the server accepted, second by second).
enum PacingBenchmark {
    static func run(intops: String, emulator: String, latency: Int) throws {
        let (startSamples, _) = try Measure.process(
            intops, ["version"], in: FileManager.default.temporaryDirectory, runs: 10)
        let processStart = Measure.median(startSamples)
        print("pacing: the release intops binary with default pacing; integrations-emulator at \(latency) ms latency")
        print("process start (`intops version`, median of 10): \(Measure.ms(processStart))")
        print("")

        // 1. No limit on the server: only the latency and the bound in flight.
        do {
            let parallelism = 16
            let bench = try Project(
                intops: intops, emulator: emulator, name: "unlimited", integrations: 480, parallelism: parallelism,
                server: ["--latency", "\(latency)ms"])
            defer { bench.stop() }
            print(
                "| 480 integrations, parallelism \(parallelism), no server limit | wall time | requests | bound ⌈requests/\(parallelism)⌉ × \(latency) ms + process start | ratio |"
            )
            print("|---|---|---|---|---|")
            var worst = 0.0
            for (name, arguments) in [
                ("apply: 480 creates", ["apply", "--auto-approve", "--quiet"]),
                ("plan --refresh full", ["plan", "--refresh", "full", "--detailed-exitcode"]),
            ] {
                let (time, stats) = try bench.timed(arguments)
                let bound =
                    Double((stats.total + parallelism - 1) / parallelism) * Double(latency) / 1000 + processStart
                worst = max(worst, time / bound)
                print(
                    String(
                        format: "| %@ | %@ | %d | %@ | %.2f× |", name, Measure.ms(time), stats.total, Measure.ms(bound),
                        time / bound))
            }
            print(worst <= 1.2 ? "target met: within 1.2× of the bound" : "TARGET MISSED: over 1.2× the bound")
            print("")

            // Requests only where needed: every entry changed, a plan of one of them.
            let manifest = bench.root.appendingPathComponent("integrations/org0.yaml")
            let text = try String(contentsOf: manifest, encoding: .utf8)
            try text.replacingOccurrences(of: "IsSandbox: true", with: "IsSandbox: maybe").replacingOccurrences(
                of: "IsSandbox: false", with: "IsSandbox: true"
            ).replacingOccurrences(of: "IsSandbox: maybe", with: "IsSandbox: false").write(
                to: manifest, atomically: true, encoding: .utf8)
            let (_, all) = try bench.timed(["plan", "--detailed-exitcode"])
            let (_, one) = try bench.timed(["plan", "--target", "gateway-7", "--detailed-exitcode"])
            print("| every one of 480 entries changed | requests |")
            print("|---|---|")
            print("| plan | \(all.total) |")
            print("| plan --target gateway-7 | \(one.total) |")
            print(one.total <= 4 ? "target met: at most 4 requests" : "TARGET MISSED: more than 4 requests")
            print("")
        }

        // 2. A fixed limit of 40 requests per second.
        do {
            let bench = try Project(
                intops: intops, emulator: emulator, name: "limited", integrations: 200, parallelism: nil,
                server: ["--latency", "\(latency)ms", "--rate-limit", "40"])
            defer { bench.stop() }
            let (time, stats) = try bench.timed(["apply", "--auto-approve", "--quiet"])
            let share = Double(stats.throttled) / Double(max(1, stats.total))
            print(
                "| 200 creates, default parallelism, server limit 40 requests/s | wall time | requests | answered 429 | bound 200/40 s | ratio |"
            )
            print("|---|---|---|---|---|---|")
            print(
                String(
                    format: "| apply | %@ | %d | %d (%.1f%%) | 5,000.0 ms | %.2f× |", Measure.ms(time), stats.total,
                    stats.throttled, share * 100, time / 5))
            print(
                time / 5 <= 1.2 && share <= 0.05
                    ? "target met: within 1.2× of 5 s, at most 5% answered 429"
                    : "TARGET MISSED: over 1.2× of 5 s or more than 5% answered 429")
            print("")
        }

        // 3. A limit that falls and rises during the apply.
        do {
            let schedule = "0s=40,5s=15,12s=40"
            let bench = try Project(
                intops: intops, emulator: emulator, name: "schedule", integrations: 600, parallelism: nil,
                server: ["--latency", "\(latency)ms", "--rate-limit-schedule", schedule])
            defer { bench.stop() }
            let samples = Sampler(port: bench.server.port)
            let (time, stats) = try bench.timed(["apply", "--auto-approve", "--quiet"]) { samples.start() }
            let series = samples.stop()
            print(
                "600 creates, default parallelism, server limit \(schedule) (requests/s from the first request): \(Measure.ms(time)), \(stats.total) requests, \(stats.throttled) answered 429"
            )
            print("")
            print("| second | server limit | accepted | answered 429 |")
            print("|---|---|---|---|")
            for (second, accepted, throttled) in series {
                let limit = second < 5 ? 40 : second < 12 ? 15 : 40
                print("| \(second)–\(second + 1) | \(limit) | \(accepted) | \(throttled) |")
            }
            print("")
        }
    }

    /// A generated project against its own emulator.
    final class Project {
        let server: EmulatorServerProcess
        let root: URL
        let intops: String
        let environment: [String: String]

        init(
            intops: String, emulator: String, name: String, integrations: Int, parallelism: Int?, server: [String]
        ) throws {
            self.intops = intops
            self.server = try EmulatorServerProcess(emulator, ["--org", "org0=token-0"] + server)
            root = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bench-pacing-\(name)")
            try? FileManager.default.removeItem(at: root)
            environment = try ReconcileBenchmark.generate(
                root: root, baseURL: self.server.baseURL, integrations: integrations, organizations: 1,
                parallelism: parallelism, untested: true)
        }

        func stop() { try? FileManager.default.removeItem(at: root) }

        func timed(_ arguments: [String], starting: () -> Void = {}) throws -> (Double, Statistics) {
            try reset(port: server.port)
            starting()
            let (samples, status) = try Measure.process(
                intops, arguments, in: root, runs: 1, environment: environment, warmUp: false)
            guard status == 0 || status == 2 else {
                throw BenchFailure("intops \(arguments.joined(separator: " ")) exited \(status) in \(root.path)")
            }
            return (samples[0], try Statistics(port: server.port))
        }
    }

    struct Statistics {
        var total: Int
        var throttled: Int

        init(port: UInt16) throws {
            let body = try LoadConnection(port: port).body(
                Array("GET /_emulator/stats HTTP/1.1\r\nHost: b\r\n\r\n".utf8))
            let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            total = object?["total"] as? Int ?? -1
            throttled = object?["throttled"] as? Int ?? -1
        }
    }

    static func reset(port: UInt16) throws {
        _ = try LoadConnection(port: port).exchange(
            Array("POST /_emulator/reset HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n".utf8))
    }

    /// Reads the emulator's counters every 100 ms on a thread of its own, and sums them by second from the first
    /// request the emulator counted.
    final class Sampler: @unchecked Sendable {
        private let port: UInt16
        private let lock = NSLock()
        private var readings: [(at: ContinuousClock.Instant, total: Int, throttled: Int)] = []
        private var running = false
        private let done = DispatchSemaphore(value: 0)

        init(port: UInt16) { self.port = port }

        func start() {
            running = true
            Thread.detachNewThread { [self] in
                while lock.withLock({ running }) {
                    if let reading = try? Statistics(port: port) {
                        lock.withLock { readings.append((.now, reading.total, reading.throttled)) }
                    }
                    usleep(100_000)
                }
                done.signal()
            }
        }

        func stop() -> [(second: Int, accepted: Int, throttled: Int)] {
            lock.withLock { running = false }
            done.wait()
            let all = lock.withLock { readings }
            guard let first = all.first(where: { $0.total > 0 }) else { return [] }
            var bySecond: [Int: (Int, Int)] = [:]
            var previous = (total: 0, throttled: 0)
            for reading in all where reading.at >= first.at {
                let second = Int(Measure.seconds(reading.at - first.at))
                let accepted = (reading.total - reading.throttled) - (previous.total - previous.throttled)
                let throttled = reading.throttled - previous.throttled
                let sum = bySecond[second] ?? (0, 0)
                bySecond[second] = (sum.0 + accepted, sum.1 + throttled)
                previous = (reading.total, reading.throttled)
            }
            return bySecond.keys.sorted().map { ($0, bySecond[$0]!.0, bySecond[$0]!.1) }
        }
    }
}

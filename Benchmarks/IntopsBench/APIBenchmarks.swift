import ConcurrencyToolkit
import Dispatch
import Foundation
import IntegrationsAPI

#if canImport(Glibc)
import Glibc
#endif

/// `integrations-emulator` started from the same build directory, for the API benchmarks.
final class EmulatorServerProcess {
    let process = SpawnedProcess()
    let baseURL: String
    let port: UInt16

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--listen", "127.0.0.1:0"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(10) {
            let more = out.fileHandleForReading.availableData
            guard !more.isEmpty else { throw BenchFailure("integrations-emulator exited before printing its address") }
            line.append(more)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("listening on http://127.0.0.1:"), let port = UInt16(text.split(separator: ":").last ?? "")
        else { throw BenchFailure("integrations-emulator printed '\(text)'") }
        baseURL = String(text.dropFirst("listening on ".count))
        self.port = port
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A keep-alive HTTP/1.1 connection that sends one request and reads one response at a time: the load generator.
/// Each instance is used by one thread at a time.
final class LoadConnection: @unchecked Sendable {
    let fd: Int32
    private var buffer = [UInt8]()
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    /// The body of the last response.
    private(set) var lastBody: [UInt8] = []

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw BenchFailure("cannot connect to 127.0.0.1:\(port)") }
        var yes: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Sends `request` and returns the response status.
    func exchange(_ request: [UInt8]) -> Int {
        var offset = 0
        while offset < request.count {
            let sent = request.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return 0 }
            offset += sent
        }
        buffer.removeAll(keepingCapacity: true)
        var headEnd = -1
        var contentLength = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return 0 }
            buffer.append(contentsOf: chunk[0..<count])
            if headEnd < 0, let end = Self.headEnd(buffer) {
                headEnd = end
                let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
                if let range = head.range(of: "content-length: ") {
                    contentLength = Int(head[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
            }
            if headEnd >= 0, buffer.count >= headEnd + 4 + contentLength {
                lastBody = Array(buffer[(headEnd + 4)..<(headEnd + 4 + contentLength)])
                return Int(String(decoding: buffer[9..<12], as: UTF8.self)) ?? 0
            }
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}

enum APIBenchmarks {
    static let createBody =
        #"{"integrationType":1,"provider":"AuthorizeNet","displayName":"Main Payment Gateway","configuration":{"IsSandbox":"true"},"secrets":{"ApiLoginId":"id","TransactionKey":"key"}}"#

    static func createRequest() -> [UInt8] {
        Array(
            "POST /api/organizations/org123/integrations HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer TOKEN\r\nContent-Type: application/json\r\nContent-Length: \(createBody.utf8.count)\r\n\r\n\(createBody)"
                .utf8)
    }

    /// Requests per second the HTTP emulator serves over `connections` keep-alive connections, each sending
    /// `GET …/integrations/{id}` back to back.
    static func throughput(emulator executable: String, connections: Int, requestsPerConnection: Int, runs: Int) throws
    {
        let server = try EmulatorServerProcess(executable, ["--org", "org123=TOKEN"])
        let setup = try LoadConnection(port: server.port)
        guard setup.exchange(createRequest()) == 201 else { throw BenchFailure("the setup create failed") }
        let get = Array(
            "GET /api/organizations/org123/integrations/int_100000001 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer TOKEN\r\n\r\n"
                .utf8)

        func round(_ perConnection: Int) throws -> (seconds: Double, failures: Int) {
            let pool = try (0..<connections).map { _ in try LoadConnection(port: server.port) }
            let failures = Failures()
            let start = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: connections) { index in
                let connection = pool[index]
                for _ in 0..<perConnection where connection.exchange(get) != 200 { failures.add() }
            }
            return (Measure.seconds(ContinuousClock.now - start), failures.count)
        }
        _ = try round(max(10, requestsPerConnection / 10))  // warm-up
        var rates: [Double] = []
        for _ in 0..<runs {
            let (seconds, failures) = try round(requestsPerConnection)
            guard failures == 0 else { throw BenchFailure("\(failures) requests failed") }
            rates.append(Double(connections * requestsPerConnection) / seconds)
        }
        rates.sort()
        let median = rates[rates.count / 2]
        print(
            "emulator throughput: \(connections) keep-alive connections × \(requestsPerConnection) `GET …/integrations/{id}` each, \(runs) runs after a warm-up, \(ProcessInfo.processInfo.activeProcessorCount) cores (load generator on the same cores)"
        )
        print("")
        print("| measurement | median | min | max |")
        print("|---|---|---|---|")
        print(String(format: "| requests per second | %.0f | %.0f | %.0f |", median, rates.first!, rates.last!))
        print("")
        print(String(format: "ratio to the 5,000 req/s floor: %.2f×", median / 5000))
        print(median >= 5000 ? "target met: at least 5,000 requests/s" : "TARGET MISSED: under 5,000 requests/s")
    }

    /// The client's `get` calls with `parallelism` in flight against `latency` of server delay, compared with
    /// the lower bound ⌈count/parallelism⌉ × latency.
    static func clientParallel(
        emulator executable: String, count: Int, parallelism: Int, latencyMilliseconds: Int, runs: Int
    ) throws {
        let server = try EmulatorServerProcess(
            executable, ["--org", "org123=TOKEN", "--latency", "\(latencyMilliseconds)ms"])
        let setup = try LoadConnection(port: server.port)
        guard setup.exchange(createRequest()) == 201 else { throw BenchFailure("the setup create failed") }
        let transport = try URLSessionTransport(baseURL: URL(string: server.baseURL)!, maximumConnections: parallelism)
        let client = IntegrationsClient(
            transport: transport, credentials: ["org123": .bearer("TOKEN")],
            policy: ClientPolicy(maxInFlight: parallelism))

        func round(_ requests: Int) -> Double {
            let finished = DispatchSemaphore(value: 0)
            let elapsed = Elapsed()
            Task {
                let start = ContinuousClock.now
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<requests {
                        group.addTask { _ = try? await client.get(organization: "org123", id: "int_100000001") }
                    }
                }
                elapsed.set(Measure.seconds(ContinuousClock.now - start))
                finished.signal()
            }
            finished.wait()
            return elapsed.value
        }
        _ = round(parallelism * 2)  // warm-up: open the connections
        var samples = (0..<runs).map { _ in round(count) }
        samples.sort()
        let median = Measure.median(samples)
        let lowerBound = Double((count + parallelism - 1) / parallelism) * Double(latencyMilliseconds) / 1000
        print(
            "client: \(count) `get` calls, \(parallelism) in flight, \(latencyMilliseconds) ms of emulator latency per request, \(runs) runs after a warm-up"
        )
        print("")
        print("| measurement | median | min | max |")
        print("|---|---|---|---|")
        print(
            "| \(count) GETs through IntegrationsClient over URLSession | \(Measure.ms(median)) | \(Measure.ms(samples.first!)) | \(Measure.ms(samples.last!)) |"
        )
        print("| lower bound ⌈\(count)/\(parallelism)⌉ × \(latencyMilliseconds) ms | \(Measure.ms(lowerBound)) | | |")
        print("")
        print(String(format: "ratio to lower bound: %.2f×", median / lowerBound))
        print(
            median / lowerBound <= 1.3
                ? "target met: within 1.3× of the lower bound" : "TARGET MISSED: more than 1.3× the lower bound")
    }
}

final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

final class Elapsed: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds = 0.0
    func set(_ value: Double) { lock.withLock { seconds = value } }
    var value: Double { lock.withLock { seconds } }
}

/// `moto_server` on a free loopback port with the buckets `soak-state` and `bench-state`, for the state backend's
/// soak and benchmarks; ready once a request answers, polled with a deadline.
final class MotoProcess {
    let process = SpawnedProcess()
    let endpoint: String
    /// moto logs one line per request ("PUT /bucket/key HTTP/1.1" 200): the benchmarks count requests from it.
    let log = FileManager.default.temporaryDirectory.appendingPathComponent(
        "intops-bench-moto-\(UUID().uuidString).log")

    init(buckets: [String] = ["soak-state", "bench-state"]) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        close(descriptor)
        let port = UInt16(bigEndian: address.sin_port)
        endpoint = "http://127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while true {
            let probe = SpawnedProcess()
            probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            probe.arguments = ["curl", "-fsS", "-o", "/dev/null", "-X", "PUT", "\(endpoint)/\(buckets[0])"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            try probe.runToExit()
            if probe.terminationStatus == 0 { break }
            guard process.isRunning, Date() < deadline else {
                throw BenchFailure("moto_server did not start on port \(port)")
            }
            usleep(100_000)
        }
        for bucket in buckets.dropFirst() {
            let create = SpawnedProcess()
            create.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            create.arguments = ["curl", "-fsS", "-o", "/dev/null", "-X", "PUT", "\(endpoint)/\(bucket)"]
            try create.runToExit()
        }
    }

    /// Requests logged so far whose request line starts with `method path` (a key, without the query).
    func count(_ method: String, _ path: String) -> Int {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "\"\(method) \(path) HTTP/1.1\"").count - 1
    }

    /// SIGKILL: a child started from a thread of Swift's pool may have SIGTERM blocked, and moto keeps nothing.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: log)
    }

    deinit { stop() }
}

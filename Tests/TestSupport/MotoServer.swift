import ConcurrencyToolkit
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moto_server`, moto's emulator of AWS (S3 and IAM among others), as a child process on a free loopback port.
///
/// Nothing here knows about S3: the S3 client's tests and the state backend's end-to-end tests both start it.
/// The server is not shared between processes: each test run starts its own and stops it.
public final class MotoServer: @unchecked Sendable {
    /// `http://127.0.0.1:PORT`
    public let endpoint: URL
    public let port: UInt16
    private let process: SpawnedProcess
    private let logFile: URL

    private init(port: UInt16, process: SpawnedProcess, logFile: URL) {
        self.port = port
        endpoint = URL(string: "http://127.0.0.1:\(port)")!
        self.process = process
        self.logFile = logFile
    }

    /// Starts `moto_server` and returns once it accepts connections.
    ///
    /// The port is one the kernel just handed out and took back; another process can take it in between, in
    /// which case moto exits and another port is tried. Readiness is polled, within `deadline`, since moto
    /// imports its service backends before it listens, which takes seconds on a loaded machine: moto must have
    /// logged that it runs on the port — so that a connection accepted by whoever took the port does not count —
    /// and a TCP connection must succeed.
    public static func start(
        environment: [String: String] = [:], deadline: Duration = .seconds(60)
    ) async throws -> MotoServer {
        let executable = try executableURL()
        var lastFailure = ""
        for _ in 1...3 {
            let port = try freePort()
            let logFile = FileManager.default.temporaryDirectory.appendingPathComponent(
                "moto-\(port)-\(UUID().uuidString).log")
            guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
                throw TestFailure("cannot create moto's log file \(logFile.path)")
            }
            let log = try FileHandle(forWritingTo: logFile)
            let process = SpawnedProcess()
            process.executableURL = executable
            process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardInput = FileHandle.nullDevice
            // A file, not a pipe: moto logs every request, and a pipe nobody drains would stall it.
            process.standardOutput = log
            process.standardError = log
            try process.run()
            try? log.close()
            let server = MotoServer(port: port, process: process, logFile: logFile)

            let limit = ContinuousClock.now + deadline
            while ContinuousClock.now < limit, process.isRunning {
                if server.logTail().contains("Running on http://127.0.0.1:\(port)"), canConnect(port: port),
                    process.isRunning
                {
                    return server
                }
                try await Task.sleep(for: .milliseconds(25))
            }
            lastFailure = server.logTail()
            if process.isRunning {
                await server.stop()
                throw TestFailure(
                    "moto_server did not accept connections on port \(port) within \(deadline); its log ends: \(lastFailure)"
                )
            }
            await server.stop()
        }
        throw TestFailure("moto_server exited at start three times; its log ends: \(lastFailure)")
    }

    /// SIGTERM, then SIGKILL if it has not exited within ten seconds; waits for the exit without blocking a
    /// thread of the cooperative pool.
    public func stop() async {
        if process.isRunning {
            process.terminate()
            let limit = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < limit { try? await Task.sleep(for: .milliseconds(10)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
        try? FileManager.default.removeItem(at: logFile)
    }

    /// A deinit cannot wait for a graceful stop, and a child started from a thread of Swift's pool may have
    /// SIGTERM blocked: kill it outright, so that a test that threw never leaves a server behind.
    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// The last lines moto wrote, for a failure message.
    public func logTail(_ characters: Int = 2000) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return String(text.suffix(characters))
    }

    private static func executableURL() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("moto_server")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        // Failing, not skipping: a missing emulator must not turn into a green run that proved nothing.
        throw TestFailure("moto_server is not installed: pip install 'moto[server]'")
    }

    /// A port the kernel considers free right now: bind to port 0, read the port, close.
    public static func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        defer { close(descriptor) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestFailure("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw TestFailure("getsockname() failed: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A TCP connect to 127.0.0.1:`port`; on loopback a refused connect fails at once, so this does not block.
    static func canConnect(port: UInt16) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    public static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}

extension MotoServer {
    /// The server of the suite running now, set by the `.motoServer` trait.
    @TaskLocal public static var current: MotoServer?

    public static func require() throws -> MotoServer {
        guard let current else { throw TestFailure("no moto server: the suite needs the .motoServer trait") }
        return current
    }
}

/// One moto server for a whole suite: started before its first test, stopped after its last, whether the tests
/// passed, failed or threw. Starting moto costs seconds of CPU; one per test would dominate the run.
public struct MotoServerTrait: SuiteTrait, TestScoping {
    public var environment: [String: String]

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> MotoServerTrait? { test.isSuite ? self : nil }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try await MotoServer.start(environment: environment)
        do { try await MotoServer.$current.withValue(server) { try await function() } } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

extension Trait where Self == MotoServerTrait {
    public static var motoServer: Self { MotoServerTrait(environment: [:]) }
    public static func motoServer(environment: [String: String]) -> Self { MotoServerTrait(environment: environment) }
}

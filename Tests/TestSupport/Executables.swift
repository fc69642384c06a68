import ConcurrencyToolkit
import Foundation

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Finds the package's built executables from inside a test process.
public enum Executables {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The executable `name`, next to the test bundle (where `swift test` builds it).
    public static func url(_ name: String) throws -> URL {
        let bundle = Bundle.main.bundleURL
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            bundle.appendingPathComponent(name), bundle.deletingLastPathComponent().appendingPathComponent(name),
            argv0.appendingPathComponent(name), packageRoot.appendingPathComponent(".build/debug/\(name)"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw TestFailure("the \(name) executable was not built; looked in \(candidates.map(\.path))")
        }
        return found
    }
}

/// `integrations-emulator` started as a child process, ready once it printed its base URL.
public final class EmulatorProcess: @unchecked Sendable {
    public let baseURL: URL
    private let process: SpawnedProcess
    private let stderr: Pipe

    private init(baseURL: URL, process: SpawnedProcess, stderr: Pipe) {
        self.baseURL = baseURL
        self.process = process
        self.stderr = stderr
    }

    /// Starts the emulator with `arguments` (an `--listen 127.0.0.1:0` is added when none is given) and waits,
    /// polling with a deadline, for its `listening on URL` line.
    public static func start(_ arguments: [String], deadline: Duration = .seconds(30)) async throws -> EmulatorProcess {
        let process = SpawnedProcess()
        process.executableURL = try Executables.url("integrations-emulator")
        process.arguments = arguments.contains("--listen") ? arguments : ["--listen", "127.0.0.1:0"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let collected = LockedBuffer()
        out.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
        try process.run()
        let limit = ContinuousClock.now + deadline
        while ContinuousClock.now < limit {
            if let line = collected.firstLine() {
                out.fileHandleForReading.readabilityHandler = nil
                guard line.hasPrefix("listening on "),
                    let url = URL(string: String(line.dropFirst("listening on ".count)))
                else {
                    process.terminate()
                    throw TestFailure("integrations-emulator printed '\(line)' instead of its address")
                }
                return EmulatorProcess(baseURL: url, process: process, stderr: err)
            }
            if !process.isRunning {
                let message = String(decoding: Data(err.fileHandleForReading.readAllBytes()), as: UTF8.self)
                throw TestFailure("integrations-emulator exited with \(process.terminationStatus): \(message)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        process.terminate()
        throw TestFailure("integrations-emulator did not print its address within \(deadline)")
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

final class LockedBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) { lock.withLock { data.append(more) } }

    func firstLine() -> String? {
        lock.withLock {
            guard let newline = data.firstIndex(of: 10) else { return nil }
            return String(decoding: data[data.startIndex..<newline], as: UTF8.self)
        }
    }
}

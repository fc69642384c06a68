import EmbeddedSandbox
import Foundation
import IntopsCLI
import TestSupport
import Testing

/// Output captured from an in-process run.
final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var out = ""
    private var err = ""

    var stdout: String { lock.withLock { out } }
    var stderr: String { lock.withLock { err } }

    func console(color: Bool = false) -> Console {
        Console(
            writeOutput: { text in self.lock.withLock { self.out += text } },
            writeError: { text in self.lock.withLock { self.err += text } }, colorOutput: color, colorError: color)
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum TestSupport {
    static let packageRoot: URL = Executables.packageRoot
    static let fixtures = packageRoot.appendingPathComponent("Tests/IntopsCLITests/Fixtures")
    static let examples = packageRoot.appendingPathComponent("examples")

    /// Runs intops in this process, as the executable would.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], color: Bool = false
    ) async -> RunResult {
        let output = CapturedOutput()
        let status = await IntopsCommandLine.run(
            arguments: arguments, environment: environment, workingDirectory: directory.path,
            console: output.console(color: color), sandbox: EmbeddedSandbox())
        return RunResult(status: status, stdout: output.stdout, stderr: output.stderr)
    }

    /// A private copy of a folder, so that a test can change it and no test sees another's files.
    static func copy(_ source: URL) throws -> URL {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("intops-test-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: target)
        return target
    }

    static func temporaryDirectory() throws -> URL {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("intops-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        return target
    }

    /// The built `intops` executable, next to the test bundle.
    static var executable: URL { get throws { try Executables.url("intops") } }

    /// Runs the built executable as a user would, with a deadline.
    static func runProcess(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> RunResult {
        let output = try await Subprocess.run(
            executable: try executable, arguments,
            environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(environment) {
                $1
            }, directory: directory, deadline: timeout)
        return RunResult(status: output.status, stdout: output.stdoutText, stderr: output.stderrText)
    }

    /// Compares text with a golden file; RECORD_GOLDEN=1 rewrites the file instead.
    static func expectGolden(_ actual: String, file: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Golden.expect(actual, file: file, sourceLocation: sourceLocation)
    }
}

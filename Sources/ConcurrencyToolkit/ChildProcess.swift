import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a child process from async code without holding a thread of Swift's cooperative pool: the pool has one
/// thread per core, and a task blocked in `waitUntilExit` or a pipe read starves every other task of the run (the
/// applier's requests, lock renewals). The child's end is reported through `terminationHandler`, and its pipes
/// are drained on threads of their own so that a chatty child never stalls on a full pipe.
public enum ChildProcess {
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal number when a signal ended it; 127 when it could not be started.
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]

        public init(status: Int32, stdout: [UInt8], stderr: [UInt8]) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }

        public var succeeded: Bool { status == 0 }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs `executable` with exactly `environment`; `input`, when given, is written to its standard input, which
    /// is then closed (otherwise the child reads /dev/null). A cancelled task terminates the child.
    public static func run(
        _ executable: String = "/usr/bin/env", arguments: [String], input: [UInt8]? = nil, environment: [String: String]
    ) async -> Result {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let outPipe = Pipe(), errPipe = Pipe()
        let inPipe = input.map { _ in Pipe() }
        process.standardInput = inPipe ?? FileHandle.nullDevice
        process.standardOutput = outPipe
        process.standardError = errPipe
        let run = Run(process)

        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
                run.wait(continuation)
                process.terminationHandler = { finished in run.exited(finished.shellStatus) }
                do { try process.run() } catch {
                    for pipe in [outPipe, errPipe] { try? pipe.fileHandleForWriting.close() }
                    run.failedToStart("cannot run \(executable) \(arguments.first ?? ""): \(error)")
                    return
                }
                run.started()
                Thread { run.stdout(drain(outPipe.fileHandleForReading)) }.start()
                Thread { run.stderr(drain(errPipe.fileHandleForReading)) }.start()
                if let input, let inPipe { Thread { feed(input, to: inPipe.fileHandleForWriting) }.start() }
            }
        } onCancel: {
            run.cancel()
        }
    }

    private static func drain(_ handle: FileHandle) -> [UInt8] {
        let bytes = handle.readAllBytes()
        try? handle.close()
        return bytes
    }

    private static func feed(_ bytes: [UInt8], to handle: FileHandle) {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        let fd = handle.fileDescriptor
        var offset = 0
        bytes.withUnsafeBytes { buffer in
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
        try? handle.close()
    }

    /// What one run has seen so far; the continuation resumes once the child has exited and both pipes reached
    /// their end (in whatever order the three arrive).
    private final class Run: Sendable {
        private struct State {
            var process: SpawnedProcess?
            var continuation: CheckedContinuation<Result, Never>?
            var status: Int32?
            var out: [UInt8]?
            var err: [UInt8]?
            var running = false
            var cancelled = false
        }

        private let state: Mutex<State>

        init(_ process: SpawnedProcess) { state = Mutex(State(process: process)) }

        func wait(_ continuation: CheckedContinuation<Result, Never>) {
            state.withLock { $0.continuation = continuation }
        }

        func started() {
            state.withLock { state in
                state.running = true
                if state.cancelled { state.process?.terminate() }
            }
        }

        func cancel() {
            state.withLock { state in
                state.cancelled = true
                if state.running { state.process?.terminate() }
            }
        }

        func exited(_ status: Int32) { update { $0.status = status } }
        func stdout(_ bytes: [UInt8]) { update { $0.out = bytes } }
        func stderr(_ bytes: [UInt8]) { update { $0.err = bytes } }

        func failedToStart(_ message: String) {
            update {
                $0.status = 127
                $0.out = []
                $0.err = Array(message.utf8)
            }
        }

        private func update(_ change: (inout State) -> Void) {
            let finished = state.withLock { state -> Finished? in
                change(&state)
                guard let status = state.status, let out = state.out, let err = state.err,
                    let continuation = state.continuation
                else { return nil }
                state.continuation = nil
                state.process = nil
                state.running = false
                return Finished(continuation: continuation, result: Result(status: status, stdout: out, stderr: err))
            }
            if let finished { finished.continuation.resume(returning: finished.result) }
        }
    }

    private struct Finished: Sendable {
        var continuation: CheckedContinuation<Result, Never>
        var result: Result
    }
}

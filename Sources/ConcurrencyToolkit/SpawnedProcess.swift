import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, with the part of Foundation's `Process` interface this project uses.
///
/// Foundation's `Process.run()` on Linux finds the highest open descriptor by copying each `/proc/self/fd` entry's
/// whole 256-byte name field, which reads past the end of glibc's directory buffer now and then and crashes the
/// process (a test suite that spawns a few hundred children hit it about one run in five). This type closes the
/// child's inherited descriptors with `posix_spawn_file_actions_addclosefrom_np` instead, and starts the child with
/// no signal blocked and every signal at its default action, whichever thread spawns it: the threads of Swift's
/// pool block nearly all signals, and a child inherits its spawner's mask.
///
/// Configure it, then `run()` once. Its exit is observed on a thread of its own (never the cooperative pool):
/// `waitUntilExit()` blocks the calling thread, `exited()` suspends a task, `terminationHandler` is called once.
public final class SpawnedProcess: @unchecked Sendable {
    public enum TerminationReason: Sendable {
        case exit
        case uncaughtSignal
    }

    // Configuration, set before `run()` and read only by it (as for `Process`).
    public var executableURL: URL?
    public var arguments: [String] = []
    /// The child's whole environment; nil inherits this process's.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// A `Pipe`, a `FileHandle` or nil (/dev/null); left unset, the child shares this process's descriptor.
    public var standardInput: Any? = Inherited.stream
    public var standardOutput: Any? = Inherited.stream
    public var standardError: Any? = Inherited.stream
    /// Starts the child in a session of its own, without a controlling terminal (tests: a prompt must never
    /// wait on the terminal of whoever runs them).
    public var startsNewSession = false
    /// Called once, on the thread that saw the exit.
    public var terminationHandler: (@Sendable (SpawnedProcess) -> Void)? {
        get { state.withLock { $0.handler } }
        set { state.withLock { $0.handler = newValue } }
    }

    private struct State {
        var pid: pid_t = 0
        var started = false
        var exited = false
        var status: Int32 = 0
        var reason: TerminationReason = .exit
        var handler: (@Sendable (SpawnedProcess) -> Void)?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private let state = Mutex(State())
    private let exitedSignal = DispatchSemaphore(value: 0)

    public init() {}

    /// The child's process id, 0 before `run()`.
    public var processIdentifier: Int32 { state.withLock { $0.pid } }
    public var isRunning: Bool { state.withLock { $0.started && !$0.exited } }
    /// The exit code, or the number of the signal that ended the child (see `terminationReason`).
    public var terminationStatus: Int32 { state.withLock { $0.status } }
    public var terminationReason: TerminationReason { state.withLock { $0.reason } }

    /// The status as shells report it: the exit code, or 128 + the signal number.
    public var shellStatus: Int32 { state.withLock { $0.reason == .uncaughtSignal ? 128 + $0.status : $0.status } }

    public func run() throws {
        guard let path = executableURL?.path else { throw SpawnError(executable: "", code: ENOENT) }
        try state.withLock { state in
            guard !state.started else { throw SpawnError(executable: path, code: EALREADY) }
            state.pid = try spawn(path)
            state.started = true
        }
        closeChildEnds()
        let pid = processIdentifier
        Thread { [self] in reap(pid) }.start()
    }

    /// Sends `signal` while the child runs; never after its exit was seen, so never to another process that took
    /// its id.
    public func signal(_ signal: Int32) {
        state.withLock { state in if state.started && !state.exited { kill(state.pid, signal) } }
    }

    public func terminate() { signal(SIGTERM) }
    public func interrupt() { signal(SIGINT) }

    public func waitUntilExit() {
        guard state.withLock({ $0.started }) else { return }
        exitedSignal.wait()
        exitedSignal.signal()
    }

    /// Suspends until the child has exited; returns `shellStatus`.
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.exited || !state.started { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume(returning: shellStatus) }
        }
    }

    // MARK: - Spawning

    /// glibc's POSIX_SPAWN_SETSID (0x80), which its headers declare only for _GNU_SOURCE builds.
    static let setSessionFlag: Int32 = 0x80

    private func spawn(_ path: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (startsNewSession ? Self.setSessionFlag : 0)))

        for (target, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            switch stream {
            case let inherited as Inherited where inherited === Inherited.stream: break
            case let pipe as Pipe:
                let handle = target == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
            case let handle as FileHandle where handle !== FileHandle.nullDevice && handle.fileDescriptor >= 0:
                if handle.fileDescriptor != target {
                    posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
                }
            default:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        if let directory = currentDirectoryURL?.path {
            guard let addChdir = GlibcSpawnExtensions.addChdir else { throw SpawnError(executable: path, code: ENOSYS) }
            _ = addChdir(&actions, directory)
        }
        _ = GlibcSpawnExtensions.addClosefrom?(&actions, 3)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let code: Int32
        if let environment {
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { envp.forEach { free($0) } }
            code = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        } else {
            code = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        }
        guard code == 0 else { throw SpawnError(executable: path, code: code) }
        return pid
    }

    /// The parent's copies of the pipe ends the child uses, so that the reader sees end-of-file when the child
    /// exits (as `Process` does).
    private func closeChildEnds() {
        if let pipe = standardInput as? Pipe { try? pipe.fileHandleForReading.close() }
        if let pipe = standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() }
        if let pipe = standardError as? Pipe, (standardOutput as? Pipe) !== pipe {
            try? pipe.fileHandleForWriting.close()
        }
    }

    private func reap(_ pid: pid_t) {
        // The exit is seen without reaping, then reaped and recorded under the lock: `signal` never reaches another
        // process that took the id, and no reader sees the child gone without its status.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        let (handler, waiters, status) = state.withLock { state in
            var raw: Int32 = 0
            var reaped: pid_t
            repeat { reaped = waitpid(pid, &raw, 0) } while reaped < 0 && errno == EINTR
            // Reaped by someone else (SIGCHLD ignored): the status is unknown, and never reported as success.
            if reaped != pid { raw = 255 << 8 }
            let signalled = (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f
            state.exited = true
            state.reason = signalled ? .uncaughtSignal : .exit
            state.status = signalled ? raw & 0x7f : (raw >> 8) & 0xff
            defer {
                state.handler = nil
                state.waiters = []
            }
            return (state.handler, state.waiters, signalled ? 128 + state.status : state.status)
        }
        exitedSignal.signal()
        handler?(self)
        for waiter in waiters { waiter.resume(returning: status) }
    }

    /// The marker of a stream left as this process's own.
    private final class Inherited: Sendable { static let stream = Inherited() }
}

/// glibc's `_np` file actions (2.29 and 2.34), which its headers declare only for `_GNU_SOURCE` builds: looked up
/// once by name. Without `addclosefrom` (an older libc) children inherit descriptors not marked close-on-exec.
private enum GlibcSpawnExtensions {
    typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    static let addClosefrom: AddClosefrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// `posix_spawn` refused to start the child.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var executable: String
    public var code: Int32
    public var description: String { "cannot run \(executable): \(String(cString: strerror(code)))" }
}

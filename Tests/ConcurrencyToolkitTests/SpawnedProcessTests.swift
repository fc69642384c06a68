import ConcurrencyToolkit
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct SpawnedProcessTests {
    private static func shell(_ script: String, directory: String? = nil) -> SpawnedProcess {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        return process
    }

    private static func output(of process: SpawnedProcess) throws -> String {
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let bytes = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func grepOwnStatus() -> SpawnedProcess {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/grep")
        process.arguments = ["-E", "^Sig(Blk|Ign)", "/proc/self/status"]
        return process
    }

    @Test func exitCodesAndSignalsAreReportedAsShellsDo() async throws {
        let exits = Self.shell("exit 3")
        try exits.run()
        #expect(await exits.exited() == 3)
        #expect(exits.terminationReason == .exit && exits.terminationStatus == 3 && !exits.isRunning)

        let killed = Self.shell("kill -TERM $$; sleep 5")
        try killed.run()
        #expect(await killed.exited() == 128 + SIGTERM)
        #expect(killed.terminationReason == .uncaughtSignal && killed.terminationStatus == SIGTERM)
    }

    @Test func aChildInheritsNoDescriptorButItsStandardStreams() throws {
        // Opened without close-on-exec, as libraries' sockets and Foundation's pipes are.
        let descriptor = open("/dev/null", O_RDONLY)
        defer { close(descriptor) }
        #expect(descriptor > 2)
        let listed = try Self.output(of: Self.shell("ls /proc/$$/fd"))
        let descriptors = listed.split(separator: "\n").compactMap { Int32($0) }
        #expect(!descriptors.contains(descriptor), "\(listed)")
        #expect(descriptors.allSatisfy { $0 <= 2 || $0 == 10 }, "\(listed)")
    }

    @Test func aChildStartsWithNoSignalBlockedOrIgnoredWhateverThreadSpawnsIt() async throws {
        // The spawning thread blocks every signal, as the threads of Swift's pool do, and this process ignores
        // SIGPIPE, as the intops binary does.
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let status = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<String, any Error>) in
            Thread {
                var all = sigset_t()
                sigfillset(&all)
                pthread_sigmask(SIG_SETMASK, &all, nil)
                continuation.resume(with: Result { try Self.output(of: Self.grepOwnStatus()) })
            }.start()
        }
        #expect(status.contains("SigBlk:\t0000000000000000"), "\(status)")
        // Signals 1–31; glibc keeps two real-time signals of its own above them.
        let ignored = status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }.map {
            UInt64($0.dropFirst(8), radix: 16)
        }
        #expect(ignored.flatMap { $0 }.map { $0 & 0x7FFF_FFFF } == 0, "\(status)")
    }

    @Test func theWorkingDirectoryAndEnvironmentAreTheChildsOwn() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spawn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Self.shell("pwd; echo \"$ONLY\"; echo \"${HOME:-unset}\"", directory: directory.path)
        process.environment = ["ONLY": "this"]
        let lines = try Self.output(of: process).split(separator: "\n").map(String.init)
        #expect(lines == [directory.resolvingSymlinksInPath().path, "this", "unset"])
    }

    @Test func aMissingExecutableIsAnErrorNotACrash() {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/nonexistent/tool")
        #expect(throws: SpawnError.self) { try process.run() }
        #expect(!process.isRunning)
    }

    @Test func terminatingAfterTheExitSignalsNothing() async throws {
        let process = Self.shell("exit 0")
        try process.run()
        #expect(await process.exited() == 0)
        process.terminate()  // the id may belong to another process by now; nothing is sent
        #expect(process.terminationStatus == 0)
    }

    /// Foundation's `Process.run()` crashed about one suite run in five here, reading past a directory buffer
    /// while it looked for open descriptors; many spawns at once, from many threads, must all just run.
    @Test func hundredsOfConcurrentSpawnsAllComplete() async throws {
        let statuses = await withTaskGroup(of: Int32.self) { group in
            for index in 0..<300 {
                group.addTask {
                    let result = await ChildProcess.run(
                        "/bin/sh", arguments: ["-c", "exit \(index % 7)"], environment: [:])
                    return result.status == index % 7 ? 0 : 1
                }
            }
            return await group.reduce(0, +)
        }
        #expect(statuses == 0)
    }
}

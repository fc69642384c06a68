import Foundation
import TestSupport
import Testing

@testable import ConcurrencyToolkit
@testable import Reconciler

#if canImport(Glibc)
import Glibc
#endif

/// The git state backend against real repositories: a bare `remote.git` as the remote, and checkouts of it as the
/// repositories CI jobs run in.
@Suite struct GitStateBackendTests {
    /// A temporary directory with `remote.git`, and the environment every git of the test runs with: no global or
    /// system configuration, so that no identity or credential of this machine helps (CI machines have none).
    struct Fixture {
        var root: URL
        var environment: [String: String]
        var remoteDirectory: String { root.appendingPathComponent("remote.git").path }
        var remoteURL: String { "file://" + remoteDirectory }

        init() async throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("git-state-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            var environment = ProcessInfo.processInfo.environment
            for key in ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_DIR"] {
                environment[key] = nil
            }
            environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
            environment["GIT_CONFIG_NOSYSTEM"] = "1"
            environment["TMPDIR"] = root.path
            self.environment = environment
            try await git(["init", "--bare", "-q", remoteDirectory])
        }

        @discardableResult func git(_ arguments: [String], in directory: String? = nil) async throws -> String {
            let output = try await Subprocess.run(
                ["git"] + (directory.map { ["-C", $0] } ?? []) + arguments, environment: environment)
            guard output.status == 0 else {
                throw TestFailure("git \(arguments.joined(separator: " ")) failed: \(output.stderrText)")
            }
            return output.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// On the remote's side: the files of the state branch.
        func files(_ branch: String = "intops-state") async throws -> [String] {
            try await git(["--git-dir", remoteDirectory, "ls-tree", "-r", "--name-only", branch]).split(separator: "\n")
                .map(String.init)
        }

        func content(_ path: String, _ branch: String = "intops-state") async throws -> String {
            try await git(["--git-dir", remoteDirectory, "cat-file", "blob", "\(branch):\(path)"])
        }

        /// A CI job's checkout: the project's own history on main, with `origin` the remote.
        func checkout(_ name: String) async throws -> String {
            let path = root.appendingPathComponent(name).path
            let hasMain = !(try await git(["--git-dir", remoteDirectory, "for-each-ref", "refs/heads/main"])).isEmpty
            if hasMain {
                try await git(["clone", "-q", remoteURL, path])
            } else {
                try await git(["init", "-q", "-b", "main", path])
                try Data("apiVersion: intops/v1\n".utf8).write(to: URL(fileURLWithPath: path + "/intops.yaml"))
                try await git(["add", "intops.yaml"], in: path)
                try await git(
                    ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "project"],
                    in: path)
                try await git(["remote", "add", "origin", remoteURL], in: path)
                try await git(["push", "-q", "origin", "main"], in: path)
            }
            return path
        }

        func backend(
            _ repository: String?, remote: String = "origin", branch: String = "intops-state"
        ) -> GitStateBackend {
            GitStateBackend(repository: repository, remote: remote, branch: branch, environment: environment)
        }
    }

    static func state(serial: Int, _ note: String = "") -> [UInt8] {
        Array("{\n  \"lineage\" : \"l\",\n  \"note\" : \"\(note)\",\n  \"serial\" : \(serial)\n}\n".utf8)
    }

    static func record(_ id: String, pid: Int32 = 4242) -> LockRecord {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        return LockRecord(
            id: id, host: "ci-runner-7", pid: pid, operation: "apply", since: now, expires: now.addingTimeInterval(300))
    }

    static func outcome<T>(_ body: () async throws(StateError) -> T) async -> Result<T, StateError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    @discardableResult func expectKind(
        _ kind: StateError.Kind, _ body: () async throws(StateError) -> Void
    ) async -> StateError? {
        do {
            try await body()
            Issue.record("expected a \(kind) error")
            return nil
        } catch {
            #expect(error.kind == kind, "\(error)")
            return error
        }
    }

    @Test func aMissingBranchReadsAsNoState() async throws {
        let fixture = try await Fixture()
        let backend = fixture.backend(try await fixture.checkout("job"))
        #expect(try await backend.read("state.json") == nil)
        #expect(try await backend.readLock(LockScope(object: "state.json", organization: nil)) == nil)
        #expect(backend.location(of: "state-o1.json") == "git origin intops-state:state-o1.json")
        #expect(backend.locksExpire && backend.writeInterval == .seconds(1))
    }

    @Test func theFirstWriteMakesAnOrphanBranchHoldingOnlyThatFile() async throws {
        let fixture = try await Fixture()
        let backend = fixture.backend(try await fixture.checkout("job"))
        let version = try await backend.write("state-org123.json", Self.state(serial: 1), expected: nil)

        #expect(try await fixture.files() == ["state-org123.json"])
        #expect(
            try await fixture.content("state-org123.json") + "\n"
                == String(decoding: Self.state(serial: 1), as: UTF8.self))
        let git = ["--git-dir", fixture.remoteDirectory]
        #expect(
            try await fixture.git(git + ["rev-list", "--parents", "-n", "1", "intops-state"]).split(separator: " ")
                .count == 1)
        #expect(try await fixture.git(git + ["rev-parse", "intops-state:state-org123.json"]) == version.token)
        #expect(
            try await fixture.git(git + ["log", "-1", "--format=%an <%ae>|%s", "intops-state"])
                == "intops <intops@localhost>|intops: state-org123.json serial 1")
    }

    @Test func readsReturnTheBytesAndVersionAndStaleWritesConflict() async throws {
        let fixture = try await Fixture()
        let checkout = try await fixture.checkout("job")
        let backend = fixture.backend(checkout)
        let first = try await backend.write("state.json", Self.state(serial: 1), expected: nil)
        let read = try #require(try await backend.read("state.json"))
        #expect(read.bytes == Self.state(serial: 1) && read.version == first)

        let second = try await backend.write("state.json", Self.state(serial: 2), expected: first)
        #expect(second != first)
        await expectKind(.conflict) { () throws(StateError) in
            _ = try await backend.write("state.json", Self.state(serial: 3), expected: first)
        }
        let error = await expectKind(.conflict) { () throws(StateError) in
            _ = try await backend.write("state.json", Self.state(serial: 3), expected: nil)
        }
        #expect(
            error?.description
                == "the state at git origin intops-state:state.json was changed by another run since it was read")

        // Another run (no cache) sees what this one wrote; the remote kept both commits, linearly.
        let other = fixture.backend(try await fixture.checkout("other"))
        let seen = try #require(try await other.read("state.json"))
        #expect(seen.bytes == Self.state(serial: 2) && seen.version == second)
        #expect(
            try await fixture.git(["--git-dir", fixture.remoteDirectory, "rev-list", "--count", "intops-state"]) == "2")
        // A version learnt elsewhere than this backend's last read is checked against a fresh fetch.
        _ = try await backend.write("state.json", Self.state(serial: 3), expected: second)
        let third = try await other.write(
            "state.json", Self.state(serial: 4), expected: try #require(try await backend.read("state.json")).version)
        #expect(try await backend.read("state.json")?.version == third)
    }

    @Test func nestedPathsKeepTheOtherFilesOfTheBranch() async throws {
        let fixture = try await Fixture()
        let backend = fixture.backend(try await fixture.checkout("job"))
        _ = try await backend.write("prod/state-o1.json", Self.state(serial: 1), expected: nil)
        _ = try await backend.write("prod/state-o2.json", Self.state(serial: 1), expected: nil)
        // A fresh backend writes without reading first: it fetches the tip itself.
        let fresh = fixture.backend(try await fixture.checkout("fresh"))
        _ = try await fresh.write("state.json", Self.state(serial: 1), expected: nil)
        let version = try await fresh.write("prod/deep/state.json", Self.state(serial: 1), expected: nil)
        #expect(
            try await fixture.files() == [
                "prod/deep/state.json", "prod/state-o1.json", "prod/state-o2.json", "state.json",
            ])
        #expect(try await backend.read("prod/deep/state.json")?.version == version)
        await expectKind(.invalid) { () throws(StateError) in
            _ = try await backend.write("state.json/x", Self.state(serial: 1), expected: nil)
        }
        await expectKind(.unavailable) { () throws(StateError) in _ = try await backend.read("../x.json") }
    }

    @Test func twoJobsWritingDifferentObjectsBothLand() async throws {
        let fixture = try await Fixture()
        let a = fixture.backend(try await fixture.checkout("job-a"))
        let b = fixture.backend(try await fixture.checkout("job-b"))
        var versionA = try await a.write("state-a.json", Self.state(serial: 1), expected: nil)
        // b's cached tip predates a's write: its push is rejected, and it rebuilds on the new tip.
        #expect(try await b.read("state-b.json") == nil)
        versionA = try await a.write("state-a.json", Self.state(serial: 2), expected: versionA)
        var versionB = try await b.write("state-b.json", Self.state(serial: 1), expected: nil)
        #expect(try await fixture.files() == ["state-a.json", "state-b.json"])

        // And truly at once, round after round.
        for serial in 3...7 {
            let (expectedA, expectedB) = (versionA, versionB)
            async let nextA = a.write("state-a.json", Self.state(serial: serial), expected: expectedA)
            async let nextB = b.write("state-b.json", Self.state(serial: serial), expected: expectedB)
            (versionA, versionB) = try await (nextA, nextB)
        }
        #expect(try await fixture.files() == ["state-a.json", "state-b.json"])
        #expect(try await fixture.content("state-a.json").contains("\"serial\" : 7"))
        #expect(try await fixture.content("state-b.json").contains("\"serial\" : 7"))
        #expect(try await a.read("state-b.json")?.version == versionB)
    }

    /// How many git processes each operation costs, counted by a `git` first on PATH that logs and runs the real
    /// one (git's own helpers come from its exec-path, not PATH).
    @Test func operationsRunFewGitProcesses() async throws {
        var fixture = try await Fixture()
        let real = try await fixture.git(["--exec-path"]) + "/git"
        let bin = fixture.root.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let log = fixture.root.appendingPathComponent("git.log").path
        let wrapper = bin.appendingPathComponent("git").path
        try Data("#!/bin/sh\necho \"$*\" >> '\(log)'\nexec '\(real)' \"$@\"\n".utf8).write(
            to: URL(fileURLWithPath: wrapper))
        chmod(wrapper, 0o755)
        let a = fixture.backend(try await fixture.checkout("job-a"))
        let b = fixture.backend(try await fixture.checkout("job-b"))
        fixture.environment["PATH"] = bin.path + ":" + (fixture.environment["PATH"] ?? "/usr/bin:/bin")
        let countedA = fixture.backend(a.repository), countedB = fixture.backend(b.repository)
        func count(_ body: () async throws -> Void) async throws -> [String] {
            try? FileManager.default.removeItem(atPath: log)
            try await body()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map {
                $0.split(separator: " ").first {
                    ["fetch", "cat-file", "hash-object", "mktree", "commit-tree", "push", "init"].contains($0)
                }.map(String.init) ?? String($0)
            }
        }
        #expect(try await count { _ = try await countedA.read("state.json") } == ["fetch"])
        var version: StateVersion?
        #expect(
            try await count { version = try await countedA.write("state.json", Self.state(serial: 1), expected: nil) }
                == ["hash-object", "mktree", "commit-tree", "push"])
        #expect(try await count { _ = try await countedA.read("state.json") } == ["fetch", "cat-file"])
        #expect(
            try await count {
                version = try await countedA.write("state.json", Self.state(serial: 2), expected: version)
            } == ["hash-object", "mktree", "commit-tree", "push"])
        // Without a read first, the write fetches the tip itself.
        #expect(
            try await count { _ = try await countedB.write("state-b.json", Self.state(serial: 1), expected: nil) } == [
                "fetch", "cat-file", "hash-object", "mktree", "commit-tree", "push",
            ])
        // b's cached tip predates a's newer write: its push is rejected, it fetches the new tip and builds again.
        _ = try await countedA.write("state.json", Self.state(serial: 3), expected: version)
        let retried = try await count {
            _ = try await countedB.write(
                "state-b.json", Self.state(serial: 3), expected: try #require(try await b.read("state-b.json")).version)
        }
        #expect(
            retried == [
                "hash-object", "mktree", "commit-tree", "push", "fetch", "cat-file", "mktree", "commit-tree", "push",
            ])
        #expect(try await fixture.files() == ["state-b.json", "state.json"])

        let scope = LockScope(object: "state.json", organization: nil)
        var held: HeldLock?
        #expect(
            try await count {
                if case .acquired(let lock) = try await countedA.acquireLock(scope, record: Self.record("a")) {
                    held = lock
                }
            } == ["mktree", "commit-tree", "push"])
        #expect(
            try await count { _ = try await countedB.acquireLock(scope, record: Self.record("b")) } == [
                "mktree", "commit-tree", "push", "fetch", "cat-file",
            ])
        let lock = try #require(held)
        #expect(
            try await count {
                _ = try await countedA.replaceLock(scope, version: lock.version, record: Self.record("a"))
            } == ["commit-tree", "push"])
        #expect(try await count { _ = try await countedA.readLock(scope) } == ["fetch", "cat-file"])
        let current = try #require(try await a.readLock(scope)).version
        #expect(try await count { try await countedA.releaseLock(scope, version: current) } == ["push"])
        #expect(try await count { _ = try await countedA.readLock(scope) } == ["fetch"])
    }

    @Test func twoJobsWritingTheSameObjectOneWins() async throws {
        let fixture = try await Fixture()
        let a = fixture.backend(try await fixture.checkout("job-a"))
        let b = fixture.backend(try await fixture.checkout("job-b"))
        for round in 1...4 {
            let base = try await a.read("state.json")?.version
            #expect(try await b.read("state.json")?.version == base)
            async let fromA = Self.outcome { () throws(StateError) in
                try await a.write("state.json", Self.state(serial: round, "a"), expected: base)
            }
            async let fromB = Self.outcome { () throws(StateError) in
                try await b.write("state.json", Self.state(serial: round, "b"), expected: base)
            }
            let results = await [fromA, fromB]
            let winners = results.enumerated().filter { if case .success = $0.element { true } else { false } }
            #expect(winners.count == 1, "round \(round): \(results)")
            for case .failure(let error) in results { #expect(error.kind == .conflict, "\(error)") }
            let winner = winners.first?.offset == 0 ? "a" : "b"
            #expect(try await fixture.content("state.json").contains("\"note\" : \"\(winner)\""))
        }
    }

    @Test func theCheckoutIsNeverTouched() async throws {
        let fixture = try await Fixture()
        let checkout = try await fixture.checkout("job")
        let head = try await fixture.git(["rev-parse", "HEAD"], in: checkout)
        let refsBefore = try await fixture.git(
            ["for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes", "refs/tags"], in: checkout)
        let index = try Data(contentsOf: URL(fileURLWithPath: checkout + "/.git/index"))
        let backend = fixture.backend(checkout)
        var version = try await backend.write("state.json", Self.state(serial: 1), expected: nil)
        version = try await backend.write("state.json", Self.state(serial: 2), expected: version)
        _ = try await backend.read("state.json")
        let held = try await backend.acquireLock(
            LockScope(object: "state.json", organization: nil), record: Self.record("r1"))
        guard case .acquired(let lock) = held else { throw TestFailure("not acquired: \(held)") }
        try await backend.releaseLock(lock.scope, version: lock.version)

        #expect(try await fixture.git(["status", "--porcelain", "--ignored"], in: checkout) == "")
        #expect(try await fixture.git(["rev-parse", "HEAD"], in: checkout) == head)
        #expect(try await fixture.git(["symbolic-ref", "HEAD"], in: checkout) == "refs/heads/main")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkout + "/.git/index")) == index)
        // A push to a remote by name records the pushed branch as its remote-tracking ref, as a `git fetch`
        // would; nothing else of the checkout's refs moves.
        let refsAfter = try await fixture.git(
            ["for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes", "refs/tags"], in: checkout)
        #expect(
            refsAfter.split(separator: "\n").filter { $0 != "refs/remotes/origin/intops-state" }
                == refsBefore.split(separator: "\n"))
        if refsAfter.contains("refs/remotes/origin/intops-state") {
            #expect(
                try await fixture.git(["rev-parse", "refs/remotes/origin/intops-state"], in: checkout)
                    == (try await fixture.git(["--git-dir", fixture.remoteDirectory, "rev-parse", "intops-state"])))
        }
    }

    @Test func locksAreExclusiveRenewableAndReleasable() async throws {
        let fixture = try await Fixture()
        let a = fixture.backend(try await fixture.checkout("job-a"))
        let b = fixture.backend(try await fixture.checkout("job-b"))
        let scope = LockScope(object: "state-o1.json", organization: "o1")

        guard case .acquired(let first) = try await a.acquireLock(scope, record: Self.record("run-a")) else {
            throw TestFailure("a did not get the lock")
        }
        guard case .held(let record, let version) = try await b.acquireLock(scope, record: Self.record("run-b", pid: 7))
        else { throw TestFailure("b got a held lock") }
        #expect(record == Self.record("run-a") && version == first.version)
        #expect(record?.id == "run-a" && record?.host == "ci-runner-7" && record?.pid == 4242)
        let seen = try #require(try await b.readLock(scope))
        #expect(seen.record == Self.record("run-a") && seen.version == first.version)
        #expect(
            try await fixture.git([
                "--git-dir", fixture.remoteDirectory, "for-each-ref", "--format=%(refname)", "refs/intops",
            ]) == "refs/intops/locks/o1")

        // Other organizations, and the unsharded state, have locks of their own.
        guard
            case .acquired(let other) = try await b.acquireLock(
                LockScope(object: "state-o2.json", organization: "o2"), record: Self.record("run-b")),
            case .acquired(let whole) = try await b.acquireLock(
                LockScope(object: "state.json", organization: nil), record: Self.record("run-b"))
        else { throw TestFailure("independent locks were refused") }

        // Renewal with the right version; a stale version finds the renewed holder.
        var renewed = Self.record("run-a")
        renewed.expires = renewed.expires.addingTimeInterval(300)
        guard case .acquired(let second) = try await a.replaceLock(scope, version: first.version, record: renewed)
        else { throw TestFailure("renewal refused") }
        #expect(second.version != first.version)
        guard
            case .held(let holder, let current) = try await b.replaceLock(
                scope, version: first.version, record: Self.record("run-b"))
        else { throw TestFailure("a stale takeover won") }
        #expect(holder == renewed && current == second.version)
        guard
            case .held = try await b.replaceLock(
                scope, version: StateVersion("not-a-version"), record: Self.record("run-b"))
        else { throw TestFailure("a bogus takeover won") }
        // Taking over (as after an expired lease) with the version read works.
        guard
            case .acquired(let takenOver) = try await b.replaceLock(
                scope, version: current, record: Self.record("run-b"))
        else { throw TestFailure("takeover refused") }
        #expect(try await a.readLock(scope)?.record?.id == "run-b")

        // Releasing a lock someone else holds now leaves it; the holder's own release removes it.
        await expectKind(.conflict) { () throws(StateError) in try await a.releaseLock(scope, version: second.version) }
        try await b.releaseLock(scope, version: takenOver.version)
        #expect(try await a.readLock(scope) == nil)
        try await b.releaseLock(scope, version: takenOver.version)
        await expectKind(.conflict) { () throws(StateError) in
            _ = try await a.replaceLock(scope, version: takenOver.version, record: Self.record("run-a"))
        }
        guard case .acquired(let again) = try await a.acquireLock(scope, record: Self.record("run-a2")) else {
            throw TestFailure("the released lock could not be taken")
        }
        try await a.releaseLock(scope, version: again.version)
        try await b.releaseLock(other.scope, version: other.version)
        try await b.releaseLock(whole.scope, version: whole.version)
        #expect(try await fixture.git(["--git-dir", fixture.remoteDirectory, "for-each-ref", "refs/intops"]) == "")
    }

    @Test func concurrentAcquiresGiveTheLockToExactlyOne() async throws {
        let fixture = try await Fixture()
        let scope = LockScope(object: "state.json", organization: nil)
        var backends: [GitStateBackend] = []
        for index in 0..<4 { backends.append(fixture.backend(try await fixture.checkout("job-\(index)"))) }
        let attempts = try await withThrowingTaskGroup(of: LockAttempt.self) { group in
            for (index, backend) in backends.enumerated() {
                group.addTask { try await backend.acquireLock(scope, record: Self.record("run-\(index)")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let acquired = attempts.compactMap { if case .acquired(let lock) = $0 { lock } else { nil } }
        #expect(acquired.count == 1)
        for case .held(let record, let version) in attempts {
            #expect(version == acquired.first?.version && record != nil)
        }
    }

    @Test func credentialsInTheRemoteURLNeverAppear() async throws {
        let fixture = try await Fixture()
        let checkout = try await fixture.checkout("job")
        let remote = "http://user:CANARY@127.0.0.1:1/x.git"
        for backend in [fixture.backend(checkout, remote: remote), fixture.backend(nil, remote: remote)] {
            #expect(backend.location(of: "state.json") == "git http://127.0.0.1:1/x.git intops-state:state.json")
            let errors = [
                await expectKind(.unavailable) { () throws(StateError) in _ = try await backend.read("state.json") },
                await expectKind(.unavailable) { () throws(StateError) in
                    _ = try await backend.write("state.json", [1], expected: nil)
                },
                await expectKind(.unavailable) { () throws(StateError) in
                    _ = try await backend.acquireLock(
                        LockScope(object: "state.json", organization: "o"), record: Self.record("r"))
                },
            ]
            for case let error? in errors {
                #expect(!error.description.contains("CANARY") && !error.description.contains("user:"), "\(error)")
                #expect(!error.description.contains("\n"), "one line: \(error)")
            }
            #expect(
                errors.first??.description.hasPrefix("cannot read git http://127.0.0.1:1/x.git intops-state: fatal:")
                    == true, "\(String(describing: errors.first))")
        }
        #expect(
            GitStateBackend.redacted("fatal: 'https://x-access-token:ghp_abc@github.com/o/r.git/' and ssh://git@host/x")
                == "fatal: 'https://github.com/o/r.git/' and ssh://host/x")
    }

    @Test func withoutARepositoryAURLRemoteWorksThroughAPrivateBareRepository() async throws {
        let fixture = try await Fixture()
        let backend = fixture.backend(nil, remote: fixture.remoteURL)
        #expect(try await backend.read("state.json") == nil)
        let version = try await backend.write("state.json", Self.state(serial: 1), expected: nil)
        #expect(try await fixture.backend(nil, remote: fixture.remoteURL).read("state.json")?.version == version)
        #expect(try await fixture.files() == ["state.json"])
        guard
            case .acquired(let lock) = try await backend.acquireLock(
                LockScope(object: "state.json", organization: nil), record: Self.record("r"))
        else { throw TestFailure("lock refused") }
        try await backend.releaseLock(lock.scope, version: lock.version)

        let made = try FileManager.default.contentsOfDirectory(atPath: fixture.root.path).filter {
            $0.hasPrefix("intops-git-state-")
        }
        #expect(made.count == 1)
        let privateRepository = fixture.root.appendingPathComponent(made[0]).path
        #expect(try await fixture.git(["--git-dir", privateRepository, "rev-parse", "--is-bare-repository"]) == "true")

        let named = await expectKind(.unavailable) { () throws(StateError) in
            _ = try await fixture.backend(nil, remote: "origin").read("state.json")
        }
        #expect(named?.description.contains("not in a git repository") == true)
    }

    /// The same over a network transport: `git daemon` on a free port of the loopback interface.
    @Test func readWriteAndLockOverGitDaemon() async throws {
        let fixture = try await Fixture()
        let port = try Self.freePort()
        // git-daemon itself rather than the `git daemon` wrapper, so that stopping it needs no signal forwarded.
        let daemon = SpawnedProcess()
        daemon.executableURL = URL(fileURLWithPath: try await fixture.git(["--exec-path"]) + "/git-daemon")
        daemon.arguments = [
            "--reuseaddr", "--base-path=\(fixture.root.path)", "--export-all", "--enable=receive-pack",
            "--listen=127.0.0.1", "--port=\(port)", fixture.root.path,
        ]
        daemon.environment = fixture.environment
        daemon.standardInput = FileHandle.nullDevice
        daemon.standardOutput = FileHandle.nullDevice
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { Self.stop(daemon) }
        let url = "git://127.0.0.1:\(port)/remote.git"
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let probe = try await Subprocess.run(["git", "ls-remote", url], environment: fixture.environment)
            if probe.status == 0 { break }
            guard daemon.isRunning, ContinuousClock.now < deadline else {
                throw TestFailure("git daemon did not accept connections on port \(port): \(probe.stderrText)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }

        let a = fixture.backend(try await fixture.checkout("job-a"), remote: url)
        let b = fixture.backend(nil, remote: url)
        #expect(try await a.read("state.json") == nil)
        let first = try await a.write("state.json", Self.state(serial: 1), expected: nil)
        _ = try await b.write("state-b.json", Self.state(serial: 1), expected: nil)
        let second = try await a.write("state.json", Self.state(serial: 2), expected: first)
        #expect(try await b.read("state.json")?.bytes == Self.state(serial: 2))
        await expectKind(.conflict) { () throws(StateError) in
            _ = try await b.write("state.json", Self.state(serial: 3), expected: first)
        }
        #expect(try await fixture.files() == ["state-b.json", "state.json"])
        #expect(try await a.read("state.json")?.version == second)

        let scope = LockScope(object: "state.json", organization: "o1")
        guard case .acquired(let lock) = try await a.acquireLock(scope, record: Self.record("run-a")) else {
            throw TestFailure("lock refused")
        }
        guard case .held(let record, _) = try await b.acquireLock(scope, record: Self.record("run-b")) else {
            throw TestFailure("lock shared")
        }
        #expect(record?.id == "run-a")
        guard
            case .acquired(let renewed) = try await a.replaceLock(
                scope, version: lock.version, record: Self.record("run-a"))
        else { throw TestFailure("renewal refused") }
        try await a.releaseLock(scope, version: renewed.version)
        #expect(try await b.readLock(scope) == nil)
    }

    /// SIGTERM, then SIGKILL past a deadline: a test must never hang in its cleanup.
    static func stop(_ process: SpawnedProcess) {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

@Suite struct ChildProcessTests {
    let environment = ProcessInfo.processInfo.environment

    @Test func outputInputAndStatusComeBack() async {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 3_000_000)
        let echoed = await ChildProcess.run(
            arguments: ["sh", "-c", "cat; echo done >&2; exit 3"], input: big, environment: environment)
        #expect(echoed.status == 3 && echoed.stdout == big && echoed.stderrText == "done\n")
        // A child that never reads its input: the write fails quietly instead of SIGPIPE ending the test process.
        let ignoring = await ChildProcess.run(arguments: ["true"], input: big, environment: environment)
        #expect(ignoring.status == 0)
        let missing = await ChildProcess.run("/nonexistent/tool", arguments: [], environment: environment)
        #expect(missing.status == 127 && missing.stderrText.contains("/nonexistent/tool"))
    }

    @Test func aCancelledRunEndsItsChild() async {
        let started = ContinuousClock.now
        let task = Task { await ChildProcess.run(arguments: ["sleep", "30"], environment: environment) }
        try? await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = await task.value
        #expect(result.status == 128 + SIGTERM)
        // Well before the child's own 30 seconds, with room for a machine loaded by the rest of the suite.
        #expect(ContinuousClock.now - started < .seconds(25))
    }

    @Test func manyRunsAtOnceDoNotStarveThePool() async {
        let results = await withTaskGroup(of: Int32.self) { group in
            for index in 0..<64 {
                group.addTask {
                    await ChildProcess.run(arguments: ["sh", "-c", "exit \(index % 5)"], environment: environment)
                        .status
                }
            }
            return await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(results.sorted() == (0..<64).map { Int32($0 % 5) }.sorted())
    }
}

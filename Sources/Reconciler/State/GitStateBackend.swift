import ConcurrencyToolkit
import CryptoPrimitives
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state as files on a branch of a git remote (`state.backend: git`): no infrastructure beyond the repository
/// the project already lives in.
///
/// Git runs in the project's checkout (`-C repository`) so that its remotes, credentials and `http.extraheader`
/// apply, the way a CI job's token does for `git fetch`. The work tree, the index and HEAD are never touched: the
/// branch is fetched into private refs under `refs/intops/`, and commits are built from objects with plumbing.
///
/// A write is a compare-and-swap twice over: the object's blob at the tip must be the version the caller read, and
/// the push is a plain fast-forward, which the remote applies only if the branch is still at the tip the commit
/// was built on. When the push loses to a run that wrote another object, the commit is rebuilt on the new tip.
///
/// A lock is a ref, `refs/intops/locks/ORG`, holding a commit whose message is the lock record. Creating,
/// replacing and deleting it are pushes with `--force-with-lease`, which the remote checks under its ref lock.
public struct GitStateBackend: StateBackend {
    public let repository: String?
    public let remote: String
    public let branch: String

    private let git: Git
    private let session = Session()
    /// The bare repository a project outside git works in, created on first use.
    private let privateRepository: String?

    /// How many pushes a write tries before it gives up on a branch that keeps moving.
    static let pushAttempts = 5
    private static let branchKey = "branch"

    /// - Parameters:
    ///   - repository: the work tree holding intops.yaml, or nil when the project is not in git (then `remote`
    ///     must be a URL).
    ///   - remote: a remote name of `repository`, or a URL.
    ///   - environment: the environment git runs with (the process's own, normally).
    public init(repository: String?, remote: String, branch: String, environment: [String: String]) {
        self.repository = repository
        self.remote = remote
        self.branch = branch
        if let repository {
            privateRepository = nil
            git = Git(location: ["-C", repository], environment: Self.childEnvironment(environment))
        } else {
            let temporary = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
            // Named after the remote without its credentials: a plain hash of a token must not reach a path.
            let name = "intops-git-state-" + Digest.sha256(Array(Self.redacted(remote).utf8)).hex.prefix(16)
            let directory = (temporary as NSString).appendingPathComponent(name)
            privateRepository = directory
            git = Git(location: ["--git-dir", directory], environment: Self.childEnvironment(environment))
        }
    }

    public func location(of object: String) -> String { "git \(Self.redacted(remote)) \(branch):\(object)" }

    public var writeInterval: Duration { .seconds(1) }
    public var locksExpire: Bool { true }

    // MARK: - Objects

    public func read(_ object: String) async throws(StateError) -> StoredObject? {
        let path = try components(of: object)
        return try await exclusive(Self.branchKey) { () async throws(StateError) -> StoredObject? in
            try await prepare()
            guard try await fetchBranch() else {
                await session.setTip(.absent)
                return nil
            }
            let (snapshot, content) = try await load(revision: fetchedBranchRef, along: path, content: object)
            await session.setTip(.present(snapshot))
            guard let content else { return nil }
            return StoredObject(bytes: content.bytes, version: StateVersion(content.oid))
        }
    }

    public func write(
        _ object: String, _ bytes: [UInt8], expected: StateVersion?
    ) async throws(StateError) -> StateVersion {
        let path = try components(of: object)
        return try await exclusive(Self.branchKey) { () async throws(StateError) -> StateVersion in
            try await prepare()
            // The tip of the last read normally: the caller read before writing, and a stale tip costs only a
            // rejected push. Without one (or without the trees on this path) the branch is fetched first.
            var tip = await session.tip
            var fresh = false
            switch tip {
            case .unknown:
                tip = try await refreshTip(along: path)
                fresh = true
            case .present(let snapshot) where !snapshot.hasTrees(along: path):
                let (loaded, _) = try await load(revision: snapshot.commit, along: path, content: nil)
                tip = .present(snapshot.merging(loaded))
            case .present, .absent: break
            }

            var blob: String?
            var attempts = 0
            while true {
                if tip.blob(along: path) != expected?.token {
                    // The cached tip may predate a version the caller learned elsewhere: only a fresh look decides.
                    if fresh { throw conflict(object) }
                    tip = try await refreshTip(along: path)
                    fresh = true
                    continue
                }
                guard attempts < Self.pushAttempts else {
                    throw StateError(
                        .unavailable,
                        "cannot write \(location(of: object)): \(attempts) pushes were rejected because other runs kept moving \(branch); try again"
                    )
                }
                attempts += 1
                let written: String
                if let blob {
                    written = blob
                } else {
                    written = try await hashObject(bytes)
                    blob = written
                }
                let (root, trees) = try await buildTree(on: tip.snapshot, along: path, blob: written)
                let parent = tip.snapshot?.commit
                let commit = try await commitTree(root, parent: parent, message: message(object, bytes))
                let outcome = await push(commit, to: "refs/heads/\(branch)", lease: nil)
                if case .pushed = outcome {
                    await session.setTip(
                        .present(Snapshot(commit: commit, trees: (tip.snapshot?.trees ?? [:]).merging(trees) { $1 })))
                    return StateVersion(written)
                }
                let now: Tip
                do { now = try await refreshTip(along: path) } catch {
                    throw StateError(.unavailable, "cannot write \(location(of: object)): \(outcome.reason)")
                }
                fresh = true
                if now.snapshot?.commit == commit {
                    // The push landed although its report did not arrive (a connection dropped after the update).
                    return StateVersion(written)
                }
                if now.snapshot?.commit == parent {
                    throw StateError(
                        .unavailable, "cannot write \(location(of: object)): git refused the push: \(outcome.reason)")
                }
                tip = now
                try? await Task.sleep(for: .milliseconds(Int.random(in: 10...60) * attempts))
            }
        }
    }

    // MARK: - Locks

    public func acquireLock(_ scope: LockScope, record: LockRecord) async throws(StateError) -> LockAttempt {
        let ref = lockRef(scope)
        return try await exclusive(ref) { () async throws(StateError) -> LockAttempt in
            try await prepare()
            var reason = ""
            // A rejection with nobody holding the lock afterwards is a holder that released in between: try again.
            for _ in 0..<3 {
                let commit = try await lockCommit(record, parent: nil)
                let outcome = await push(commit, to: ref, lease: "\(ref):")
                if case .pushed = outcome { return .acquired(HeldLock(scope: scope, version: StateVersion(commit))) }
                reason = outcome.reason
                let holder: (record: LockRecord?, version: StateVersion)?
                do { holder = try await fetchLock(ref) } catch {
                    throw StateError(.unavailable, "cannot take the lock \(lockLocation(ref)): \(reason)")
                }
                if let holder {
                    if holder.version.token == commit {
                        return .acquired(HeldLock(scope: scope, version: holder.version))
                    }
                    return .held(record: holder.record, version: holder.version)
                }
            }
            throw StateError(.unavailable, "cannot take the lock \(lockLocation(ref)): \(reason)")
        }
    }

    public func replaceLock(
        _ scope: LockScope, version: StateVersion, record: LockRecord
    ) async throws(StateError) -> LockAttempt {
        let ref = lockRef(scope)
        return try await exclusive(ref) { () async throws(StateError) -> LockAttempt in
            try await prepare()
            // The new lock commit descends from the one it replaces, so the update is a fast-forward even on a
            // remote that refuses forced updates (`git init --shared` sets receive.denyNonFastForwards).
            let commit = try await lockCommit(record, parent: version.token)
            let outcome = await push(commit, to: ref, lease: "\(ref):\(version.token)")
            if case .pushed = outcome { return .acquired(HeldLock(scope: scope, version: StateVersion(commit))) }
            let holder: (record: LockRecord?, version: StateVersion)?
            do { holder = try await fetchLock(ref) } catch {
                throw StateError(.unavailable, "cannot renew the lock \(lockLocation(ref)): \(outcome.reason)")
            }
            guard let holder else {
                throw StateError(
                    .conflict,
                    "the lock \(lockLocation(ref)) no longer exists: another run released or broke it since \(version.token)"
                )
            }
            if holder.version.token == commit { return .acquired(HeldLock(scope: scope, version: holder.version)) }
            if holder.version == version {
                throw StateError(
                    .unavailable, "cannot renew the lock \(lockLocation(ref)): git refused the push: \(outcome.reason)")
            }
            return .held(record: holder.record, version: holder.version)
        }
    }

    public func readLock(_ scope: LockScope) async throws(StateError) -> (record: LockRecord?, version: StateVersion)? {
        let ref = lockRef(scope)
        return try await exclusive(ref) {
            () async throws(StateError) -> (record: LockRecord?, version: StateVersion)? in
            try await prepare()
            return try await fetchLock(ref)
        }
    }

    public func releaseLock(_ scope: LockScope, version: StateVersion) async throws(StateError) {
        let ref = lockRef(scope)
        try await exclusive(ref) { () async throws(StateError) -> Void in
            try await prepare()
            let outcome = await push(nil, to: ref, lease: "\(ref):\(version.token)")
            if case .pushed = outcome { return }
            let holder: (record: LockRecord?, version: StateVersion)?
            do { holder = try await fetchLock(ref) } catch {
                throw StateError(.unavailable, "cannot release the lock \(lockLocation(ref)): \(outcome.reason)")
            }
            guard let holder else { return }
            if holder.version == version {
                throw StateError(
                    .unavailable,
                    "cannot release the lock \(lockLocation(ref)): git refused the push: \(outcome.reason)")
            }
            let who = holder.record?.holder ?? "another run"
            throw StateError(.conflict, "the lock \(lockLocation(ref)) is now held by \(who); it was left in place")
        }
    }

    // MARK: - Branch plumbing

    private var fetchedBranchRef: String { "refs/intops/fetched/\(branch)" }

    /// Fetches the branch into the private ref; false when the remote has no such branch (yet).
    private func fetchBranch() async throws(StateError) -> Bool {
        try await fetch("refs/heads/\(branch)", into: fetchedBranchRef) { line in
            StateError(.unavailable, "cannot read git \(Self.redacted(remote)) \(branch): \(line)")
        }
    }

    private func refreshTip(along path: [String]) async throws(StateError) -> Tip {
        guard try await fetchBranch() else { return .absent }
        let (snapshot, _) = try await load(revision: fetchedBranchRef, along: path, content: nil)
        return .present(snapshot)
    }

    /// The commit at `revision` and the trees from the root down to the object's directory, in one `cat-file`;
    /// with `content`, the object's blob too.
    private func load(
        revision: String, along path: [String], content object: String?
    ) async throws(StateError) -> (Snapshot, (oid: String, bytes: [UInt8])?) {
        let directories = Self.directories(along: path)
        var names = [revision, "\(revision)^{tree}"]
        names += directories.dropFirst().map { "\(revision):\($0)" }
        if let object { names.append("\(revision):\(object)") }
        let objects = try await catFile(names)
        guard let commit = objects[0], commit.type == "commit", let root = objects[1] else {
            throw StateError(.invalid, "\(Self.redacted(remote)) \(branch) does not point to a commit")
        }
        let hashLength = commit.oid.utf8.count / 2
        var trees: [String: [TreeEntry]] = [:]
        for (index, directory) in directories.enumerated() {
            // A directory missing on the branch (or a file where it would be) reads as empty; building the tree
            // refuses to replace a file with a directory.
            let found = index == 0 ? root : objects[index + 1]
            if let found, found.type == "tree" {
                guard let entries = TreeEntry.parse(found.bytes, hashLength: hashLength) else {
                    throw StateError(
                        .invalid, "\(Self.redacted(remote)) \(branch) holds a tree git cannot read (\(found.oid))")
                }
                trees[directory] = entries
            } else {
                trees[directory] = []
            }
        }
        var blob: (oid: String, bytes: [UInt8])?
        if let object, let found = objects.last ?? nil {
            guard found.type == "blob" else {
                throw StateError(.invalid, "\(location(of: object)) is a \(found.type), not a file")
            }
            blob = (found.oid, found.bytes)
        }
        return (Snapshot(commit: commit.oid, trees: trees), blob)
    }

    /// The tip's trees with the object's blob put in, written bottom-up with one `mktree` per directory level.
    private func buildTree(
        on snapshot: Snapshot?, along path: [String], blob: String
    ) async throws(StateError) -> (root: String, trees: [String: [TreeEntry]]) {
        let directories = Self.directories(along: path)
        var written: [String: [TreeEntry]] = [:]
        var child = TreeEntry(mode: "100644", name: Array(path[path.count - 1].utf8), oid: blob)
        for level in stride(from: directories.count - 1, through: 0, by: -1) {
            let directory = directories[level]
            var entries = snapshot?.trees[directory] ?? []
            if let index = entries.firstIndex(where: { $0.name == child.name }) {
                let existing = entries[index]
                if child.isTree != existing.isTree {
                    let what = existing.isTree ? "a directory" : "a file"
                    let name = (directory.isEmpty ? "" : directory + "/") + String(decoding: child.name, as: UTF8.self)
                    throw StateError(
                        .invalid,
                        "cannot write \(location(of: path.joined(separator: "/"))): \(name) is \(what) on the branch")
                }
                if !child.isTree && existing.mode == "100755" { child.mode = existing.mode }
                entries[index] = child
            } else {
                entries.append(child)
            }
            let oid = try await makeTree(entries)
            written[directory] = entries
            child = TreeEntry(mode: "40000", name: Array((level > 0 ? path[level - 1] : "").utf8), oid: oid)
        }
        return (child.oid, written)
    }

    private func makeTree(_ entries: [TreeEntry]) async throws(StateError) -> String {
        var input: [UInt8] = []
        for entry in entries { input += Array("\(entry.mode) \(entry.type) \(entry.oid)\t".utf8) + entry.name + [0] }
        // --missing: a partial clone (`--filter=blob:none` in CI) lacks the blobs of the other files, which stay
        // exactly as the tip's tree names them.
        return try await plumbing(["mktree", "-z", "--missing"], input: input)
    }

    private func hashObject(_ bytes: [UInt8]) async throws(StateError) -> String {
        try await plumbing(["hash-object", "-w", "--stdin"], input: bytes)
    }

    private func commitTree(_ tree: String, parent: String?, message: String) async throws(StateError) -> String {
        // --no-gpg-sign: a developer's commit.gpgSign would otherwise ask a pinentry for every state write.
        try await plumbing(
            ["commit-tree", "--no-gpg-sign", tree] + (parent.map { ["-p", $0] } ?? []), input: Array(message.utf8))
    }

    private func message(_ object: String, _ bytes: [UInt8]) -> String {
        let serial = (try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])?["serial"] as? Int
        let subject = serial.map { "intops: \(object) serial \($0)" } ?? "intops: write \(object)"
        // The nonce keeps two runs that write the same bytes on the same tip in the same second from producing
        // the same commit, which the second push would report as a success it did not have.
        return
            "\(subject)\n\nWritten by intops on \(Self.hostName), pid \(getpid()).\nIntops-Write: \(UUID().uuidString.lowercased())\n"
    }

    private func conflict(_ object: String) -> StateError {
        StateError(.conflict, "the state at \(location(of: object)) was changed by another run since it was read")
    }

    // MARK: - Lock plumbing

    private func lockRef(_ scope: LockScope) -> String {
        guard let organization = scope.organization else { return "refs/intops/locks/_" }
        if organization == "_" { return "refs/intops/locks/%5F" }
        // Organization ids are free text; percent-encoding keeps the ref name valid and one per organization.
        var name = ""
        for byte in organization.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                name.append(Character(Unicode.Scalar(byte)))
            default: name += "%" + [byte].hex.uppercased()
            }
        }
        return "refs/intops/locks/\(name)"
    }

    private func lockLocation(_ ref: String) -> String { "git \(Self.redacted(remote)) \(ref)" }

    private func lockCommit(_ record: LockRecord, parent: String?) async throws(StateError) -> String {
        let tree: String
        if let known = await session.emptyTree {
            tree = known
        } else {
            tree = try await makeTree([])
            await session.setEmptyTree(tree)
        }
        let message = String(decoding: LockRecord.encoded(record), as: UTF8.self)
        guard let parent else { return try await commitTree(tree, parent: nil, message: message) }
        do { return try await commitTree(tree, parent: parent, message: message) } catch {
            // The replaced lock is not here (a version from elsewhere): an unrelated commit still replaces it
            // wherever forced updates are allowed, and the lease still guards it.
            return try await commitTree(tree, parent: nil, message: message)
        }
    }

    /// The lock's holder and version, or nil when there is no lock.
    private func fetchLock(_ ref: String) async throws(StateError) -> (record: LockRecord?, version: StateVersion)? {
        let local = "refs/intops/fetched-locks/" + ref.dropFirst("refs/intops/locks/".count)
        let exists = try await fetch(ref, into: local) { line in
            StateError(.unavailable, "cannot read the lock \(lockLocation(ref)): \(line)")
        }
        guard exists else { return nil }
        guard let commit = try await catFile([local])[0], commit.type == "commit" else { return nil }
        let message =
            commit.bytes.indices.dropLast().first { commit.bytes[$0] == 10 && commit.bytes[$0 + 1] == 10 }.map {
                Array(commit.bytes[($0 + 2)...])
            } ?? []
        return (LockRecord.decoded(message), StateVersion(commit.oid))
    }

    // MARK: - Git

    /// Fetches one remote ref into a private ref; false when the remote has no such ref.
    private func fetch(
        _ ref: String, into local: String, failure: (String) -> StateError
    ) async throws(StateError) -> Bool {
        // --refmap= keeps git from also updating the checkout's remote-tracking branches; --no-write-fetch-head
        // (as configuration, which older git ignores) lets concurrent runs in one checkout fetch at once.
        var attempt = 0
        while true {
            let result = await git.run([
                "-c", "fetch.writeFetchHead=false", "fetch", "--no-tags", "--quiet", "--no-prune",
                "--no-recurse-submodules", "--refmap=", remote, "+\(ref):\(local)",
            ])
            if result.succeeded { return true }
            let message = result.stderrText
            if message.contains("couldn't find remote ref") { return false }
            // Another intops in the same checkout updating the same private ref holds its lock file for a moment.
            attempt += 1
            guard attempt < 4, message.contains("cannot lock ref") || message.contains(".lock': File exists") else {
                throw failure(Self.firstLine(result.stderr))
            }
            try? await Task.sleep(for: .milliseconds(Int.random(in: 20...80) * attempt))
        }
    }

    enum PushOutcome {
        case pushed
        /// The remote (or git before sending) refused the update: the summary of the ref's porcelain line.
        case rejected(String)
        case failed(String)

        var reason: String {
            switch self {
            case .pushed: ""
            case .rejected(let reason), .failed(let reason): reason
            }
        }
    }

    /// Pushes `commit` (nil: a deletion) to `ref`, never forced beyond the lease.
    ///
    /// The push goes to the remote by name, so that its pushurl and options apply; git then records a pushed
    /// branch as its remote-tracking ref (`refs/remotes/origin/intops-state`), exactly what a `git fetch` would.
    private func push(_ commit: String?, to ref: String, lease: String?) async -> PushOutcome {
        var arguments = ["push", "--porcelain", "--no-recurse-submodules", "--no-signed"]
        if let lease { arguments.append("--force-with-lease=\(lease)") }
        arguments += [remote, "\(commit ?? ""):\(ref)"]
        let result = await git.run(arguments)
        let refused = result.stdoutText.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return fields.count >= 3 && fields[0] == "!" ? String(fields[2]) : nil
        }
        if result.succeeded && refused.isEmpty { return .pushed }
        if let summary = refused.first { return .rejected(Self.redacted(summary)) }
        return .failed(Self.firstLine(result.stderr))
    }

    private struct CatFileObject {
        var oid: String
        var type: String
        var bytes: [UInt8]
    }

    /// Looks up every name in one `git cat-file --batch`; nil for a name that does not resolve.
    private func catFile(_ names: [String]) async throws(StateError) -> [CatFileObject?] {
        let input = Array(names.map { $0 + "\n" }.joined().utf8)
        let result = await git.run(["cat-file", "--batch"], input: input)
        guard result.succeeded else { throw localFailure("cat-file", result) }
        let output = result.stdout
        var objects: [CatFileObject?] = []
        var position = 0
        while objects.count < names.count {
            guard let end = output[position...].firstIndex(of: 10) else { break }
            let header = String(decoding: output[position..<end], as: UTF8.self).split(separator: " ")
            position = end + 1
            // "<oid> <type> <size>", or "<name> missing" / "<name> ambiguous".
            guard header.count >= 3, let size = Int(header[header.count - 1]), position + size <= output.count else {
                objects.append(nil)
                continue
            }
            let type = String(header[header.count - 2])
            objects.append(
                CatFileObject(oid: String(header[0]), type: type, bytes: Array(output[position..<(position + size)])))
            position += size + 1
        }
        guard objects.count == names.count else {
            throw StateError(.other, "git cat-file gave \(objects.count) answers for \(names.count) names")
        }
        return objects
    }

    /// Runs a local plumbing command and returns its first line of output (an object id).
    private func plumbing(_ arguments: [String], input: [UInt8]) async throws(StateError) -> String {
        let result = await git.run(arguments, input: input)
        let oid = result.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        guard result.succeeded, !oid.isEmpty else { throw localFailure(arguments[0], result) }
        return oid
    }

    private func localFailure(_ command: String, _ result: ChildProcess.Result) -> StateError {
        let place = repository ?? privateRepository ?? ""
        return StateError(.other, "git \(command) failed in \(place): \(Self.firstLine(result.stderr))")
    }

    /// Makes the private bare repository of a project outside git, once; checks the configuration either way.
    private func prepare() async throws(StateError) {
        if await session.prepared { return }
        try await exclusive("prepare") { () async throws(StateError) -> Void in
            if await session.prepared { return }
            try await checkConfiguration()
            await session.setPrepared()
        }
    }

    private func checkConfiguration() async throws(StateError) {
        guard !remote.hasPrefix("-"), !remote.isEmpty else {
            throw StateError(.unavailable, "state.remote '\(Self.redacted(remote))' is neither a remote name nor a URL")
        }
        guard Self.isValidRefName("refs/heads/\(branch)") else {
            throw StateError(.unavailable, "state.branch '\(branch)' is not a valid git branch name")
        }
        if let directory = privateRepository {
            guard remote.contains(":") || remote.contains("/") else {
                throw StateError(
                    .unavailable,
                    "state.remote '\(remote)' names a git remote, but the project is not in a git repository: give the repository's URL"
                )
            }
            try await makePrivateRepository(directory)
        }
    }

    private func makePrivateRepository(_ directory: String) async throws(StateError) {
        // In a shared temporary directory another user could have made it first, with hooks or configuration of
        // their choosing: it must be a directory of ours.
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw StateError(.other, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard lstat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR, status.st_uid == geteuid() else {
            throw StateError(.other, "\(directory) is not a directory of this user; remove it or set TMPDIR")
        }
        if FileManager.default.fileExists(atPath: directory + "/HEAD") { return }
        let result = await ChildProcess.run(
            arguments: ["git", "init", "--bare", "-q", directory], environment: git.environment)
        guard result.succeeded else {
            throw StateError(.other, "git init --bare \(directory) failed: \(Self.firstLine(result.stderr))")
        }
    }

    private func components(of object: String) throws(StateError) -> [String] {
        let parts = object.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let valid =
            !parts.isEmpty
            && parts.allSatisfy { part in
                !part.isEmpty && part != "." && part != ".." && part.lowercased() != ".git" && !part.contains("\n")
                    && !part.contains("\0")
            }
        guard valid else {
            throw StateError(
                .unavailable,
                "state.path '\(object)' is not a path inside a git branch (no empty, '.', '..' or '.git' parts)")
        }
        return parts
    }

    private func exclusive<T>(_ key: String, _ body: () async throws(StateError) -> T) async throws(StateError) -> T {
        // One operation per private ref at a time: two fetches into the same ref would fail on its lock file, and
        // this run's own writes would only reject each other's pushes.
        await session.enter(key)
        let outcome: Result<T, StateError>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        await session.leave(key)
        return try outcome.get()
    }

    // MARK: - Text

    /// `https://user:token@host/x` → `https://host/x`, wherever a URL appears in the text.
    static func redacted(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd =
                rest.firstIndex { $0 == "/" || $0.isWhitespace || $0 == "'" || $0 == "\"" || $0 == ">" }
                ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        }
        return result + rest
    }

    /// Git's own explanation: its first `fatal:` or `error:` line (hints and progress come before it), redacted.
    static func firstLine(_ stderr: [UInt8]) -> String {
        let lines = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        let line =
            lines.first { $0.hasPrefix("fatal:") || $0.hasPrefix("error:") } ?? lines.first
            ?? "git failed without a message"
        return redacted(line)
    }

    static func isValidRefName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasSuffix("/"), !name.hasSuffix("."), !name.contains(".."), !name.contains("//"),
            !name.contains("@{"), name != "@"
        else { return false }
        let forbidden = Set("~^:?*[\\".unicodeScalars)
        guard name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f && !forbidden.contains($0) }) else {
            return false
        }
        return name.split(separator: "/").allSatisfy {
            !$0.hasPrefix(".") && !$0.hasPrefix("-") && !$0.hasSuffix(".lock")
        }
    }

    /// The child's environment: the caller's, pointed at no other repository, never prompting, in the C locale
    /// (git's messages are matched), and with an identity for hosts that have none. git, its transports and
    /// credential helpers never see the secrets intops itself reads: the age identity and the AWS keys.
    package static func childEnvironment(_ base: [String: String]) -> [String: String] {
        var environment = base
        for key in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX"] {
            environment[key] = nil
        }
        for key in ["SOPS_AGE_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] { environment[key] = nil }
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["LC_ALL"] = "C"
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        for (key, value) in [
            ("GIT_AUTHOR_NAME", "intops"), ("GIT_AUTHOR_EMAIL", "intops@localhost"), ("GIT_COMMITTER_NAME", "intops"),
            ("GIT_COMMITTER_EMAIL", "intops@localhost"),
        ] where environment[key] == nil { environment[key] = value }
        return environment
    }

    /// gethostname(2) itself: Foundation's hostName may wait on a DNS lookup.
    package static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// The directories from the root ("") down to the object's own.
    static func directories(along path: [String]) -> [String] {
        (0..<path.count).map { path[0..<$0].joined(separator: "/") }
    }
}

// MARK: - Internals

extension GitStateBackend {
    struct Git: Sendable {
        var location: [String]
        var environment: [String: String]

        func run(_ arguments: [String], input: [UInt8]? = nil) async -> ChildProcess.Result {
            // Hooks of the checkout (pre-push linters, reference-transaction) are not for state commits.
            await ChildProcess.run(
                arguments: ["git"] + location + ["-c", "core.hooksPath=/dev/null"] + arguments, input: input,
                environment: environment)
        }
    }

    struct TreeEntry: Sendable, Equatable {
        var mode: String
        var name: [UInt8]
        var oid: String

        var isTree: Bool { mode == "40000" || mode == "040000" }
        var type: String { isTree ? "tree" : mode == "160000" ? "commit" : "blob" }

        /// A tree object's bytes: `<octal mode> <name>\0<raw id>` repeated.
        static func parse(_ bytes: [UInt8], hashLength: Int) -> [TreeEntry]? {
            var entries: [TreeEntry] = []
            var position = 0
            while position < bytes.count {
                guard let space = bytes[position...].firstIndex(of: 32),
                    let nul = bytes[(space + 1)...].firstIndex(of: 0), nul + 1 + hashLength <= bytes.count
                else { return nil }
                entries.append(
                    TreeEntry(
                        mode: String(decoding: bytes[position..<space], as: UTF8.self),
                        name: Array(bytes[(space + 1)..<nul]), oid: bytes[(nul + 1)..<(nul + 1 + hashLength)].hex))
                position = nul + 1 + hashLength
            }
            return entries
        }
    }

    /// A commit of the branch and the trees of it this run has looked at, by directory ("" for the root).
    struct Snapshot: Sendable {
        var commit: String
        var trees: [String: [TreeEntry]]

        func hasTrees(along path: [String]) -> Bool {
            GitStateBackend.directories(along: path).allSatisfy { trees[$0] != nil }
        }

        func blob(along path: [String]) -> String? {
            guard let directory = GitStateBackend.directories(along: path).last, let entries = trees[directory] else {
                return nil
            }
            let name = Array(path[path.count - 1].utf8)
            return entries.first { $0.name == name && !$0.isTree }?.oid
        }

        func merging(_ other: Snapshot) -> Snapshot {
            guard other.commit == commit else { return other }
            return Snapshot(commit: commit, trees: trees.merging(other.trees) { $1 })
        }
    }

    enum Tip: Sendable {
        case unknown
        /// The remote has no such branch.
        case absent
        case present(Snapshot)

        var snapshot: Snapshot? {
            if case .present(let snapshot) = self { return snapshot }
            return nil
        }

        func blob(along path: [String]) -> String? { snapshot?.blob(along: path) }
    }

    /// What one backend remembers between calls: the tip it last saw, and who is using which private ref.
    actor Session {
        private(set) var tip: Tip = .unknown
        private(set) var emptyTree: String?
        private(set) var prepared = false
        private var busy: Set<String> = []
        private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

        func setTip(_ tip: Tip) {
            if case .present(let new) = tip, case .present(let old) = self.tip {
                self.tip = .present(old.merging(new))
            } else {
                self.tip = tip
            }
        }

        func setEmptyTree(_ oid: String) { emptyTree = oid }
        func setPrepared() { prepared = true }

        func enter(_ key: String) async {
            guard busy.contains(key) else {
                busy.insert(key)
                return
            }
            await withCheckedContinuation { waiting[key, default: []].append($0) }
        }

        /// Hands the key to the next waiter, which then holds it, or frees it.
        func leave(_ key: String) {
            if var queue = waiting[key], !queue.isEmpty {
                let next = queue.removeFirst()
                waiting[key] = queue
                next.resume()
            } else {
                busy.remove(key)
            }
        }
    }
}

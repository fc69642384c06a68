import Foundation
import Synchronization

/// The state in local files: written by temporary file, fsync and rename, locked with `flock` on `PATH.lock`,
/// which the kernel releases when the holding process ends, however it ends.
public final class LocalStateBackend: StateBackend, Sendable {
    /// Open lock descriptors by lock path (a lock is taken and released from different tasks).
    private let descriptors = Mutex<[String: Int32]>([:])
    /// Folders whose leftover temporary files this run removed.
    private let cleaned = Mutex<Set<String>>([])

    public init() {}

    public func location(of object: String) -> String { object }
    public var writeInterval: Duration { .milliseconds(200) }
    public var locksExpire: Bool { false }

    /// Every atomic write renames a new file into place, so the inode, size and modification time change together.
    static func version(of path: String) -> StateVersion? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return StateVersion("\(info.st_ino)-\(info.st_size)-\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
    }

    public func read(_ object: String) async throws(StateError) -> StoredObject? {
        // Read then stat again: a version that moved while reading is read once more.
        for _ in 0..<3 {
            guard let before = Self.version(of: object) else { return nil }
            guard let data = FileManager.default.contents(atPath: object) else {
                if access(object, F_OK) != 0 { return nil }
                throw StateError(.unavailable, "cannot read the state \(object): \(String(cString: strerror(errno)))")
            }
            if Self.version(of: object) == before { return StoredObject(bytes: Array(data), version: before) }
        }
        throw StateError(
            .conflict, "the state \(object) kept changing while it was read; is another program writing it?")
    }

    public func write(
        _ object: String, _ bytes: [UInt8], expected: StateVersion?
    ) async throws(StateError) -> StateVersion {
        guard Self.version(of: object) == expected else {
            throw StateError(
                .conflict,
                "the state \(object) was changed by another program since this run read it; nothing was written, run again"
            )
        }
        do {
            try FileManager.default.createDirectory(
                atPath: (object as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(bytes, to: object, mode: 0o644)
            // Once per run and folder: whole-state copies a SIGKILL left between a temporary file and its rename.
            let directory = (object as NSString).deletingLastPathComponent
            if cleaned.withLock({ $0.insert(directory).inserted }) { AtomicFile.removeLeftovers(in: directory) }
        } catch { throw StateError(.other, "cannot write the state \(object): \(error)") }
        guard let version = Self.version(of: object) else {
            throw StateError(.other, "the state \(object) vanished right after it was written")
        }
        return version
    }

    // MARK: - Locks

    private func lockPath(_ scope: LockScope) -> String { scope.object + ".lock" }

    public func acquireLock(_ scope: LockScope, record: LockRecord) async throws(StateError) -> LockAttempt {
        let path = lockPath(scope)
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StateError(.other, "cannot open the state lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.contents(fd)
            close(fd)
            return .held(record: holder.flatMap(LockRecord.decoded), version: StateVersion(record.id))
        }
        // Who holds it, for the runs that wait: written in place, since the lock is the open file itself.
        let bytes = LockRecord.encoded(record)
        ftruncate(fd, 0)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptors.withLock { $0[path] = fd }
        return .acquired(HeldLock(scope: scope, version: StateVersion(record.id)))
    }

    /// A local lock never expires (it ends with its process), so a renewal keeps it and a takeover is a new try.
    public func replaceLock(
        _ scope: LockScope, version: StateVersion, record: LockRecord
    ) async throws(StateError) -> LockAttempt {
        if descriptors.withLock({ $0[lockPath(scope)] != nil }) {
            return .acquired(HeldLock(scope: scope, version: version))
        }
        return try await acquireLock(scope, record: record)
    }

    public func readLock(_ scope: LockScope) async throws(StateError) -> (record: LockRecord?, version: StateVersion)? {
        let path = lockPath(scope)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Nobody holds a lock this process can take at once.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        let record = Self.contents(fd).flatMap(LockRecord.decoded)
        return (record, StateVersion(record?.id ?? ""))
    }

    public func releaseLock(_ scope: LockScope, version: StateVersion) async throws(StateError) {
        let path = lockPath(scope)
        guard let fd = descriptors.withLock({ $0.removeValue(forKey: path) }) else {
            throw StateError(
                .locked, "the lock \(path) is held by a running process; it is released when that process ends")
        }
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }

    private static func contents(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer.prefix(count)) : nil
    }

    deinit { descriptors.withLock { for fd in $0.values { close(fd) } } }
}

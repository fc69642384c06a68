import Foundation

/// Why the state could not be read, written or locked. `kind` is what callers decide on; `description` is the one
/// sentence a person reads.
public struct StateError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The object changed since it was read: a compare-and-swap write lost, nothing was written.
        case conflict
        /// Another run holds the lock (past the wait).
        case locked
        /// The stored state is not a state intops can use (damaged, newer version, another lineage).
        case invalid
        /// The store could not be reached or refused the request (network, permissions, configuration).
        case unavailable
        /// Anything else (a local file system error).
        case other
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind = .other, _ description: String) {
        self.kind = kind
        self.description = description
    }

    public init(description: String) { self.init(.other, description) }
}

/// The version of a stored object a reader saw, which a compare-and-swap write must still find: an S3 ETag, a git
/// blob id, a local file's inode and size.
public struct StateVersion: Sendable, Hashable, Codable, CustomStringConvertible {
    public var token: String
    public init(_ token: String) { self.token = token }
    public var description: String { token }
}

public struct StoredObject: Sendable {
    public var bytes: [UInt8]
    public var version: StateVersion
    public init(bytes: [UInt8], version: StateVersion) {
        self.bytes = bytes
        self.version = version
    }
}

/// Who holds a state lock: written into the lock so that a waiting run can say whom it waits for, and so that
/// `intops state unlock LOCK-ID` breaks only the lock it names.
public struct LockRecord: Codable, Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int32
    public var operation: String
    public var since: Date
    /// The end of the lease; the holder renews it while it runs. A lock past it was left by a run that died.
    public var expires: Date

    public init(id: String, host: String, pid: Int32, operation: String, since: Date, expires: Date) {
        self.id = id
        self.host = host
        self.pid = pid
        self.operation = operation
        self.since = since
        self.expires = expires
    }

    public static func encoded(_ record: LockRecord) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return Array((try? encoder.encode(record)) ?? Data()) + [10]
    }

    public static func decoded(_ bytes: [UInt8]) -> LockRecord? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(LockRecord.self, from: Data(bytes))
    }

    /// "run 3f2a… (apply on ci-runner-7, pid 4242, since 12:00:01Z)".
    public var holder: String { "run \(id) (\(operation) on \(host), pid \(pid), since \(Self.timestamp(since)))" }

    static func timestamp(_ date: Date) -> String { Timestamp.string(date) }
}

/// What a lock is taken on: one state object, and the organization it belongs to when the state is sharded.
public struct LockScope: Sendable, Hashable {
    /// The state object's name in its backend (path, key), `{org}` already replaced.
    public var object: String
    /// The organization of a sharded state; nil when one object holds every organization.
    public var organization: String?

    public init(object: String, organization: String?) {
        self.object = object
        self.organization = organization
    }
}

/// A lock this run holds: what renewing and releasing it must still find.
public struct HeldLock: Sendable, Hashable {
    public var scope: LockScope
    public var version: StateVersion
    public init(scope: LockScope, version: StateVersion) {
        self.scope = scope
        self.version = version
    }
}

public enum LockAttempt: Sendable {
    case acquired(HeldLock)
    /// Someone else holds it; `record` is nil when the lock exists but says nothing readable.
    case held(record: LockRecord?, version: StateVersion)
}

/// Where the state lives: a local file, an S3 object, a file on a git branch. The store, the planner, the
/// applier and the `state` commands see only this; each backend makes reads versioned, writes compare-and-swap and
/// locks exclusive.
public protocol StateBackend: Sendable {
    /// How a person finds the object: a path, `s3://bucket/key`, `git REMOTE BRANCH:PATH`.
    func location(of object: String) -> String

    /// The shortest time between two state writes of a long apply: a remote write costs a round trip (and for git a
    /// commit), so remote backends coalesce more.
    var writeInterval: Duration { get }

    /// Whether a lock is a lease the holder must renew (remote locks outlive a killed process; a local `flock`
    /// does not).
    var locksExpire: Bool { get }

    /// The object and its version, or nil when it does not exist.
    func read(_ object: String) async throws(StateError) -> StoredObject?

    /// Writes the object when it is still at `expected` (nil: when it does not exist yet); `.conflict` otherwise.
    func write(_ object: String, _ bytes: [UInt8], expected: StateVersion?) async throws(StateError) -> StateVersion

    /// Takes the lock when nobody holds it.
    func acquireLock(_ scope: LockScope, record: LockRecord) async throws(StateError) -> LockAttempt

    /// Replaces a lock at `version` (a renewal of ours, or the takeover of an expired one) with `record`.
    func replaceLock(
        _ scope: LockScope, version: StateVersion, record: LockRecord
    ) async throws(StateError) -> LockAttempt

    /// Who holds the lock now, or nil when nobody does.
    func readLock(_ scope: LockScope) async throws(StateError) -> (record: LockRecord?, version: StateVersion)?

    /// Removes the lock when it is still at `version`.
    func releaseLock(_ scope: LockScope, version: StateVersion) async throws(StateError)
}

import Foundation
import S3

/// The state as S3 objects: reads give the ETag, writes are `If-Match` on it (or `If-None-Match: *` for the first
/// one), and the lock is `KEY.lock`, created with `If-None-Match: *` and renewed with `If-Match`.
public struct S3StateBackend: StateBackend {
    public let bucket: String
    let client: S3Client

    public init(bucket: String, region: String?, endpoint: String?, environment: [String: String]) throws(StateError) {
        self.bucket = bucket
        do {
            client = S3Client(
                configuration: try S3Configuration.resolve(region: region, endpoint: endpoint, environment: environment)
            )
        } catch {
            throw StateError(
                .unavailable, "the s3 state backend (bucket \(bucket)) is not usable: \(error.description)")
        }
    }

    public func location(of object: String) -> String { "s3://\(bucket)/\(object)" }
    public var writeInterval: Duration { .seconds(1) }
    public var locksExpire: Bool { true }

    private func failure(_ error: S3Error, _ what: String) -> StateError {
        StateError(error.kind == .preconditionFailed ? .conflict : .unavailable, "cannot \(what): \(error.description)")
    }

    public func read(_ object: String) async throws(StateError) -> StoredObject? {
        do {
            return try await client.get(bucket: bucket, key: object).map {
                StoredObject(bytes: $0.bytes, version: StateVersion($0.etag))
            }
        } catch { throw failure(error, "read the state \(location(of: object))") }
    }

    public func write(
        _ object: String, _ bytes: [UInt8], expected: StateVersion?
    ) async throws(StateError) -> StateVersion {
        do {
            let etag = try await client.put(
                bucket: bucket, key: object, bytes: bytes,
                condition: expected.map { .ifMatch($0.token) } ?? .ifNoneMatch)
            return StateVersion(etag)
        } catch  where error.kind == .preconditionFailed {
            // The client retries a write whose answer was lost; if the first one landed, the retry finds our own
            // bytes there and answers 412. That is a success, not a conflict.
            if let current = try await read(object), current.bytes == bytes { return current.version }
            throw StateError(
                .conflict,
                "the state \(location(of: object)) was changed by another run since this run read it; nothing was written, run again"
            )
        } catch { throw failure(error, "write the state \(location(of: object))") }
    }

    private func lockKey(_ scope: LockScope) -> String { scope.object + ".lock" }

    public func acquireLock(_ scope: LockScope, record: LockRecord) async throws(StateError) -> LockAttempt {
        try await putLock(scope, record: record, condition: .ifNoneMatch)
    }

    public func replaceLock(
        _ scope: LockScope, version: StateVersion, record: LockRecord
    ) async throws(StateError) -> LockAttempt {
        try await putLock(scope, record: record, condition: .ifMatch(version.token))
    }

    private func putLock(
        _ scope: LockScope, record: LockRecord, condition: S3WriteCondition
    ) async throws(StateError) -> LockAttempt {
        do {
            let etag = try await client.put(
                bucket: bucket, key: lockKey(scope), bytes: LockRecord.encoded(record), condition: condition)
            return .acquired(HeldLock(scope: scope, version: StateVersion(etag)))
        } catch  where error.kind == .preconditionFailed {
            if let current = try await readLock(scope) {
                // Our own lock, written by an attempt whose answer was lost (see `write`).
                if current.record?.id == record.id {
                    return .acquired(HeldLock(scope: scope, version: current.version))
                }
                return .held(record: current.record, version: current.version)
            }
            // Released between our write and the read: the caller tries again.
            return .held(record: nil, version: StateVersion(""))
        } catch { throw failure(error, "take the state lock \(location(of: lockKey(scope)))") }
    }

    public func readLock(_ scope: LockScope) async throws(StateError) -> (record: LockRecord?, version: StateVersion)? {
        do {
            return try await client.get(bucket: bucket, key: lockKey(scope)).map {
                (LockRecord.decoded($0.bytes), StateVersion($0.etag))
            }
        } catch { throw failure(error, "read the state lock \(location(of: lockKey(scope)))") }
    }

    public func releaseLock(_ scope: LockScope, version: StateVersion) async throws(StateError) {
        do { try await client.delete(bucket: bucket, key: lockKey(scope), ifMatch: version.token) } catch
            where error.kind == .preconditionFailed
        {
            throw StateError(
                .conflict,
                "the state lock \(location(of: lockKey(scope))) is no longer the one this run took; it was left in place"
            )
        } catch { throw failure(error, "release the state lock \(location(of: lockKey(scope)))") }
    }
}

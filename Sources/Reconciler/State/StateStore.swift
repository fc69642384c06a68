import Foundation

/// Why the state could not be read or written.
public struct StateError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Reads and writes the state file(s) atomically under an exclusive lock. A `{org}` in the path keeps one file per
/// organization, so jobs sharded by `--org` never contend for one file.
public final class StateStore: @unchecked Sendable {
    public let pathTemplate: String
    private var locks: [String: Int32] = [:]
    private let mutex = NSLock()

    public init(path: String) { pathTemplate = path }

    public var isSharded: Bool { pathTemplate.contains("{org}") }

    /// How long a run waits for another run's lock: 30 s, or INTOPS_LOCK_TIMEOUT seconds.
    public static var lockTimeout: Duration {
        .seconds(ProcessInfo.processInfo.environment["INTOPS_LOCK_TIMEOUT"].flatMap(Double.init) ?? 30)
    }

    public func path(for organization: String?) -> String {
        isSharded ? pathTemplate.replacingOccurrences(of: "{org}", with: organization ?? "_") : pathTemplate
    }

    /// Takes the exclusive lock of every file the run will write; a second run waits up to `timeout` then says who
    /// holds it.
    public func lock(organizations: [String], timeout: Duration = StateStore.lockTimeout) throws(StateError) {
        let paths = Set(isSharded ? organizations.map { path(for: $0) } : [pathTemplate]).sorted()
        for path in paths {
            let lockPath = path + ".lock"
            try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let fd = open(lockPath, O_RDWR | O_CREAT, 0o644)
            guard fd >= 0 else { throw StateError(description: "cannot open the state lock \(lockPath): \(String(cString: strerror(errno)))") }
            let deadline = ContinuousClock.now + timeout
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard ContinuousClock.now < deadline else {
                    close(fd)
                    throw StateError(description: "the state \(path) is locked by another intops run; wait for it to finish (or remove \(lockPath) if no run is active)")
                }
                usleep(50_000)
            }
            mutex.withLock { locks[path] = fd }
        }
    }

    public func unlock() {
        let held = mutex.withLock { () -> [Int32] in
            defer { locks = [:] }
            return Array(locks.values)
        }
        for fd in held {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }

    deinit { unlock() }

    /// The state of the given organizations (every one for an unsharded file).
    public func load(organizations: [String]) throws(StateError) -> IntopsState {
        let paths = isSharded ? organizations.map { path(for: $0) } : [pathTemplate]
        var merged: IntopsState?
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let state: IntopsState
            do {
                state = try JSONDecoder().decode(IntopsState.self, from: data)
            } catch {
                throw StateError(description: "\(path) is not a valid intops state file; restore it from a backup, or delete it to re-adopt everything by identity")
            }
            guard state.version <= IntopsState.currentVersion else {
                throw StateError(description: "\(path) was written by a newer intops (state version \(state.version)); upgrade intops")
            }
            if merged == nil {
                merged = state
            } else {
                merged!.integrations += state.integrations
                merged!.serial = max(merged!.serial, state.serial)
            }
        }
        var result = merged ?? IntopsState()
        result.integrations.sort { $0.key < $1.key }
        // Intents an interrupted apply left in the journal join the state's pending creates.
        for intent in readIntents(organizations: organizations) where result.entry(intent.key) == nil {
            var pending = result.pendingCreates ?? []
            if !pending.contains(intent) { pending.append(intent) }
            result.pendingCreates = pending
        }
        return result
    }

    // MARK: - The intent journal

    /// Pending creates go to a small append-only journal beside the state, synced before each create request is
    /// sent; rewriting the whole state for each one would make a large apply wait on the disk.
    func journalPath(for organization: String) -> String { path(for: organization) + ".intents" }

    public func appendIntents(_ intents: [IntopsState.PendingCreate]) throws(StateError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (path, group) in Dictionary(grouping: intents, by: { journalPath(for: $0.organization) }) {
            var bytes: [UInt8] = []
            for intent in group {
                guard let line = try? encoder.encode(intent) else { continue }
                bytes += Array(line) + [10]
            }
            try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            guard fd >= 0 else { throw StateError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == bytes.count, fsync(fd) == 0 else {
                throw StateError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    func readIntents(organizations: [String]) -> [IntopsState.PendingCreate] {
        let paths = Set(isSharded ? organizations.map { journalPath(for: $0) } : [journalPath(for: "_")])
        var intents: [IntopsState.PendingCreate] = []
        for path in paths.sorted() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            for line in data.split(separator: 10) {
                // A line cut short by a crash is skipped: its create request was never sent.
                if let intent = try? JSONDecoder().decode(IntopsState.PendingCreate.self, from: Data(line)) { intents.append(intent) }
            }
        }
        return intents
    }

    /// Called once the state file itself holds every pending create.
    public func clearIntents(organizations: [String]) {
        let paths = Set(isSharded ? organizations.map { journalPath(for: $0) } : [journalPath(for: "_")])
        for path in paths { unlink(path) }
    }

    /// Writes the state, one serial up, atomically.
    public func save(_ state: inout IntopsState, organizations: [String]) throws(StateError) {
        state.serial += 1
        let groups: [(String, [IntopsState.Entry])] = isSharded
            ? organizations.map { organization in (path(for: organization), state.integrations.filter { $0.organization == organization }) }
            : [(pathTemplate, state.integrations)]
        for (path, entries) in groups {
            var part = state
            part.integrations = entries
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                var bytes = try encode(part)
                bytes.append(10)
                try AtomicFile.write(bytes, to: path, mode: 0o644)
            } catch {
                throw StateError(description: "cannot write the state \(path): \(error)")
            }
        }
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Entries as an earlier save encoded them, reused while unchanged: an apply rewrites the state a few times a
    /// second, and most of its entries are as they were (encoding all 2,000 of a large project each time was a
    /// tenth of the apply's CPU).
    private var encodedEntries: [IntegrationKey: (entry: IntopsState.Entry, json: [UInt8])] = [:]

    /// The same bytes as `JSONEncoder` with `prettyPrinted, sortedKeys, withoutEscapingSlashes` gives for the whole
    /// document: the document without entries, with the entries spliced into its empty `integrations` array.
    func encode(_ state: IntopsState) throws -> [UInt8] {
        let encoder = Self.encoder()
        var shell = state
        shell.integrations = []
        var document = Array(try encoder.encode(shell))
        let emptyList = Array("\"integrations\" : [\n\n  ]".utf8)
        guard !state.integrations.isEmpty, let range = document.firstRange(of: emptyList) else { return document }
        var list = Array("\"integrations\" : [\n".utf8)
        list.reserveCapacity(state.integrations.count * 1000)
        for (index, entry) in state.integrations.enumerated() {
            if index > 0 { list += [44, 10] }
            list += try encodedEntry(entry, encoder)
        }
        list += Array("\n  ]".utf8)
        document.replaceSubrange(range, with: list)
        return document
    }

    /// One entry as it appears inside the document's list: indented by two levels.
    private func encodedEntry(_ entry: IntopsState.Entry, _ encoder: JSONEncoder) throws -> [UInt8] {
        if let cached = mutex.withLock({ encodedEntries[entry.key] }), cached.entry == entry { return cached.json }
        let plain = try encoder.encode(entry)
        let indent: [UInt8] = [32, 32, 32, 32]
        var json = indent
        json.reserveCapacity(plain.count + 200)
        // A newline only ever separates lines: inside strings JSON escapes it.
        for byte in plain {
            json.append(byte)
            if byte == 10 { json += indent }
        }
        mutex.withLock { encodedEntries[entry.key] = (entry, json) }
        return json
    }
}

import Foundation

/// A `state` subcommand, with its arguments.
public enum StateOperation: Sendable, Equatable {
    case list
    /// NAME or ORG/NAME.
    case show(String)
    case remove(String)
    case move(String, to: String)
    case pull
    /// A state file to replace the stored one with: its absolute path, and its name as the user wrote it.
    case push(path: String, named: String)
    case unlock(lockID: String)
    /// Copies a local state file (default `.intops/state.json`, relative to the project root) into the backend.
    case migrate(from: String?)

    /// Whether the operation writes the state (and so takes the lock).
    var writes: Bool {
        switch self {
        case .remove, .move, .push, .migrate: true
        case .list, .show, .pull, .unlock: false
        }
    }

    var name: String {
        switch self {
        case .list: "list"
        case .show: "show"
        case .remove: "rm"
        case .move: "mv"
        case .pull: "pull"
        case .push: "push"
        case .unlock: "unlock"
        case .migrate: "migrate"
        }
    }
}

/// What a `state` subcommand did.
public enum StateOutcome: Sendable {
    case entries([IntopsState.Entry])
    case entry(IntopsState.Entry)
    /// The JSON of the stored state.
    case pulled(String)
    case removed(IntopsState.Entry)
    case moved(from: IntegrationKey, to: IntegrationKey)
    case pushed(count: Int, location: String, serial: Int)
    case unlocked(lockID: String, location: String)
    case migrated(count: Int, lineage: String, from: String, location: String)
}

/// Options of the `state` operations.
public struct StateCommandSettings: Sendable, Equatable {
    /// Only these organizations (all when empty).
    public var organizations: [String]
    /// push: replace a state of another lineage or a newer serial; migrate: replace a state the backend holds;
    /// unlock: break a lock whose lease still runs.
    public var force: Bool
    public var lockTimeout: Duration?

    public init(organizations: [String] = [], force: Bool = false, lockTimeout: Duration? = nil) {
        self.organizations = organizations
        self.force = force
        self.lockTimeout = lockTimeout
    }
}

extension Engine {
    /// Inspects or edits the state; the operations that write hold the state lock.
    public func state(
        _ operation: StateOperation, _ settings: StateCommandSettings, observer: EngineObserver
    ) async throws(EngineError) -> StateOutcome {
        let project = try loadProject()
        var organizations = settings.organizations.isEmpty ? project.organizations.map(\.id) : settings.organizations
        // A move to another organization writes that organization's state too.
        if case .move(_, let target) = operation, let organization = target.split(separator: "/").first,
            target.contains("/"), !organizations.contains(String(organization))
        {
            organizations.append(String(organization))
        }
        if let unknown = organizations.first(where: { id in !project.organizations.contains { $0.id == id } }) {
            throw .unknownOrganization(
                unknown, project: ProjectPaths.display(project.file, relativeTo: project.root),
                declared: project.organizations.map(\.id))
        }
        let store: StateStore
        do throws(StateError) {
            store = try await StateBackends.store(for: project, environment: environment)
            guard operation.writes else {
                return try await inspect(operation, store: store, organizations: organizations, force: settings.force)
            }
            let lock = lockRequest("state \(operation.name)", timeout: settings.lockTimeout, observer: observer)
            try await store.lock(organizations: organizations, lock)
        } catch { throw .state(error) }
        do throws(EngineError) {
            let outcome = try await edit(
                operation, project: project, store: store, organizations: organizations, force: settings.force)
            await store.unlock()
            return outcome
        } catch {
            await store.unlock()
            throw error
        }
    }

    func inspect(
        _ operation: StateOperation, store: StateStore, organizations: [String], force: Bool
    ) async throws(StateError) -> StateOutcome {
        switch operation {
        case .unlock(let id):
            return .unlocked(
                lockID: id, location: try await store.breakLock(id: id, organizations: organizations, force: force))
        case .pull:
            let state = try await store.load(organizations: organizations)
            guard state.exists else {
                throw StateError(.invalid, "there is no state at \(store.location(organizations)) yet")
            }
            return .pulled(String(decoding: try await store.encoded(state), as: UTF8.self))
        case .show(let name):
            return .entry(
                try Self.find(
                    name, in: try await store.load(organizations: organizations), organizations: organizations))
        default:
            return .entries(
                try await store.load(organizations: organizations).integrations.filter {
                    organizations.contains($0.organization)
                })
        }
    }

    /// The entry NAME or ORG/NAME names among these organizations' entries (an unsharded state holds them all).
    static func find(
        _ text: String, in state: IntopsState, organizations: [String]
    ) throws(StateError) -> IntopsState.Entry {
        let state = IntopsState(
            lineage: state.lineage, serial: state.serial,
            integrations: state.integrations.filter { organizations.contains($0.organization) })
        let matches = state.integrations.filter { $0.key.description == text || $0.name == text }
        guard matches.count == 1 else {
            throw StateError(
                .invalid,
                matches.isEmpty
                    ? "the state records no integration \(text)"
                    : "\(text) is in several organizations (\(matches.map(\.organization).joined(separator: ", "))); write ORG/\(text)"
            )
        }
        return matches[0]
    }

    /// Fingerprints are keyed on the integration's name (equal values in two integrations must not look equal), so
    /// a moved entry's records are computed again under its new name for every secret whose value is still the one
    /// recorded: the move keeps their standing. A secret intops cannot read keeps its record and is set again.
    func carriedFingerprints(
        of entry: IntopsState.Entry, from old: IntegrationKey, project: Project
    ) async -> [String: IntopsState.SecretRecord] {
        guard let reference = project.fingerprintKey, !entry.secrets.isEmpty,
            let loaded = try? await ProjectLoader.loadManifests(of: project),
            let manifest = loaded.integrations.first(where: {
                $0.organization == entry.organization && $0.name == entry.name
            })
        else { return entry.secrets }
        let resolver = SecretResolver(root: project.root, environment: environment)
        guard let key = try? FingerprintKey.resolve(reference, with: resolver),
            let fingerprinter = try? Fingerprinter(key: key)
        else { return entry.secrets }
        var records = entry.secrets
        for secret in manifest.secrets {
            guard let record = records[secret.key], let value = try? resolver.resolve(secret.reference),
                fingerprinter.fingerprint(old, secretKey: secret.key, value: value).matches(record.fingerprint)
            else { continue }
            records[secret.key]?.fingerprint =
                fingerprinter.fingerprint(entry.key, secretKey: secret.key, value: value).hex
        }
        return records
    }

    /// The operations that write, under the lock.
    func edit(
        _ operation: StateOperation, project: Project, store: StateStore, organizations: [String], force: Bool
    ) async throws(EngineError) -> StateOutcome {
        do throws(StateError) {
            var state = try await store.load(organizations: organizations)
            switch operation {
            case .remove(let name):
                let entry = try Self.find(name, in: state, organizations: organizations)
                state.remove(entry.key)
                try await store.save(&state, organizations: organizations)
                return .removed(entry)
            case .move(let name, let target):
                var entry = try Self.find(name, in: state, organizations: organizations)
                let old = entry.key
                let parts = target.split(separator: "/").map(String.init)
                if parts.count == 2 {
                    entry.organization = parts[0]
                    entry.name = parts[1]
                } else {
                    entry.name = target
                }
                guard state.entry(entry.key) == nil else {
                    throw StateError(.invalid, "the state already records \(entry.key)")
                }
                entry.secrets = await carriedFingerprints(of: entry, from: old, project: project)
                state.remove(old)
                state.set(entry)
                try await store.save(&state, organizations: organizations)
                return .moved(from: old, to: entry.key)
            case .push(let path, let name):
                return try await push(
                    path, named: name, over: state, store: store, organizations: organizations, force: force)
            case .migrate(let from):
                return try await migrate(
                    from: from ?? ".intops/state.json", project: project, into: store, current: state,
                    organizations: organizations, force: force)
            case .list, .show, .pull, .unlock:
                return try await inspect(operation, store: store, organizations: organizations, force: force)
            }
        } catch { throw .state(error) }
    }

    /// Replaces the stored state with a file, refused unless it has the state's lineage and at least its serial.
    func push(
        _ path: String, named file: String, over state: IntopsState, store: StateStore, organizations: [String],
        force: Bool
    ) async throws(StateError) -> StateOutcome {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateError(.other, "cannot read \(file)")
        }
        var pushed = try store.decode(Array(data), named: file)
        if state.exists && !force {
            guard pushed.lineage == state.lineage else {
                throw StateError(
                    .invalid,
                    "\(file) has the lineage \(pushed.lineage), and the state at \(store.location(organizations)) has \(state.lineage): it is another project's state; add --force to replace it anyway"
                )
            }
            guard pushed.serial >= state.serial else {
                throw StateError(
                    .invalid,
                    "\(file) has the serial \(pushed.serial), older than the state's \(state.serial): it would undo later writes; add --force to replace it anyway"
                )
            }
        }
        // Only these organizations are replaced; an unsharded state keeps the others' entries as they are.
        pushed.integrations =
            pushed.integrations.filter { organizations.contains($0.organization) }
            + state.integrations.filter { !organizations.contains($0.organization) }
        pushed.integrations.sort { $0.key < $1.key }
        pushed.pendingCreates = pushed.pendingCreates?.filter { organizations.contains($0.organization) }
        pushed.serial = max(pushed.serial, state.serial)
        try await store.save(&pushed, organizations: organizations, replacingLineage: true)
        return .pushed(count: pushed.integrations.count, location: store.location(organizations), serial: pushed.serial)
    }

    /// Copies a local state file into the configured backend, keeping its lineage.
    func migrate(
        from: String, project: Project, into store: StateStore, current: IntopsState, organizations: [String],
        force: Bool
    ) async throws(StateError) -> StateOutcome {
        let sourcePath = ProjectPaths.resolve(from, from: project.root)
        if case .local(let path) = project.state, path == sourcePath {
            throw StateError(
                .invalid,
                "the state is already the local file \(from); set state: to an s3 or git backend in intops.yaml first, then run intops state migrate"
            )
        }
        let source = StateStore(path: sourcePath)
        var state = try await source.load(organizations: organizations)
        guard state.exists else {
            throw StateError(.invalid, "there is no state at \(from) to migrate; name it with --from PATH")
        }
        if current.exists && !force {
            throw StateError(
                .invalid,
                "\(store.location(organizations)) already holds a state (lineage \(current.lineage), serial \(current.serial)); add --force to replace it with \(from)"
            )
        }
        if current.exists && current.lineage == state.lineage && state.serial < current.serial {
            throw StateError(
                .invalid,
                "\(from) has the serial \(state.serial), older than the backend's \(current.serial) of the same lineage: it would undo later writes; intops state push can replace it deliberately"
            )
        }
        state.serial = max(state.serial, current.serial)
        try await store.save(&state, organizations: organizations, replacingLineage: true)
        return .migrated(
            count: state.integrations.count, lineage: state.lineage, from: from, location: store.location(organizations)
        )
    }
}

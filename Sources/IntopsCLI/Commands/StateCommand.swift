import Foundation
import Reconciler

/// `intops state list | show NAME | rm NAME | mv OLD NEW | pull | push FILE | unlock LOCK-ID | migrate`.
enum StateCommand {
    static let subcommands = ["list", "show", "rm", "mv", "pull", "push", "unlock", "migrate"]
    static let force = OptionSpec(
        name: "force",
        help: "push: replace a state of another lineage or a newer serial; migrate: replace a state the backend already holds; unlock: break a lock whose lease still runs.")
    static let from = OptionSpec(
        name: "from", kind: .value(placeholder: "PATH"), help: "migrate: the local state file to copy (default .intops/state.json; may hold {org}).")
    static let usage = "intops state list | show NAME | rm NAME | mv OLD NEW | pull | push FILE | unlock LOCK-ID | migrate [--from PATH]"

    static let spec = CommandSpec(
        name: "state", summary: "Inspect, edit, move or unlock the state.", arguments: "list|show|rm|mv|pull|push|unlock|migrate [ARG] [ARG]",
        positionalCount: 1...3,
        options: [SharedOptions.org, force, from, SharedOptions.lockTimeout],
        discussion: """
            NAME is the manifest name, or ORG/NAME. rm forgets an integration without touching it (a later plan adopts
            it again if the manifests still declare it); mv follows a rename in the manifests. pull prints the state
            as JSON; push FILE replaces it (refused unless FILE has the state's lineage and at least its serial, or
            --force). unlock breaks the lock of a run that died, by the run id a waiting run prints. migrate copies a
            local state file into the backend intops.yaml now configures: how a team moves its state to s3 or git.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let positionals = invocation.arguments.positionals
        let arity = ["list": 1, "show": 2, "rm": 2, "mv": 3, "pull": 1, "push": 2, "unlock": 2, "migrate": 1]
        guard let expected = arity[positionals[0]], positionals.count == expected else {
            invocation.error("use \(usage)")
            return ExitCode.usage
        }
        guard let lockTimeout = invocation.options(SharedOptions.lockTimeoutValue) else { return ExitCode.usage }
        let engine = invocation.engine
        guard let project = await invocation.run({ () throws(EngineError) in try engine.loadProject() }) else { return ExitCode.failure }
        let given = invocation.arguments.all(SharedOptions.org)
        var organizations = given.isEmpty ? project.organizations.map(\.id) : given
        // A move to another organization writes that organization's state too.
        if positionals[0] == "mv", positionals.count == 3, let target = positionals[2].split(separator: "/").first, positionals[2].contains("/"),
            !organizations.contains(String(target)) {
            organizations.append(String(target))
        }
        if let unknown = organizations.first(where: { id in !project.organizations.contains { $0.id == id } }) {
            return fail(invocation, "--org \(unknown) is not an organization of intops.yaml")
        }
        let store: StateStore
        do throws(StateError) {
            store = try await StateBackends.store(for: project, environment: invocation.environment)
        } catch {
            return fail(invocation, error.description)
        }
        let subcommand = positionals[0]
        guard ["rm", "mv", "push", "migrate"].contains(subcommand) else {
            return await inspect(subcommand, positionals, store: store, organizations: organizations, invocation: invocation)
        }
        let lock = engine.lockRequest("state \(subcommand)", timeout: lockTimeout, observer: invocation.observer)
        do throws(StateError) {
            try await store.lock(organizations: organizations, operation: lock.operation, timeout: lock.timeout, lease: lock.lease, waiting: lock.waiting)
        } catch {
            return fail(invocation, error.description)
        }
        let status = await edit(subcommand, positionals, invocation: invocation, project: project, store: store, organizations: organizations)
        await store.unlock()
        return status
    }

    static func fail(_ invocation: Invocation, _ message: String) -> Int32 {
        invocation.error(message)
        return ExitCode.failure
    }

    static func find(_ text: String, in state: IntopsState) throws(StateError) -> IntopsState.Entry {
        let matches = state.integrations.filter { $0.key.description == text || $0.name == text }
        guard matches.count == 1 else {
            throw StateError(.invalid, matches.isEmpty
                ? "the state records no integration \(text)"
                : "\(text) is in several organizations (\(matches.map(\.organization).joined(separator: ", "))); write ORG/\(text)")
        }
        return matches[0]
    }

    /// The subcommands that only read.
    static func inspect(_ subcommand: String, _ positionals: [String], store: StateStore, organizations: [String], invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let force = invocation.arguments.flag(force)
        do throws(StateError) {
            switch subcommand {
            case "unlock":
                let location = try await store.breakLock(id: positionals[1], organizations: organizations, force: force)
                console.out("released the lock \(positionals[1]) on \(location)")
                return ExitCode.success
            case "pull":
                let state = try await store.load(organizations: organizations)
                guard state.exists else { return fail(invocation, "there is no state at \(store.location(organizations)) yet") }
                console.writeOutput(String(decoding: try await store.encoded(state), as: UTF8.self))
                return ExitCode.success
            default: break
            }
            let state = try await store.load(organizations: organizations)
            if subcommand == "list" {
                for entry in state.integrations {
                    console.out("\(entry.key)\t\(entry.integrationId)\t\(entry.type.name)/\(entry.provider)\t\(entry.displayName)")
                }
                return ExitCode.success
            }
            let entry = try find(positionals[1], in: state)
            console.out("\(entry.key)")
            console.out("  integrationId: \(entry.integrationId)")
            console.out("  type: \(entry.type.name), provider: \(entry.provider)")
            console.out("  displayName: \(entry.displayName)")
            console.out("  updatedAt (last apply): \(entry.updatedAt ?? "unknown")")
            for key in entry.secrets.keys.sorted() {
                console.out("  secret \(key): set \(entry.secrets[key]!.setAt) (keyed fingerprint recorded)")
            }
            if let test = entry.lastTest { console.out("  last test: \(test.passed ? "passed" : "failed") at \(test.at)") }
            return ExitCode.success
        } catch {
            return fail(invocation, error.description)
        }
    }

    /// The subcommands that write, under the lock.
    static func edit(
        _ subcommand: String, _ positionals: [String], invocation: Invocation, project: Project, store: StateStore, organizations: [String]
    ) async -> Int32 {
        let console = invocation.console
        let force = invocation.arguments.flag(force)
        do throws(StateError) {
            var state = try await store.load(organizations: organizations)
            switch subcommand {
            case "rm":
                let entry = try find(positionals[1], in: state)
                state.remove(entry.key)
                try await store.save(&state, organizations: organizations)
                console.out("forgot \(entry.key) (\(entry.integrationId)); the integration itself is untouched")
            case "mv":
                var entry = try find(positionals[1], in: state)
                let old = entry.key
                let target = positionals[2].split(separator: "/").map(String.init)
                if target.count == 2 { entry.organization = target[0]; entry.name = target[1] } else { entry.name = positionals[2] }
                guard state.entry(entry.key) == nil else { return fail(invocation, "the state already records \(entry.key)") }
                state.remove(old)
                state.set(entry)
                try await store.save(&state, organizations: organizations)
                console.out("moved \(old) to \(entry.key)")
            case "push":
                let path = ProjectPaths.resolve(positionals[1], from: invocation.workingDirectory)
                guard let data = FileManager.default.contents(atPath: path) else {
                    return fail(invocation, "cannot read \(positionals[1])")
                }
                var pushed = try store.decode(Array(data), named: positionals[1])
                if state.exists && !force {
                    guard pushed.lineage == state.lineage else {
                        return fail(invocation, "\(positionals[1]) has the lineage \(pushed.lineage), and the state at \(store.location(organizations)) has \(state.lineage): it is another project's state; add --force to replace it anyway")
                    }
                    guard pushed.serial >= state.serial else {
                        return fail(invocation, "\(positionals[1]) has the serial \(pushed.serial), older than the state's \(state.serial): it would undo later writes; add --force to replace it anyway")
                    }
                }
                // Only these organizations are replaced; an unsharded state keeps the others' entries as they are.
                pushed.integrations = pushed.integrations.filter { organizations.contains($0.organization) }
                    + state.integrations.filter { !organizations.contains($0.organization) }
                pushed.integrations.sort { $0.key < $1.key }
                pushed.pendingCreates = pushed.pendingCreates?.filter { organizations.contains($0.organization) }
                pushed.serial = max(pushed.serial, state.serial)
                try await store.save(&pushed, organizations: organizations, replacingLineage: true)
                console.out("pushed \(pushed.integrations.count) integrations to \(store.location(organizations)) (serial \(pushed.serial))")
            default:
                return await migrate(invocation: invocation, project: project, into: store, current: state, organizations: organizations)
            }
            return ExitCode.success
        } catch {
            return fail(invocation, error.description)
        }
    }

    /// Copies a local state file into the configured backend, keeping its lineage.
    static func migrate(invocation: Invocation, project: Project, into store: StateStore, current: IntopsState, organizations: [String]) async -> Int32 {
        let console = invocation.console
        let from = invocation.arguments.value(from) ?? ".intops/state.json"
        let sourcePath = ProjectPaths.resolve(from, from: project.root)
        if case .local(let path) = project.state, path == sourcePath {
            return fail(invocation, "the state is already the local file \(from); set state: to an s3 or git backend in intops.yaml first, then run intops state migrate")
        }
        do throws(StateError) {
            let source = StateStore(path: sourcePath)
            var state = try await source.load(organizations: organizations)
            guard state.exists else { return fail(invocation, "there is no state at \(from) to migrate; name it with --from PATH") }
            if current.exists && !invocation.arguments.flag(force) {
                return fail(invocation, "\(store.location(organizations)) already holds a state (lineage \(current.lineage), serial \(current.serial)); add --force to replace it with \(from)")
            }
            if current.exists && current.lineage == state.lineage && state.serial < current.serial {
                return fail(invocation, "\(from) has the serial \(state.serial), older than the backend's \(current.serial) of the same lineage: it would undo later writes; intops state push can replace it deliberately")
            }
            state.serial = max(state.serial, current.serial)
            try await store.save(&state, organizations: organizations, replacingLineage: true)
            console.out("copied \(state.integrations.count) integrations (lineage \(state.lineage)) from \(from) to \(store.location(organizations)); remove \(from) once the team uses the new backend")
            return ExitCode.success
        } catch {
            return fail(invocation, error.description)
        }
    }
}

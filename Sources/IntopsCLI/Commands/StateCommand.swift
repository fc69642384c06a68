import Foundation
import Reconciler

/// `intops state list | show NAME | rm NAME | mv OLD NEW | pull | push FILE | unlock LOCK-ID | migrate`.
enum StateCommand {
    static let force = OptionSpec(
        name: "force",
        help:
            "push: replace a state of another lineage or a newer serial; migrate: replace a state the backend already holds; unlock: break a lock whose lease still runs."
    )
    static let from = OptionSpec.value(
        "from", "PATH", "migrate: the local state file to copy (default .intops/state.json; may hold {org}).")
    static let usage =
        "intops state list | show NAME | rm NAME | mv OLD NEW | pull | push FILE | unlock LOCK-ID | migrate [--from PATH]"

    static let spec = CommandSpec(
        name: "state", summary: "Inspect, edit, move or unlock the state.",
        arguments: "list|show|rm|mv|pull|push|unlock|migrate [ARG] [ARG]", positionalCount: 1...3,
        options: [SharedOptions.org, force, from, SharedOptions.lockTimeout],
        discussion: """
            NAME is the manifest name, or ORG/NAME. rm forgets an integration without touching it (a later plan adopts
            it again if the manifests still declare it); mv follows a rename in the manifests. pull prints the state
            as JSON; push FILE replaces it (refused unless FILE has the state's lineage and at least its serial, or
            --force). unlock breaks the lock of a run that died, by the run id a waiting run prints. migrate copies a
            local state file into the backend intops.yaml now configures: how a team moves its state to s3 or git.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard
            let operation = invocation.options({ (parsed: ParsedArguments) throws(UsageError) in
                try operation(parsed, workingDirectory: invocation.workingDirectory)
            })
        else { return ExitCode.usage }
        guard let lockTimeout = invocation.options(SharedOptions.lockTimeoutValue) else { return ExitCode.usage }
        let settings = StateCommandSettings(
            organizations: invocation.arguments.all(SharedOptions.org), force: invocation.arguments.flag(force),
            lockTimeout: lockTimeout)
        let engine = invocation.engine
        guard
            let outcome = await invocation.run({ () async throws(EngineError) in
                try await engine.state(operation, settings, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        let console = invocation.console
        switch outcome {
        case .entries(let entries):
            for entry in entries {
                console.out(
                    "\(entry.key)\t\(entry.integrationId)\t\(entry.type.name)/\(entry.provider)\t\(entry.displayName)")
            }
        case .entry(let entry):
            console.out("\(entry.key)")
            console.out("  integrationId: \(entry.integrationId)")
            console.out("  type: \(entry.type.name), provider: \(entry.provider)")
            console.out("  displayName: \(entry.displayName)")
            console.out("  updatedAt (last apply): \(entry.updatedAt ?? "unknown")")
            for (key, record) in entry.secrets.sorted(by: { $0.key < $1.key }) {
                console.out("  secret \(key): set \(record.setAt) (keyed fingerprint recorded)")
            }
            if let test = entry.lastTest {
                console.out("  last test: \(test.passed ? "passed" : "failed") at \(test.at)")
            }
        case .pulled(let json): console.writeOutput(json)
        case .removed(let entry):
            console.out("forgot \(entry.key) (\(entry.integrationId)); the integration itself is untouched")
        case .moved(let from, let to): console.out("moved \(from) to \(to)")
        case .pushed(let count, let location, let serial):
            console.out("pushed \(count) integrations to \(location) (serial \(serial))")
        case .unlocked(let id, let location): console.out("released the lock \(id) on \(location)")
        case .migrated(let count, let lineage, let from, let location):
            console.out(
                "copied \(count) integrations (lineage \(lineage)) from \(from) to \(location); remove \(from) once the team uses the new backend"
            )
        }
        return ExitCode.success
    }

    /// The subcommand and its arguments, as the engine takes them.
    static func operation(_ parsed: ParsedArguments, workingDirectory: String) throws(UsageError) -> StateOperation {
        let arguments = parsed.positionals
        let wrong = UsageError(message: "use \(usage)")
        switch (arguments[0], arguments.count) {
        case ("list", 1): return .list
        case ("show", 2): return .show(arguments[1])
        case ("rm", 2): return .remove(arguments[1])
        case ("mv", 3): return .move(arguments[1], to: arguments[2])
        case ("pull", 1): return .pull
        // FILE is a file of the person's, named from where they started intops (not the --chdir project).
        case ("push", 2):
            return .push(path: ProjectPaths.resolve(arguments[1], from: workingDirectory), named: arguments[1])
        case ("unlock", 2): return .unlock(lockID: arguments[1])
        case ("migrate", 1): return .migrate(from: parsed.value(from))
        default: throw wrong
        }
    }
}

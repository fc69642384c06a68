import Foundation
import Reconciler

/// `intops state list | show NAME | rm NAME | mv OLD NEW`.
enum StateCommand {
    static let spec = CommandSpec(
        name: "state", summary: "List, show, forget or rename what the state records.", arguments: "list|show|rm|mv [NAME] [NEW]",
        positionalCount: 1...3,
        options: [OptionSpec(name: "org", kind: .repeated(placeholder: "ID"), help: "The organization, when a name is in several.")],
        discussion: """
            NAME is the manifest name, or ORG/NAME. rm forgets an integration without touching it (a later plan adopts
            it again if the manifests still declare it); mv follows a rename in the manifests.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let positionals = invocation.arguments.positionals
        func fail(_ message: String) -> Int32 {
            console.err(Style.red("error:", console.colorError) + " " + message)
            return ExitCode.failure
        }
        guard let project = Reconciling.loadProject(invocation) else { return ExitCode.failure }
        let organizations = invocation.arguments.all("org").isEmpty ? project.organizations.map(\.id) : invocation.arguments.all("org")
        let store = StateStore(path: project.statePath)
        let mutating = ["rm", "mv"].contains(positionals[0])
        do {
            if mutating { try store.lock(organizations: organizations) }
            defer { store.unlock() }
            var state = try store.load(organizations: organizations)
            func find(_ text: String) throws -> IntopsState.Entry {
                let matches = state.integrations.filter { $0.key.description == text || $0.name == text }
                guard matches.count == 1 else {
                    throw StateError(description: matches.isEmpty
                        ? "the state records no integration \(text)"
                        : "\(text) is in several organizations (\(matches.map(\.organization).joined(separator: ", "))); write ORG/\(text)")
                }
                return matches[0]
            }
            switch (positionals[0], positionals.count) {
            case ("list", 1):
                for entry in state.integrations {
                    console.out("\(entry.key)\t\(entry.integrationId)\t\(entry.type.name)/\(entry.provider)\t\(entry.displayName)")
                }
            case ("show", 2):
                let entry = try find(positionals[1])
                console.out("\(entry.key)")
                console.out("  integrationId: \(entry.integrationId)")
                console.out("  type: \(entry.type.name), provider: \(entry.provider)")
                console.out("  displayName: \(entry.displayName)")
                console.out("  updatedAt (last apply): \(entry.updatedAt ?? "unknown")")
                for key in entry.secrets.keys.sorted() {
                    console.out("  secret \(key): set \(entry.secrets[key]!.setAt) (keyed fingerprint recorded)")
                }
                if let test = entry.lastTest { console.out("  last test: \(test.passed ? "passed" : "failed") at \(test.at)") }
            case ("rm", 2):
                let entry = try find(positionals[1])
                state.remove(entry.key)
                try store.save(&state, organizations: organizations)
                console.out("forgot \(entry.key) (\(entry.integrationId)); the integration itself is untouched")
            case ("mv", 3):
                var entry = try find(positionals[1])
                let old = entry.key
                let target = positionals[2].split(separator: "/").map(String.init)
                if target.count == 2 { entry.organization = target[0]; entry.name = target[1] } else { entry.name = positionals[2] }
                guard state.entry(entry.key) == nil else { return fail("the state already records \(entry.key)") }
                state.remove(old)
                state.set(entry)
                try store.save(&state, organizations: organizations)
                console.out("moved \(old) to \(entry.key)")
            default:
                console.err("error: use intops state list | show NAME | rm NAME | mv OLD NEW")
                return ExitCode.usage
            }
            return ExitCode.success
        } catch {
            return fail("\(error)")
        }
    }
}

import Foundation
import Reconciler

/// `intops show PLANFILE`: a saved plan rendered offline, once its authentication holds.
enum ShowCommand {
    static let spec = CommandSpec(
        name: "show", summary: "Render a saved plan, without contacting the API.", arguments: "PLANFILE",
        positionalCount: 1...1,
        options: [
            OptionSpec(name: "format", kind: .value(placeholder: "FORMAT"), choices: ["text", "json", "markdown"], help: "text (default), json or markdown."),
        ],
        discussion: """
            The plan is checked against the project's fingerprint key first (it needs the key's identity, as plan
            does); an edited, truncated or foreign plan is refused. Renders as intops plan does.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let file = invocation.arguments.positionals[0]
        guard let project = Reconciling.loadProject(invocation) else { return ExitCode.failure }
        let plan: Plan
        do throws(SavedPlan.Refusal) {
            plan = try await SavedPlan.read(
                ProjectPaths.resolve(file, from: invocation.global.directory), project: project, environment: invocation.environment, name: file)
        } catch {
            console.err(Style.red("error:", console.colorError) + " \(error)")
            return ExitCode.failure
        }
        let format = PlanRenderer.Format(rawValue: invocation.arguments.value("format") ?? "text") ?? .text
        console.writeOutput(PlanRenderer.render(plan, format: format, color: console.colorOutput))
        return ExitCode.success
    }
}

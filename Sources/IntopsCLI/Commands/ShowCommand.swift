import Foundation
import Reconciler

/// `intops show PLANFILE`: a saved plan rendered offline, once its authentication holds.
enum ShowCommand {
    static let spec = CommandSpec(
        name: "show", summary: "Render a saved plan, without contacting the API.", arguments: "PLANFILE",
        positionalCount: 1...1, options: [PlanCommand.Options.format],
        discussion: """
            The plan is checked against the project's fingerprint key first (it needs the key's identity, as plan
            does); an edited, truncated or foreign plan is refused. Renders as intops plan does.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let file = invocation.arguments.positionals[0]
        let engine = invocation.engine
        guard let plan = await invocation.run({ () async throws(EngineError) in try await engine.savedPlan(file) })
        else { return ExitCode.failure }
        let format =
            PlanRenderer.Format(rawValue: invocation.arguments.value(PlanCommand.Options.format) ?? "text") ?? .text
        console.writeOutput(PlanRenderer.render(plan, format: format, color: console.colorOutput))
        return ExitCode.success
    }
}

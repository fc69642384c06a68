import Reconciler

/// `intops plan`.
enum PlanCommand {
    struct Options {
        static let out = OptionSpec.value("out", "FILE", "Save the plan for intops apply FILE.")
        static let format = OptionSpec.value(
            "format", "FORMAT", choices: PlanRenderer.Format.allCases.map(\.rawValue),
            "text (default), json or markdown.")
        static let detailedExitcode = OptionSpec.flag(
            "detailed-exitcode", "Exit 2 when there are changes, 0 when there are none.")
        static let specs =
            [out, format, detailedExitcode, SharedOptions.allowReplace, SharedOptions.force] + SharedOptions.targeting

        var settings: PlanSettings
        var out: String?
        var format: PlanRenderer.Format
        var detailedExitcode: Bool

        init(_ parsed: ParsedArguments) throws(UsageError) {
            settings = try SharedOptions.planSettings(parsed)
            out = parsed.value(Self.out)
            format = parsed.value(Self.format).flatMap(PlanRenderer.Format.init(rawValue:)) ?? .text
            detailedExitcode = parsed.flag(Self.detailedExitcode)
        }
    }

    static let spec = CommandSpec(
        name: "plan", summary: "Show what apply would change, without changing anything.", options: Options.specs,
        discussion: """
            Reads the manifests and secrets, refreshes the live organizations with as few requests as it can, and
            prints the actions. Secrets show as (sensitive). A saved plan holds no secret.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard let options = invocation.options(Options.init) else { return ExitCode.usage }
        let console = invocation.console
        let engine = invocation.engine
        guard
            let report = await invocation.run({ () async throws(EngineError) in
                if let out = options.out { try engine.checkSaveTarget(out) }
                return try await engine.plan(
                    options.settings, forSaving: options.out != nil, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        await PlanRenderer.write(
            report.plan, format: options.format, color: console.colorOutput, to: console.writeOutput)
        invocation.problems(of: report.plan)
        guard report.plan.errors.isEmpty else { return ExitCode.failure }
        for warning in report.warnings { invocation.warning(warning) }
        if let out = options.out, let draft = report.draft {
            guard let saved = invocation.run({ () throws(EngineError) in try engine.save(draft, to: out) }) else {
                return ExitCode.failure
            }
            invocation.notice("saved the plan to \(invocation.display(saved)); run intops apply \(out)")
        }
        if options.detailedExitcode && !report.plan.isEmpty { return ExitCode.changes }
        return ExitCode.success
    }
}

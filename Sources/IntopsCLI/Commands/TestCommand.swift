import Reconciler

/// `intops test`: connection tests on demand.
enum TestCommand {
    static let spec = CommandSpec(
        name: "test", summary: "Run connection tests and report.", arguments: "[NAME…]", positionalCount: 0...1000,
        options: [SharedOptions.org], run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let engine = invocation.engine
        let names = invocation.arguments.positionals
        let organizations = invocation.arguments.all(SharedOptions.org)
        guard
            let outcomes = await invocation.run({ () async throws(EngineError) in
                try await engine.test(names: names, organizations: organizations, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        var failed = 0
        for outcome in outcomes {
            switch outcome.result {
            case .success(let result) where result.isSuccessful:
                console.out(Style.green("✓", console.colorOutput) + " \(outcome.key): \(result.message ?? "passed")")
            case .success(let result):
                failed += 1
                console.out(Style.red("✗", console.colorOutput) + " \(outcome.key): \(result.message ?? "failed")")
            case .failure(let error):
                failed += 1
                console.err(Style.red("✗", console.colorError) + " \(outcome.key): \(error)")
            }
        }
        console.out("\(outcomes.count - failed) passed, \(failed) failed.")
        return failed == 0 ? ExitCode.success : ExitCode.failure
    }
}

import Reconciler

/// `intops rotate`: set secrets again from the manifests, whatever the state says.
enum RotateCommand {
    static let autoApprove = OptionSpec.flag("auto-approve", "Accepted for symmetry with apply; rotate never asks.")

    static let spec = CommandSpec(
        name: "rotate", summary: "Rotate secrets from the manifests even when their fingerprints match.",
        arguments: "NAME…", positionalCount: 1...1000,
        options: [SharedOptions.org, autoApprove, SharedOptions.lockTimeout], run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard let lockTimeout = invocation.options(SharedOptions.lockTimeoutValue) else { return ExitCode.usage }
        let engine = invocation.engine
        let names = invocation.arguments.positionals
        let organizations = invocation.arguments.all(SharedOptions.org)
        guard
            let report = await invocation.run({ () async throws(EngineError) in
                try await engine.rotate(
                    names: names, organizations: organizations, lockTimeout: lockTimeout, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        return ApplySummary.print(report, invocation: invocation)
    }
}

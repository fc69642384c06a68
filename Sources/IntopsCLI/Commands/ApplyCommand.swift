import Reconciler
import Synchronization

/// `intops apply`.
enum ApplyCommand {
    struct Options {
        static let autoApprove = OptionSpec.flag(
            "auto-approve", "Apply without asking (required when not on a terminal).")
        static let allowReplace = OptionSpec(
            name: SharedOptions.allowReplace.name,
            help: "Allow replaces (create the new integration, then delete the old).")
        static let force = OptionSpec(name: SharedOptions.force.name, help: "Allow deletions beyond the safety limits.")
        static let parallelism = OptionSpec.value(
            "parallelism", "N", "Integrations changed at once (default: api.parallelism).")
        static let rollback = OptionSpec(
            name: "rollback-on-test-failure",
            help:
                "When the test after a rotation fails, rotate back to the values of the last successful apply (from git) and test again."
        )
        static let specs = [autoApprove, allowReplace, force, parallelism, rollback] + SharedOptions.targeting

        var settings: ApplySettings
        var autoApprove: Bool

        init(_ parsed: ParsedArguments) throws(UsageError) {
            settings = ApplySettings(
                plan: try SharedOptions.planSettings(parsed), planFile: parsed.positionals.first,
                parallelism: try parsed.value(Self.parallelism).map { text throws(UsageError) in
                    guard let count = Int(text), (1...256).contains(count) else {
                        throw UsageError(message: "--parallelism takes a whole number from 1 to 256, not '\(text)'")
                    }
                    return count
                }, rollbackOnTestFailure: parsed.flag(Self.rollback))
            autoApprove = parsed.flag(Self.autoApprove)
        }
    }

    static let spec = CommandSpec(
        name: "apply", summary: "Make the live integrations match the manifests.", arguments: "[PLANFILE]",
        positionalCount: 0...1, options: Options.specs,
        discussion: """
            With PLANFILE, applies a saved plan, refusing it when the manifests, the state, a live integration or a
            secret changed since it was made. Exit 0 when every action succeeded, 1 otherwise.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard let options = invocation.options(Options.init) else { return ExitCode.usage }
        let console = invocation.console
        let engine = invocation.engine
        var observer = invocation.observer
        let progress = ApplyProgress(invocation)
        observer.apply = { progress.event($0) }
        // Installed first: an interrupt while planning or at the prompt ends the run before any change, with the
        // state lock released, instead of killing it with the lock held.
        let changing = Atomic<Bool>(false)
        observer.changesStarting = { changing.store(true, ordering: .sequentiallyConsistent) }
        Interrupts.shared.install {
            console.err(
                Style.yellow("interrupted:", console.colorError)
                    + (changing.load(ordering: .sequentiallyConsistent)
                        ? " finishing the steps in flight and saving the state; interrupt again to stop at once"
                        : " stopping before any change; interrupt again to stop at once"))
        }
        let confirm: (@Sendable (Plan) async -> Bool)? =
            options.autoApprove
            ? nil
            : { @Sendable _ in
                guard console.inputIsTerminal else {
                    invocation.error(
                        "apply asks for confirmation on a terminal; in a pipeline add --auto-approve (or apply a saved plan)"
                    )
                    return false
                }
                console.writeError("Apply these changes? Only 'yes' is accepted: ")
                let answer = await firstOf(
                    { await console.readLineOffPool() },
                    {
                        await Interrupts.shared.signalled()
                        return nil
                    })
                guard answer?.trimmingCharacters(in: .whitespaces) == "yes", !Interrupts.shared.requested else {
                    console.err("Apply cancelled.")
                    return false
                }
                return true
            }
        guard
            let outcome = await invocation.run({ () async throws(EngineError) in
                try await engine.apply(
                    options.settings, observer: observer,
                    preview: { preview in
                        progress.planned(preview.plan)
                        if !preview.fromSavedPlan {
                            console.writeOutput(
                                PlanRenderer.render(preview.plan, format: .text, color: console.colorOutput))
                        }
                        invocation.problems(of: preview.plan)
                        for warning in preview.warnings { invocation.warning(warning) }
                    }, confirm: confirm, shouldStop: { Interrupts.shared.requested })
            })
        else { return ExitCode.failure }
        switch outcome {
        case .refused: return ExitCode.failure
        case .cancelled: return Interrupts.shared.requested ? ExitCode.interrupted : ExitCode.failure
        case .unchanged:
            if options.settings.planFile != nil {
                console.out("No changes. The live integrations match the manifests.")
            }
            return ExitCode.success
        case .applied(_, let report):
            let status = ApplySummary.print(report, invocation: invocation)
            return Interrupts.shared.requested ? ExitCode.interrupted : status
        }
    }
}

/// Progress of a long apply on stderr: with `--verbose`, a line as each action starts and ends; on a terminal, a line
/// as each action of a long apply (20 actions or more) ends. A CI log gets neither: the result lines already report
/// each action once.
final class ApplyProgress: Sendable {
    private struct Counts {
        var total = 0
        var finished = 0
    }

    let invocation: Invocation
    private let counts = Mutex(Counts())

    init(_ invocation: Invocation) { self.invocation = invocation }

    func planned(_ plan: Plan) { counts.withLock { $0.total = plan.actions.count } }

    func event(_ event: ApplyEvent) {
        let global = invocation.global
        let total = counts.withLock { $0.total }
        guard !global.quiet, global.verbose || (total >= 20 && invocation.console.errorIsTerminal) else { return }
        switch event {
        case .started(let action):
            if global.verbose { invocation.console.err("\(action.action.symbol) \(action.key) …") }
        case .finished(let result):
            let count = counts.withLock { counts in
                counts.finished += 1
                return counts.finished
            }
            invocation.console.err(
                "[\(count)/\(total)] \(result.action.symbol) \(result.key) \(result.succeeded ? "done" : "failed")")
        }
    }
}

/// The answer of whichever finishes first; the other is left behind (a blocked read of a terminal cannot be
/// cancelled, and the process is about to end).
private func firstOf(
    _ first: @escaping @Sendable () async -> String?, _ second: @escaping @Sendable () async -> String?
) async -> String? {
    let stream = AsyncStream<String?> { continuation in
        Task { continuation.yield(await first()) }
        Task { continuation.yield(await second()) }
    }
    for await answer in stream { return answer }
    return nil
}

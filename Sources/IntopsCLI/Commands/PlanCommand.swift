import Foundation
import Reconciler

/// What plan and apply share: opening the session, reporting its failures, the planning options.
enum Reconciling {
    static func sessionOptions(_ invocation: Invocation, lock: Bool) -> Session.Options {
        Session.Options(
            organizations: invocation.arguments.all("org"),
            refresh: RefreshMode(rawValue: invocation.arguments.value("refresh") ?? "auto") ?? .auto, lockState: lock)
    }

    static func planOptions(_ invocation: Invocation, session: Session) -> PlanOptions {
        PlanOptions(
            prune: invocation.arguments.flag("prune") || session.project.prune,
            allowReplace: invocation.arguments.flag("allow-replace"), force: invocation.arguments.flag("force"),
            targets: Set(invocation.arguments.all("target")), safety: session.project.safety)
    }

    /// Opens the session, printing why not (one line per problem) when it cannot.
    static func open(_ invocation: Invocation, lock: Bool, options: Session.Options? = nil) async -> Session? {
        let console = invocation.console
        do {
            let session = try await Session.open(
                from: invocation.global.directory, environment: invocation.environment,
                options: options ?? sessionOptions(invocation, lock: lock))
            if !invocation.global.quiet {
                for warning in session.warnings { console.err(Style.yellow("warning:", console.colorError) + " " + warning) }
            }
            return session
        } catch {
            let printer = DiagnosticPrinter(displayBase: invocation.workingDirectory, format: .text)
            for diagnostic in error.diagnostics { console.err(printer.line(diagnostic, color: console.colorError)) }
            for message in error.messages { console.err(Style.red("error:", console.colorError) + " " + message) }
            return nil
        }
    }

    /// The project file found from the working directory, printing why not when there is none or it is invalid.
    static func loadProject(_ invocation: Invocation) -> Project? {
        do {
            return try ProjectLoader.loadProject(file: ProjectLoader.locate(from: invocation.global.directory))
        } catch {
            let printer = DiagnosticPrinter(displayBase: invocation.workingDirectory, format: .text)
            for diagnostic in error.diagnostics { invocation.console.err(printer.line(diagnostic, color: invocation.console.colorError)) }
            return nil
        }
    }

    static let targeting: [OptionSpec] = [
        OptionSpec(name: "target", kind: .repeated(placeholder: "NAME"), help: "Only this integration (repeatable)."),
        OptionSpec(name: "org", kind: .repeated(placeholder: "ID"), help: "Only this organization (repeatable)."),
        OptionSpec(name: "prune", help: "Delete managed integrations that left the manifests."),
        OptionSpec(
            name: "refresh", kind: .value(placeholder: "MODE"), choices: ["auto", "full"],
            help: "auto: a detail GET only where needed (default); full: fetch every integration."),
    ]
}

/// `intops plan`.
enum PlanCommand {
    static let spec = CommandSpec(
        name: "plan", summary: "Show what apply would change, without changing anything.",
        options: [
            OptionSpec(name: "out", kind: .value(placeholder: "FILE"), help: "Save the plan for intops apply FILE."),
            OptionSpec(name: "format", kind: .value(placeholder: "FORMAT"), choices: ["text", "json", "markdown"], help: "text (default), json or markdown."),
            OptionSpec(name: "detailed-exitcode", help: "Exit 2 when there are changes, 0 when there are none."),
            OptionSpec(name: "allow-replace", help: "Plan replaces where a change cannot be made in place."),
            OptionSpec(name: "force", help: "Plan deletions beyond the safety limits."),
        ] + Reconciling.targeting,
        discussion: """
            Reads the manifests and secrets, refreshes the live organizations with as few requests as it can, and
            prints the actions. Secrets show as (sensitive). A saved plan holds no secret.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        guard let session = await Reconciling.open(invocation, lock: false) else { return ExitCode.failure }
        // The crash-output canary test makes intops crash with every secret decrypted in memory.
        if invocation.environment["INTOPS_TEST_CRASH"] == "after-secrets" && !session.desired.isEmpty {
            preconditionFailure("crash requested by INTOPS_TEST_CRASH")
        }
        var plan = session.plan(Reconciling.planOptions(invocation, session: session))
        let format = PlanRenderer.Format(rawValue: invocation.arguments.value("format") ?? "text") ?? .text
        console.writeOutput(PlanRenderer.render(plan, format: format, color: console.colorOutput))
        guard plan.errors.isEmpty else { return ExitCode.failure }
        if let out = invocation.arguments.value("out") {
            plan.guards = SavedPlan.guards(
                for: plan, session: session, targets: invocation.arguments.all("target"),
                prune: invocation.arguments.flag("prune") || session.project.prune)
            let path = ProjectPaths.resolve(out, from: invocation.global.directory)
            do {
                try SavedPlan.write(plan, to: path)
            } catch {
                console.err(Style.red("error:", console.colorError) + " \(error)")
                return ExitCode.failure
            }
            if !invocation.global.quiet {
                console.err("saved the plan to \(ProjectPaths.display(path, relativeTo: invocation.workingDirectory)); run intops apply \(out)")
            }
        }
        if invocation.arguments.flag("detailed-exitcode") && !plan.isEmpty { return ExitCode.changes }
        return ExitCode.success
    }
}

/// `intops apply`.
enum ApplyCommand {
    static let spec = CommandSpec(
        name: "apply", summary: "Make the live integrations match the manifests.", arguments: "[PLANFILE]",
        positionalCount: 0...1,
        options: [
            OptionSpec(name: "auto-approve", help: "Apply without asking (required when not on a terminal)."),
            OptionSpec(name: "allow-replace", help: "Allow replaces (create the new integration, then delete the old)."),
            OptionSpec(name: "force", help: "Allow deletions beyond the safety limits."),
            OptionSpec(name: "parallelism", kind: .value(placeholder: "N"), help: "Integrations changed at once (default: api.parallelism)."),
            OptionSpec(
                name: "rollback-on-test-failure",
                help: "When the test after a rotation fails, rotate back to the values of the last successful apply (from git) and test again."),
        ] + Reconciling.targeting,
        discussion: """
            With PLANFILE, applies a saved plan, refusing it when the manifests, the state, a live integration or a
            secret changed since it was made. Exit 0 when every action succeeded, 1 otherwise.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let arguments = invocation.arguments
        guard let session = await Reconciling.open(invocation, lock: true) else { return ExitCode.failure }
        defer { session.store.unlock() }
        var plan = session.plan(Reconciling.planOptions(invocation, session: session))
        if let file = arguments.positionals.first {
            let path = ProjectPaths.resolve(file, from: invocation.global.directory)
            guard let saved = SavedPlan.read(path), let guards = saved.guards else {
                console.err(Style.red("error:", console.colorError) + " \(file) is not a saved intops plan; make one with intops plan --out \(file)")
                return ExitCode.failure
            }
            let current = SavedPlan.guards(for: saved, session: session, targets: guards.targets, prune: guards.prune)
            if let stale = SavedPlan.staleness(guards, current: current) {
                console.err(Style.red("error:", console.colorError) + " the saved plan \(file) is stale: \(stale); run intops plan again")
                return ExitCode.failure
            }
            plan = saved
        } else {
            console.writeOutput(PlanRenderer.render(plan, format: .text, color: console.colorOutput))
        }
        guard plan.errors.isEmpty else { return ExitCode.failure }
        if plan.isEmpty {
            if arguments.positionals.first != nil { console.out("No changes. The live integrations match the manifests.") }
            return ExitCode.success
        }
        if !arguments.flag("auto-approve") && arguments.positionals.isEmpty {
            guard console.inputIsTerminal else {
                console.err(Style.red("error:", console.colorError) + " apply asks for confirmation on a terminal; in a pipeline add --auto-approve (or apply a saved plan)")
                return ExitCode.failure
            }
            console.writeError("Apply these changes? Only 'yes' is accepted: ")
            guard console.readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                console.err("Apply cancelled.")
                return ExitCode.failure
            }
        }

        let parallelism = arguments.value("parallelism").flatMap(Int.init) ?? session.project.api.parallelism
        let showProgress = !invocation.global.quiet && (invocation.global.verbose || plan.actions.count >= 20)
        let total = plan.actions.count
        let counter = ProgressCounter()
        Interrupts.shared.install {
            console.err(Style.yellow("interrupted:", console.colorError) + " finishing the steps in flight and saving the state; interrupt again to stop at once")
        }
        var applier = Applier(
            client: session.client, desired: session.desired, templates: session.templates, parallelism: parallelism,
            progress: { line in
                guard showProgress else { return }
                if line.hasSuffix(" done") || line.hasSuffix(" failed") {
                    console.err("[\(counter.next())/\(total)] \(line)")
                } else if invocation.global.verbose {
                    console.err(line)
                }
            },
            shouldStop: { Interrupts.shared.requested })
        let history = SecretHistory(root: session.project.root, environment: invocation.environment)
        let secretFiles = Set(session.desired.flatMap { $0.manifest.secrets }.compactMap { secret -> String? in
            if case .sops(let file, _) = secret.reference.source { return file }
            return nil
        })
        applier.recordRevision = history.cleanRevision(of: Array(secretFiles))
        if arguments.flag("rollback-on-test-failure") {
            if let revision = session.state.revision {
                applier.rollback = (history, revision)
            } else if !invocation.global.quiet {
                console.err(Style.yellow("warning:", console.colorError) + " --rollback-on-test-failure: the state records no git revision of a successful apply yet, so there is nothing to roll back to")
            }
        }
        let report = await applier.apply(plan, state: session.state, store: session.store, organizations: session.organizations)
        let status = summarize(report, console: console, quiet: invocation.global.quiet)
        return Interrupts.shared.requested ? ExitCode.interrupted : status
    }

    static func summarize(_ report: ApplyReport, console: Console, quiet: Bool) -> Int32 {
        let past: [ActionKind: String] = [
            .create: "created", .update: "updated", .rotate: "rotated", .test: "tested", .delete: "deleted",
            .replace: "replaced", .adopt: "adopted",
        ]
        var counts: [String: Int] = [:]
        var failures = 0
        for result in report.results {
            switch result.outcome {
            case .succeeded:
                counts[past[result.action]!, default: 0] += 1
                if !quiet { console.out(Style.green("✓", console.colorOutput) + " \(result.key) \(past[result.action]!)") }
            case .failed(let message):
                failures += 1
                console.err(Style.red("✗", console.colorError) + " \(result.key): \(result.action.rawValue) failed: \(message)")
            case .skipped(let why):
                failures += 1
                console.err(Style.yellow("-", console.colorError) + " \(result.key): \(result.action.rawValue) skipped: \(why)")
            }
            for note in result.notes where !quiet { console.out("  note: \(note)") }
        }
        if let error = report.stateError { console.err(Style.red("error:", console.colorError) + " \(error)") }
        let order = ["created", "updated", "rotated", "tested", "deleted", "replaced", "adopted"]
        var line = "Apply " + (failures == 0 && report.stateError == nil ? "complete" : "finished with failures") + ": "
        line += order.compactMap { verb in counts[verb].map { "\($0) \(verb)" } }.joined(separator: ", ")
        if counts.isEmpty { line += "nothing changed" }
        if failures > 0 { line += ", \(failures) failed or skipped" }
        console.out(line + ".")
        return report.failed ? ExitCode.failure : ExitCode.success
    }
}

final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

import Foundation
import Reconciler

/// What plan and apply share: opening the session, reporting its failures, the planning options.
enum Reconciling {
    static func sessionOptions(_ invocation: Invocation) -> Session.Options {
        Session.Options(
            organizations: invocation.arguments.all("org"),
            refresh: RefreshMode(rawValue: invocation.arguments.value("refresh") ?? "auto") ?? .auto)
    }

    /// `--lock-timeout`, else INTOPS_LOCK_TIMEOUT, else 30 s; nil (with the usage error printed) when malformed.
    static func lockRequest(_ invocation: Invocation, operation: String) -> Session.LockRequest? {
        let console = invocation.console
        var timeout = StateStore.defaultLockTimeout(invocation.environment)
        if let text = invocation.arguments.value("lock-timeout") {
            guard let duration = ManifestDuration(text, allowingZero: true) else {
                console.err(Style.red("error:", console.colorError) + " --lock-timeout takes a duration like 30s, 2m or 0s, not '\(text)'")
                return nil
            }
            timeout = duration.duration
        }
        let quiet = invocation.global.quiet
        return Session.LockRequest(
            operation: operation, timeout: timeout, lease: StateStore.lease(invocation.environment),
            waiting: { holder, location in
                guard !quiet else { return }
                let who = holder?.holder ?? "another run"
                console.err("waiting for the state lock, held by \(who), on \(location)")
            })
    }

    /// Runs `body` with a session holding the state lock, and releases the lock however `body` ends.
    static func withLockedSession(
        _ invocation: Invocation, operation: String, options: Session.Options? = nil, _ body: (Session) async -> Int32
    ) async -> Int32 {
        guard let lock = lockRequest(invocation, operation: operation) else { return ExitCode.usage }
        var options = options ?? sessionOptions(invocation)
        options.lock = lock
        guard let session = await open(invocation, options: options) else { return ExitCode.failure }
        let status = await body(session)
        await session.store.unlock()
        return status
    }

    static func planOptions(_ invocation: Invocation, session: Session) -> PlanOptions {
        PlanOptions(
            prune: invocation.arguments.flag("prune") || session.project.prune,
            allowReplace: invocation.arguments.flag("allow-replace"), force: invocation.arguments.flag("force"),
            targets: Set(invocation.arguments.all("target")), safety: session.project.safety)
    }

    /// Opens the session, printing why not (one line per problem) when it cannot.
    static func open(_ invocation: Invocation, options: Session.Options? = nil) async -> Session? {
        let console = invocation.console
        do {
            let session = try await Session.open(
                from: invocation.global.directory, environment: invocation.environment,
                options: options ?? sessionOptions(invocation))
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
        lockTimeout,
    ]

    static let lockTimeout = OptionSpec(
        name: "lock-timeout", kind: .value(placeholder: "DURATION"),
        help: "How long to wait while another run holds the state lock (default 30s); plan waits without taking it.")
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
        guard let wait = Reconciling.lockRequest(invocation, operation: "plan") else { return ExitCode.usage }
        var options = Reconciling.sessionOptions(invocation)
        options.waitForUnlock = wait
        guard let session = await Reconciling.open(invocation, options: options) else { return ExitCode.failure }
        // The crash-output canary test makes intops crash with every secret decrypted in memory.
        if invocation.environment["INTOPS_TEST_CRASH"] == "after-secrets" && !session.desired.isEmpty {
            preconditionFailure("crash requested by INTOPS_TEST_CRASH")
        }
        var plan = session.plan(Reconciling.planOptions(invocation, session: session))
        let format = PlanRenderer.Format(rawValue: invocation.arguments.value("format") ?? "text") ?? .text
        console.writeOutput(PlanRenderer.render(plan, format: format, color: console.colorOutput))
        guard plan.errors.isEmpty else { return ExitCode.failure }
        if let warning = session.missingStateWarning(plan), !invocation.global.quiet {
            console.err(Style.yellow("warning:", console.colorError) + " " + warning)
        }
        if let out = invocation.arguments.value("out") {
            guard let key = session.planKey else {
                console.err(Style.red("error:", console.colorError) + " a saved plan is authenticated with the project's fingerprint key, and fingerprintKey is not set; run intops init or add fingerprintKey: ref+sops://…")
                return ExitCode.failure
            }
            let options = Reconciling.planOptions(invocation, session: session)
            plan.guards = SavedPlan.guards(for: plan, session: session, options: options)
            let path = ProjectPaths.resolve(out, from: invocation.global.directory)
            do {
                try SavedPlan.write(plan, key: key, to: path)
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
        let planFile = arguments.positionals.first
        // A file that is not a saved plan of this format is refused before any request.
        if let planFile {
            let path = ProjectPaths.resolve(planFile, from: invocation.global.directory)
            if case .failure(let refusal) = Result(catching: { () throws(SavedPlan.Refusal) in _ = try SavedPlan.read(path, key: nil, name: planFile) }),
                refusal.kind != .noKey {
                console.err(Style.red("error:", console.colorError) + " \(refusal)")
                return ExitCode.failure
            }
        }
        return await Reconciling.withLockedSession(invocation, operation: "apply") { session in
            await apply(invocation, session: session, planFile: planFile)
        }
    }

    static func apply(_ invocation: Invocation, session: Session, planFile: String?) async -> Int32 {
        let console = invocation.console
        let arguments = invocation.arguments
        let plan: Plan
        if let planFile {
            let path = ProjectPaths.resolve(planFile, from: invocation.global.directory)
            do throws(SavedPlan.Refusal) {
                plan = try SavedPlan.verify(
                    SavedPlan.read(path, key: session.planKey, name: planFile), session: session, name: planFile,
                    granted: Reconciling.planOptions(invocation, session: session))
            } catch {
                console.err(Style.red("error:", console.colorError) + " \(error)")
                return ExitCode.failure
            }
        } else {
            plan = session.plan(Reconciling.planOptions(invocation, session: session))
            console.writeOutput(PlanRenderer.render(plan, format: .text, color: console.colorOutput))
        }
        if let warning = session.missingStateWarning(plan), !invocation.global.quiet {
            console.err(Style.yellow("warning:", console.colorError) + " " + warning)
        }
        guard plan.errors.isEmpty else { return ExitCode.failure }
        if plan.isEmpty {
            if planFile != nil { console.out("No changes. The live integrations match the manifests.") }
            return ExitCode.success
        }
        if !arguments.flag("auto-approve") && planFile == nil {
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
            // A lost state lock stops new work as an interrupt does: another run may be applying now.
            shouldStop: { Interrupts.shared.requested || session.store.lockLost })
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

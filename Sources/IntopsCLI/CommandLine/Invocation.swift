import Reconciler

/// Options every command accepts.
struct GlobalOptions: Sendable {
    static let chdir = OptionSpec.value("chdir", "DIR", "Run as if started in DIR.")
    static let noColor = OptionSpec.flag("no-color", "Never colour the output (NO_COLOR does the same).")
    static let verbose = OptionSpec.flag("verbose", short: "v", "Explain what is done, with timings.")
    static let quiet = OptionSpec.flag("quiet", short: "q", "Print only errors and results.")
    static let version = OptionSpec.flag("version", "Print the version.")
    static let specs = [chdir, noColor, verbose, quiet, version]

    var directory: String
    var verbose: Bool
    var quiet: Bool
}

/// Everything a command needs to run: its arguments, where it runs, where its output goes, and the engine.
struct Invocation: Sendable {
    var arguments: ParsedArguments
    var global: GlobalOptions
    var environment: [String: String]
    /// The folder intops was started in; paths in messages are shown relative to it.
    var workingDirectory: String
    var console: Console
    var sandbox: (any SandboxProvider)?

    var engine: Engine { Engine(directory: global.directory, environment: environment, sandbox: sandbox) }

    /// Parses a command's typed options, printing the usage error when they are wrong.
    func options<Options>(_ parse: (ParsedArguments) throws(UsageError) -> Options) -> Options? {
        do throws(UsageError) { return try parse(arguments) } catch {
            usage(error)
            return nil
        }
    }

    // MARK: - The one place diagnostics are printed

    /// Prints a usage mistake: one line, then the command's usage.
    func usage(_ error: UsageError) {
        let console = console.withoutColor
        console.err("error: \(error.message)")
        console.writeError(
            ArgumentParser.help(
                for: error.command ?? arguments.command, commands: IntopsCommandLine.commands,
                global: GlobalOptions.specs))
    }

    /// An error, one line per problem: diagnostics at file:line:column, every other error as its sentence.
    func report(_ error: EngineError) {
        if case .invalid(let diagnostics) = error { report(diagnostics) } else { self.error(error.description) }
    }

    func report(_ diagnostics: [Diagnostic]) {
        let printer = DiagnosticPrinter(displayBase: workingDirectory, format: .text)
        for diagnostic in diagnostics { console.err(printer.line(diagnostic, color: console.colorError)) }
    }

    func error(_ sentence: String) {
        console.err(Style.red("error:", console.colorError) + " " + TerminalText.visible(sentence))
    }

    /// A plan's warnings and errors, on stderr beside the plan on stdout.
    func problems(of plan: Plan) {
        for warning in plan.warnings { self.warning(warning.description) }
        for problem in plan.errors { error(problem.description) }
    }

    /// A warning, unless --quiet.
    func warning(_ sentence: String) {
        guard !global.quiet else { return }
        console.err(Style.yellow("warning:", console.colorError) + " " + TerminalText.visible(sentence))
    }

    /// Something said on stderr beside the results, unless --quiet.
    func notice(_ line: String) {
        guard !global.quiet else { return }
        console.err(line)
    }

    /// The observer of engine operations: warnings and lock waits on stderr.
    var observer: EngineObserver {
        let invocation = self
        return EngineObserver(
            warning: { invocation.warning($0) },
            waitingForLock: { holder, location in
                invocation.notice(
                    "waiting for the state lock, held by \(holder?.holder ?? "another run"), on \(location)")
            },
            pacing: { change in
                guard invocation.global.verbose else { return }
                invocation.notice(PacingLine.text(change))
            })
    }

    /// Runs an engine operation, reporting its error; nil when it failed.
    func run<Output>(_ operation: () throws(EngineError) -> Output) -> Output? {
        do throws(EngineError) { return try operation() } catch {
            report(error)
            return nil
        }
    }

    /// Runs an engine operation, reporting its error; nil when it failed.
    func run<Output>(_ operation: () async throws(EngineError) -> Output) async -> Output? {
        do throws(EngineError) { return try await operation() } catch {
            report(error)
            return nil
        }
    }

    func display(_ path: String) -> String { ProjectPaths.display(path, relativeTo: workingDirectory) }
}

/// The exit codes every command shares.
enum ExitCode {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let changes: Int32 = 2
    static let usage: Int32 = 64
    static let interrupted: Int32 = 130
}

import Foundation
import Reconciler

/// Options every command accepts.
struct GlobalOptions: Sendable {
    var directory: String
    var verbose: Bool
    var quiet: Bool
}

/// Everything a command needs to run: its arguments, where it runs, and where its output goes.
struct Invocation: Sendable {
    var arguments: ParsedArguments
    var global: GlobalOptions
    var environment: [String: String]
    /// The folder intops was started in; paths in messages are shown relative to it.
    var workingDirectory: String
    var console: Console
}

/// The `intops` command line. The executable calls ``run(arguments:environment:workingDirectory:console:)``;
/// tests call it too, in process.
public enum IntopsCommandLine {
    public static var version: String { BuildInfo.version }

    /// "0.2.0 (commit 1a2b3c4d5e6f, built 2026-12-01T10:00:00Z)", or "(development build)" from `swift build`.
    public static var versionLine: String {
        guard let commit = BuildInfo.commit, let date = BuildInfo.date else { return "intops \(version) (development build)" }
        return "intops \(version) (commit \(commit), built \(date))"
    }

    static let globalOptions: [OptionSpec] = [
        OptionSpec(name: "chdir", kind: .value(placeholder: "DIR"), help: "Run as if started in DIR."),
        OptionSpec(name: "no-color", help: "Never colour the output (NO_COLOR does the same)."),
        OptionSpec(name: "verbose", short: "v", help: "Explain what is done, with timings."),
        OptionSpec(name: "quiet", short: "q", help: "Print only errors and results."),
        OptionSpec(name: "version", help: "Print the version."),
    ]

    static let commands: [CommandSpec] = [
        InitCommand.spec, ValidateCommand.spec, PlanCommand.spec, ApplyCommand.spec, DriftCommand.spec, StateCommand.spec,
        OperationsCommands.test, OperationsCommands.rotate, OperationsCommands.connect, OperationsCommands.templates,
        ExportCommand.spec, StatusCommand.spec, ShowCommand.spec,
        SecretsCommand.spec, VersionCommand.spec, helpSpec,
    ]

    static let helpSpec = CommandSpec(
        name: "help", summary: "Show help for intops or one of its commands.", arguments: "[COMMAND]",
        positionalCount: 0...1,
        run: { invocation in
            let name = invocation.arguments.positionals.first
            guard let name else {
                invocation.console.writeOutput(ArgumentParser.help(for: nil, commands: commands, global: globalOptions))
                return ExitCode.success
            }
            guard let command = commands.first(where: { $0.name == name }) else {
                invocation.console.err("error: unknown command '\(name)'")
                return ExitCode.usage
            }
            invocation.console.writeOutput(ArgumentParser.help(for: command, commands: commands, global: globalOptions))
            return ExitCode.success
        })

    /// Runs one command line and returns the exit code.
    public static func run(
        arguments: [String], environment: [String: String], workingDirectory: String, console: Console
    ) async -> Int32 {
        let parsed: ParsedArguments
        do {
            parsed = try ArgumentParser.parse(arguments, commands: commands, global: globalOptions)
        } catch {
            let console = console.withoutColor
            console.err("error: \(error.message)")
            console.writeError(ArgumentParser.help(for: error.command, commands: commands, global: globalOptions))
            return ExitCode.usage
        }
        var console = console
        if parsed.flag("no-color") { console = console.withoutColor }
        if parsed.helpRequested {
            console.writeOutput(ArgumentParser.help(for: parsed.command, commands: commands, global: globalOptions))
            return ExitCode.success
        }
        if parsed.flag("version") && parsed.command == nil {
            console.out(versionLine)
            return ExitCode.success
        }
        guard let command = parsed.command else {
            console.err("error: no command given")
            console.writeError(ArgumentParser.help(for: nil, commands: commands, global: globalOptions))
            return ExitCode.usage
        }
        if parsed.flag("verbose") && parsed.flag("quiet") {
            console.err("error: --verbose and --quiet cannot be used together")
            return ExitCode.usage
        }
        let directory = parsed.value("chdir").map { ProjectPaths.resolve($0, from: workingDirectory) }
            ?? workingDirectory
        let invocation = Invocation(
            arguments: parsed,
            global: GlobalOptions(directory: directory, verbose: parsed.flag("verbose"), quiet: parsed.flag("quiet")),
            environment: environment, workingDirectory: workingDirectory, console: console)
        return await command.run(invocation)
    }
}

/// The exit codes every command shares.
enum ExitCode {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let changes: Int32 = 2
    static let usage: Int32 = 64
    static let interrupted: Int32 = 130
}

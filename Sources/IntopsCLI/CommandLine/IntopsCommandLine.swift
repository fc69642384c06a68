import Foundation
import Reconciler

/// The `intops` command line. The executable calls ``run(arguments:environment:workingDirectory:console:)``;
/// tests call it too, in process.
public enum IntopsCommandLine {
    public static var version: String { BuildInfo.version }

    /// "0.2.0 (commit 1a2b3c4d5e6f, built 2026-12-01T10:00:00Z)", or "(development build)" from `swift build`.
    public static var versionLine: String {
        guard let commit = BuildInfo.commit, let date = BuildInfo.date else {
            return "intops \(version) (development build)"
        }
        return "intops \(version) (commit \(commit), built \(date))"
    }

    static let globalOptions = GlobalOptions.specs

    static let commands: [CommandSpec] = [
        InitCommand.spec, ValidateCommand.spec, PlanCommand.spec, ApplyCommand.spec, DriftCommand.spec,
        StateCommand.spec, TestCommand.spec, RotateCommand.spec, ConnectCommand.spec, TemplatesCommand.spec,
        ExportCommand.spec, OrgsCommand.spec, StatusCommand.spec, ShowCommand.spec, SecretsCommand.spec,
        VersionCommand.spec, CompletionCommand.spec, ManCommand.spec, helpSpec,
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
    ///
    /// - Parameter sandbox: what `sandbox:` API URLs connect to (the program's composition supplies the embedded
    ///   emulator); nil refuses them.
    public static func run(
        arguments: [String], environment: [String: String], workingDirectory: String, console: Console,
        sandbox: (any SandboxProvider)?
    ) async -> Int32 {
        let parsed: ParsedArguments
        do { parsed = try ArgumentParser.parse(arguments, commands: commands, global: globalOptions) } catch {
            let console = console.withoutColor
            console.err("error: \(error.message)")
            console.writeError(ArgumentParser.help(for: error.command, commands: commands, global: globalOptions))
            return ExitCode.usage
        }
        var console = console
        if parsed.flag(GlobalOptions.noColor) { console = console.withoutColor }
        if parsed.helpRequested {
            console.writeOutput(ArgumentParser.help(for: parsed.command, commands: commands, global: globalOptions))
            return ExitCode.success
        }
        if parsed.flag(GlobalOptions.version) && parsed.command == nil {
            console.out(versionLine)
            return ExitCode.success
        }
        guard let command = parsed.command else {
            console.err("error: no command given")
            console.writeError(ArgumentParser.help(for: nil, commands: commands, global: globalOptions))
            return ExitCode.usage
        }
        if parsed.flag(GlobalOptions.verbose) && parsed.flag(GlobalOptions.quiet) {
            console.err("error: --verbose and --quiet cannot be used together")
            return ExitCode.usage
        }
        do { try Preflight.verifyLibcrypto() } catch {
            console.err("error: \(error)")
            return ExitCode.failure
        }
        let directory =
            parsed.value(GlobalOptions.chdir).map { ProjectPaths.resolve($0, from: workingDirectory) }
            ?? workingDirectory
        let invocation = Invocation(
            arguments: parsed,
            global: GlobalOptions(
                directory: directory, verbose: parsed.flag(GlobalOptions.verbose),
                quiet: parsed.flag(GlobalOptions.quiet)), environment: environment, workingDirectory: workingDirectory,
            console: console, sandbox: sandbox)
        return await command.run(invocation)
    }
}

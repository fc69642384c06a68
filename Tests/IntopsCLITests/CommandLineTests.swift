import EmbeddedSandbox
import Foundation
import Testing

@testable import IntopsCLI

@Suite struct CommandLineTests {
    @Test func unknownCommandIsAUsageError() async {
        let result = await TestSupport.run(["plna"], in: TestSupport.examples)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("error: unknown command 'plna'\nUSAGE: intops"))
    }

    @Test func unknownOptionIsAUsageErrorWithTheCommandsUsage() async {
        let result = await TestSupport.run(["validate", "--bogus"], in: TestSupport.examples)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("error: unknown option '--bogus' for intops validate\nUSAGE: intops validate"))
    }

    @Test func badChoiceAndMissingValueAreUsageErrors() async {
        #expect(await TestSupport.run(["validate", "--format", "xml"], in: TestSupport.examples).status == 64)
        #expect(await TestSupport.run(["validate", "--format"], in: TestSupport.examples).status == 64)
        #expect(await TestSupport.run(["validate", "extra"], in: TestSupport.examples).status == 64)
        #expect(await TestSupport.run(["--verbose", "--quiet", "validate"], in: TestSupport.examples).status == 64)
        #expect(await TestSupport.run([], in: TestSupport.examples).status == 64)
    }

    @Test(arguments: IntopsCommandLine.commands.map(\.name)) func everyCommandHasHelp(command: String) async throws {
        let result = await TestSupport.run([command, "--help"], in: TestSupport.examples)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("USAGE: intops \(command)"))
        let viaHelp = await TestSupport.run(["help", command], in: TestSupport.examples)
        #expect(viaHelp.stdout == result.stdout)
    }

    @Test func rootHelpListsEveryCommand() async throws {
        let result = await TestSupport.run(["--help"], in: TestSupport.examples)
        #expect(result.status == 0)
        for command in IntopsCommandLine.commands { #expect(result.stdout.contains("  \(command.name) ")) }
        try TestSupport.expectGolden(
            result.stdout, file: TestSupport.fixtures.appendingPathComponent("golden/help.txt"))
    }

    @Test func validateHelpGolden() async throws {
        let result = await TestSupport.run(["validate", "-h"], in: TestSupport.examples)
        try TestSupport.expectGolden(
            result.stdout, file: TestSupport.fixtures.appendingPathComponent("golden/validate-help.txt"))
    }

    @Test(arguments: [
        "secrets", "init", "plan", "apply", "state", "drift", "test", "rotate", "connect", "templates", "export",
        "status",
    ]) func commandHelpGolden(_ command: String) async throws {
        let result = await TestSupport.run([command, "--help"], in: TestSupport.examples)
        try TestSupport.expectGolden(
            result.stdout, file: TestSupport.fixtures.appendingPathComponent("golden/\(command)-help.txt"))
    }

    @Test func versionTwoWays() async {
        let command = await TestSupport.run(["version"], in: TestSupport.examples)
        let flag = await TestSupport.run(["--version"], in: TestSupport.examples)
        #expect(command.stdout == "\(IntopsCommandLine.versionLine)\n")
        #expect(command.stdout.hasPrefix("intops \(IntopsCommandLine.version) ("))
        #expect(flag.stdout == command.stdout)
    }

    @Test func optionsParseInEitherOrderAndWithEquals() throws {
        let parsed = try ArgumentParser.parse(
            ["validate", "--format=github", "--no-color", "--chdir", "x"], commands: IntopsCommandLine.commands,
            global: IntopsCommandLine.globalOptions)
        #expect(parsed.command?.name == "validate")
        #expect(parsed.value(ValidateCommand.format) == "github")
        #expect(parsed.value(GlobalOptions.chdir) == "x")
        #expect(parsed.flag(GlobalOptions.noColor))
    }

    @Test func doubleDashEndsOptions() throws {
        let parsed = try ArgumentParser.parse(
            ["help", "--", "--weird"], commands: IntopsCommandLine.commands, global: IntopsCommandLine.globalOptions)
        #expect(parsed.positionals == ["--weird"])
    }
}

/// apply's confirmation, in process with a terminal that answers.
@Suite struct ApplyConfirmationTests {
    func run(answer: String?) async throws -> (Int32, String, String, URL) {
        let project = try TestSupport.copy(TestSupport.examples)
        for name in ["sandbox.json", "sandbox.json.key", "state.json"] {
            try? FileManager.default.removeItem(at: project.appendingPathComponent(".intops/\(name)"))
        }
        chmod(project.appendingPathComponent(".intops/demo-age-key.txt").path, 0o600)
        let output = CapturedOutput()
        var console = output.console(color: false)
        console.inputIsTerminal = true
        console.readLine = { answer }
        let status = await IntopsCommandLine.run(
            arguments: ["apply"],
            environment: [
                "SOPS_AGE_KEY_FILE": project.appendingPathComponent(".intops/demo-age-key.txt").path,
                "XDG_CONFIG_HOME": "/nonexistent",
            ], workingDirectory: project.path, console: console, sandbox: EmbeddedSandbox())
        return (status, output.stdout, output.stderr, project)
    }

    @Test func yesApplies() async throws {
        let (status, stdout, stderr, project) = try await run(answer: "yes")
        defer { try? FileManager.default.removeItem(at: project) }
        #expect(
            status == 0 && stderr.contains("Apply these changes? Only 'yes' is accepted: ")
                && stdout.contains("Apply complete: 8 created."))
    }

    @Test(arguments: ["no", "y", "YES ", ""]) func anythingElseCancels(_ answer: String) async throws {
        let (status, _, stderr, project) = try await run(answer: answer)
        defer { try? FileManager.default.removeItem(at: project) }
        #expect(status == 1 && stderr.contains("Apply cancelled."))
        #expect(!FileManager.default.fileExists(atPath: project.appendingPathComponent(".intops/state.json").path))
    }
}

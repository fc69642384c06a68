import Foundation
import TestSupport
import Testing

@testable import IntopsCLI

/// The man page and the completion scripts are rendered from the command table the help comes from: the
/// checked-in man/intops.1 must be what the table renders now, every command and option must be in each, and the
/// scripts must be valid for their shells (zsh and fish are checked where installed; `make deps` installs neither).
@Suite struct ManPageAndCompletionTests {
    static let checkedInManPage = TestSupport.packageRoot.appendingPathComponent("man/intops.1")
    static let commands = IntopsCommandLine.commands
    static let globalOptions = IntopsCommandLine.globalOptions + [HelpTable.helpOption]

    static func installed(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    /// A rendered text in a private file, for the tools that read files.
    static func file(_ text: String, named name: String) throws -> URL {
        let url = try TestSupport.temporaryDirectory().appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    // MARK: - The man page

    @Test func checkedInManPageIsWhatTheCommandTableRenders() throws {
        guard let checkedIn = try? String(contentsOf: Self.checkedInManPage, encoding: .utf8) else {
            Issue.record("man/intops.1 is missing: run make man")
            return
        }
        let rendered = ManPage.render()
        guard rendered != checkedIn else { return }
        let renderedLines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        let checkedInLines = checkedIn.split(separator: "\n", omittingEmptySubsequences: false)
        let common = min(renderedLines.count, checkedInLines.count)
        let first = (0..<common).first { renderedLines[$0] != checkedInLines[$0] } ?? common
        let now = first < renderedLines.count ? String(renderedLines[first]) : "(end of page)"
        let was = first < checkedInLines.count ? String(checkedInLines[first]) : "(end of file)"
        Issue.record(
            """
            man/intops.1 is not what the command table renders (the help, an option or the version changed): run make man.
            First difference, line \(first + 1):
              checked in: \(was)
              rendered:   \(now)
            """)
    }

    @Test func manCommandPrintsThePage() async {
        let result = await TestSupport.run(["man"], in: TestSupport.examples)
        #expect(result.status == 0)
        #expect(result.stdout == ManPage.render())
        #expect(result.stdout.hasPrefix(#".\" intops(1)"#))
    }

    /// The text of a section of the page: from its heading line to the next heading of the same or a higher level.
    static func section(_ page: String, _ heading: String) -> String? {
        let lines = page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: heading) else { return nil }
        let level = heading.hasPrefix(".SH") ? [".SH"] : [".SH", ".SS"]
        let end =
            lines[(start + 1)...].firstIndex { line in level.contains { line.hasPrefix($0 + " ") } } ?? lines.count
        return lines[start..<end].joined(separator: "\n")
    }

    @Test func manPageHasEveryCommandAndOptionOfTheTable() throws {
        let page = ManPage.render()
        for heading in [
            ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS", #".SH "GLOBAL OPTIONS""#,
            #".SH "EXIT STATUS""#, ".SH ENVIRONMENT", ".SH FILES", #".SH "SEE ALSO""#,
        ] { #expect(page.contains("\n\(heading)\n"), "the man page has no \(heading)") }
        #expect(page.contains(#".TH INTOPS 1 "" "intops \#(IntopsCommandLine.version)""#))
        for command in Self.commands {
            let section = try #require(
                Self.section(page, ".SS \(command.name)"), "the man page has no entry for \(command.name)")
            #expect(section.contains(ManPage.escape(command.summary)), "\(command.name): the summary is missing")
            for option in command.options {
                #expect(
                    section.contains(".TP\n" + ManPage.optionItem(option)[1]),
                    "\(command.name) --\(option.name) is missing")
                for choice in option.choices ?? [] {
                    #expect(
                        section.contains("\\fB\(choice)\\fR"), "\(command.name) --\(option.name) \(choice) is missing")
                }
            }
            for verb in command.subcommands {
                #expect(section.contains("\\fB\(verb)\\fR"), "\(command.name) \(verb) is missing")
            }
        }
        let global = try #require(Self.section(page, #".SH "GLOBAL OPTIONS""#))
        for option in Self.globalOptions {
            #expect(
                global.contains(".TP\n" + ManPage.optionItem(option)[1]),
                "the global option --\(option.name) is missing")
        }
    }

    @Test func manPageExitStatusHasEveryExitCode() throws {
        let section = try #require(Self.section(ManPage.render(), #".SH "EXIT STATUS""#))
        for code in [ExitCode.success, ExitCode.failure, ExitCode.changes, ExitCode.usage, ExitCode.interrupted] {
            #expect(section.contains(".TP\n.B \(code)\n"), "exit code \(code) is missing from EXIT STATUS")
        }
    }

    @Test func manPageEnvironmentAndFilesComeFromTheTablesText() throws {
        let page = ManPage.render()
        let environment = try #require(Self.section(page, ".SH ENVIRONMENT"))
        for variable in ["NO_COLOR", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "VISUAL", "EDITOR"] {
            #expect(environment.contains(".B \(ManPage.escape(variable))\n"), "\(variable) is missing from ENVIRONMENT")
        }
        // Each file the page lists is one the help mentions, so that none outlives its mention.
        var text = Self.globalOptions.map(\.help)
        for command in Self.commands { text += [command.summary, command.discussion] + command.options.map(\.help) }
        for file in ManPage.files {
            #expect(text.contains { $0.contains(file.path) }, "FILES lists \(file.path), which no help text mentions")
        }
    }

    @Test func roffEscapesLeadingDotsBackslashesOptionHyphensAndNonASCII() {
        #expect(ManPage.escape(".intops/state.json") == #"\&.intops/state.json"#)
        #expect(ManPage.escape("'quoted'") == #"\&'quoted'"#)
        #expect(ManPage.escape(#"a\b"#) == #"a\eb"#)
        #expect(
            ManPage.escape("--lock-timeout or -i, (--force), age-keygen")
                == #"\-\-lock\-timeout or \-i, (\-\-force), age-keygen"#)
        #expect(ManPage.escape("NAME…") == #"NAME\[u2026]"#)
        #expect(
            ManPage.formatUsage("intops plan [--out FILE]") == #"\fBintops\fR \fBplan\fR [\fB\-\-out\fR \fIFILE\fR]"#)
        #expect(ManPage.paragraphs("one\n.two\n\n'three") == [".PP", "one", #"\&.two"#, ".PP", #"\&'three"#])
    }

    @Test(.enabled(if: installed("man") || installed("groff"), "neither man nor groff is installed"))
    func manPageRendersWithoutWarnings() async throws {
        let file = try Self.file(ManPage.render(), named: "intops.1")
        let output =
            Self.installed("man")
            ? try await Subprocess.run(
                ["man", "--warnings", "-l", file.path],
                environment: ["MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"])
            : try await Subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", file.path])
        #expect(output.status == 0)
        #expect(output.stderrText.isEmpty, "the man page renders with warnings:\n\(output.stderrText)")
        if Self.installed("man") { #expect(output.stdoutText.contains("intops completion")) }
    }

    // MARK: - The completion scripts

    @Test(arguments: CompletionScript.Shell.allCases) func completionCommandPrintsTheScript(
        shell: CompletionScript.Shell
    ) async {
        let result = await TestSupport.run(["completion", shell.rawValue], in: TestSupport.examples)
        #expect(result.status == 0)
        #expect(result.stdout == CompletionScript.render(shell))
        #expect(result.stderr.isEmpty)
    }

    @Test func completionOfAnotherShellIsAUsageError() async {
        let result = await TestSupport.run(["completion", "tcsh"], in: TestSupport.examples)
        #expect(result.status == 64)
        #expect(
            result.stderr.hasPrefix(
                "error: intops completion takes bash, zsh or fish, not 'tcsh'\nUSAGE: intops completion"))
        #expect(await TestSupport.run(["completion"], in: TestSupport.examples).status == 64)
        #expect(await TestSupport.run(["completion", "bash", "zsh"], in: TestSupport.examples).status == 64)
    }

    /// The part of a script that completes one command.
    static func commandPart(_ script: String, shell: CompletionScript.Shell, command: String) -> String {
        let lines = script.split(separator: "\n").map(String.init)
        switch shell {
        case .bash:
            // Each case of the script's functions for the command, through its ;;.
            var part: [String] = []
            var inCase = false
            for line in lines {
                if line.contains("'\(command)')") || line.contains("'\(command) -") { inCase = true }
                if inCase { part.append(line) }
                if line.hasSuffix(";;") { inCase = false }
            }
            return part.joined(separator: "\n")
        case .zsh:
            guard let start = lines.firstIndex(of: "                (\(command))") else { return "" }
            let end = lines[start...].firstIndex(of: "                    ;;") ?? lines.count
            return lines[start..<end].joined(separator: "\n")
        case .fish:
            return lines.filter {
                $0.contains("'__intops_using \(command)'") || $0.contains("'__intops_positional \(command) ")
            }.joined(separator: "\n")
        }
    }

    /// How an option is spelt in a script: `--name` (`-s`) for bash and zsh, `-l 'name'` (`-s 's'`) for fish.
    static func spellings(_ option: OptionSpec, shell: CompletionScript.Shell) -> [String] {
        switch shell {
        case .bash, .zsh: option.spellings
        case .fish: ["-l '\(option.name)'"] + (option.short.map { ["-s '\($0)'"] } ?? [])
        }
    }

    @Test(arguments: CompletionScript.Shell.allCases) func completionScriptHasEveryCommandOptionChoiceAndSubVerb(
        shell: CompletionScript.Shell
    ) {
        let script = CompletionScript.render(shell)
        let words = Set(script.split { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }.map(String.init))
        for command in Self.commands {
            #expect(words.contains(command.name), "\(shell): the command \(command.name) is missing")
            let part = Self.commandPart(script, shell: shell, command: command.name)
            for option in command.options {
                for spelling in Self.spellings(option, shell: shell) {
                    #expect(part.contains(spelling), "\(shell): \(command.name) \(spelling) is missing")
                }
                if let choices = option.choices {
                    #expect(
                        part.contains(choices.joined(separator: " ")),
                        "\(shell): the choices of \(command.name) --\(option.name) are missing")
                }
            }
            if !command.subcommands.isEmpty {
                #expect(
                    part.contains(command.subcommands.joined(separator: " ")),
                    "\(shell): the sub-verbs of \(command.name) are missing")
            }
        }
        for option in Self.globalOptions {
            for spelling in Self.spellings(option, shell: shell) {
                #expect(script.contains(spelling), "\(shell): the global option \(spelling) is missing")
            }
        }
        #expect(script.contains(IntopsCommandLine.version))
    }

    @Test(.enabled(if: installed("bash"), "bash is not installed")) func bashScriptIsValid() async throws {
        let file = try Self.file(CompletionScript.render(.bash), named: "intops.bash")
        let output = try await Subprocess.run(["bash", "-n", file.path])
        #expect(output.status == 0, "bash -n: \(output.stderrText)")
    }

    @Test(.enabled(if: installed("zsh"), "zsh is not installed")) func zshScriptIsValid() async throws {
        let file = try Self.file(CompletionScript.render(.zsh), named: "_intops")
        let output = try await Subprocess.run(["zsh", "-n", file.path])
        #expect(output.status == 0, "zsh -n: \(output.stderrText)")
    }

    @Test(.enabled(if: installed("fish"), "fish is not installed")) func fishScriptIsValid() async throws {
        let file = try Self.file(CompletionScript.render(.fish), named: "intops.fish")
        let output = try await Subprocess.run(["fish", "--no-execute", file.path])
        #expect(output.status == 0, "fish --no-execute: \(output.stderrText)")
    }

    /// Lines to complete and what the shell must offer (a subset: files depend on the folder).
    static let expectations: [(line: [String], offered: [String], notOffered: [String])] = [
        (["intops", ""], ["init", "plan", "state", "completion", "man", "help"], []),
        (["intops", "st"], ["state", "status"], ["plan"]),
        (["intops", "--chdir", "examples", "-v", "sta"], ["state", "status"], []),
        (["intops", "state", ""], ["list", "show", "rm", "mv", "pull", "push", "unlock", "migrate"], []),
        (["intops", "secrets", "-i", ""], ["keygen", "encrypt", "decrypt", "edit", "updatekeys"], []),
        (["intops", "plan", "--f"], ["--format", "--force"], ["--out"]),
        (["intops", "plan", "--format", ""], ["text", "json", "markdown"], []),
        (["intops", "drift", "--org", "x", "--format", ""], ["github", "junit"], []),
        (["intops", "apply", "--refresh", ""], ["auto", "full"], []),
        (["intops", "secrets", "-"], ["-i", "--in-place", "--chdir", "--help"], ["--format"]),
        (["intops", "completion", ""], ["bash", "zsh", "fish"], []),
        (["intops", "help", ""], ["validate", "secrets"], []),
        (["intops", "show", "Package.sw"], ["Package.swift"], []),
        (["intops", "show", "x", "Package.sw"], [], ["Package.swift"]),
    ]

    @Test(.enabled(if: installed("bash"), "bash is not installed"))
    func bashCompletesCommandsSubVerbsOptionsAndChoices() async throws {
        let file = try Self.file(CompletionScript.render(.bash), named: "intops.bash")
        for (line, offered, notOffered) in Self.expectations {
            let words = line.map { "'\($0)'" }.joined(separator: " ")
            let program = """
                source '\(file.path)'
                COMP_WORDS=(\(words)); COMP_CWORD=\(line.count - 1); _intops; printf '%s\\n' "${COMPREPLY[@]}"
                """
            let output = try await Subprocess.run(["bash", "-c", program], directory: TestSupport.packageRoot)
            let replies = Set(output.stdoutText.split(separator: "\n").map(String.init))
            #expect(output.status == 0, "\(line): \(output.stderrText)")
            #expect(
                Set(offered).isSubset(of: replies), "bash, \(line.joined(separator: " ")): offered \(replies.sorted())")
            #expect(
                replies.isDisjoint(with: notOffered),
                "bash, \(line.joined(separator: " ")): offered \(replies.sorted())")
        }
    }

    @Test(.enabled(if: installed("fish"), "fish is not installed"))
    func fishCompletesCommandsSubVerbsOptionsAndChoices() async throws {
        let file = try Self.file(CompletionScript.render(.fish), named: "intops.fish")
        for (line, offered, notOffered) in Self.expectations {
            let commandLine = line.joined(separator: " ").replacing("'", with: "\\'")
            // string replace (dropping the descriptions) fails when there is none to drop: stderr tells the errors.
            let program = "source '\(file.path)'; complete -C '\(commandLine)' | string replace -r '\\t.*' ''"
            let output = try await Subprocess.run(
                ["fish", "--no-config", "-c", program], directory: TestSupport.packageRoot)
            let replies = Set(output.stdoutText.split(separator: "\n").map(String.init))
            #expect(output.stderrText.isEmpty, "\(line): \(output.stderrText)")
            #expect(
                Set(offered).isSubset(of: replies), "fish, \(line.joined(separator: " ")): offered \(replies.sorted())")
            #expect(
                replies.isDisjoint(with: notOffered),
                "fish, \(line.joined(separator: " ")): offered \(replies.sorted())")
        }
    }
}

/// `intops completion bash|zsh|fish`: the shell completion script, from the command table the help comes from.
enum CompletionCommand {
    static let spec = CommandSpec(
        name: "completion", summary: "Print the completion script for bash, zsh or fish.",
        arguments: CompletionScript.Shell.allCases.map(\.rawValue).joined(separator: "|"), positionalCount: 1...1,
        discussion: """
            The script completes the commands, their sub-verbs and options, and the values of options that take
            one of a list; it is generated from the table this help comes from. Install it with
            intops completion bash > /etc/bash_completion.d/intops, intops completion zsh > "${fpath[1]}/_intops"
            or intops completion fish > ~/.config/fish/completions/intops.fish.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let name = invocation.arguments.positionals[0]
        guard let shell = CompletionScript.Shell(rawValue: name) else {
            let shells = CompletionScript.Shell.allCases.map(\.rawValue)
            invocation.usage(
                UsageError(
                    message:
                        "intops completion takes \(shells.dropLast().joined(separator: ", ")) or \(shells.last ?? ""), not '\(name)'",
                    command: spec))
            return ExitCode.usage
        }
        invocation.console.writeOutput(CompletionScript.render(shell))
        return ExitCode.success
    }
}

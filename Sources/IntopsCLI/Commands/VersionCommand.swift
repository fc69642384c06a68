enum VersionCommand {
    static let spec = CommandSpec(
        name: "version", summary: "Print the version of intops.",
        run: { invocation in
            invocation.console.out("intops \(IntopsCommandLine.version)")
            return ExitCode.success
        })
}

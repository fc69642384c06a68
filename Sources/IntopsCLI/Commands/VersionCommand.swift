enum VersionCommand {
    static let spec = CommandSpec(
        name: "version", summary: "Print the version of intops, the git commit and the date it was built from.",
        run: { invocation in
            invocation.console.out(IntopsCommandLine.versionLine)
            return ExitCode.success
        })
}

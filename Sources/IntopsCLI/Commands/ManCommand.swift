/// `intops man`: the man page intops(1) in roff, from the command table the help comes from.
enum ManCommand {
    static let spec = CommandSpec(
        name: "man", summary: "Print the man page intops(1) in roff; make man writes it to man/intops.1.",
        discussion: """
            Read it with intops man > intops.1 && man -l intops.1, or install man/intops.1 as
            /usr/local/share/man/man1/intops.1.
            """,
        run: { invocation in
            invocation.console.writeOutput(ManPage.render())
            return ExitCode.success
        })
}

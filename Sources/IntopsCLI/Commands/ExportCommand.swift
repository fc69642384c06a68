import Reconciler

/// `intops export --org ID [--out DIR] [--adopt]`.
enum ExportCommand {
    static let org = OptionSpec.value("org", "ID", "The organization to export (required).")
    static let out = OptionSpec.value(
        "out", "DIR", "Where to write the manifest (default integrations/; the secrets skeleton goes to secrets/).")
    static let force = OptionSpec.flag(
        "force", "Replace the manifest file if it exists (export writes new files only).")
    static let adopt = OptionSpec.flag(
        "adopt", "Record the declared integrations of --org in the state, trusting the manifests' secrets.")

    static let spec = CommandSpec(
        name: "export",
        summary: "Write manifests for an organization's live integrations, or adopt them once filled in.",
        options: [org, out, force, adopt],
        discussion: """
            export writes ORG.yaml (never over an existing file without --force) and a secrets skeleton
            secrets/ORG.secrets.enc.yaml, encrypted to the project's recipients, whose placeholders intops refuses
            to send: fill them in with intops secrets edit. After that, intops plan shows the rotations of the
            unknown secrets; export --adopt instead records them as already set, so the plan is empty.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard
            let organization = invocation.options({ (parsed: ParsedArguments) throws(UsageError) in
                try parsed.required(org)
            })
        else { return ExitCode.usage }
        let console = invocation.console
        let engine = invocation.engine
        if invocation.arguments.flag(adopt) {
            guard
                let count = await invocation.run({ () async throws(EngineError) in
                    try await engine.adopt(organization: organization, lockTimeout: nil, observer: invocation.observer)
                })
            else { return ExitCode.failure }
            console.out("adopted \(count) integrations of \(organization) into the state")
            return ExitCode.success
        }
        let directory = invocation.arguments.value(out)
        guard
            let result = await invocation.run({ () async throws(EngineError) in
                try await engine.export(
                    organization: organization, into: directory, force: invocation.arguments.flag(force))
            })
        else { return ExitCode.failure }
        console.out(
            "exported \(result.count) integrations of \(organization) to \(invocation.display(result.manifestFile))")
        console.out("fill in the secrets with: intops secrets edit \(invocation.display(result.secretsFile))")
        return ExitCode.success
    }
}

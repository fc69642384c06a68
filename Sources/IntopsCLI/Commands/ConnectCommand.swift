import Reconciler

/// `intops connect NAME --return-url URL`: the OAuth authorization URL of an integration.
enum ConnectCommand {
    static let returnURL = OptionSpec.value(
        "return-url", "URL", "Where the provider sends the browser back (required).")

    static let spec = CommandSpec(
        name: "connect", summary: "Start the OAuth authorization of an integration and print the URL to open.",
        arguments: "NAME", positionalCount: 1...1, options: [returnURL], run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard
            let url = invocation.options({ (parsed: ParsedArguments) throws(UsageError) in
                try parsed.required(returnURL)
            })
        else { return ExitCode.usage }
        let engine = invocation.engine
        let name = invocation.arguments.positionals[0]
        guard
            let (key, authorization) = await invocation.run({ () async throws(EngineError) in
                try await engine.connect(name: name, returnURL: url, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        invocation.console.out(authorization)
        invocation.notice("open this URL within 15 minutes to authorize \(key)")
        return ExitCode.success
    }
}

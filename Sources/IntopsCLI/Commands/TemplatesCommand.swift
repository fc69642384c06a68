import Reconciler

/// `intops templates [--type TYPE] [--refresh]`.
enum TemplatesCommand {
    static let type = OptionSpec.value("type", "TYPE", "Only this integration type (name or number).")
    static let refresh = OptionSpec.flag("refresh", "Fetch from the API and write .intops/templates.json.")

    static let spec = CommandSpec(
        name: "templates", summary: "List the provider templates; --refresh saves them for offline validation.",
        options: [type, refresh], run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard
            let typeName = invocation.options({ (parsed: ParsedArguments) throws(UsageError) -> String? in
                guard let text = parsed.value(type) else { return nil }
                guard let name = Engine.integrationTypeName(text) else {
                    throw UsageError(
                        message: "--type \(text) is not an integration type (Payment … Inventory, or 1 to 8)")
                }
                return name
            })
        else { return ExitCode.usage }
        let console = invocation.console
        let engine = invocation.engine
        let refresh = invocation.arguments.flag(refresh)
        guard
            let report = await invocation.run({ () async throws(EngineError) in
                try await engine.templates(refresh: refresh)
            })
        else { return ExitCode.failure }
        if let written = report.cacheWritten {
            invocation.notice("wrote \(invocation.display(written)) (\(report.templates.count) templates)")
        }
        for template in report.templates where typeName == nil || template.type.name == typeName {
            let secrets = template.secretFields.map(\.key).joined(separator: ", ")
            let configuration = template.configurationFields.map { $0.required ? "\($0.key)*" : $0.key }.joined(
                separator: ", ")
            console.out(
                "\(template.type.name)/\(template.provider)\(template.requiresOAuth ? " (OAuth)" : "")  \(template.displayName)"
            )
            if !configuration.isEmpty { console.out("    configuration: \(configuration)") }
            if !secrets.isEmpty { console.out("    secrets: \(secrets)") }
        }
        return ExitCode.success
    }
}

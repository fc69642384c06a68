import Foundation
import IntegrationsAPI
import Reconciler

/// One connection test's answer, or why there is none.
struct TestOutcome: Sendable {
    var index: Int
    var result: TestConnectionResult?
    var failure: String?
}

/// `intops test`, `intops rotate`, `intops connect`, `intops templates`: what people reach for in an incident.
enum OperationsCommands {
    /// The live integration id of each named manifest entry (all entries when no name is given).
    static func targets(_ session: Session, names: [String], console: Console) -> [(DesiredIntegration, String)]? {
        var result: [(DesiredIntegration, String)] = []
        let present = session.desired.filter { !$0.isTombstone }
        for name in names where !present.contains(where: { $0.key.name == name }) {
            console.err(Style.red("error:", console.colorError) + " no integration named \(name) in the manifests")
            return nil
        }
        for desired in present where names.isEmpty || names.contains(desired.key.name) {
            let live = session.live.organizations[desired.key.organization] ?? []
            let id = session.state.entry(desired.key)?.integrationId
                ?? live.first { $0.summary.displayName == desired.displayName && $0.summary.provider == desired.provider }?.id
            guard let id, live.contains(where: { $0.id == id }) else {
                console.err(Style.red("error:", console.colorError) + " \(desired.key) is not live yet; run intops apply first")
                return nil
            }
            result.append((desired, id))
        }
        return result
    }

    static let test = CommandSpec(
        name: "test", summary: "Run connection tests and report.", arguments: "[NAME…]", positionalCount: 0...1000,
        options: [OptionSpec(name: "org", kind: .repeated(placeholder: "ID"), help: "Only this organization (repeatable).")],
        run: { invocation in
            let console = invocation.console
            guard let session = await Reconciling.open(invocation),
                let targets = targets(session, names: invocation.arguments.positionals, console: console)
            else { return ExitCode.failure }
            // The tests run as many at once as the client allows; the report follows the manifests' order.
            let client = session.client
            let outcomes = await withTaskGroup(of: TestOutcome.self) { group in
                var outcomes = [TestOutcome?](repeating: nil, count: targets.count)
                for (index, target) in targets.enumerated() {
                    if index >= client.policy.maxInFlight, let done = await group.next() { outcomes[done.index] = done }
                    let organization = target.0.key.organization, id = target.1
                    group.addTask {
                        do {
                            return TestOutcome(index: index, result: try await client.test(organization: organization, id: id), failure: nil)
                        } catch {
                            return TestOutcome(index: index, result: nil, failure: "\(error)")
                        }
                    }
                }
                for await done in group { outcomes[done.index] = done }
                return outcomes
            }
            var failed = 0
            for ((desired, _), outcome) in zip(targets, outcomes) {
                if let result = outcome?.result, result.isSuccessful {
                    console.out(Style.green("✓", console.colorOutput) + " \(desired.key): \(result.message ?? "passed")")
                } else if let result = outcome?.result {
                    failed += 1
                    console.out(Style.red("✗", console.colorOutput) + " \(desired.key): \(result.message ?? "failed")")
                } else {
                    failed += 1
                    console.err(Style.red("✗", console.colorError) + " \(desired.key): \(outcome?.failure ?? "not run")")
                }
            }
            console.out("\(targets.count - failed) passed, \(failed) failed.")
            return failed == 0 ? ExitCode.success : ExitCode.failure
        })

    static let rotate = CommandSpec(
        name: "rotate", summary: "Rotate secrets from the manifests even when their fingerprints match.", arguments: "NAME…",
        positionalCount: 1...1000,
        options: [
            OptionSpec(name: "org", kind: .repeated(placeholder: "ID"), help: "Only this organization (repeatable)."),
            OptionSpec(name: "auto-approve", help: "Accepted for symmetry with apply; rotate never asks."),
            Reconciling.lockTimeout,
        ],
        run: { invocation in
            let console = invocation.console
            return await Reconciling.withLockedSession(invocation, operation: "rotate") { session in
                guard let targets = targets(session, names: invocation.arguments.positionals, console: console) else { return ExitCode.failure }
                let actions = targets.filter { !$0.0.secrets.isEmpty }.map { desired, id in
                    PlannedAction(
                        organization: desired.key.organization, name: desired.key.name, action: .rotate, integrationId: id,
                        type: desired.type, provider: desired.provider, displayName: desired.displayName,
                        changes: desired.secrets.keys.sorted().map { PlannedChange(field: "secrets.\($0)", old: "(sensitive)", new: "(sensitive)", sensitive: true) },
                        reason: "intops rotate", notes: [], steps: [.rotate(keys: desired.secrets.keys.sorted())], preSteps: [], dependsOn: [])
                }
                let applier = Applier(client: session.client, desired: session.desired, templates: session.templates, parallelism: session.project.api.parallelism)
                let report = await applier.apply(Plan(actions: actions), state: session.state, store: session.store, organizations: session.organizations)
                return ApplyCommand.summarize(report, console: console, quiet: invocation.global.quiet)
            }
        })

    static let connect = CommandSpec(
        name: "connect", summary: "Start the OAuth authorization of an integration and print the URL to open.", arguments: "NAME",
        positionalCount: 1...1,
        options: [OptionSpec(name: "return-url", kind: .value(placeholder: "URL"), help: "Where the provider sends the browser back (required).")],
        run: { invocation in
            let console = invocation.console
            guard let returnURL = invocation.arguments.value("return-url") else {
                console.err("error: intops connect needs --return-url URL")
                return ExitCode.usage
            }
            guard let session = await Reconciling.open(invocation),
                let (desired, id) = targets(session, names: invocation.arguments.positionals, console: console)?.first
            else { return ExitCode.failure }
            do {
                let response = try await session.client.connect(organization: desired.key.organization, id: id, state: returnURL)
                console.out(response.authorizationUrl)
                if !invocation.global.quiet { console.err("open this URL within 15 minutes to authorize \(desired.key)") }
                return ExitCode.success
            } catch {
                console.err(Style.red("error:", console.colorError) + " \(error)")
                return ExitCode.failure
            }
        })

    static let templates = CommandSpec(
        name: "templates", summary: "List the provider templates; --refresh saves them for offline validation.",
        options: [
            OptionSpec(name: "type", kind: .value(placeholder: "TYPE"), help: "Only this integration type (name or number)."),
            OptionSpec(name: "refresh", help: "Fetch from the API and write .intops/templates.json."),
        ],
        run: { invocation in
            let console = invocation.console
            guard let project = Reconciling.loadProject(invocation) else { return ExitCode.failure }
            var type: IntegrationType?
            if let text = invocation.arguments.value("type") {
                type = IntegrationType(name: text) ?? Int(text).flatMap(IntegrationType.init(rawValue:))
                if type == nil {
                    console.err("error: --type \(text) is not an integration type (Payment … Inventory, or 1 to 8)")
                    return ExitCode.usage
                }
            }
            var list: [IntegrationTemplate]
            let cached = try? ProjectValidation.loadTemplates(for: project, offline: true)
            if invocation.arguments.flag("refresh") || cached == nil || cached?.1 == .sandboxCatalog {
                let resolver = SecretResolver(root: project.root, environment: invocation.environment)
                var tokens: [String: String] = [:]
                if !project.api.isSandbox, let organization = project.organizations.first, let reference = organization.token {
                    do { tokens[organization.id] = try resolver.resolve(reference).exposedString() } catch let error as Diagnostic {
                        console.err(DiagnosticPrinter(displayBase: invocation.workingDirectory, format: .text).line(error, color: console.colorError))
                        return ExitCode.failure
                    } catch {
                        return ExitCode.failure
                    }
                }
                do {
                    let client = try APIConnector.client(for: project.limited(to: Array(tokens.keys)), tokens: tokens)
                    list = try await client.templates(organization: project.organizations[0].id)
                } catch {
                    console.err(Style.red("error:", console.colorError) + " cannot fetch the templates: \(error)")
                    return ExitCode.failure
                }
                if invocation.arguments.flag("refresh") {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    let data = (try? encoder.encode(TemplatesResponse(templates: list))) ?? Data()
                    do {
                        try FileManager.default.createDirectory(atPath: (project.templatesCachePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        try AtomicFile.write(Array(data) + [10], to: project.templatesCachePath)
                    } catch {
                        console.err(Style.red("error:", console.colorError) + " \(error)")
                        return ExitCode.failure
                    }
                    if !invocation.global.quiet { console.err("wrote \(ProjectPaths.display(project.templatesCachePath, relativeTo: invocation.workingDirectory)) (\(list.count) templates)") }
                }
            } else {
                list = cached!.0
            }
            for template in list where type == nil || template.type == type {
                let secrets = template.secretFields.map(\.key).joined(separator: ", ")
                let configuration = template.configurationFields.map { $0.required ? "\($0.key)*" : $0.key }.joined(separator: ", ")
                console.out("\(template.type.name)/\(template.provider)\(template.requiresOAuth ? " (OAuth)" : "")  \(template.displayName)")
                if !configuration.isEmpty { console.out("    configuration: \(configuration)") }
                if !secrets.isEmpty { console.out("    secrets: \(secrets)") }
            }
            return ExitCode.success
        })
}

import Foundation
import Reconciler

/// `intops export --org ID [--out DIR] [--adopt]`.
enum ExportCommand {
    static let spec = CommandSpec(
        name: "export", summary: "Write manifests for an organization's live integrations, or adopt them once filled in.",
        options: [
            OptionSpec(name: "org", kind: .value(placeholder: "ID"), help: "The organization to export (required)."),
            OptionSpec(name: "out", kind: .value(placeholder: "DIR"), help: "Where to write the manifest (default integrations/; the secrets skeleton goes to secrets/)."),
            OptionSpec(name: "adopt", help: "Record the declared integrations of --org in the state, trusting the manifests' secrets."),
        ],
        discussion: """
            export writes ORG.yaml and a secrets skeleton ORG.secrets.enc.yaml (plaintext, mode 0600) to fill in and
            encrypt. After that, intops plan shows the rotations of the unknown secrets; export --adopt instead records
            them as already set, so the plan is empty.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        guard let organization = invocation.arguments.value("org") else {
            console.err("error: intops export needs --org ID")
            return ExitCode.usage
        }
        if invocation.arguments.flag("adopt") {
            var options = Reconciling.sessionOptions(invocation)
            options.organizations = [organization]
            return await Reconciling.withLockedSession(invocation, operation: "export --adopt", options: options) { session in
                let (count, error) = await Exporter.adopt(session: session, organization: organization)
                if let error {
                    console.err(Style.red("error:", console.colorError) + " " + error)
                    return ExitCode.failure
                }
                console.out("adopted \(count) integrations of \(organization) into the state")
                return ExitCode.success
            }
        }
        guard let project = Reconciling.loadProject(invocation) else { return ExitCode.failure }
        guard let declared = project.organizations.first(where: { $0.id == organization }) else {
            console.err(Style.red("error:", console.colorError) + " \(organization) is not an organization of intops.yaml; declare it first")
            return ExitCode.failure
        }
        var tokens: [String: String] = [:]
        if !project.api.isSandbox, let reference = declared.token {
            do {
                tokens[organization] = try SecretResolver(root: project.root, environment: invocation.environment).resolve(reference).exposedString()
            } catch {
                console.err(DiagnosticPrinter(displayBase: invocation.workingDirectory, format: .text).line(error, color: console.colorError))
                return ExitCode.failure
            }
        }
        do {
            let client = try APIConnector.client(for: project.limited(to: [organization]), tokens: tokens)
            let templates = try await client.templates(organization: organization)
            let directory = invocation.arguments.value("out").map { ProjectPaths.resolve($0, from: invocation.global.directory) }
                ?? project.root + "/integrations"
            let result = try await Exporter.export(
                organization: organization, client: client, templates: TemplateValidator(templates: templates), into: directory,
                secretsDirectory: project.root + "/secrets")
            let show = { (path: String) in ProjectPaths.display(path, relativeTo: invocation.workingDirectory) }
            console.out("exported \(result.count) integrations of \(organization) to \(show(result.manifestFile))")
            console.out("fill in \(show(result.secretsFile)), then: intops secrets encrypt --in-place \(show(result.secretsFile))")
            return ExitCode.success
        } catch {
            console.err(Style.red("error:", console.colorError) + " \(error)")
            return ExitCode.failure
        }
    }
}

import Foundation
import Reconciler

/// `intops orgs [--format text|json] [--index N]`: the organizations intops.yaml declares, for the jobs that shard
/// a project by organization (a CI matrix, a Kubernetes Indexed Job), so that the list of shards is never written
/// by hand and never goes stale.
enum OrgsCommand {
    enum Format: String, CaseIterable { case text, json }

    struct Entry: Encodable {
        var id: String
        var tokenEnv: String?
    }

    static let format = OptionSpec.value(
        "format", "FORMAT", choices: Format.allCases.map(\.rawValue),
        "text (one id a line, the default) or json (each id with the variable its token is read from).")
    static let index = OptionSpec.value(
        "index", "N", "Only the organization at this position (from 0, in the order of intops.yaml).")

    static let spec = CommandSpec(
        name: "orgs", summary: "List the organizations intops.yaml declares, for sharded runs.",
        options: [format, index],
        discussion: """
            Reads intops.yaml only: no secrets, no API. --format json prints a JSON array with, for each organization,
            its id and, when its token is a ref+env:// reference, the variable's name: [{"id": "acme-us",
            "tokenEnv": "INTOPS_TOKEN_ACME_US"}, …], the entries of a GitHub Actions matrix. --index N prints the
            Nth id alone (a Kubernetes Indexed Job's JOB_COMPLETION_INDEX). An index past the last organization is a
            usage error.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard
            let (format, position) = invocation.options({
                (parsed: ParsedArguments) throws(UsageError) -> (Format, Int?) in
                let format = parsed.value(Self.format).flatMap(Format.init(rawValue:)) ?? .text
                guard let text = parsed.value(Self.index) else { return (format, nil) }
                guard let position = Int(text), position >= 0 else {
                    throw UsageError(message: "--index takes a whole number from 0, not '\(text)'")
                }
                return (format, position)
            })
        else { return ExitCode.usage }
        let engine = invocation.engine
        guard let project = invocation.run({ () throws(EngineError) in try engine.loadProject() }) else {
            return ExitCode.failure
        }
        var organizations = project.organizations
        if let position {
            guard position < organizations.count else {
                invocation.usage(
                    UsageError(
                        message:
                            "--index \(position) is past the last organization: intops.yaml declares \(organizations.count), from 0 to \(organizations.count - 1)"
                    ))
                return ExitCode.usage
            }
            organizations = [organizations[position]]
        }
        switch format {
        case .text: for organization in organizations { invocation.console.out(organization.id) }
        case .json:
            let entries = organizations.map { organization in
                var tokenEnv: String?
                if case .env(let name)? = organization.token?.source { tokenEnv = name }
                return Entry(id: organization.id, tokenEnv: tokenEnv)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(entries)) ?? Data("[]".utf8)
            invocation.console.out(String(decoding: data, as: UTF8.self))
        }
        return ExitCode.success
    }
}

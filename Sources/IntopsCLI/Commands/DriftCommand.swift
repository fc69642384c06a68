import Foundation
import Reconciler

/// `intops drift`.
enum DriftCommand {
    static let spec = CommandSpec(
        name: "drift", summary: "Report what the live organizations hold that the manifests do not say.",
        options: [
            OptionSpec(
                name: "format", kind: .value(placeholder: "FORMAT"), choices: DriftRenderer.Format.allCases.map(\.rawValue),
                help: "text (default), json, markdown, github (annotations) or junit."),
            OptionSpec(name: "org", kind: .repeated(placeholder: "ID"), help: "Only this organization (repeatable)."),
        ],
        discussion: """
            Refreshes every integration (a full refresh) and reports changed fields, integrations deleted out of
            band, unmanaged integrations, changed secrets, failing or never-run tests, secrets past rotation.maxAge
            and OAuth providers not authorized. Exit 0 without drift, 2 with drift, 1 on error. Changes nothing.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        var options = Reconciling.sessionOptions(invocation)
        options.refresh = .full
        guard let session = await Reconciling.open(invocation, options: options) else { return ExitCode.failure }
        // INTOPS_NOW fixes the clock for reproducible reports (tests); it is never needed otherwise.
        let now = invocation.environment["INTOPS_NOW"].flatMap { ISO8601DateFormatter().date(from: $0) } ?? Date()
        let items = DriftDetector.detect(session: session, now: now)
        let format = DriftRenderer.Format(rawValue: invocation.arguments.value("format") ?? "text") ?? .text
        console.writeOutput(DriftRenderer.render(
            items, format: format, organizations: session.organizations,
            declared: session.desired.filter { !$0.isTombstone }.map(\.key)))
        return items.isEmpty ? ExitCode.success : ExitCode.changes
    }
}

import Foundation
import Reconciler

/// `intops drift`.
enum DriftCommand {
    struct Options {
        static let format = OptionSpec.value(
            "format", "FORMAT", choices: DriftRenderer.Format.allCases.map(\.rawValue),
            "text (default), json, markdown, github (annotations) or junit.")
        static let specs = [format, SharedOptions.org]

        var format: DriftRenderer.Format
        var organizations: [String]

        init(_ parsed: ParsedArguments) throws(UsageError) {
            format = parsed.value(Self.format).flatMap(DriftRenderer.Format.init(rawValue:)) ?? .text
            organizations = parsed.all(SharedOptions.org)
        }
    }

    static let spec = CommandSpec(
        name: "drift", summary: "Report what the live organizations hold that the manifests do not say.",
        options: Options.specs,
        discussion: """
            Refreshes every integration (a full refresh) and reports changed fields, integrations deleted out of
            band, unmanaged integrations, changed secrets, failing or never-run tests, secrets past rotation.maxAge
            and OAuth providers not authorized. An organization or integration that cannot be read is reported as an
            error after the rest of the report. Exit 0 without drift, 2 with drift, 1 on error. Changes nothing.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        guard let options = invocation.options(Options.init) else { return ExitCode.usage }
        // INTOPS_NOW fixes the clock for reproducible reports (tests); it is never needed otherwise.
        var now = Date()
        if let text = invocation.environment["INTOPS_NOW"] {
            guard let fixed = Timestamp.date(text) else {
                invocation.usage(
                    UsageError(message: "INTOPS_NOW is '\(text)', not an RFC 3339 time like 2026-01-31T12:00:00Z"))
                return ExitCode.usage
            }
            now = fixed
        }
        let engine = invocation.engine
        guard
            let report = await invocation.run({ () async throws(EngineError) in
                try await engine.drift(organizations: options.organizations, now: now, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        invocation.console.writeOutput(
            DriftRenderer.render(
                report.items, format: options.format, organizations: report.organizations, declared: report.declared))
        for problem in report.unreadable { invocation.error(problem) }
        guard report.unreadable.isEmpty else { return ExitCode.failure }
        return report.items.isEmpty ? ExitCode.success : ExitCode.changes
    }
}

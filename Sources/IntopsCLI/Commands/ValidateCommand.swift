import Foundation
import Reconciler

/// `intops validate`: every check that needs no change to the live organizations.
enum ValidateCommand {
    static let offline = OptionSpec.flag(
        "offline", "Never contact the API; templates come from .intops/templates.json or the sandbox catalog.")
    static let format = OptionSpec.value(
        "format", "FORMAT", choices: ["text", "github"], "text (default), or github for workflow annotations.")

    static let spec = CommandSpec(
        name: "validate",
        summary: "Check intops.yaml and every manifest: syntax, fields, templates and secret references.",
        options: [offline, format],
        discussion: """
            Errors print one per line as FILE:LINE:COLUMN: error: what is wrong and what to do; the exit code is 1
            when there is any. Nothing is sent to the API.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let format = DiagnosticPrinter.Format(rawValue: invocation.arguments.value(format) ?? "text") ?? .text
        let printer = DiagnosticPrinter(displayBase: invocation.workingDirectory, format: format)
        func report(_ diagnostics: [Diagnostic]) {
            for diagnostic in diagnostics {
                if format == .github {
                    console.out(printer.line(diagnostic, color: false))
                } else if diagnostic.severity == .error || !invocation.global.quiet {
                    console.err(printer.line(diagnostic, color: console.colorError))
                }
            }
        }

        let clock = ContinuousClock()
        let start = clock.now
        let report_: ValidationReport
        do { report_ = try await invocation.engine.validate(offline: invocation.arguments.flag(offline)) } catch {
            report(error.diagnostics)
            return ExitCode.failure
        }
        report(report_.warnings)

        if invocation.global.verbose {
            let shown = printer.display
            console.err("project: \(shown(report_.project.file))")
            for file in report_.loaded.manifestFiles { console.err("manifest: \(shown(file))") }
            console.err("templates: \(report_.templateCount) from \(report_.templateOrigin)")
            console.err("time: \(Self.milliseconds(clock.now - start)) ms")
        }
        if !invocation.global.quiet { console.out(Style.green("✓", console.colorOutput) + " " + summary(report_)) }
        return ExitCode.success
    }

    static func summary(_ report: ValidationReport) -> String {
        let integrations = report.integrations
        let tombstones = integrations.filter { $0.ensure == .absent }.count
        let organizations = Set(integrations.map(\.organization)).count
        func count(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        var text = "Valid: intops.yaml and \(count(report.loaded.manifestFiles.count, "manifest file")), "
        text += "\(count(integrations.count, "integration"))"
        if tombstones > 0 { text += " (\(tombstones) to delete)" }
        text += " in \(count(organizations, "organization")) of \(report.project.organizations.count) declared, "
        text += "\(count(report.referenceCount, "secret reference")) resolved, "
        text += "checked against \(count(report.templateCount, "template")) from \(report.templateOrigin)."
        return text
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

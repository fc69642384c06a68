import Foundation
import IntegrationsAPI
import TextEscaping

/// Drift for people (text), pipelines (json, junit), pull requests (markdown) and GitHub annotations (github).
public enum DriftRenderer {
    public enum Format: String, Sendable, CaseIterable { case text, json, markdown, github, junit }

    public static func render(
        _ items: [DriftItem], format: Format, organizations: [String], declared: [IntegrationKey]
    ) -> String {
        switch format {
        case .text: text(items)
        case .json: json(items)
        case .markdown: markdown(items)
        case .github: github(items)
        case .junit: junit(items, organizations: organizations, declared: declared)
        }
    }

    static func summary(_ items: [DriftItem]) -> [String: Int] {
        var counts = Dictionary(uniqueKeysWithValues: DriftItem.Kind.allCases.map { ($0.rawValue, 0) })
        for item in items { counts[item.kind.rawValue, default: 0] += 1 }
        return counts
    }

    static func summaryLine(_ items: [DriftItem]) -> String {
        guard !items.isEmpty else { return "No drift. The live integrations match the manifests." }
        let counts = summary(items)
        return "Drift: "
            + DriftItem.Kind.allCases.compactMap { kind in
                counts[kind.rawValue].flatMap { $0 > 0 ? "\($0) \(kind.rawValue)" : nil }
            }.joined(separator: ", ") + "."
    }

    public static func text(_ items: [DriftItem]) -> String {
        var out = ""
        for item in items {
            out +=
                TerminalText.visible(
                    "\(item.organization)/\(item.name): \(item.kind.rawValue)\(item.integrationId.map { " (\($0))" } ?? "")"
                ) + "\n"
            for detail in item.details { out += "    \(TerminalText.visible(detail))\n" }
        }
        return out + summaryLine(items) + "\n"
    }

    struct Document: Encodable {
        var formatVersion = 1
        var drift: [DriftItem]
        var summary: [String: Int]
    }

    public static func json(_ items: [DriftItem]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(
            decoding: (try? encoder.encode(Document(drift: items, summary: summary(items)))) ?? Data(), as: UTF8.self)
            + "\n"
    }

    public static func markdown(_ items: [DriftItem]) -> String {
        var out = "### intops drift\n\n**\(summaryLine(items))**\n"
        guard !items.isEmpty else { return out }
        out += "\n| Integration | Kind | Details |\n|---|---|---|\n"
        for item in items {
            let details = item.details.map(MarkdownText.inline).joined(separator: "<br>")
            out +=
                "| \(MarkdownText.code("\(item.organization)/\(item.name)")) | \(item.kind.rawValue) | \(details) |\n"
        }
        return out
    }

    /// GitHub Actions workflow commands: a warning on the manifest line of each drifting integration.
    public static func github(_ items: [DriftItem]) -> String {
        var out = ""
        for item in items {
            let location = item.file.map { "file=\(WorkflowCommand.property($0)),line=\(item.line ?? 1)," } ?? ""
            let title = WorkflowCommand.property("drift: \(item.kind.rawValue)")
            let message = WorkflowCommand.data(
                "\(item.organization)/\(item.name): \(item.details.joined(separator: "; "))")
            out += "::warning \(location)title=\(title)::\(message)\n"
        }
        return out + summaryLine(items) + "\n"
    }

    /// JUnit XML: one test case per declared integration (failing when it drifts), plus one per unmanaged one.
    public static func junit(_ items: [DriftItem], organizations: [String], declared: [IntegrationKey]) -> String {
        let xml = XMLText.attribute
        var cases: [(String, String, [DriftItem])] = declared.sorted().map { key in
            (key.organization, key.name, items.filter { $0.organization == key.organization && $0.name == key.name })
        }
        for item in items where item.kind == .unmanaged { cases.append((item.organization, item.name, [item])) }
        let failures = cases.filter { !$0.2.isEmpty }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"intops drift\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
        for organization in organizations {
            let inOrg = cases.filter { $0.0 == organization }
            out +=
                "  <testsuite name=\"\(xml(organization))\" tests=\"\(inOrg.count)\" failures=\"\(inOrg.filter { !$0.2.isEmpty }.count)\">\n"
            for (_, name, drift) in inOrg {
                out += "    <testcase classname=\"\(xml(organization))\" name=\"\(xml(name))\""
                if drift.isEmpty {
                    out += "/>\n"
                } else {
                    let message = drift.map { $0.kind.rawValue }.joined(separator: ", ")
                    let body = drift.flatMap { item in item.details.map { "\(item.kind.rawValue): \($0)" } }.joined(
                        separator: "\n")
                    out +=
                        ">\n      <failure message=\"\(xml(message))\">\(XMLText.content(body))</failure>\n    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        return out + "</testsuites>\n"
    }
}

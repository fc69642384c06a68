import Foundation
import IntegrationsAPI
import YAML

/// Something a refresh found that the manifests do not say.
public struct DriftItem: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A managed integration's fields differ from the manifest.
        case changed
        /// The state manages it, but it is gone from the API.
        case deleted
        /// Declared, never created.
        case missing
        /// A secret in the manifests differs from the one last set.
        case secretChanged = "secret-changed"
        /// intops has no record of a secret (no state entry, or one without its fingerprint): it cannot tell whether
        /// the live value differs, and the next apply sets it.
        case secretUnknown = "secret-unknown"
        /// Live in a managed organization, in no manifest and not in the state.
        case unmanaged
        /// The last connection test failed.
        case testFailing = "test-failing"
        /// Never tested.
        case neverTested = "never-tested"
        /// A secret set longer ago than `rotation.maxAge`.
        case secretExpired = "secret-expired"
        /// An OAuth provider not yet authorized.
        case unauthorized
    }

    public var organization: String
    public var name: String
    public var kind: Kind
    public var details: [String]
    public var integrationId: String?
    /// The manifest line the drift points at (for annotations), when the integration is declared.
    public var file: String?
    public var line: Int?
}

/// Drift from the same inputs as a plan: the plan's changes, read as drift, and what only a refresh shows.
public enum DriftDetector {
    public static func detect(session: Session, now: Date) -> [DriftItem] {
        let plan = session.plan(PlanOptions(safety: Safety(maxDeletes: Int.max, maxDeletePercent: 100), now: now))
        var items: [DriftItem] = []
        let desired = Dictionary(session.desired.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        func located(_ key: IntegrationKey, _ kind: DriftItem.Kind, _ details: [String], id: String?) -> DriftItem {
            let location = desired[key]?.manifest.location
            return DriftItem(
                organization: key.organization, name: key.name, kind: kind, details: details, integrationId: id,
                file: location.map { ProjectPaths.display($0.file, relativeTo: session.project.root) }, line: location?.line)
        }
        func describe(_ change: PlannedChange) -> String {
            if change.sensitive { return "\(change.field) differs from the manifest (values not shown)" }
            return "\(change.field): live \(change.old.map { "\"\($0)\"" } ?? "(none)"), manifest \(change.new.map { "\"\($0)\"" } ?? "(none)")"
        }
        /// Secrets split by what the state knows of them: a recorded fingerprint that differs, or no record at all.
        func secretItems(_ action: PlannedAction, _ secrets: [PlannedChange]) -> [DriftItem] {
            let recorded = session.state.entry(action.key)?.secrets ?? [:]
            let unknown = secrets.filter { recorded[String($0.field.dropFirst("secrets.".count))] == nil }
            let changed = secrets.filter { recorded[String($0.field.dropFirst("secrets.".count))] != nil }
            var items: [DriftItem] = []
            if !changed.isEmpty { items.append(located(action.key, .secretChanged, changed.map(describe), id: action.integrationId)) }
            if !unknown.isEmpty {
                items.append(located(action.key, .secretUnknown, unknown.map { "intops has no record of \($0.field); apply sets it" }, id: action.integrationId))
            }
            return items
        }
        for action in plan.actions {
            let plain = action.changes.filter { !$0.sensitive && $0.field != "test" }
            let secrets = action.changes.filter(\.sensitive)
            switch action.action {
            case .create:
                if action.reason?.hasPrefix("deleted out of band") == true {
                    items.append(located(action.key, .deleted, [action.reason!], id: nil))
                } else {
                    items.append(located(action.key, .missing, ["declared in the manifests but not created yet"], id: nil))
                }
            case .update, .replace, .adopt:
                if !plain.isEmpty { items.append(located(action.key, .changed, plain.map(describe), id: action.integrationId)) }
                items += secretItems(action, secrets)
            case .rotate:
                items += secretItems(action, secrets)
            case .delete:
                items.append(located(action.key, .changed, ["live but \(action.reason ?? "to be deleted")"], id: action.integrationId))
            case .test:
                break
            }
        }
        // What only the live side and the state tell.
        let managed = Set(session.state.integrations.map(\.integrationId))
        for organization in session.organizations {
            for live in session.live.organizations[organization] ?? [] {
                let summary = live.summary
                let key = session.state.integrations.first { $0.integrationId == live.id }?.key
                    ?? session.desired.first {
                        $0.key.organization == organization && $0.displayName == summary.displayName && $0.provider == summary.provider
                    }?.key
                guard let key, managed.contains(live.id) || desired[key] != nil else {
                    items.append(DriftItem(
                        organization: organization, name: summary.displayName, kind: .unmanaged,
                        details: ["\(summary.provider) \(live.id) is in no manifest; adopt it with a manifest entry or delete it"],
                        integrationId: live.id, file: nil, line: nil))
                    continue
                }
                let template = session.templates.template(type: summary.integrationType, provider: summary.provider)
                if template?.requiresOAuth == true && summary.testStatus != .passed {
                    items.append(located(key, .unauthorized, ["authorization needed: run intops connect \(key.name)"], id: live.id))
                } else if summary.testStatus == .failed {
                    items.append(located(key, .testFailing, ["last test failed\(summary.lastTestMessage.map { ": \($0)" } ?? "")"], id: live.id))
                } else if summary.testStatus == .notTested || summary.testStatus == nil {
                    items.append(located(key, .neverTested, ["no connection test has run"], id: live.id))
                }
                if let maxAge = desired[key]?.manifest.rotationMaxAge, let entry = session.state.entry(key) {
                    let formatter = ISO8601DateFormatter()
                    for secretKey in entry.secrets.keys.sorted() {
                        guard let set = formatter.date(from: entry.secrets[secretKey]!.setAt) else { continue }
                        let age = now.timeIntervalSince(set)
                        if age > maxAge.seconds {
                            items.append(located(key, .secretExpired, ["\(secretKey) was set \(Int(age / 86_400)) days ago, over rotation.maxAge \(maxAge)"], id: live.id))
                        }
                    }
                }
            }
        }
        return items.sorted { ($0.organization, $0.name, $0.kind.rawValue) < ($1.organization, $1.name, $1.kind.rawValue) }
    }
}

/// Drift for people (text), pipelines (json, junit), pull requests (markdown) and GitHub annotations (github).
public enum DriftRenderer {
    public enum Format: String, Sendable, CaseIterable {
        case text, json, markdown, github, junit
    }

    public static func render(_ items: [DriftItem], format: Format, organizations: [String], declared: [IntegrationKey]) -> String {
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
        return "Drift: " + DriftItem.Kind.allCases.compactMap { kind in
            counts[kind.rawValue].flatMap { $0 > 0 ? "\($0) \(kind.rawValue)" : nil }
        }.joined(separator: ", ") + "."
    }

    public static func text(_ items: [DriftItem]) -> String {
        var out = ""
        for item in items {
            out += "\(item.organization)/\(item.name): \(item.kind.rawValue)\(item.integrationId.map { " (\($0))" } ?? "")\n"
            for detail in item.details { out += "    \(detail)\n" }
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
        return String(decoding: (try? encoder.encode(Document(drift: items, summary: summary(items)))) ?? Data(), as: UTF8.self) + "\n"
    }

    public static func markdown(_ items: [DriftItem]) -> String {
        var out = "### intops drift\n\n**\(summaryLine(items))**\n"
        guard !items.isEmpty else { return out }
        out += "\n| Integration | Kind | Details |\n|---|---|---|\n"
        for item in items {
            let details = item.details.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: "<br>")
            out += "| `\(item.organization)/\(item.name)` | \(item.kind.rawValue) | \(details) |\n"
        }
        return out
    }

    /// GitHub Actions workflow commands: a warning on the manifest line of each drifting integration.
    public static func github(_ items: [DriftItem]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
        }
        var out = ""
        for item in items {
            let location = item.file.map { "file=\($0),line=\(item.line ?? 1)," } ?? ""
            out += "::warning \(location)title=drift\\: \(item.kind.rawValue)::\(escape("\(item.organization)/\(item.name): \(item.details.joined(separator: "; "))"))\n"
        }
        return out + summaryLine(items) + "\n"
    }

    /// JUnit XML: one test case per declared integration (failing when it drifts), plus one per unmanaged one.
    public static func junit(_ items: [DriftItem], organizations: [String], declared: [IntegrationKey]) -> String {
        func xml(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var cases: [(String, String, [DriftItem])] = declared.sorted().map { key in
            (key.organization, key.name, items.filter { $0.organization == key.organization && $0.name == key.name })
        }
        for item in items where item.kind == .unmanaged { cases.append((item.organization, item.name, [item])) }
        let failures = cases.filter { !$0.2.isEmpty }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"intops drift\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
        for organization in organizations {
            let inOrg = cases.filter { $0.0 == organization }
            out += "  <testsuite name=\"\(xml(organization))\" tests=\"\(inOrg.count)\" failures=\"\(inOrg.filter { !$0.2.isEmpty }.count)\">\n"
            for (_, name, drift) in inOrg {
                out += "    <testcase classname=\"\(xml(organization))\" name=\"\(xml(name))\""
                if drift.isEmpty {
                    out += "/>\n"
                } else {
                    let message = drift.map { $0.kind.rawValue }.joined(separator: ", ")
                    let body = drift.flatMap { item in item.details.map { "\(item.kind.rawValue): \($0)" } }.joined(separator: "\n")
                    out += ">\n      <failure message=\"\(xml(message))\">\(xml(body))</failure>\n    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        return out + "</testsuites>\n"
    }
}

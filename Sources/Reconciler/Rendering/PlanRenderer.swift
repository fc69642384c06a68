import ConcurrencyToolkit
import Foundation
import TextEscaping

/// Renders a plan for people (text), pipelines (json) and pull requests (markdown).
public enum PlanRenderer {
    public enum Format: String, Sendable, CaseIterable { case text, json, markdown }

    public static func render(_ plan: Plan, format: Format, color: Bool = false) -> String {
        switch format {
        case .text: text(plan, color: color)
        case .json: json(plan)
        case .markdown: markdown(plan)
        }
    }

    /// Renders to `write` in pieces, so that a plan of 100,000 actions is never one string in memory (text and
    /// json; markdown, for a pull request's comment, is written whole). A large plan is rendered a window of actions
    /// at a time, the window's chunks on every core.
    public static func write(_ plan: Plan, format: Format, color: Bool = false, to write: (String) -> Void) async {
        guard format != .markdown, plan.actions.count > chunkSize else {
            return write(render(plan, format: format, color: color))
        }
        switch format {
        case .text:
            await writeChunks(of: plan, separator: "", to: write) { range in
                var piece = ""
                actionsText(
                    plan.actions[range], after: range.lowerBound == 0 ? nil : plan.actions[range.lowerBound - 1],
                    color: color
                ) { piece += $0 }
                return piece
            }
            write(summaryLine(plan) + "\n")
        case .json:
            // The document without its actions, cut where they go.
            let frame = encodedJSON(document(plan, actions: []))
            guard let (head, tail) = SplicedJSON.split(Array(frame.utf8), atEmptyArray: "actions") else {
                return write(json(plan))
            }
            write(String(decoding: head, as: UTF8.self))
            let separator = String(decoding: SplicedJSON.separator, as: UTF8.self)
            await writeChunks(of: plan, separator: separator, to: write) { range in
                let encoder = SplicedJSON.encoder()
                let elements = plan.actions[range].map {
                    (try? SplicedJSON.element(Document.Action($0), encoder)) ?? []
                }
                return String(decoding: Array(elements.joined(separator: SplicedJSON.separator)), as: UTF8.self)
            }
            write(String(decoding: tail, as: UTF8.self))
        case .markdown: write(markdown(plan))
        }
    }

    /// Writes the rendering of each chunk of the plan's actions, in order, with `separator` between them.
    private static func writeChunks(
        of plan: Plan, separator: String, to write: (String) -> Void,
        rendering render: @escaping @Sendable (Range<Int>) -> String
    ) async {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let chunks = stride(from: 0, to: plan.actions.count, by: chunkSize).map {
            $0..<min($0 + chunkSize, plan.actions.count)
        }
        for window in stride(from: 0, to: chunks.count, by: cores).map({ chunks[$0..<min($0 + cores, chunks.count)] }) {
            let pieces = await boundedMap(Array(window), limit: cores, render)
            for (range, piece) in zip(window, pieces) { write(range.lowerBound == 0 ? piece : separator + piece) }
        }
    }

    /// Actions rendered as one piece of text.
    static let chunkSize = 2048

    static let order: [ActionKind] = [.create, .update, .rotate, .test, .delete, .replace, .adopt]

    public static func summaryLine(_ plan: Plan) -> String {
        let verbs: [ActionKind: String] = [
            .create: "to create", .update: "to update", .rotate: "to rotate", .test: "to test", .delete: "to delete",
            .replace: "to replace", .adopt: "to adopt",
        ]
        return "Plan: " + order.map { "\(plan.summary[$0.rawValue] ?? 0) \(verbs[$0]!)" }.joined(separator: ", ") + "."
    }

    static func headline(_ action: PlannedAction) -> String {
        switch action.action {
        case .create: "will be created"
        case .update: "will be updated in place"
        case .rotate: "will have secrets rotated"
        case .test: "will be tested"
        case .delete: "will be deleted"
        case .replace: "will be replaced"
        case .adopt: "will be adopted"
        }
    }

    static func value(_ text: String?, field: ChangeField? = nil) -> String {
        guard let text else { return "(none)" }
        if text.hasPrefix("(") || field == .enabled { return text }
        return "\"\(text)\""
    }

    static func changeLine(_ change: PlannedChange) -> (symbol: String, text: String) {
        if change.field == .test { return (" ", "then: \(change.new ?? "")") }
        if change.sensitive {
            let shown = change.old == nil ? "(sensitive)" : "\(change.old!) → \(change.new ?? "(sensitive)")"
            return (change.old == nil ? "+" : "~", "\(change.field) = \(shown)")
        }
        switch (change.old, change.new) {
        case (nil, let new?): return ("+", "\(change.field) = \(value(new, field: change.field))")
        case (let old?, nil): return ("-", "\(change.field) = \(value(old, field: change.field))")
        default:
            return (
                "~",
                "\(change.field) = \(value(change.old, field: change.field)) → \(value(change.new, field: change.field))"
            )
        }
    }

    /// The actions, for a person; the plan's warnings and errors are not part of it (they go to stderr).
    public static func text(_ plan: Plan, color: Bool) -> String {
        var out = ""
        text(plan, color: color) { out += $0 }
        return out
    }

    /// Warnings and errors are the frontend's to print, on the error stream.
    private static func text(_ plan: Plan, color: Bool, emit: (String) -> Void) {
        if plan.actions.isEmpty {
            // Beside an error, "no changes" would be a claim the plan cannot make.
            if plan.errors.isEmpty { emit("No changes. The live integrations match the manifests.\n") }
        } else {
            actionsText(plan.actions[...], after: nil, color: color, emit: emit)
            emit(summaryLine(plan) + "\n")
        }
    }

    /// `actions` for a person, each organization's name before its first action; `previous` is the action shown
    /// just before them, if any.
    private static func actionsText(
        _ actions: ArraySlice<PlannedAction>, after previous: PlannedAction?, color: Bool, emit: (String) -> Void
    ) {
        let visible = TerminalText.visible
        func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        func symbolColor(_ kind: ActionKind) -> String {
            switch kind {
            case .create, .adopt: "32"
            case .update, .rotate, .test: "33"
            case .delete, .replace: "31"
            }
        }
        var organization = previous?.organization
        for action in actions {
            if action.organization != organization {
                organization = action.organization
                emit("\(paint(visible(action.organization), "1"))\n")
            }
            var title = " \(action.name)"
            if let type = action.type, let provider = action.provider { title += " (\(type.name)/\(provider))" }
            if let id = action.integrationId { title += " \(id)" }
            emit(visible("  # \(action.key) \(headline(action))\(action.reason.map { ": \($0)" } ?? "")") + "\n")
            emit("  \(paint(action.action.symbol, symbolColor(action.action)))" + visible(title) + "\n")
            for change in action.changes {
                let (symbol, line) = changeLine(change)
                emit(
                    "      \(symbol == " " ? " " : paint(symbol, symbol == "+" ? "32" : symbol == "-" ? "31" : "33")) \(visible(line))\n"
                )
            }
            for note in action.notes { emit(visible("      note: \(note)") + "\n") }
            emit("\n")
        }
    }

    /// The JSON document of `plan --format json` (schemas/plan.schema.json).
    struct Document: Encodable {
        struct Action: Encodable {
            var organization: String
            var name: String
            var action: String
            var integrationId: String?
            var type: String?
            var provider: String?
            var displayName: String?
            var reason: String?
            var changes: [PlannedChange]
            var notes: [String]

            init(_ action: PlannedAction) {
                organization = action.organization
                name = action.name
                self.action = action.action.rawValue
                integrationId = action.integrationId
                type = action.type?.name
                provider = action.provider
                displayName = action.displayName
                reason = action.reason?.description
                changes = action.changes.list
                notes = action.notes.map(\.description)
            }
        }

        var formatVersion: Int
        var actions: [Action]
        var summary: [String: Int]
        var errors: [String]
        var warnings: [String]
    }

    public static func json(_ plan: Plan) -> String {
        encodedJSON(document(plan, actions: plan.actions.map(Document.Action.init)))
    }

    private static func document(_ plan: Plan, actions: [Document.Action]) -> Document {
        Document(
            formatVersion: 1, actions: actions, summary: plan.summary, errors: plan.errors.map(\.description),
            warnings: plan.warnings.map(\.description))
    }

    private static func encodedJSON(_ value: some Encodable) -> String {
        String(decoding: (try? SplicedJSON.encoder().encode(value)) ?? Data(), as: UTF8.self) + "\n"
    }

    public static func markdown(_ plan: Plan) -> String {
        var out = "### intops plan\n\n"
        if plan.actions.isEmpty {
            if plan.errors.isEmpty { out += "No changes. The live integrations match the manifests.\n" }
        } else {
            out += "**\(summaryLine(plan))**\n"
            let organizations = plan.actions.map(\.organization).reduce(into: [String]()) {
                if !$0.contains($1) { $0.append($1) }
            }
            for organization in organizations {
                let actions = plan.actions.filter { $0.organization == organization }
                let counts = order.compactMap { kind -> String? in
                    let count = actions.filter { $0.action == kind }.count
                    return count == 0 ? nil : "\(count) \(kind.rawValue)"
                }.joined(separator: ", ")
                out += "\n<details><summary><b>\(MarkdownText.html(organization))</b>: \(counts)</summary>\n\n"
                out += "| | Integration | Action | Changes |\n|---|---|---|---|\n"
                for action in actions {
                    var cells = action.changes.map { change -> String in MarkdownText.inline(changeLine(change).text) }
                    cells += action.notes.map { MarkdownText.inline("note: \($0)") }
                    if let reason = action.reason {
                        cells.insert("_\(MarkdownText.inline(reason.description))_", at: 0)
                    }
                    out +=
                        "| `\(action.action.symbol)` | \(MarkdownText.code(action.name)) | \(action.action.rawValue) | \(cells.joined(separator: "<br>")) |\n"
                }
                out += "\n</details>\n"
            }
        }
        if !plan.warnings.isEmpty {
            out +=
                "\n" + plan.warnings.map { "> ⚠️ \(MarkdownText.inline($0.description))" }.joined(separator: "\n") + "\n"
        }
        if !plan.errors.isEmpty {
            out +=
                "\n" + plan.errors.map { "> ❌ \(MarkdownText.inline($0.description))" }.joined(separator: "\n") + "\n"
        }
        return out
    }
}

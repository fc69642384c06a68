import ConcurrencyToolkit
import Foundation
import TestSupport
import Testing

@testable import Reconciler

/// Every renderer, on a plan with every kind of action, against golden files.
@Suite struct RendererTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/golden")

    /// A plan with a create, an update, a rotation, a test, an adoption, a replace and a delete, plus a warning.
    static var everyKind: Plan {
        PlannerCase(
            title: "every kind",
            desired: [
                F.desired("new-gateway", displayName: "New Gateway", configuration: ["IsSandbox": "false"]),
                F.desired("books", type: .accounting, provider: "QuickBooks", displayName: "Books", secrets: [:]),
                F.desired("renamed", displayName: "Renamed | Gateway", enabled: false),
                F.desired("rotated", secrets: ["ApiLoginId": "login", "TransactionKey": "new-key"]),
                F.desired("tested", test: .always), F.desired("adopted", displayName: "Adopted"),
                F.desired("moved", provider: "WorldPay", displayName: "Moved", secrets: ["AccountId": "1"]),
                F.desired("old", displayName: "Old", ensure: .absent),
            ],
            live: [
                F.live("int_1", displayName: "RENAMED"), F.live("int_2", displayName: "ROTATED"),
                F.live("int_3", displayName: "TESTED"), F.live("int_4", displayName: "Adopted"),
                F.live("int_5", displayName: "Moved"), F.live("int_6", displayName: "Old"),
                F.live("int_7", displayName: "Forgotten"),
            ],
            state: [
                F.entry("renamed", id: "int_1"), F.entry("rotated", id: "int_2"), F.entry("tested", id: "int_3"),
                F.entry("moved", id: "int_5", displayName: "Moved"), F.entry("old", id: "int_6", displayName: "Old"),
                F.entry("forgotten", id: "int_7", displayName: "Forgotten"),
            ], allowReplace: true, expect: []
        ).run()
    }

    @Test(arguments: [
        ("plan.txt", PlanRenderer.Format.text, false), ("plan-color.txt", .text, true), ("plan.json", .json, false),
        ("plan.md", .markdown, false),
    ]) func goldenRendering(_ name: String, _ format: PlanRenderer.Format, _ color: Bool) throws {
        let plan = Self.everyKind
        #expect(plan.errors.isEmpty, "\(plan.errors)")
        #expect(Set(plan.actions.map(\.action)) == Set(ActionKind.allCases))
        try Golden.expect(
            PlanRenderer.render(plan, format: format, color: color), file: Self.golden.appendingPathComponent(name))
    }

    /// A plan too large for one piece is written a window of chunks at a time: the same text, in the same order,
    /// with each organization named once, also where an organization begins at a chunk's first action.
    @Test(arguments: [(PlanRenderer.Format.text, false), (.text, true), (.json, false)])
    func aLargePlanIsWrittenInPiecesAsOneText(format: PlanRenderer.Format, color: Bool) async {
        let kinds = Self.everyKind.actions
        var actions: [PlannedAction] = []
        for index in 0..<(PlanRenderer.chunkSize * 5 + 17) {
            var action = kinds[index % kinds.count]
            action.organization =
                index < PlanRenderer.chunkSize ? "org-a" : index < PlanRenderer.chunkSize * 3 + 5 ? "org-b" : "org-c"
            action.name = "entry-\(index)"
            actions.append(action)
        }
        let plan = Plan(
            actions: actions,
            errors: [
                .ambiguousAdoption(IntegrationKey(organization: "org-a", name: "a/\"b\""), candidates: ["1", "2"])
            ], warnings: [.unmanagedLeftover(IntegrationKey(organization: "org-c", name: "left\nover"))])
        var pieces: [String] = []
        await PlanRenderer.write(plan, format: format, color: color) { pieces.append($0) }
        #expect(pieces.count > 2)
        #expect(pieces.joined() == PlanRenderer.render(plan, format: format, color: color))
    }

    @Test(arguments: [("empty.txt", PlanRenderer.Format.text), ("empty.json", .json), ("empty.md", .markdown)])
    func goldenEmptyPlan(_ name: String, _ format: PlanRenderer.Format) throws {
        try Golden.expect(
            PlanRenderer.render(Plan(actions: []), format: format), file: Self.golden.appendingPathComponent(name))
    }

    /// The JSON output agrees with schemas/plan.schema.json (checked with Python's jsonschema, as the other schemas).
    @Test func jsonMatchesItsSchema() throws {
        let output = PlanRenderer.json(Self.everyKind)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).json")
        try output.write(to: file, atomically: true, encoding: .utf8)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            """
            import json,sys,jsonschema
            schema=json.load(open(sys.argv[1])); doc=json.load(open(sys.argv[2]))
            jsonschema.validate(doc, schema); print("ok")
            """, root.appendingPathComponent("schemas/plan.schema.json").path, file.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        #expect(
            process.terminationStatus == 0,
            "\(String(decoding: Data(pipe.fileHandleForReading.readAllBytes()), as: UTF8.self))")
    }
}

import Foundation
import IntegrationsAPI
import Testing
import YAML

@testable import Reconciler

@Suite struct DurationTests {
    @Test(arguments: [
        ("30s", 30_000), ("90d", 7_776_000_000), ("1h30m", 5_400_000), ("500ms", 500), ("2w", 1_209_600_000),
    ]) func parses(text: String, milliseconds: Int64) { #expect(ManifestDuration(text)?.milliseconds == milliseconds) }

    @Test(arguments: ["", "30", "s", "90days", "-1s", "0s", "1.5h", "30 s", "9999999999d"]) func rejects(text: String) {
        #expect(ManifestDuration(text) == nil)
    }

    @Test func printsInTheLargestWholeUnit() {
        #expect(ManifestDuration("7d")?.description == "1w")
        #expect(ManifestDuration("90s")?.description == "90s")
        #expect(ManifestDuration("120s")?.description == "2m")
    }
}

@Suite struct FieldLocationTests {
    @Test func eachFieldKeepsItsLineAndColumn() {
        var fields = FieldLocations(capacity: 3)
        fields.set("name", line: 4, column: 7)
        fields.set("displayName", line: 2_000_000_000, column: 9)
        fields.set("secrets", line: 12, column: 3)
        #expect(fields.position(of: "name")! == (4, 7))
        #expect(fields.position(of: "displayName")! == (2_000_000_000, 9))
        #expect(fields.position(of: "secrets")! == (12, 3))
        #expect(fields.position(of: "type") == nil)
    }

    @Test func aFieldWrittenTwiceIsFoundWhereItWasWrittenLast() {
        var fields = FieldLocations()
        fields.set("type", line: 3, column: 5)
        fields.set("type", line: 9, column: 5)
        #expect(fields.position(of: "type")! == (9, 5))
    }

    @Test func aNameThatIsNotAFieldIsNotKept() {
        var fields = FieldLocations()
        fields.set("colour", line: 3, column: 5)
        #expect(fields.position(of: "colour") == nil)
    }

    @Test func aColumnBeyondTheRangeIsClampedNotWrapped() {
        var fields = FieldLocations()
        fields.set("name", line: 1, column: 1 << 30)
        #expect(fields.position(of: "name")!.column == 0xFF_FFFF)
        #expect(fields.position(of: "name")!.line == 1)
    }
}

/// A manifest's entries are decoded while the file is parsed; what a file says must not depend on the order of its
/// keys or on how many documents it holds.
@Suite struct StreamedManifestTests {
    func decode(_ manifest: String) throws -> ([IntegrationSet], [Diagnostic]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("streamed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("integrations"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try """
        apiVersion: intops/v1
        kind: Project
        api: { url: "sandbox:.intops/sandbox.json" }
        organizations: { acme: {}, globex: {} }
        allowPlaintextSecrets: true
        """.write(to: root.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
        let project = try ProjectLoader.loadProject(file: root.appendingPathComponent("intops.yaml").path)
        let file = root.appendingPathComponent("integrations/m.yaml")
        try manifest.write(to: file, atomically: true, encoding: .utf8)
        return ProjectLoader.decodeFile(file.path, project: project)
    }

    @Test func theOrganizationMayComeAfterTheEntries() throws {
        let (sets, diagnostics) = try decode(
            """
            apiVersion: intops/v1
            kind: IntegrationSet
            integrations:
              - {name: a, type: Email, provider: SendGrid, displayName: A}
              - {name: b, type: Email, provider: SendGrid, displayName: B}
            organization: globex
            ---
            x-defaults: &email {type: Email, provider: SendGrid}
            integrations:
              - {<<: *email, name: c, displayName: C}
            apiVersion: intops/v1
            kind: IntegrationSet
            organization: acme
            """)
        // x-defaults is not a field of an IntegrationSet: said once, and the set is still read.
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message.contains("x-defaults") == true)
        #expect(sets.map(\.organization) == ["globex", "acme"])
        #expect(
            sets.flatMap(\.integrations).map { "\($0.organization)/\($0.name)" } == ["globex/a", "globex/b", "acme/c"])
        #expect(sets.last?.integrations.first?.provider == "SendGrid")
    }

    @Test func entriesOfADocumentThatIsNoIntegrationSetReportNothing() throws {
        let (sets, diagnostics) = try decode(
            """
            apiVersion: intops/v1
            kind: Project
            integrations:
              - {name: "Not A Name", type: Nope}
            """)
        #expect(sets.isEmpty)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message.contains("Not A Name") == false)
    }

    @Test func anEntrysErrorsComeAfterItsDocumentsOwn() throws {
        let (_, diagnostics) = try decode(
            """
            integrations:
              - {name: a, type: Email, provider: SendGrid, displayName: A, colour: red}
            apiVersion: intops/v1
            kind: IntegrationSet
            organization: acme
            unknown: 1
            """)
        #expect(diagnostics.count == 2)
        #expect(diagnostics.first?.message.contains("unknown") == true)
        #expect(diagnostics.last?.message.contains("colour") == true)
    }
}

@Suite struct SecretReferenceTests {
    let location = SourceLocation(file: "/p/integrations/a.yaml", line: 3, column: 7)

    private func parse(_ text: String) -> Result<SecretReference, Diagnostic> {
        SecretReference.parse(text, at: location, root: "/p")
    }

    @Test func sopsReferenceResolvesFromTheFileHoldingIt() throws {
        let reference = try parse("ref+sops://../secrets/x.enc.yaml#/a/b~1c/d~0e").get()
        #expect(reference.source == .sops(file: "/p/secrets/x.enc.yaml", pointer: ["a", "b/c", "d~e"]))
        #expect(reference.text == "ref+sops://../secrets/x.enc.yaml#/a/b~1c/d~0e")
    }

    /// A SOPS reference's text is made again from its file and pointer when shown: it must be the text written.
    @Test func pointersKeepEveryCharacterOfTheirKeys() throws {
        let text = "ref+sops://x.yaml#/ключ/é~0~1/a b/~1~0~1/~0\u{301}/~1\u{FE0F}"
        let reference = try parse(text).get()
        #expect(
            reference.source
                == .sops(
                    file: "/p/integrations/x.yaml", pointer: ["ключ", "é~/", "a b", "/~/", "~\u{301}", "/\u{FE0F}"]))
        #expect(reference.text == text)
        #expect("\(reference)" == text)
        let written = SecretReference(source: reference.source, text: text, location: location)
        #expect(written == reference)
    }

    @Test func envAndFileReferences() throws {
        #expect(try parse("ref+env://INTOPS_TOKEN_1").get().source == .env(name: "INTOPS_TOKEN_1"))
        #expect(try parse("ref+file://key.txt").get().source == .file(path: "/p/integrations/key.txt"))
    }

    @Test(arguments: [
        "ref+sops://../../etc/passwd#/x", "ref+file:///etc/shadow", "ref+sops://x.yaml", "ref+sops://x.yaml#a",
        "ref+sops://x.yaml#/", "ref+sops://x.yaml#/a~2", "ref+env://", "ref+env://A-B", "ref+vault://x#y",
        "ref+file://x#y", "ref+sops://#/a", "ref+sops://x.yaml#//a", "ref+sops://x.yaml#/a/", "ref+sops://x.yaml#/a~",
        "ref+sops://x.yaml#/a//b",
    ]) func rejects(text: String) {
        guard case .failure(let diagnostic) = parse(text) else {
            Issue.record("\(text) should be rejected")
            return
        }
        #expect(diagnostic.location == location)
    }
}

@Suite struct NormalizationTests {
    private func normalize(_ yaml: String, _ type: FieldType, options: [String]? = nil) -> String? {
        let node = try! YAMLParser.parse("v: \(yaml)").first!.root["v"]!
        let value = IntegrationManifest.ConfigurationValue(
            key: "K", value: node.resolved, text: node.scalarText ?? "", location: node.location)
        return try? TemplateValidator.normalize(
            value, field: ConfigurationField(key: "K", type: type, options: options)
        ).get()
    }

    @Test func booleansNormalizeToLowercaseWords() {
        #expect(normalize("true", .boolean) == "true")
        #expect(normalize("False", .boolean) == "false")
        #expect(normalize("\"TRUE\"", .boolean) == "true")
        #expect(normalize("yes", .boolean) == nil)
        #expect(normalize("1", .boolean) == nil)
    }

    @Test func numbersAreCanonical() {
        #expect(normalize("30", .number) == "30")
        #expect(normalize("1.50", .number) == "1.5")
        #expect(normalize("15e-1", .number) == "1.5")
        #expect(normalize("2.0", .number) == "2")
        #expect(normalize("\"42\"", .number) == "42")
        #expect(normalize("0x10", .number) == "16")
        #expect(normalize("soon", .number) == nil)
        #expect(normalize(".inf", .number) == nil)
    }

    @Test func stringsUrlsAndSelects() {
        #expect(normalize("hello", .string) == "hello")
        #expect(normalize("12", .string) == "12")
        #expect(normalize("true", .string) == nil)
        #expect(normalize("https://x.example/hook", .url) == "https://x.example/hook")
        #expect(normalize("ftp://x.example", .url) == nil)
        #expect(normalize("ups", .select, options: ["ups", "fedex"]) == "ups")
        #expect(normalize("dhl", .select, options: ["ups", "fedex"]) == nil)
        #expect(normalize("ref+env://X", .string) == nil)
    }
}

@Suite struct TemplateDecodingTests {
    @Test func enumsDecodeFromNumbersAndNames() throws {
        let json = """
            {"templates": [{"type": "payment", "provider": "P", "configurationFields": [
              {"key": "A", "type": 3}, {"key": "B", "type": "Boolean"}, {"key": "C", "type": 42}, {"key": "D"}],
              "secretFields": [{"key": "S", "isSecret": true, "required": true}], "extra": 1}]}
            """
        let response = try JSONDecoder().decode(TemplatesResponse.self, from: Data(json.utf8))
        let template = try #require(response.templates.first)
        #expect(template.type == .payment)
        #expect(template.configurationFields.map(\.type) == [.boolean, .boolean, .other("42"), .string])
        #expect(template.secretFields.first?.isSecret == true)
        #expect(template.displayName == "P")
    }

    @Test func unknownTypeNumberIsAnError() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(IntegrationType.self, from: Data("9".utf8)) }
    }
}

@Suite struct SpellingTests {
    @Test func suggestsCloseWordsOnly() {
        #expect(Spelling.suggestion(for: "displayname", among: ["displayName", "name"]) == "displayName")
        #expect(Spelling.suggestion(for: "enable", among: ["enabled", "ensure"]) == "enabled")
        #expect(Spelling.suggestion(for: "zzz", among: ["enabled", "ensure"]) == nil)
        #expect(Spelling.list(["a", "b", "c"]) == "a, b and c")
    }
}

@Suite struct PathTests {
    @Test func normalizeAndContain() {
        #expect(ProjectPaths.normalize("/a/b/../c/./d//e") == "/a/c/d/e")
        #expect(ProjectPaths.isInside("/p/x", root: "/p"))
        #expect(!ProjectPaths.isInside("/px", root: "/p"))
        #expect(ProjectPaths.resolve("../x", from: "/p/a") == "/p/x")
    }
}

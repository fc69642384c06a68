import Testing
import YAML

@testable import SOPS

/// The YAML sops files are written in reads back as the same document.
struct YAMLWriterTests {
    /// A key too long for a simple key, holding quotes and backslashes, reads back as itself.
    @Test func aLongKeyWithQuotesReadsBackAsItself() throws {
        let key = String(repeating: "k", count: 140) + " \"quoted\" \\ back"
        let document = SOPSValue.mapping([SOPSEntry(key: key, value: .scalar(.string("v")))])
        let text = YAMLWriter.stream([document], metadata: false)
        let parsed = try SOPS.parsePlaintext(Array(text.utf8), format: .yaml, file: "t.yaml")
        #expect(parsed == [document], "\(text)")
    }

    /// Block scalars in lists sit under the dash as go-yaml writes them, except when their header carries an
    /// indentation digit (text that starts with a space), which counts from the dash: they still read back.
    @Test func blockScalarsInListsReadBackAsThemselves() throws {
        let texts = ["plain\nsecond\n", "  leading spaces\nsecond\n", "\nstarts with a break\n", "folded\nno end"]
        let document = SOPSValue.mapping([
            SOPSEntry(key: "list", value: .sequence(texts.map { .scalar(.string($0)) })),
            SOPSEntry(key: "nested", value: .sequence([.sequence(texts.map { .scalar(.string($0)) })])),
        ])
        let text = YAMLWriter.stream([document], metadata: false)
        let parsed = try SOPS.parsePlaintext(Array(text.utf8), format: .yaml, file: "t.yaml")
        #expect(parsed == [document], "\(text)")
        #expect(text.hasPrefix("list:\n    - |\n      plain\n"), "\(text)")
    }

    /// An empty list or mapping that holds only comments is written empty, its comments on the lines after it.
    @Test func commentsOfAnEmptyCollectionAreWrittenAfterIt() throws {
        let document = SOPSValue.mapping([
            SOPSEntry(key: "tags", value: .sequence([.comment(" none yet")])),
            SOPSEntry(key: "m", value: .mapping([.comment(" empty map")])),
            SOPSEntry(key: "b", value: .scalar(.string("1"))),
        ])
        let text = YAMLWriter.stream([document], metadata: false)
        #expect(text == "tags: []\n# none yet\nm: {}\n# empty map\nb: \"1\"\n", "\(text)")
    }
}

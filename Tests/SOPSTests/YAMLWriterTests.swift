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
}

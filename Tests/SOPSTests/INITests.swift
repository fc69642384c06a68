import Testing

@testable import SOPS

/// The INI reader on input nobody should write: each is one error naming its line, or a value, never a crash.
@Suite struct INITests {
    @Test(arguments: [
        ("[unclosed\n", "line 1"), ("=value\n", "line 1"), ("[s]\nno delimiter\n", "line 2"),
        ("k = \"\"\"never closed\nmore\n", "line 1"), ("`key never closed = v\n", "line 1"),
        ("\"quoted key\" no delimiter\n", "line 1"),
    ]) func malformedLinesNameTheirLine(_ text: String, _ place: String) {
        #expect { try INI.parse(text) } throws: { error in
            guard case .format(let message) = error as? SOPSError else { return false }
            return message.contains(place)
        }
    }

    @Test func oddButValidInputKeepsItsValues() throws {
        let tree = try INI.parse("\u{FEFF}k = v \\\n  continued\n[s]\na = 'single'\na = again\n`x=y` = z\n[s]\n")
        #expect(tree["DEFAULT"]?["k"] == .scalar(.string("v continued")))
        #expect(tree["s"]?["a"] == .scalar(.string("again")))
        #expect(tree["s"]?["x=y"] == .scalar(.string("z")))
        // Emitting quotes what needs quoting, so reading it back gives the same tree.
        #expect(try INI.parse(INI.emit(tree)) == tree)
    }

    @Test func everyByteStringParsesOrFailsCleanly() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("[]=:;#`\"' \n\\abc\r\t".utf8)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in
                alphabet.randomElement(using: &generator)!
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if let tree = try? INI.parse(text) { _ = INI.emit(tree) }
        }
    }
}

import Testing

@testable import YAML

@Suite struct EmitterTests {
    @Test func stringsThatLookLikeOtherTypesAreQuoted() throws {
        let node = Node.mapping([
            ("bool", .string("true")), ("int", .string("42")), ("empty", .string("")), ("word", .string("hello")),
            ("null", .string("null")), ("number", .plain("42")),
        ])
        let text = try YAMLEmitter.emit([node])
        #expect(text == "bool: \"true\"\nint: \"42\"\nempty: \"\"\nword: hello\n\"null\": \"null\"\nnumber: 42\n")
    }

    /// go-yaml, and so sops, quotes the words YAML 1.1 reads as booleans; a file intops writes reads the same there.
    @Test(arguments: ["y", "N", "yes", "No", "on", "OFF"]) func yaml11BooleanWordsAreQuotedAsGoYAMLQuotesThem(
        _ word: String
    ) throws {
        let text = try YAMLEmitter.emit([.mapping([(word, .string(word)), ("yesterday", .string("only"))])])
        #expect(text == "\"\(word)\": \"\(word)\"\nyesterday: only\n")
    }

    @Test func roundTripKeepsValuesStylesAndTags() throws {
        let source = """
            name: 'single'
            list:
            - a
            - "b: c"
            flow: [1, 2]
            tagged: !!str 12
            block: |
              line one
              line two

            """
        let parsed = try #require(try YAMLParser.parse(source).first).root
        let text = try YAMLEmitter.emit([parsed])
        #expect(text.contains("name: 'single'"))
        #expect(text.contains("flow: [1, 2]"))
        let reparsed = try #require(try YAMLParser.parse(text).first).root
        #expect(reparsed["tagged"]?.resolved == .string("12"))
        #expect(reparsed["list"]?.items?[1].resolved == .string("b: c"))
        #expect(reparsed["block"]?.resolved == .string("line one\nline two\n"))
    }

    @Test func multiLineStringsBecomeLiteralBlocks() throws {
        let text = try YAMLEmitter.emit([.mapping([("k", .string("a\nb\n"))])])
        #expect(text == "k: |\n  a\n  b\n")
    }

    @Test func severalDocumentsAndAHeader() throws {
        let text = try YAMLEmitter.emit(
            [.mapping([("a", .plain("1"))]), .mapping([("b", .plain("2"))])], header: ["generated"])
        #expect(text == "# generated\na: 1\n---\nb: 2\n")
    }

    @Test func specialCharactersSurviveARoundTrip() throws {
        let tricky = [
            "- dash", "key: value", "# hash", "trailing ", " leading", "quote\"s", "tab\there", "ünïcödé", "*star",
        ]
        let node = Node.sequence(tricky.map { Node.string($0) })
        let text = try YAMLEmitter.emit([node])
        let reparsed = try #require(try YAMLParser.parse(text).first).root
        #expect(reparsed.items?.map(\.resolved) == tricky.map { .string($0) })
    }
}

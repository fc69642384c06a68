import Testing

@testable import YAML

@Suite struct ParserTests {
    private func root(_ text: String) throws -> Node {
        let documents = try YAMLParser.parse(text, file: "t.yaml")
        return try #require(documents.first).root
    }

    private func error(_ text: String, limits: ParseLimits = .default) -> YAMLError? {
        do {
            _ = try YAMLParser.parse(text, file: "t.yaml", limits: limits)
            return nil
        } catch { return error }
    }

    @Test func nodesKnowFileLineAndColumn() throws {
        let node = try root("a: 1\nb:\n  c: [x, y]\n")
        #expect(node.location == SourceLocation(file: "t.yaml", line: 1, column: 1))
        let c = try #require(node["b"]?["c"])
        #expect(c.location.line == 3)
        #expect(c.location.column == 6)
        #expect(c.items?[1].location == SourceLocation(file: "t.yaml", line: 3, column: 10))
        #expect(c.flowStyle)
    }

    @Test(arguments: [
        ("true", ResolvedScalar.bool(true)), ("False", .bool(false)), ("\"true\"", .string("true")),
        ("'42'", .string("42")), ("42", .int(42)), ("-7", .int(-7)), ("0x1F", .int(31)), ("0o17", .int(15)),
        ("1.5", .float(1.5)), ("1e3", .float(1000)), ("~", .null), ("null", .null), ("yes", .string("yes")),
        ("!!str 1", .string("1")), ("! 12", .string("12")), ("!!int \"12\"", .int(12)), ("on", .string("on")),
        ("1.2.3", .string("1.2.3")), ("-a", .string("-a")), ("|\n  text\n", .string("text\n")),
    ]) func scalarsResolveByTheCoreSchema(text: String, expected: ResolvedScalar) throws {
        let node = try root("v: \(text)")
        #expect(node["v"]?.resolved == expected)
    }

    @Test func stylesAndTagsAreKept() throws {
        let node = try root("a: 'x'\nb: \"y\"\nc: !!str 1\nd: >\n  folded\n")
        guard case .scalar(_, .singleQuoted) = node["a"]?.content else {
            Issue.record("a")
            return
        }
        guard case .scalar(_, .doubleQuoted) = node["b"]?.content else {
            Issue.record("b")
            return
        }
        #expect(node["c"]?.tag == Tag.string)
        guard case .scalar(_, .folded) = node["d"]?.content else {
            Issue.record("d")
            return
        }
    }

    @Test func anchorsAndAliasesShareNodes() throws {
        let node = try root("base: &b {x: 1}\nuse: *b\n")
        #expect(node["use"]?["x"]?.resolved == .int(1))
    }

    @Test func mergeKeysMergeWithExplicitKeysWinning() throws {
        let node = try root("d: &d {a: 1, b: 2}\ne:\n  <<: *d\n  b: 3\n")
        let e = try #require(node["e"])
        #expect(e["a"]?.resolved == .int(1))
        #expect(e["b"]?.resolved == .int(3))
        #expect(e.pairs?.count == 2)
    }

    @Test func duplicateKeyIsAnErrorNamingBothPlaces() throws {
        let failure = try #require(error("a: 1\nb: 2\na: 3\n"))
        #expect(failure.kind == .duplicateKey(previous: SourceLocation(file: "t.yaml", line: 1, column: 1)))
        #expect(failure.location.line == 3)
        #expect(failure.message.contains("line 1"))
    }

    @Test func equalValuedKeysAreDuplicatesButStringsAreNot() throws {
        #expect(error("1: a\n0x1: b\n")?.kind != nil)
        #expect(error("1: a\n\"1\": b\n") == nil)
    }

    /// Large mappings index their keys instead of scanning them: the same answers on both sides of the switch.
    @Test(arguments: [3, 12, 13, 40]) func duplicatesAreFoundInMappingsOfAnySize(_ size: Int) throws {
        let keys = (1...size).map { "k\($0): v\n" }.joined()
        #expect(error(keys) == nil)
        let failure = try #require(error(keys + "k2: again\n"))
        #expect(failure.kind == .duplicateKey(previous: SourceLocation(file: "t.yaml", line: 2, column: 1)))
        #expect(error(keys + "\(size + 1): a\n0x\(String(size + 1, radix: 16)): b\n")?.kind != nil)
        #expect(error(keys + "\(size + 1): a\n\"\(size + 1)\": b\n") == nil)
    }

    /// Items of the streamed list reach the handler in order, with their document, already whole (aliases and
    /// merge keys resolved); the tree keeps the list, empty, and every other key.
    @Test func streamedItemsAreHandedOverAndNotKept() throws {
        let text = """
            base: &base {kind: x, size: 1}
            items:
              - {<<: *base, name: a}
              - *base
              - [nested, list]
            after: 2
            ---
            items: [{name: c}]
            other: {items: [not, streamed]}
            """
        var seen: [(Int, Node)] = []
        let documents = try YAMLParser.parse(Array(text.utf8), file: "t.yaml", streaming: "items") {
            seen.append(($0, $1))
        }
        #expect(seen.map(\.0) == [0, 0, 0, 1])
        #expect(seen[0].1["name"]?.scalarText == "a" && seen[0].1["kind"]?.scalarText == "x")
        #expect(seen[1].1["size"]?.scalarText == "1")
        #expect(seen[1].1.location == SourceLocation(file: "t.yaml", line: 4, column: 5))
        #expect(seen[2].1.items?.count == 2)
        #expect(documents.count == 2)
        #expect(documents[0].root["items"]?.items?.isEmpty == true)
        // An anchored list is kept whole, so that an alias to it still holds its items.
        var anchored = 0
        let kept = try YAMLParser.parse(
            Array("items: &all [a, b]\ncopy: *all\n".utf8), file: "t.yaml", streaming: "items"
        ) { _, _ in anchored += 1 }
        #expect(anchored == 0)
        #expect(kept.first?.root["copy"]?.items?.count == 2)
        #expect(documents[0].root["after"]?.scalarText == "2")
        #expect(documents[1].root["other"]?["items"]?.items?.count == 2)
    }

    /// Streaming changes what is kept, not what is an error: a duplicate key inside an item, or an alias bomb
    /// spread over the items, fail as they do in a whole tree.
    @Test func streamedItemsAreCheckedAsAWholeTreeIs() throws {
        func streamingError(_ text: String) -> YAMLError? {
            do {
                _ = try YAMLParser.parse(Array(text.utf8), file: "t.yaml", streaming: "items") { _, _ in }
                return nil
            } catch { return error }
        }
        #expect(
            streamingError("items:\n  - {a: 1, a: 2}\n")?.kind
                == .duplicateKey(previous: SourceLocation(file: "t.yaml", line: 2, column: 6)))
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 {
            bomb +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        bomb += "items:\n" + String(repeating: "  - *a7\n", count: 20)
        #expect(streamingError(bomb)?.kind == .aliasExpansionLimit)
        #expect(streamingError("items: [a, b\n")?.kind == .syntax)
    }

    @Test func billionLaughsFailsFast() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        let clock = ContinuousClock()
        let start = clock.now
        let failure = try #require(error(text))
        #expect(failure.kind == .aliasExpansionLimit)
        #expect(clock.now - start < .seconds(1))
    }

    @Test func deepNestingIsBounded() throws {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let failure = try #require(error(text))
        #expect(failure.kind == .depthLimit)
        #expect(failure.location.column == 65)
    }

    @Test func sizeIsBounded() throws {
        let failure = try #require(error("a: 123456789\n", limits: ParseLimits(maxBytes: 8)))
        #expect(failure.kind == .sizeLimit)
    }

    @Test func tabIndentationIsNamed() throws {
        let failure = try #require(error("a:\n\tb: 1\n"))
        #expect(failure.kind == .tabIndentation)
        #expect(failure.location == SourceLocation(file: "t.yaml", line: 2, column: 1))
    }

    @Test func invalidUTF8IsLocated() throws {
        let bytes = Array("a: ok\nb: ".utf8) + [0xFF, 0xFE] + Array("\n".utf8)
        do {
            _ = try YAMLParser.parse(bytes, file: "t.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .invalidEncoding)
            #expect(error.location.line == 2)
            #expect(error.location.column == 4)
        }
    }

    @Test func syntaxErrorsCarryPosition() throws {
        let failure = try #require(error("a: [1, 2\nb: 3\n"))
        #expect(failure.kind == .syntax)
        #expect(failure.location.line >= 1)
        #expect(failure.message.contains("YAML syntax error"))
    }

    @Test func unknownAliasIsAnError() throws { #expect(error("a: *nope\n")?.kind == .unknownAlias) }

    @Test func complexKeysAreRefused() throws { #expect(error("? [a, b]\n: 1\n")?.kind == .complexKey) }

    @Test func badlyTaggedScalarIsRefused() throws { #expect(error("a: !!int twelve\n")?.kind == .invalidTaggedValue) }

    @Test func multipleDocumentsAndEmptyStreams() throws {
        #expect(try YAMLParser.parse("").isEmpty)
        #expect(try YAMLParser.parse("# only a comment\n").isEmpty)
        let documents = try YAMLParser.parse("a: 1\n---\nb: 2\n---\n")
        #expect(documents.count == 3)
        #expect(documents[1].location.line == 2)
        #expect(documents[2].root.resolved == .null)
    }
}

import Testing
import YAML

/// Comments are read from the text between libyaml's events: a `#` inside a scalar is never one.
struct CommentTests {
    func comments(_ text: String) throws -> [YAMLComment] {
        try YAMLParser.parse(text, comments: true).flatMap(\.comments)
    }

    @Test func commentsAreFoundWithTheirPlaceAndWhatPrecedesThem() throws {
        let found = try comments(
            """
            # head
            a: 1 # after a
            b:
              - # dash
                c: "not # a comment"
              - 'nor # this'
            d: |  # on the header
              # inside the block
            e: plain#text
            #

            """)
        #expect(found.map(\.text) == [" head", " after a", " dash", " on the header", ""])
        #expect(found.map(\.line) == [.alone, .afterContent, .afterIndicators, .afterContent, .alone])
        #expect(found.map(\.location.line) == [1, 2, 4, 7, 10])
        #expect(found.first?.location.column == 1 && found[1].location.column == 6)
    }

    @Test func commentsAreOnlyCollectedWhenAskedForAndGoToTheirDocument() throws {
        #expect(try YAMLParser.parse("a: 1 # c\n").allSatisfy { $0.comments.isEmpty })
        let documents = try YAMLParser.parse("# one\na: 1\n---\n# two\nb: 2\n# end\n", comments: true)
        #expect(documents.map { $0.comments.map(\.text) } == [[" one"], [" two", " end"]])
    }

    /// go-yaml's scanner decides whether comments are a foot or a head by the blank lines around them.
    @Test func blankLinesAroundACommentAreRecorded() throws {
        let found = try comments("a: 1\n# right after\n\n  # between blanks\n\nb: 2\n# last\n")
        #expect(found.map(\.blankLineBefore) == [false, true, false])
        #expect(found.map(\.blankLineAfter) == [true, true, false])
    }

    @Test func aCRLFFileHasNoCarriageReturnInItsComments() throws {
        let found = try comments("a: 1 # note\r\nb: 2\r\n")
        #expect(found.map(\.text) == [" note"])
        #expect(found.first?.blankLineAfter == false)
    }
}

import Foundation
import Testing

/// Every malformed input gives one line naming the place and the fix, exit 1, and writes nothing.
@Suite struct InvalidInputTests {
    static let cases: [String] = {
        let directory = TestSupport.fixtures.appendingPathComponent("invalid")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted()
    }()

    @Test func thereAreAtLeastThirtyCases() { #expect(Self.cases.count >= 30) }

    @Test(arguments: cases) func invalidInputGivesOneActionableLine(name: String) async throws {
        let fixture = TestSupport.fixtures.appendingPathComponent("invalid/\(name)")
        let project = try TestSupport.copy(fixture)
        defer { try? FileManager.default.removeItem(at: project) }
        let before = try Self.listing(project)

        let extra =
            (try? String(contentsOf: fixture.appendingPathComponent("args"), encoding: .utf8)).map {
                $0.split(whereSeparator: \.isWhitespace).map(String.init)
            } ?? []
        let result = await TestSupport.run(["validate"] + extra, in: project)

        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got:\n\(result.stderr)")
        #expect(lines.first?.contains("error:") == true)
        #expect(!result.stderr.contains("CANARY"), "a secret value reached the output")
        try TestSupport.expectGolden(
            result.stderr.replacingOccurrences(of: project.path, with: "<TMP>"),
            file: fixture.appendingPathComponent("expected.txt"))
        #expect(try Self.listing(project) == before, "validate must not write files")
    }

    @Test func githubFormatAnnotatesTheSameProblems() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("invalid/unknown-provider"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = await TestSupport.run(["validate", "--format", "github"], in: project)
        #expect(result.status == 1)
        #expect(
            result.stdout
                == "::error file=integrations/m.yaml,line=7,col=5::integration gateway: unknown provider 'AuthorizeNett' "
                + "for type Payment; did you mean 'AuthorizeNet'?\n")
    }

    private static func listing(_ directory: URL) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var paths: [String] = []
        while let path = enumerator?.nextObject() as? String { paths.append(path) }
        return paths.sorted()
    }
}

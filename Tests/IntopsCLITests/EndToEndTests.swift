import Foundation
import Testing

/// The built executable, run as a user runs it.
@Suite struct EndToEndTests {
    @Test func validateExamples() async throws {
        let result = try await TestSupport.runProcess(["validate"], in: TestSupport.examples)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("✓ Valid: intops.yaml and 3 manifest files"))
    }

    @Test func invalidInputExitsOneWithOneLine() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("invalid/deep-nesting"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = try await TestSupport.runProcess(["validate"], in: project)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "integrations/m.yaml:5:67: error: collections nest deeper than 64 levels; flatten the document\n")
    }

    @Test func missingProjectFileExitsOne() async throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await TestSupport.runProcess(["validate"], in: directory)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: no intops.yaml in "))
    }

    @Test func usageErrorExits64() async throws {
        let result = try await TestSupport.runProcess(["frobnicate"], in: TestSupport.examples)
        #expect(result.status == 64)
    }

    @Test func noColourWhenNotATerminal() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("invalid/unknown-type"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = try await TestSupport.runProcess(["validate"], in: project)
        #expect(!result.stderr.contains("\u{1B}["))
    }
}

import Foundation
import TestSupport
import Testing

/// The CI recipes in examples/ci/ lint clean (yamllint, installed by make deps) and parse with intops' own
/// YAML layer; each names the secrets it needs.
@Suite struct CIRecipeTests {
    static let folder = TestSupport.examples.appendingPathComponent("ci")

    @Test func recipesLintClean() async throws {
        try Subprocess.requireTool("yamllint")
        let result = try await Subprocess.run(["yamllint", "--strict", "-c", Self.folder.appendingPathComponent(".yamllint").path, Self.folder.path])
        #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
    }

    @Test(arguments: ["github-actions.yml", "github-actions-sharded.yml", "gitlab-ci.yml", "kubernetes-drift-cronjob.yaml"])
    func recipeParsesAndDocumentsItsSecrets(_ name: String) async throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
        let result = try await Subprocess.run(["python3", "-c", "import sys,yaml; list(yaml.safe_load_all(open(sys.argv[1])))", Self.folder.appendingPathComponent(name).path])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(text.contains("SOPS_AGE_KEY"), "\(name) names the age identity secret")
        #expect(text.contains("INTOPS_TOKEN_"), "\(name) names the API token secrets")
        #expect(text.contains("intops "), "\(name) runs intops")
    }
}

import Foundation
import Testing

@Suite struct ValidateCommandTests {
    @Test func examplesAreValidAndTheSummarySaysWhatWasChecked() async throws {
        let result = await TestSupport.run(["validate"], in: TestSupport.examples)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(
            result.stdout
                == "✓ Valid: intops.yaml and 3 manifest files, 9 integrations (1 to delete) in 2 organizations of 2 "
                + "declared, 13 secret references resolved, checked against 9 templates from the sandbox emulator's catalog.\n"
        )
    }

    @Test func chdirIsRelativeToTheWorkingDirectory() async throws {
        let result = await TestSupport.run(["--chdir", "examples", "validate", "--quiet"], in: TestSupport.packageRoot)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func projectIsFoundFromASubfolder() async throws {
        let result = await TestSupport.run(
            ["validate"], in: TestSupport.examples.appendingPathComponent("integrations"))
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func errorPathsAreRelativeToWhereIntopsStarted() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("invalid/unknown-type"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = await TestSupport.run(
            ["--chdir", project.lastPathComponent, "validate"], in: project.deletingLastPathComponent())
        #expect(result.stderr.hasPrefix("\(project.lastPathComponent)/integrations/m.yaml:6:11: error:"))
    }

    @Test func colourOnlyWhenAllowed() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("invalid/unknown-type"))
        defer { try? FileManager.default.removeItem(at: project) }
        let coloured = await TestSupport.run(["validate"], in: project, color: true)
        #expect(coloured.stderr.contains("\u{1B}[1;31merror:"))
        let plain = await TestSupport.run(["--no-color", "validate"], in: project, color: true)
        #expect(!plain.stderr.contains("\u{1B}["))
    }

    @Test func offlineUsesTheTemplatesCache() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("valid/remote-with-cache"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = await TestSupport.run(["validate", "--offline"], in: project, environment: ["TOKEN": "x"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("from the templates cache .intops/templates.json"))
        #expect(result.stderr.isEmpty)
    }

    @Test func offlineWithoutACacheFailsInOneLine() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("valid/remote-with-cache"))
        defer { try? FileManager.default.removeItem(at: project) }
        try FileManager.default.removeItem(at: project.appendingPathComponent(".intops/templates.json"))
        let result = await TestSupport.run(["validate", "--offline"], in: project, environment: ["TOKEN": "x"])
        #expect(result.status == 1)
        #expect(
            result.stderr
                == ".intops/templates.json: error: no templates cache at .intops/templates.json; validate --offline needs it; run intops templates --refresh once with network access\n"
        )
    }

    /// plan reads the templates as validate does: a damaged cache is the same one-line error, not a silent request.
    @Test func planRefusesADamagedTemplatesCacheAsValidateDoes() async throws {
        let project = try TestSupport.copy(TestSupport.examples)
        defer { try? FileManager.default.removeItem(at: project) }
        for name in ["sandbox.json", "sandbox.json.key", "state.json"] {
            try? FileManager.default.removeItem(at: project.appendingPathComponent(".intops/\(name)"))
        }
        let key = project.appendingPathComponent(".intops/demo-age-key.txt").path
        chmod(key, 0o600)
        try #"{"templates": [{"integrationType": 1}]}"#.write(
            to: project.appendingPathComponent(".intops/templates.json"), atomically: true, encoding: .utf8)
        let environment = ["SOPS_AGE_KEY_FILE": key, "XDG_CONFIG_HOME": "/nonexistent"]
        let validate = await TestSupport.run(["validate"], in: project, environment: environment)
        let plan = await TestSupport.run(["plan"], in: project, environment: environment)
        #expect(validate.status == 1 && plan.status == 1)
        #expect(
            plan.stderr.hasPrefix(".intops/templates.json: error: the templates cache is not valid"), "\(plan.stderr)")
        #expect(plan.stderr == validate.stderr && plan.stderr.split(separator: "\n").count == 1, "\(validate.stderr)")
        #expect(
            !FileManager.default.fileExists(atPath: project.appendingPathComponent(".intops/sandbox.json").path),
            "no request was made")
    }

    @Test func aReferenceToAFileThatIsNotEncryptedIsAnError() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("valid/remote-with-cache"))
        defer { try? FileManager.default.removeItem(at: project) }
        try "WP_ACCOUNT=plain\nWP_TOKEN=plain\n".write(
            to: project.appendingPathComponent("secrets/payments.env"), atomically: true, encoding: .utf8)
        let result = await TestSupport.run(["validate", "--offline"], in: project, environment: ["TOKEN": "x"])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "error: SOPS file secrets/payments.env is not encrypted (it has no sops metadata); encrypt it with intops secrets encrypt --in-place"
            ), "\(result.stderr)")
        #expect(!result.stderr.contains("plain"))
    }

    @Test func unsetEnvironmentReferencesAreWarningsNotErrors() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("valid/remote-with-cache"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = await TestSupport.run(["validate", "--offline"], in: project)
        #expect(result.status == 0)
        #expect(
            result.stderr
                == "intops.yaml:7:12: warning: environment variable TOKEN is not set here; plan and apply will need it\n"
        )
    }

    @Test func plaintextSecretsAllowedForDemosWithAWarning() async throws {
        let project = try TestSupport.copy(TestSupport.fixtures.appendingPathComponent("valid/plaintext-allowed"))
        defer { try? FileManager.default.removeItem(at: project) }
        let result = await TestSupport.run(["validate"], in: project)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning: allowPlaintextSecrets is true"))
        #expect(!result.stderr.contains("CANARY") && !result.stdout.contains("CANARY"))
    }
}

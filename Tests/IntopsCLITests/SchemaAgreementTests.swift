import ConcurrencyToolkit
import Emulator
import Foundation
import IntegrationsAPI
import Testing

/// The JSON Schemas in schemas/ are what editors check as people type; intops' decoder is what runs. They must
/// agree: on the examples, and on a corpus of valid and invalid documents.
@Suite struct SchemaAgreementTests {
    static let script = TestSupport.packageRoot.appendingPathComponent("Tests/schema/check_schemas.py")
    static let corpus = TestSupport.fixtures.appendingPathComponent("schema")

    static func python(_ arguments: [String]) throws -> (Int32, String) {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = Data(pipe.fileHandleForReading.readAllBytes())
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test func examplesConformToTheSchemas() throws {
        let (status, output) = try Self.python(["examples", TestSupport.examples.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("0 problems"))
    }

    static func documents(_ kind: String) -> [URL] {
        ["valid", "invalid"].flatMap { verdict in
            let folder = corpus.appendingPathComponent("\(kind)/\(verdict)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.sorted().map { folder.appendingPathComponent($0) }
        }
    }

    @Test(arguments: ["integration-set", "project"]) func decoderAndSchemaAgree(kind: String) async throws {
        let files = Self.documents(kind)
        #expect(files.count >= 10)
        let (status, output) = try Self.python(["classify"] + files.map(\.path))
        #expect(status == 0)
        let verdicts = try JSONDecoder().decode([String: Bool].self, from: Data(output.utf8))

        for file in files {
            let expected = file.deletingLastPathComponent().lastPathComponent == "valid"
            let project = try Self.scaffold(kind: kind, document: file)
            defer { try? FileManager.default.removeItem(at: project) }
            let result = await TestSupport.run(["validate", "--offline"], in: project)
            let decoderAccepts = result.status == 0
            #expect(verdicts[file.path] == expected, "schema disagrees on \(file.lastPathComponent)")
            #expect(decoderAccepts == expected, "decoder disagrees on \(file.lastPathComponent): \(result.stderr)")
        }
    }

    /// A project around one document: the document as intops.yaml or as its only manifest.
    static func scaffold(kind: String, document: URL) throws -> URL {
        let project = try TestSupport.temporaryDirectory()
        let manager = FileManager.default
        for folder in ["integrations", "secrets", ".intops"] {
            try manager.createDirectory(at: project.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        // Shaped as a SOPS file: validate checks the keys and that the file is encrypted, without decrypting.
        try
            "ApiLoginId: ENC[AES256_GCM,data:eA==,iv:eA==,tag:eA==,type:str]\nTransactionKey: ENC[AES256_GCM,data:eA==,iv:eA==,tag:eA==,type:str]\nsops:\n  version: 3.9.0\n"
            .write(to: project.appendingPathComponent("secrets/s.enc.yaml"), atomically: true, encoding: .utf8)
        try "token\n".write(to: project.appendingPathComponent("secrets/token.txt"), atomically: true, encoding: .utf8)
        let templates = try JSONEncoder().encode(TemplatesResponse(templates: TemplateCatalog.standard))
        try templates.write(to: project.appendingPathComponent(".intops/templates.json"))
        if kind == "project" {
            try manager.copyItem(at: document, to: project.appendingPathComponent("intops.yaml"))
        } else {
            try """
            apiVersion: intops/v1
            kind: Project
            api: {url: "sandbox:.intops/sandbox.json"}
            organizations: {org1: , org2: }
            """.write(to: project.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
            try manager.copyItem(at: document, to: project.appendingPathComponent("integrations/doc.yaml"))
        }
        return project
    }
}

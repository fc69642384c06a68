import Foundation
import TestSupport
import Testing

/// `intops init` and `intops secrets …` run as a user runs them, against the real sops where it matters.
@Suite struct SecretsCommandTests {
    let directory: URL
    let config: URL

    init() throws {
        directory = try TestSupport.temporaryDirectory()
        config = directory.appendingPathComponent("config")
    }

    /// A private home for identities: XDG_CONFIG_HOME inside the test's folder.
    var environment: [String: String] { ["XDG_CONFIG_HOME": config.path, "HOME": directory.path] }
    var keyFile: String { config.appendingPathComponent("sops/age/keys.txt").path }

    func intops(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> RunResult {
        try await TestSupport.runProcess(arguments, in: directory, environment: environment.merging(extra) { $1 })
    }

    func write(_ text: String, _ name: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func read(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func initCreatesAProjectAnIdentityAndAnEncryptedKey() async throws {
        let result = try await intops(["init"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("created the age identity \(keyFile) (mode 0600)"))
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try read(".intops/fingerprint-key.enc.yaml").contains("ENC[AES256_GCM,data:"))
        // The real sops reads what init wrote.
        try Subprocess.requireTool("sops")
        let sops = try await Subprocess.run(
            ["sops", "-d", directory.appendingPathComponent(".intops/fingerprint-key.enc.yaml").path],
            environment: ["SOPS_AGE_KEY_FILE": keyFile])
        #expect(sops.status == 0)
        #expect(sops.stdoutText.range(of: #"^key: [0-9a-f]{64}\n$"#, options: .regularExpression) != nil)
        // The project validates, and a second init refuses to overwrite it.
        #expect(try await intops(["validate"]).status == 0)
        let again = try await intops(["init"])
        #expect(again.status == 1 && again.stderr.contains("already exists; intops init never overwrites a project"))
    }

    @Test func encryptDecryptAndUpdateKeysInteroperateWithSops() async throws {
        try Subprocess.requireTool("sops")
        _ = try await intops(["init"])
        try write("db:\n  password: s3cret\n  port: 5432\n", "app.yaml")
        let encrypted = try await intops(["secrets", "encrypt", "--in-place", "app.yaml"])
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        #expect(try !read("app.yaml").contains("s3cret"))
        let sops = try await Subprocess.run(
            ["sops", "-d", directory.appendingPathComponent("app.yaml").path],
            environment: ["SOPS_AGE_KEY_FILE": keyFile])
        #expect(sops.stdoutText == "db:\n    password: s3cret\n    port: 5432\n")
        let decrypted = try await intops(["secrets", "decrypt", "app.yaml"])
        #expect(decrypted.status == 0 && decrypted.stdout == "db:\n    password: s3cret\n    port: 5432\n")

        // A teammate's key is added; both can decrypt; the values stay.
        let teammate = try await intops(["secrets", "keygen", "--out", "teammate.txt"])
        let recipient = String(teammate.stderr.dropFirst("Public key: ".count)).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let project = try read("intops.yaml")
        let own = project.components(separatedBy: "\n").first { $0.hasPrefix("  - age1") }!
        let updated = try await intops([
            "secrets", "updatekeys", "--age", String(own.dropFirst(4)), "--age", recipient, "app.yaml",
        ])
        #expect(updated.status == 0, "\(updated.stderr)")
        let asTeammate = try await intops(
            ["secrets", "decrypt", "app.yaml"],
            environment: [
                "SOPS_AGE_KEY_FILE": directory.appendingPathComponent("teammate.txt").path,
                "XDG_CONFIG_HOME": "/nonexistent",
            ])
        #expect(asTeammate.stdout == "db:\n    password: s3cret\n    port: 5432\n", "\(asTeammate.stderr)")
    }

    @Test func editReencryptsAndLeavesNoPlaintext() async throws {
        _ = try await intops(["init"])
        try write("token: before\n", "t.yaml")
        _ = try await intops(["secrets", "encrypt", "-i", "t.yaml"])
        let scratch = directory.appendingPathComponent("scratch")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let edited = try await intops(
            ["secrets", "edit", "t.yaml"], environment: ["EDITOR": "sed -i s/before/after/", "TMPDIR": scratch.path])
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(try await intops(["secrets", "decrypt", "t.yaml"]).stdout == "token: after\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "the plaintext copy is gone")
        // A failing editor changes nothing and still removes the copy.
        let before = try read("t.yaml")
        let failed = try await intops(
            ["secrets", "edit", "t.yaml"], environment: ["EDITOR": "false", "TMPDIR": scratch.path])
        #expect(failed.status == 1 && failed.stderr.contains("the editor exited with 1"))
        #expect(try read("t.yaml") == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    /// Encrypting an encrypted file would lose its data key: refused, as sops refuses it, in every format.
    @Test(arguments: ["s.yaml", "s.json", "s.env"]) func encryptingAnEncryptedFileIsRefused(_ name: String) async throws
    {
        _ = try await intops(["init"])
        let plain = name.hasSuffix(".json") ? "{\"a\": \"one\"}\n" : name.hasSuffix(".env") ? "a=one\n" : "a: one\n"
        try write(plain, name)
        #expect(try await intops(["secrets", "encrypt", "-i", name]).status == 0)
        let sealed = try read(name)
        let again = try await intops(["secrets", "encrypt", "-i", name])
        #expect(again.status == 1, "\(again.stdout)")
        #expect(again.stderr.contains("\(name) is already encrypted"), "\(again.stderr)")
        #expect(try read(name) == sealed)
        #expect(try await intops(["secrets", "decrypt", name]).status == 0, "the data key is intact")
    }

    /// A file sops made with Shamir key groups keeps them through an edit: the same data key and metadata, so
    /// one key alone still cannot open it, and the real sops reads the result.
    @Test func editKeepsKeyGroupsAndTheirThreshold() async throws {
        try Subprocess.requireTool("sops")
        var recipients: [String] = []
        var identities = ""
        for name in ["one", "two"] {
            let made = try await intops(["secrets", "keygen", "--out", "\(name).key"])
            #expect(made.status == 0, "\(made.stderr)")
            let text = try read("\(name).key")
            identities += text
            recipients.append(
                try #require(text.split(separator: "\n").first { $0.hasPrefix("# public key: ") }).dropFirst(14)
                    .description)
        }
        try identities.write(to: directory.appendingPathComponent("both.key"), atomically: true, encoding: .utf8)
        try write(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [\(recipients[0])]\n      - age: [\(recipients[1])]\n",
            ".sops.yaml")
        try write("token: before\n", "g.yaml")
        let path = directory.appendingPathComponent("g.yaml").path
        let both = directory.appendingPathComponent("both.key").path
        let sealed = try await Subprocess.run(
            ["sops", "--config", directory.appendingPathComponent(".sops.yaml").path, "-e", "-i", path],
            environment: ["SOPS_AGE_KEY_FILE": both])
        #expect(sealed.status == 0, "\(sealed.stderrText)")

        let edited = try await intops(
            ["secrets", "edit", "g.yaml"], environment: ["EDITOR": "sed -i s/before/after/", "SOPS_AGE_KEY_FILE": both])
        #expect(edited.status == 0, "\(edited.stderr)")
        let text = try read("g.yaml")
        #expect(
            text.contains("shamir_threshold: 2") && text.contains("key_groups:")
                && text.components(separatedBy: "recipient: ").count == 3, "\(text)")
        let oneKey = try await intops(
            ["secrets", "decrypt", "g.yaml"],
            environment: ["SOPS_AGE_KEY_FILE": directory.appendingPathComponent("one.key").path])
        #expect(oneKey.status == 1, "one key of two groups must not open it: \(oneKey.stdout)")
        let sops = try await Subprocess.run(["sops", "-d", path], environment: ["SOPS_AGE_KEY_FILE": both])
        #expect(sops.stdoutText == "token: after\n", "\(sops.stderrText)")
    }

    /// Age identities of the test's own: their files' text and their recipients.
    func identities(_ names: [String]) async throws -> (texts: [String], recipients: [String]) {
        var texts: [String] = []
        var recipients: [String] = []
        for name in names {
            let made = try await intops(["secrets", "keygen", "--out", "\(name).key"])
            #expect(made.status == 0, "\(made.stderr)")
            let text = try read("\(name).key")
            texts.append(text)
            recipients.append(
                try #require(text.split(separator: "\n").first { $0.hasPrefix("# public key: ") }).dropFirst(14)
                    .description)
        }
        return (texts, recipients)
    }

    @Test func newFilesFollowTheNearestSopsYamlAsSopsDoes() async throws {
        try Subprocess.requireTool("sops")
        let (keys, recipients) = try await identities(["a", "b", "c"])
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("secrets/prod"), withIntermediateDirectories: true)
        try write(
            """
            creation_rules:
              - path_regex: ^secrets/prod/
                shamir_threshold: 2
                key_groups:
                  - age: [\(recipients[0])]
                  - age: [\(recipients[1])]
                  - age: [\(recipients[2])]
              - path_regex: ^secrets/.*\\.yaml$
                age: \(recipients[0])
                encrypted_regex: ^(password|token)$

            """, ".sops.yaml")
        func sops(_ arguments: [String], keys chosen: [Int]) async throws -> ProcessOutput {
            try await Subprocess.run(
                ["sops"] + arguments, environment: ["SOPS_AGE_KEY": chosen.map { keys[$0] }.joined()],
                directory: directory)
        }
        func decrypt(_ file: String, keys chosen: [Int]) async throws -> RunResult {
            try await intops(
                ["secrets", "decrypt", file], environment: ["SOPS_AGE_KEY": chosen.map { keys[$0] }.joined()])
        }

        // The second rule: one recipient, only the matching keys encrypted.
        try write("user: admin\npassword: hunter2\n", "secrets/app.yaml")
        let app = try await intops(["secrets", "encrypt", "--in-place", "secrets/app.yaml"])
        #expect(app.status == 0, "\(app.stderr)")
        let appText = try read("secrets/app.yaml")
        #expect(appText.contains("user: admin") && !appText.contains("hunter2"), "\(appText)")
        #expect(appText.contains("encrypted_regex: ^(password|token)$"), "\(appText)")
        #expect(try await sops(["-d", "secrets/app.yaml"], keys: [0]).stdoutText == "user: admin\npassword: hunter2\n")

        // The first rule: three key groups, two of them needed, in both directions.
        try write("token: t0p\n", "secrets/prod/db.yaml")
        let prod = try await intops(["secrets", "encrypt", "--in-place", "secrets/prod/db.yaml"])
        #expect(prod.status == 0, "\(prod.stderr)")
        #expect(try await sops(["-d", "secrets/prod/db.yaml"], keys: [0, 2]).stdoutText == "token: t0p\n")
        #expect(try await sops(["-d", "secrets/prod/db.yaml"], keys: [1]).status != 0)
        #expect(try await decrypt("secrets/prod/db.yaml", keys: [1, 2]).stdout == "token: t0p\n")
        #expect(try await decrypt("secrets/prod/db.yaml", keys: [2]).status == 1)
        try write("token: from-sops\n", "secrets/prod/other.yaml")
        let sealed = try await sops(["-e", "-i", "secrets/prod/other.yaml"], keys: [])
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        #expect(try await decrypt("secrets/prod/other.yaml", keys: [0, 1]).stdout == "token: from-sops\n")
        #expect(try await decrypt("secrets/prod/other.yaml", keys: [0]).status == 1)

        // No rule for the file: one line naming it and the configuration, nothing written.
        try write("k: v\n", "notes.yaml")
        let none = try await intops(["secrets", "encrypt", "--in-place", "notes.yaml"])
        #expect(none.status == 1)
        #expect(none.stderr.split(separator: "\n").count == 1, "\(none.stderr)")
        #expect(none.stderr.contains(".sops.yaml") && none.stderr.contains("notes.yaml"), "\(none.stderr)")
        #expect(try read("notes.yaml") == "k: v\n")
        // --age still wins over the configuration, as sops's flags do.
        let given = try await intops(["secrets", "encrypt", "--age", recipients[1], "notes.yaml"])
        #expect(given.status == 0 && given.stdout.contains("recipient: \(recipients[1])"), "\(given.stderr)")
    }

    @Test func updatekeysAndValidateFollowSopsYaml() async throws {
        try Subprocess.requireTool("sops")
        #expect(try await intops(["init"]).status == 0)
        let own = try #require(try read("intops.yaml").split(separator: "\n").last { $0.hasPrefix("  - age1") })
            .dropFirst(4).description
        let (keys, recipients) = try await identities(["b"])
        let keyPath = ".intops/fingerprint-key.enc.yaml"
        let clean = try await intops(["validate"])
        #expect(clean.status == 0 && !clean.stderr.contains("warning"), "\(clean.stderr)")

        // The rule now names a second recipient: validate says the two disagree, updatekeys follows the rule.
        try write("creation_rules:\n  - age: \(own), \(recipients[0])\n", ".sops.yaml")
        let differs = try await intops(["validate"])
        #expect(differs.status == 0, "\(differs.stderr)")
        #expect(
            differs.stderr.contains("creation rule 1 encrypts \(keyPath) to other recipients than intops.yaml's"),
            "\(differs.stderr)")
        let updated = try await intops(["secrets", "updatekeys", keyPath])
        #expect(updated.status == 0, "\(updated.stderr)")
        let opened = try await Subprocess.run(
            ["sops", "-d", keyPath], environment: ["SOPS_AGE_KEY": keys[0]], directory: directory)
        #expect(opened.status == 0 && opened.stdoutText.hasPrefix("key: "), "\(opened.stderrText)")

        // A rule that does not cover the file: a warning, and updatekeys refuses in one line.
        try write("creation_rules:\n  - path_regex: ^secrets/\n    age: \(own)\n", ".sops.yaml")
        let uncovered = try await intops(["validate"])
        #expect(uncovered.stderr.contains("no creation rule covers \(keyPath)"), "\(uncovered.stderr)")
        let refused = try await intops(["secrets", "updatekeys", keyPath])
        #expect(refused.status == 1 && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
    }

    @Test func theDailyVerbsDoWhatSopsDoes() async throws {
        try Subprocess.requireTool("sops")
        #expect(try await intops(["init"]).status == 0)
        func sops(_ arguments: [String]) async throws -> ProcessOutput {
            try await Subprocess.run(
                ["sops"] + arguments, environment: ["SOPS_AGE_KEY_FILE": keyFile], directory: directory)
        }
        let plain = "a:\n    b: hello\n    \"n\": 5\nlist:\n    - x\ntop: v1\n"
        try write(plain, "s.yaml")
        #expect(try await intops(["secrets", "filestatus", "s.yaml"]).stdout == "{\"encrypted\":false}\n")
        #expect(try await intops(["secrets", "encrypt", "-i", "s.yaml"]).status == 0)
        let status = try await intops(["secrets", "filestatus", "s.yaml"])
        let theirStatus = try await sops(["filestatus", "s.yaml"])
        #expect(status.stdout == "{\"encrypted\":true}\n" && status.stdout == theirStatus.stdoutText)

        for index in [#"["a"]["b"]"#, #"["a"]["n"]"#, #"["list"][0]"#, #"["a"]"#, "['top']"] {
            let ours = try await intops(["secrets", "decrypt", "--extract", index, "s.yaml"])
            let theirs = try await sops(["-d", "--extract", index, "s.yaml"])
            #expect(
                ours.status == 0 && ours.stdout == theirs.stdoutText, "\(index): \(ours.stdout) vs \(theirs.stdoutText)"
            )
        }
        let missing = try await intops(["secrets", "decrypt", "--extract", #"["zz"]"#, "s.yaml"])
        #expect(missing.status == 1 && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        let badIndex = try await intops(["secrets", "decrypt", "--extract", "a.b", "s.yaml"])
        #expect(badIndex.status == 1 && badIndex.stderr.contains("is not an index"), "\(badIndex.stderr)")

        // set and unset leave the same document as sops's set and unset on a copy.
        try FileManager.default.copyItem(
            at: directory.appendingPathComponent("s.yaml"), to: directory.appendingPathComponent("t.yaml"))
        let value = #"{"k": [1, "two"], "flag": true}"#
        #expect(try await intops(["secrets", "set", "s.yaml", #"["a"]["c"]"#, value]).status == 0)
        #expect(try await sops(["set", "t.yaml", #"["a"]["c"]"#, value]).status == 0)
        try write(#""from a file""#, "value.json")
        #expect(try await intops(["secrets", "set", "--value-file", "value.json", "s.yaml", #"["top"]"#]).status == 0)
        #expect(try await sops(["set", "t.yaml", #"["top"]"#, #""from a file""#]).status == 0)
        #expect(try await intops(["secrets", "unset", "s.yaml", #"["a"]["b"]"#]).status == 0)
        #expect(try await sops(["unset", "t.yaml", #"["a"]["b"]"#]).status == 0)
        let ours = try await sops(["-d", "s.yaml"]), theirs = try await sops(["-d", "t.yaml"])
        #expect(ours.status == 0 && ours.stdoutText == theirs.stdoutText, "\(ours.stdoutText) vs \(theirs.stdoutText)")
        #expect(try await intops(["secrets", "unset", "s.yaml", #"["a"]["b"]"#]).status == 1)
        #expect(try await intops(["secrets", "set", "s.yaml", #"["top"]"#, "not json"]).status == 1)
        #expect(try await intops(["secrets", "set", "s.yaml", #"["top"]"#]).status == 64)

        // rotate: a new data key, the same values, still opened by sops.
        let before = try read("s.yaml")
        #expect(try await intops(["secrets", "rotate", "s.yaml"]).status == 0)
        let after = try read("s.yaml")
        func enc(_ text: String) -> String { text.components(separatedBy: "enc: |").last ?? "" }
        #expect(enc(after) != enc(before) && after != before)
        #expect(try await sops(["-d", "s.yaml"]).stdoutText == theirs.stdoutText)

        // exec-env: the top-level values in the child's environment, its status intops's.
        try write("top: v1\nother: x y\n", "e.yaml")
        #expect(try await intops(["secrets", "encrypt", "-i", "e.yaml"]).status == 0)
        let env = try await intops(["secrets", "exec-env", "e.yaml", #"echo "$top|$other""#])
        #expect(env.status == 0 && env.stdout == "v1|x y\n", "\(env.stderr)")
        #expect(try await intops(["secrets", "exec-env", "e.yaml", "exit 3"]).status == 3)
        let nested = try await intops(["secrets", "exec-env", "s.yaml", "true"])
        #expect(nested.status == 1 && nested.stderr.contains("nested value at a"), "\(nested.stderr)")

        // exec-file: {} is a 0600 copy in a private directory, gone when the command ends.
        let file = try await intops([
            "secrets", "exec-file", "e.yaml", "stat -c %a {} > mode.txt; echo {} > path.txt; cat {}",
        ])
        #expect(file.status == 0 && file.stdout == "top: v1\nother: x y\n", "\(file.stderr)")
        #expect(try read("mode.txt") == "600\n")
        let copy = try read("path.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!copy.isEmpty && !FileManager.default.fileExists(atPath: copy))
        #expect(!FileManager.default.fileExists(atPath: (copy as NSString).deletingLastPathComponent))
    }

    @Test func anEditThatDoesNotParseReopensTheEditorOnATerminalOnly() async throws {
        try Subprocess.requireTool("script")
        #expect(try await intops(["init"]).status == 0)
        try write("token: before\n", "g.yaml")
        #expect(try await intops(["secrets", "encrypt", "-i", "g.yaml"]).status == 0)
        // An editor whose first save does not parse, and whose second does.
        try write(
            """
            #!/bin/sh
            if [ -f "$(dirname "$0")/once" ]; then echo "token: after" > "$1"
            else touch "$(dirname "$0")/once"; echo "token: [unclosed" > "$1"; fi

            """, "ed.sh")
        let editor = directory.appendingPathComponent("ed.sh").path
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: editor)
        let binary = try TestSupport.executable.path
        let command =
            "cd '\(directory.path)' && XDG_CONFIG_HOME='\(config.path)' HOME='\(directory.path)' EDITOR='\(editor)' '\(binary)' secrets edit g.yaml"
        let onTerminal = try await Subprocess.runWithTerminal(command, terminalInput: "\n")
        #expect(onTerminal.status == 0, "\(onTerminal.stdoutText)")
        #expect(onTerminal.stdoutText.contains("Press Enter to return to the editor"), "\(onTerminal.stdoutText)")
        #expect(try await intops(["secrets", "decrypt", "g.yaml"]).stdout == "token: after\n")

        // Without a terminal the broken edit fails, and the file keeps what it had.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("once"))
        let scripted = try await intops(["secrets", "edit", "g.yaml"], environment: ["EDITOR": editor])
        #expect(scripted.status == 1 && scripted.stderr.contains("the file is unchanged"), "\(scripted.stderr)")
        #expect(try await intops(["secrets", "decrypt", "g.yaml"]).stdout == "token: after\n")
    }

    @Test func identitiesComeFromSopsAgeKeyCmdAsSopsRunsIt() async throws {
        try Subprocess.requireTool("sops")
        let (_, recipients) = try await identities(["k"])
        // A secrets manager's stand-in: the key only for the recipient asked for, its arguments as sops splits them.
        try write(
            """
            #!/bin/sh
            [ "$1" = "--vault" ] && [ "$2" = "two words" ] || exit 2
            [ "$SOPS_AGE_RECIPIENT" = "\(recipients[0])" ] || exit 3
            cat "$(dirname "$0")/k.key"

            """, "key-cmd.sh")
        let script = directory.appendingPathComponent("key-cmd.sh").path
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        try write("token: from-cmd\n", "a.yaml")
        #expect(try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "a.yaml"]).status == 0)
        let command = ["SOPS_AGE_KEY_CMD": "'\(script)' --vault \"two words\""]
        let ours = try await intops(["secrets", "decrypt", "a.yaml"], environment: command)
        #expect(ours.status == 0 && ours.stdout == "token: from-cmd\n", "\(ours.stderr)")
        let theirs = try await Subprocess.run(
            ["sops", "-d", "a.yaml"], environment: command.merging(["XDG_CONFIG_HOME": config.path]) { $1 },
            directory: directory)
        #expect(theirs.stdoutText == ours.stdout, "\(theirs.stderrText)")
        // A failing command does not stop an identity at hand from opening the file.
        let beside = try await intops(
            ["secrets", "decrypt", "a.yaml"],
            environment: [
                "SOPS_AGE_KEY_CMD": "false", "SOPS_AGE_KEY_FILE": directory.appendingPathComponent("k.key").path,
            ])
        #expect(beside.status == 0 && beside.stdout == "token: from-cmd\n", "\(beside.stderr)")
        let failing = try await intops(["secrets", "decrypt", "a.yaml"], environment: ["SOPS_AGE_KEY_CMD": "false"])
        #expect(failing.status == 1 && failing.stderr.contains("SOPS_AGE_KEY_CMD"), "\(failing.stderr)")
        #expect(failing.stderr.split(separator: "\n").count == 1, "\(failing.stderr)")
    }

    @Test func aPassphraseProtectedIdentityFileIsAskedForOnTheTerminal() async throws {
        try Subprocess.requireTool("age")
        try Subprocess.requireTool("script")
        let (_, recipients) = try await identities(["p"])
        let protected = directory.appendingPathComponent("p.age").path
        let made = try await Subprocess.runWithTerminal(
            "age -p -o '\(protected)' '\(directory.appendingPathComponent("p.key").path)'",
            terminalInput: "correct horse\ncorrect horse\n")
        #expect(made.status == 0, "\(made.stdoutText)")
        try write("token: behind-a-passphrase\n", "a.yaml")
        #expect(try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "a.yaml"]).status == 0)
        let binary = try TestSupport.executable.path
        func decrypt(typing: String) async throws -> ProcessOutput {
            try await Subprocess.runWithTerminal(
                "cd '\(directory.path)' && SOPS_AGE_KEY_FILE='\(protected)' XDG_CONFIG_HOME='\(config.path)' HOME='\(directory.path)' '\(binary)' secrets decrypt a.yaml",
                terminalInput: typing)
        }
        let asked = try await decrypt(typing: "correct horse\n")
        #expect(asked.status == 0, "\(asked.stdoutText)")
        #expect(asked.stdoutText.contains("Enter passphrase for identity file \(protected)"), "\(asked.stdoutText)")
        #expect(asked.stdoutText.contains("token: behind-a-passphrase"), "\(asked.stdoutText)")
        let wrong = try await decrypt(typing: "wrong\n")
        #expect(wrong.status == 1 && wrong.stdoutText.contains("cannot be opened with that passphrase"))
        // No terminal: one clear line instead of a prompt nobody can answer.
        let scripted = try await intops(
            ["secrets", "decrypt", "a.yaml"], environment: ["SOPS_AGE_KEY_FILE": protected])
        #expect(scripted.status == 1 && scripted.stderr.contains("there is none"), "\(scripted.stderr)")
    }

    /// An SSH key pair from the real ssh-keygen, in the test's folder.
    func sshKey(_ type: String, _ name: String, passphrase: String = "") async throws -> String {
        try Subprocess.requireTool("ssh-keygen")
        let path = directory.appendingPathComponent(name).path
        let made = try await Subprocess.run(
            ["ssh-keygen", "-q", "-t", type, "-N", passphrase, "-a", "2", "-C", "ci@example", "-f", path]
                + (type == "rsa" ? ["-b", "2048"] : []))
        #expect(made.status == 0, "\(made.stderrText)")
        return try read(name + ".pub").trimmingCharacters(in: .newlines)
    }

    @Test(arguments: ["ed25519", "rsa"]) func sshKeysAreRecipientsAndIdentitiesAsSopsUsesThem(
        _ type: String
    ) async throws {
        try Subprocess.requireTool("sops")
        let publicKey = try await sshKey(type, "deploy")
        let keyPath = directory.appendingPathComponent("deploy").path
        try write("creation_rules:\n  - path_regex: .*\n    age: \(publicKey)\n", ".sops.yaml")
        let sshEnvironment = ["SOPS_AGE_SSH_PRIVATE_KEY_FILE": keyPath]
        func sops(_ arguments: [String], _ extra: [String: String] = [:]) async throws -> ProcessOutput {
            try await Subprocess.run(
                ["sops"] + arguments, environment: environment.merging(extra) { $1 }, directory: directory)
        }
        // sops → intops
        try write("token: by-sops\n", "theirs.yaml")
        let sealed = try await sops(["-e", "-i", "theirs.yaml"])
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        let opened = try await intops(["secrets", "decrypt", "theirs.yaml"], environment: sshEnvironment)
        #expect(opened.status == 0 && opened.stdout == "token: by-sops\n", "\(opened.stderr)")
        // intops → sops, the recipient written into the metadata as sops writes it.
        try write("token: by-intops\n", "ours.yaml")
        let encrypted = try await intops(["secrets", "encrypt", "-i", "ours.yaml"])
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        #expect(try read("ours.yaml").contains("recipient: \(publicKey)"))
        let decrypted = try await sops(["-d", "ours.yaml"], sshEnvironment)
        #expect(decrypted.status == 0 && decrypted.stdoutText == "token: by-intops\n", "\(decrypted.stderrText)")
        // --age takes an SSH key too, and ~/.ssh is where both look when nothing is set.
        try write("token: by-flag\n", "flag.yaml")
        #expect(try await intops(["secrets", "encrypt", "--age", publicKey, "-i", "flag.yaml"]).status == 0)
        let ssh = directory.appendingPathComponent(".ssh")
        try FileManager.default.createDirectory(at: ssh, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: keyPath, toPath: ssh.appendingPathComponent("id_\(type)").path)
        let fallback = try await intops(["secrets", "decrypt", "flag.yaml"])
        #expect(fallback.status == 0 && fallback.stdout == "token: by-flag\n", "\(fallback.stderr)")
        #expect(try await sops(["-d", "flag.yaml"]).stdoutText == "token: by-flag\n")
        // Without the key the error names the recipient and where identities were looked for.
        try FileManager.default.removeItem(at: ssh)
        let missing = try await intops(["secrets", "decrypt", "flag.yaml"])
        #expect(missing.status == 1 && missing.stderr.contains("no age identity opens"), "\(missing.stderr)")
    }

    @Test func aPassphraseProtectedSSHKeyIsAskedForOnTheTerminalOnly() async throws {
        try Subprocess.requireTool("sops")
        try Subprocess.requireTool("script")
        let publicKey = try await sshKey("ed25519", "locked", passphrase: "correct horse")
        let keyPath = directory.appendingPathComponent("locked").path
        try write("token: behind-an-ssh-passphrase\n", "a.yaml")
        #expect(try await intops(["secrets", "encrypt", "--age", publicKey, "-i", "a.yaml"]).status == 0)
        let binary = try TestSupport.executable.path
        func decrypt(typing: String) async throws -> ProcessOutput {
            try await Subprocess.runWithTerminal(
                "cd '\(directory.path)' && SOPS_AGE_SSH_PRIVATE_KEY_FILE='\(keyPath)' XDG_CONFIG_HOME='\(config.path)' HOME='\(directory.path)' '\(binary)' secrets decrypt a.yaml",
                terminalInput: typing)
        }
        let asked = try await decrypt(typing: "correct horse\n")
        #expect(asked.status == 0, "\(asked.stdoutText)")
        #expect(asked.stdoutText.contains("Enter passphrase for \"\(keyPath)\""), "\(asked.stdoutText)")
        #expect(asked.stdoutText.contains("token: behind-an-ssh-passphrase"), "\(asked.stdoutText)")
        let wrong = try await decrypt(typing: "wrong\n")
        #expect(wrong.status == 1 && wrong.stdoutText.contains("does not open with that passphrase"))
        let scripted = try await intops(
            ["secrets", "decrypt", "a.yaml"], environment: ["SOPS_AGE_SSH_PRIVATE_KEY_FILE": keyPath])
        #expect(scripted.status == 1 && scripted.stderr.contains("there is none"), "\(scripted.stderr)")
        #expect(scripted.stderr.split(separator: "\n").count == 1, "\(scripted.stderr)")
        // A file another identity opens never asks.
        let (_, recipients) = try await identities(["k"])
        try write("token: plain-age\n", "b.yaml")
        #expect(try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "b.yaml"]).status == 0)
        let quiet = try await intops(
            ["secrets", "decrypt", "b.yaml"],
            environment: [
                "SOPS_AGE_SSH_PRIVATE_KEY_FILE": keyPath,
                "SOPS_AGE_KEY_FILE": directory.appendingPathComponent("k.key").path,
            ])
        #expect(quiet.status == 0 && quiet.stdout == "token: plain-age\n", "\(quiet.stderr)")
    }

    /// INI as sops keeps it: sections, DEFAULT keys before the first header, comments (encrypted, above what
    /// they belong to), go-ini's quoting and alignment; each side decrypts the other's file to the same text.
    @Test func iniFilesTravelBothWaysWithSops() async throws {
        try Subprocess.requireTool("sops")
        let (_, recipients) = try await identities(["k"])
        let keys = ["SOPS_AGE_KEY_FILE": directory.appendingPathComponent("k.key").path]
        let text = """
            ; above the first key
            top = level
            [database]
            # the host
            host = db.example.com
            password = "p@ss; word"
            port: 5432
            empty =
            spaced = "  padded  "
            quoted = `has # hash`
            multi = \"\"\"line one
            line two\"\"\"
            \u{20}
            ; the api section
            [api]
            token=abc ; inline note
            url = https://x.example/a?b=c

            """
        try write(text, "theirs.ini")
        try write(text, "ours.ini")
        func sops(_ arguments: [String]) async throws -> ProcessOutput {
            try await Subprocess.run(
                ["sops"] + arguments, environment: environment.merging(keys) { $1 }, directory: directory)
        }
        #expect(try await sops(["-e", "-i", "--age", recipients[0], "theirs.ini"]).status == 0)
        let expected = try await sops(["-d", "theirs.ini"])
        #expect(expected.status == 0 && expected.stdoutText.contains("[database]\n; the host\nhost     = db"))
        let ours = try await intops(["secrets", "decrypt", "theirs.ini"], environment: keys)
        #expect(ours.status == 0 && ours.stdout == expected.stdoutText, "\(ours.stderr)")
        #expect(try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "ours.ini"]).status == 0)
        let encrypted = try read("ours.ini")
        #expect(!encrypted.contains("db.example.com") && !encrypted.contains("inline note"))
        #expect(encrypted.contains("[sops]") && encrypted.contains("type:comment]"))
        let theirs = try await sops(["-d", "ours.ini"])
        #expect(theirs.status == 0 && theirs.stdoutText == expected.stdoutText, "\(theirs.stderrText)")
        // A reference reaches a key through its section; an edit through set stays readable by sops.
        #expect(
            try await intops(
                ["secrets", "decrypt", "--extract", "[\"database\"][\"port\"]", "ours.ini"], environment: keys
            ).stdout == "5432")
        #expect(
            try await intops(["secrets", "set", "ours.ini", "[\"api\"][\"token\"]", "\"rotated\""], environment: keys)
                .status == 0)
        #expect(try await sops(["-d", "--extract", "[\"api\"][\"token\"]", "ours.ini"]).stdoutText == "rotated")
        // A line that is no key, section or comment names its line.
        try write("[s]\nnot a key line\n", "bad.ini")
        let bad = try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "bad.ini"])
        #expect(bad.status == 1 && bad.stderr.contains("line 2"), "\(bad.stderr)")
    }

    /// YAML comments as sops keeps them: encrypted (or not, as the comment rules say) in the block go-yaml puts
    /// them in, written where sops writes them; each side reads the other's file to the same text, byte for byte,
    /// and lays out the same plaintext the same way.
    @Test(arguments: YAMLCommentFixture.all) func yamlCommentsTravelBothWaysWithSops(
        _ fixture: YAMLCommentFixture
    ) async throws {
        try Subprocess.requireTool("sops")
        let (_, recipients) = try await identities(["c"])
        let keys = ["SOPS_AGE_KEY_FILE": directory.appendingPathComponent("c.key").path]
        try write(fixture.text, "theirs.yaml")
        try write(fixture.text, "ours.yaml")
        func sops(_ arguments: [String]) async throws -> ProcessOutput {
            try await Subprocess.run(
                ["sops"] + arguments, environment: environment.merging(keys) { $1 }, directory: directory)
        }
        // A comment rule comes from .sops.yaml, which both read; otherwise the recipient is given.
        var keysGiven = ["--age", recipients[0]]
        if let rule = fixture.rule {
            try write("creation_rules:\n  - age: \(recipients[0])\n    \(rule.key): '\(rule.pattern)'\n", ".sops.yaml")
            keysGiven = []
        }
        let sealed = try await sops(["-e", "-i"] + keysGiven + ["theirs.yaml"])
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        let expected = try await sops(["-d", "theirs.yaml"])
        #expect(expected.status == 0 && !expected.stderrText.contains("warning"), "\(expected.stderrText)")
        let ours = try await intops(["secrets", "decrypt", "theirs.yaml"], environment: keys)
        #expect(ours.status == 0 && ours.stdout == expected.stdoutText, "\(ours.stdout)\n---\n\(ours.stderr)")

        let encrypt = try await intops(["secrets", "encrypt"] + keysGiven + ["-i", "ours.yaml"])
        #expect(encrypt.status == 0, "\(encrypt.stderr)")
        func layout(_ text: String) -> String {
            let body = text.components(separatedBy: "\nsops:\n")[0]
            return body.replacingOccurrences(
                of: #"ENC\[AES256_GCM,data:[^,]*,iv:[^,]*,tag:[^,]*,type:([a-z]+)\]"#, with: "ENC:$1",
                options: .regularExpression)
        }
        #expect(layout(try read("ours.yaml")) == layout(try read("theirs.yaml")))
        for secret in fixture.secrets { #expect(!(try read("ours.yaml")).contains(secret)) }
        let theirs = try await sops(["-d", "ours.yaml"])
        #expect(theirs.status == 0 && !theirs.stderrText.contains("warning"), "\(theirs.stderrText)")
        #expect(theirs.stdoutText == expected.stdoutText)
        // An edit through set keeps every comment, readable by sops.
        let set = try await intops(["secrets", "set", "ours.yaml", fixture.setIndex, "\"changed\""], environment: keys)
        #expect(set.status == 0, "\(set.stderr)")
        let afterSet = try await sops(["-d", "ours.yaml"])
        #expect(afterSet.status == 0 && !afterSet.stderrText.contains("warning"), "\(afterSet.stderrText)")
        #expect(
            afterSet.stdoutText.components(separatedBy: "#").count
                == expected.stdoutText.components(separatedBy: "#").count)
    }

    /// A comment on an empty flow mapping is kept after its entry, where sops and intops both read it back
    /// (sops itself writes it inside the braces and cannot decrypt it there).
    @Test func aCommentOnAnEmptyFlowMappingStaysReadable() async throws {
        try Subprocess.requireTool("sops")
        let (_, recipients) = try await identities(["e"])
        let keys = ["SOPS_AGE_KEY_FILE": directory.appendingPathComponent("e.key").path]
        try write("m: {} # empty-map-note\nb: 1\n", "e.yaml")
        #expect(try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "e.yaml"]).status == 0)
        #expect(!(try read("e.yaml")).contains("empty-map-note"))
        let theirs = try await Subprocess.run(
            ["sops", "-d", "e.yaml"], environment: environment.merging(keys) { $1 }, directory: directory)
        #expect(theirs.status == 0 && !theirs.stderrText.contains("warning"), "\(theirs.stderrText)")
        #expect(theirs.stdoutText == "m: {}\n# empty-map-note\nb: 1\n", "\(theirs.stdoutText)")
        let ours = try await intops(["secrets", "decrypt", "e.yaml"], environment: keys)
        #expect(ours.stdout == theirs.stdoutText, "\(ours.stdout)")
    }

    /// Integers past 2^53 and floats past 1e21, both ways with sops: what sops encrypted prints as sops prints it,
    /// and what intops encrypted keeps every digit, opens in sops and passes its MAC.
    @Test func bigJSONNumbersTravelBothWays() async throws {
        try Subprocess.requireTool("sops")
        let (_, recipients) = try await identities(["n"])
        let keyEnvironment = ["SOPS_AGE_KEY_FILE": directory.appendingPathComponent("n.key").path]
        let numbers = #"{"i": 9007199254740993, "big": 12345678901234567890123, "tiny": 1e-7, "f": 1.5}"#
        try write(numbers + "\n", "by-sops.json")
        try write(numbers + "\n", "by-intops.json")
        let sealed = try await Subprocess.run(
            ["sops", "-e", "-i", "--age", recipients[0], "by-sops.json"], environment: keyEnvironment,
            directory: directory)
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        let theirs = try await Subprocess.run(
            ["sops", "-d", "by-sops.json"], environment: keyEnvironment, directory: directory)
        let ours = try await intops(["secrets", "decrypt", "by-sops.json"], environment: keyEnvironment)
        #expect(ours.status == 0 && ours.stdout == theirs.stdoutText, "\(ours.stdout) vs \(theirs.stdoutText)")

        #expect(try await intops(["secrets", "encrypt", "--age", recipients[0], "-i", "by-intops.json"]).status == 0)
        let opened = try await Subprocess.run(
            ["sops", "-d", "by-intops.json"], environment: keyEnvironment, directory: directory)
        #expect(opened.status == 0 && opened.stdoutText.contains("\"i\": 9007199254740993"), "\(opened.stderrText)")
    }

    @Test func afterInitPlainSopsEncryptsAndDecryptsWithoutFlags() async throws {
        try Subprocess.requireTool("sops")
        let created = try await intops(["init"])
        #expect(created.status == 0 && created.stdout.contains(".sops.yaml"), "\(created.stderr)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("secrets"), withIntermediateDirectories: true)
        try write("password: p4ss\n", "secrets/x.yaml")
        let sealed = try await Subprocess.run(
            ["sops", "-e", "-i", "secrets/x.yaml"], environment: ["SOPS_AGE_KEY_FILE": keyFile], directory: directory)
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        let opened = try await Subprocess.run(
            ["sops", "-d", "secrets/x.yaml"], environment: ["SOPS_AGE_KEY_FILE": keyFile], directory: directory)
        #expect(opened.stdoutText == "password: p4ss\n", "\(opened.stderrText)")
        #expect(try await intops(["secrets", "decrypt", "secrets/x.yaml"]).stdout == "password: p4ss\n")
        // What intops encrypts, sops opens, from the same rule.
        try write("token: t\n", "secrets/y.yaml")
        #expect(try await intops(["secrets", "encrypt", "-i", "secrets/y.yaml"]).status == 0)
        let y = try await Subprocess.run(
            ["sops", "-d", "secrets/y.yaml"], environment: ["SOPS_AGE_KEY_FILE": keyFile], directory: directory)
        #expect(y.stdoutText == "token: t\n", "\(y.stderrText)")
        #expect(try await intops(["validate"]).status == 0)
    }

    /// The binary store keeps every byte, text or not, in both directions with the real sops.
    @Test func theBinaryStoreKeepsEveryByteBothWaysWithSops() async throws {
        try Subprocess.requireTool("sops")
        _ = try await intops(["init"])
        let text = Data("line one\nzwei – drei ✓\n\u{0}nul\n".utf8)
        try text.write(to: directory.appendingPathComponent("note.bin"))
        #expect(try await intops(["secrets", "encrypt", "-i", "note.bin"]).status == 0)
        #expect(Data(try await intops(["secrets", "decrypt", "note.bin"]).stdout.utf8) == text)

        var generator = SystemRandomNumberGenerator()
        let raw = Data([0x50, 0x4B, 0x03, 0x04, 0xFF, 0xFE, 0x00, 0x80] + (0..<4096).map { _ in generator.next() })
        for name in ["ours.bin", "theirs.bin"] { try raw.write(to: directory.appendingPathComponent(name)) }
        let environment = ["SOPS_AGE_KEY_FILE": keyFile]
        // intops encrypts, sops decrypts: the same bytes.
        #expect(try await intops(["secrets", "encrypt", "-i", "ours.bin"]).status == 0)
        #expect(try Data(contentsOf: directory.appendingPathComponent("ours.bin")) != raw)
        let opened = try await Subprocess.run(
            ["sops", "-d", "ours.bin"], environment: environment, directory: directory)
        #expect(opened.status == 0 && opened.stdout == raw, "\(opened.stderrText)")
        // sops encrypts, intops decrypts in place: the same bytes, MAC checked.
        let sealed = try await Subprocess.run(
            ["sops", "-e", "-i", "theirs.bin"], environment: environment, directory: directory)
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        let decrypted = try await intops(["secrets", "decrypt", "-i", "theirs.bin"], environment: environment)
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("theirs.bin")) == raw)
    }

    /// However intops is stopped while the editor runs, the plaintext copy goes with it.
    @Test(arguments: ["TERM", "HUP", "INT", "QUIT"]) func aSignalDuringEditLeavesNoPlaintext(
        _ name: String
    ) async throws {
        _ = try await intops(["init"])
        try write("token: before\n", "t.yaml")
        _ = try await intops(["secrets", "encrypt", "-i", "t.yaml"])
        let before = try read("t.yaml")
        let scratch = directory.appendingPathComponent("scratch-\(name)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        // The editor runs under `sh -c`, whose parent is intops.
        let edited = try await intops(
            ["secrets", "edit", "t.yaml"],
            environment: ["EDITOR": "test -s \"$1\" && kill -\(name) $PPID; sleep 2; :", "TMPDIR": scratch.path])
        #expect(edited.status != 0, "\(edited.stderr)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "no plaintext after SIG\(name)")
        #expect(try read("t.yaml") == before)
    }

    /// Each damaged file gives one line, exit 1, and no crash.
    @Test func damagedFilesGiveOneClearLine() async throws {
        _ = try await intops(["init"])
        try write("a: one\nb: two\nc_unencrypted: three\n", "s.yaml")
        _ = try await intops(["secrets", "encrypt", "-i", "s.yaml"])
        let good = try read("s.yaml")
        let lines = good.components(separatedBy: "\n")
        let a = lines.first { $0.hasPrefix("a: ") }!
        let macLine = lines.first { $0.contains("mac: ENC[") }!
        let armorLine = lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("YWdl") }!
        let cases: [(String, String, String)] = [
            (
                "tampered type",
                good.replacingOccurrences(of: a, with: a.replacingOccurrences(of: "type:str]", with: "type:int]")),
                "error: s.yaml is not a valid SOPS file: the value at a does not read as its type int; the type was altered"
            ),
            (
                "tampered value",
                good.replacingOccurrences(of: a, with: a.replacingOccurrences(of: "data:", with: "data:QUFB")),
                "error: s.yaml was altered: the value at a does not decrypt"
            ),
            (
                "tampered MAC",
                good.replacingOccurrences(
                    of: macLine, with: macLine.replacingOccurrences(of: "data:", with: "data:AA")),
                "s.yaml was altered: the value at sops.mac does not decrypt"
            ),
            (
                "edited clear value",
                good.replacingOccurrences(of: "c_unencrypted: three", with: "c_unencrypted: four"),
                "s.yaml was altered: its MAC does not match its values"
            ), ("truncated", String(good.prefix(good.count / 3)), "s.yaml is not a valid SOPS file"),
            (
                "garbage armor",
                good.replacingOccurrences(
                    of: armorLine, with: String(armorLine.prefix { $0 == " " }) + "!!!garbage!!!"),
                "cannot be read: the age armor is malformed"
            ),
            (
                "unknown version",
                good.replacingOccurrences(
                    of: armorLine,
                    with: armorLine.replacingOccurrences(
                        of: "YWdlLWVuY3J5cHRpb24ub3JnL3Yx", with: "YWdlLWVuY3J5cHRpb24ub3JnL3Yy")),
                "cannot be read: the age"
            ),
        ]
        for (name, text, message) in cases {
            try write(text, "s.yaml")
            let result = try await intops(["secrets", "decrypt", "s.yaml"])
            #expect(result.status == 1, "\(name)")
            #expect(
                result.stderr.hasSuffix("\n") && result.stderr.dropLast().contains("\n") == false,
                "\(name): one line, got \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        try write(good, "s.yaml")
        let wrong = try await intops(
            ["secrets", "decrypt", "s.yaml"], environment: ["XDG_CONFIG_HOME": "/nonexistent", "SOPS_AGE_KEY_FILE": ""])
        #expect(wrong.status == 1)
        #expect(
            wrong.stderr.contains("no age identity opens its data key")
                && wrong.stderr.contains("set SOPS_AGE_KEY_FILE"))
    }

    @Test func identityReadableByOthersIsWarnedAbout() async throws {
        _ = try await intops(["init"])
        try write("x: y\n", "w.yaml")
        _ = try await intops(["secrets", "encrypt", "-i", "w.yaml"])
        chmod(keyFile, 0o644)
        let result = try await intops(["secrets", "decrypt", "w.yaml"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("can be read by other users (mode 644); run chmod 600"))
    }

    /// Canary values set as secrets never show in any output or file intops writes, plain, hex or base64.
    @Test func canariesNeverLeak() async throws {
        let canaries = ["canary-7f3a91-login", "canary-b2c4d8-key", "canary-e5f6a7-token"]
        _ = try await intops(["init"])
        try write("login: \(canaries[0])\nkey: \(canaries[1])\n", "c.yaml")
        try write("{\"token\": \"\(canaries[2])\"}", "c.json")
        try write("TOKEN=\(canaries[2])\n", "c.env")
        var outputs: [String] = []
        for file in ["c.yaml", "c.json", "c.env"] {
            for verbose in [[], ["--verbose"]] {
                let result = try await intops(verbose + ["secrets", "encrypt", file])
                outputs.append(result.stderr)
                _ = result.stdout  // the ciphertext, checked below as the files written
            }
            let inPlace = try await intops(["secrets", "encrypt", "-i", file])
            outputs += [inPlace.stdout, inPlace.stderr]
            let update = try await intops(["--verbose", "secrets", "updatekeys", file])
            outputs += [update.stdout, update.stderr]
            // Error paths: damaged files and a missing identity.
            let good = try read(file)
            try write(good.replacingOccurrences(of: "ENC[AES256_GCM,data:", with: "ENC[AES256_GCM,data:AA"), file)
            for verbose in [[], ["--verbose"]] {
                let damaged = try await intops(verbose + ["secrets", "decrypt", file])
                outputs += [damaged.stdout, damaged.stderr]
            }
            try write(good, file)
            let noKey = try await intops(
                ["secrets", "decrypt", file], environment: ["XDG_CONFIG_HOME": "/nonexistent"])
            outputs += [noKey.stdout, noKey.stderr]
            let validate = try await intops(["--verbose", "validate"])
            outputs += [validate.stdout, validate.stderr]
        }
        let writtenFiles = try FileManager.default.subpathsOfDirectory(atPath: directory.path).filter {
            !$0.hasPrefix("config")
        }.compactMap { try? String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8) }
        for canary in canaries {
            let forms = [
                canary, Data(canary.utf8).base64EncodedString(),
                Data(canary.utf8).map { String(format: "%02x", $0) }.joined(),
                Data(canary.utf8).map { String(format: "%02X", $0) }.joined(),
            ]
            for form in forms {
                #expect(!outputs.contains { $0.contains(form) }, "\(canary) leaked into output")
                #expect(!writtenFiles.contains { $0.contains(form) }, "\(canary) leaked into a file")
            }
        }
    }
}

/// YAML files with comments in the places people and sops put them.
struct YAMLCommentFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    /// A `.sops.yaml` creation rule's comment selection.
    var rule: (key: String, pattern: String)?
    /// Values and comment words that must not appear in the encrypted file.
    var secrets: [String]
    var setIndex: String

    var testDescription: String { name }

    static let all: [YAMLCommentFixture] = [
        YAMLCommentFixture(
            name: "heads, lines and feet at every level",
            text: """
                # top comment
                # second top

                a: alpha-secret # line on a
                # head of b
                b:
                  # head of c
                  c: charlie-secret
                  d: y # line on d
                  # foot in b
                # head of e
                e:
                  - 1 # line item
                  # between items
                  - 2
                  # foot of list

                f: # line on f key
                  g: golf-secret
                  # after g

                # end of doc

                """, rule: nil, secrets: ["alpha-secret", "charlie-secret", "golf-secret", "head of c", "foot"],
            setIndex: "[\"b\"][\"c\"]"),
        YAMLCommentFixture(
            name: "lists of mappings, dashes, flush lists and values on their own line",
            text: """
                list:
                  # before first map item
                  - a: 1 # line a
                    # between a and b
                    b: bravo-secret
                    # foot of map item
                  - # dash line comment
                    c: 3
                  -   - nested1
                      # in nested
                      - nested2
                flush:
                - 1
                # after flush at col 0
                - 2
                # after flush end
                tail: 1
                scalar_next_line:
                  # between key and value
                  value
                deep:
                    k1:
                        k2:
                            k3: v
                        # c8
                    # c4
                after: 1

                """, rule: nil, secrets: ["bravo-secret", "dash line", "between key"], setIndex: "[\"tail\"]"),
        YAMLCommentFixture(
            name: "encrypted_comment_regex",
            text: """
                # sops:enc
                password: papa-secret
                user: admin # not marked
                nested:
                  # sops:enc
                  token: tango-secret
                  plain: visible

                """, rule: ("encrypted_comment_regex", "sops:enc"), secrets: ["papa-secret", "tango-secret"],
            setIndex: "[\"user\"]"),
        YAMLCommentFixture(
            name: "unencrypted_comment_regex",
            text: """
                # public
                host: db.example.com
                # keep me secret
                password: papa-secret
                list:
                  # public
                  - shown
                  - hidden-secret

                """, rule: ("unencrypted_comment_regex", "public"), secrets: ["papa-secret", "keep me secret"],
            setIndex: "[\"password\"]"),
        // Found by comparing with sops on generated files: go-yaml's scanner splits the comments after nested
        // blocks by their columns, and ends each block at the first comment at its own column.
        YAMLCommentFixture(
            name: "comments dedented after nested blocks, at the end and between entries",
            text: """
                plain: v0
                nested:
                    inner: v2
                    last: v3
                # dedented at the end of a nested block, ends the root
                list:
                    - item1
                    # at the list's column, after an item
                settings:
                    token: t0k3n-secret
                     # deeper than the block
                  # shallower, at another column: a foot of its own
                   # and another
                more:
                    deep:
                        deepest: x
                # c4
                 # c5
                tail: end
                """, rule: nil, secrets: ["t0k3n-secret", "dedented at the end", "shallower"], setIndex: "[\"tail\"]"),
        YAMLCommentFixture(
            name: "flow collections (an empty one too), block scalars in lists, a dedented comment under a bare key",
            text: """
                flow: [1, 2] # on a flow list, written first in it
                items:
                    - [3, 4] # on a flow item, written before it
                    - scalar
                    # after a scalar item
                blocks:
                    - |
                      a literal in a list
                      second line
                    - >-
                      folded
                    - - |
                        nested literal
                mapped: {a: 1} # on a flow mapping
                empty: [] # none yet, kept
                after_key:
                # dedented under a bare key
                    - m: x
                      n: y
                last: v
                  # foot of last, indented more
                """, rule: nil, secrets: ["a literal in a list", "dedented under"], setIndex: "[\"last\"]"),
        YAMLCommentFixture(
            name: "comments around aliases of scalars and mappings",
            text: """
                base: &d x
                map: &m
                    a: 1
                prod:
                    s: *d
                    # end of prod
                staging:
                    - &i item
                    - *i # line on alias item
                    - *i
                    # after alias item
                copied: *m
                # after a copied mapping
                last: 1
                """, rule: nil, secrets: ["end of prod", "after a copied"], setIndex: "[\"last\"]"),
        // sops keeps a merge key as an entry named `<<` (go-yaml's nodes do not merge), and so does a SOPS file here.
        YAMLCommentFixture(
            name: "a merge key, kept as an entry as sops keeps it",
            text: """
                base: &b
                    a: 1
                    s: secret-a
                merged:
                    <<: *b
                    c: 2 # line c
                    # end of merged
                last: 1
                """, rule: nil, secrets: ["secret-a", "end of merged"], setIndex: "[\"last\"]"),
    ]
}

import Age
import Foundation
import Testing

@testable import SOPS

/// Regular expressions in Go's RE2 syntax, as sops writes them in `.sops.yaml` and its rules.
@Suite struct GoRegexTests {
    @Test(arguments: [
        // (pattern, text, matches) — the first ones are path_regex values from sops' own configuration tests.
        ("foobar*", "foobar", true), ("/dev/*", "/dev/null", true), ("^staging/", "prod/x.yaml", false),
        ("^secrets/.*\\.enc\\.yaml$", "secrets/db.enc.yaml", true),
        ("^secrets/.*\\.enc\\.yaml$", "secrets/db.enc.yaml\n", false), ("(?P<env>dev|prod)/.*", "prod/app.yaml", true),
        ("(?i)^SECRETS/", "secrets/a", true), ("^\\pL+$", "ключ", true), ("^[[:alpha:]]+$", "abc", true),
        ("[]a]", "]", true), ("\\Q.*\\E", ".*", true), ("\\Q.*\\E", "ab", false), ("(?m)^b$", "a\nb\nc", true),
        ("(?s:a.b)", "a\nb", true), ("a.b", "a\nb", false), ("^secrets/(?:prod|dev)/", "secrets/dev/x", true),
        ("^\\d+$", "٣", false), ("^\\d+$", "42", true), ("^\\w+$", "é", false), ("^[\\d_]+$", "4_2", true),
        ("^[[]$", "[", true), ("^[a&&b]+$", "a&b", true), ("^[a--]+$", "a-", true),
        ("^[[:punct:]]+$", "$+<=>^`|~", true), ("^[[:alpha:]]+$", "é", false), ("^[[:^digit:]]$", "a", true),
        ("^[[:^digit:]]$", "1", false), ("^[[:word:]]$", "_", true), ("(?m:a$)\nb$", "a\nb", true),
        ("(?m:a$)\nb$", "a\nb\n", false), ("((?m)a$)\nb$", "a\nb\n", false),
        // Octal escapes as Go reads them: \0 takes two more digits at most, \1 to \7 need one more.
        ("^a\\12b$", "a\nb", true), ("^\\101\\102$", "AB", true), ("^\\0123$", "\n3", true), ("^\\1234$", "S4", true),
        ("^[\\101-\\103]+$", "ABC", true), ("^[\\101-\\103]+$", "D", false), ("^\\0$", "\u{0}", true),
        // Group names Go takes and ICU does not; a name changes nothing that matches.
        ("^(?P<_env>dev|prod)/", "prod/x", true), ("^(?P<1st>a)(?<my_name>b)$", "ab", true),
        ("^(?P<x>a)(?P<x>b)$", "ab", true), ("^(?P<x>a)$", "b", false), ("^\\-\\#\\~$", "-#~", true),
    ]) func matchesAsGoDoes(_ pattern: String, _ text: String, _ expected: Bool) throws {
        #expect(try GoRegex(pattern).matches(text) == expected, "\(pattern) on \(text.debugDescription)")
    }

    @Test(arguments: [
        "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "(a)\\1", "(?P<x>a)(?P=x)", "\\k<x>", "(?>a)", "a*+", "a++", "a\\Z",
        "(?U)a*", "(", "(?x)a", "[a", "\\e", "\\R", "[\\D]", "[[:nope:]]", "\\8", "[\\1]", "a\\1", "(?P<>a)",
        "(?P<a-b>a)", "(?P<é>a)", "(?P<a", "\\٣", "a\\1٣", "\\y", "\\é", "[\\A]", "[\\z]",
    ]) func refusesWhatRE2DoesNotHave(_ pattern: String) {
        #expect(throws: GoRegex.Failure.self) { try GoRegex(pattern) }
    }
}

@Suite struct CreationRulesTests {
    let directory: URL
    let recipients: [String]

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("secrets/prod/deep"), withIntermediateDirectories: true)
        recipients = try (0..<3).map { _ in try X25519Identity.generate().recipient.description }
    }

    func write(_ text: String) throws -> SOPSCreationRules {
        let path = directory.appendingPathComponent(".sops.yaml")
        try text.write(to: path, atomically: true, encoding: .utf8)
        return try SOPSCreationRules.load(path.path)
    }

    func file(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    @Test func theFirstMatchingRuleWinsOnThePathRelativeToTheConfiguration() throws {
        let rules = try write(
            """
            creation_rules:
              - path_regex: ^secrets/prod/
                shamir_threshold: 2
                key_groups:
                  - age: [\(recipients[0])]
                  - age: [\(recipients[1])]
                  - age:
                      - \(recipients[2])
              - path_regex: ^secrets/.*\\.yaml$
                age: \(recipients[0]), \(recipients[1])
                encrypted_regex: ^(password|token)$
                mac_only_encrypted: true
              - age: \(recipients[2])

            """)
        let prod = try rules.rule(for: file("secrets/prod/deep/db.yaml"))
        #expect(prod.number == 1 && prod.groups.count == 3 && prod.shamirThreshold == 2 && prod.usesKeyGroups)
        let app = try rules.rule(for: file("secrets/app.yaml"))
        #expect(app.number == 2 && app.groups.map(\.count) == [2] && app.macOnlyEncrypted)
        #expect(app.selection == .encryptedRegex("^(password|token)$"))
        let other = try rules.rule(for: file("notes.json"))
        #expect(other.number == 3 && other.groups.map { $0.map(\.description) } == [[recipients[2]]])
        #expect(other.selection == nil)
    }

    @Test func noMatchingRuleIsAnErrorNamingTheFile() throws {
        let rules = try write("creation_rules:\n  - path_regex: ^secrets/\n    age: \(recipients[0])\n")
        #expect(throws: SOPSCreationRules.Failure.self) { try rules.rule(for: file("other/x.yaml")) }
        do { _ = try rules.rule(for: file("other/x.yaml")) } catch {
            #expect(error.message.contains("other/x.yaml"), "\(error)")
        }
    }

    @Test(arguments: [
        ("filename_regex: x\n    age: R0", "filename_regex is not read by sops 3"),
        ("path_regex: (?=x)\n    age: R0", "look-ahead"),
        ("age: R0\n    encrypted_regex: a\n    unencrypted_suffix: _u", "more than one of"),
        ("age: age1notakey", "is not an age recipient"),
        ("key_groups:\n      - age: [R0]\n    shamir_threshold: 2", "more than its 1 key groups"),
        ("key_groups:\n      - age: [R0]\n      - age: [R0]\n    shamir_threshold: 1", "any one group"),
        ("age: R0\n    colour: blue", "unknown field colour"),
    ]) func badRulesAreErrorsNamingTheRuleAndThePlace(_ body: String, _ expected: String) throws {
        let text = "creation_rules:\n  - " + body.replacingOccurrences(of: "R0", with: recipients[0]) + "\n"
        do {
            _ = try write(text)
            Issue.record("accepted: \(text)")
        } catch let failure as SOPSCreationRules.Failure {
            #expect(failure.message.contains("creation rule 1"), "\(failure)")
            #expect(failure.message.contains(expected), "\(failure)")
            #expect(failure.location.file.hasSuffix(".sops.yaml") && failure.location.line >= 2, "\(failure)")
        }
    }

    @Test func theNearestConfigurationIsFoundFromTheFilesFolderUpward() throws {
        _ = try write("creation_rules: []\n")
        let nested = directory.appendingPathComponent("secrets/prod/.sops.yaml")
        try "creation_rules: []\n".write(to: nested, atomically: true, encoding: .utf8)
        #expect(SOPSCreationRules.locate(for: file("secrets/prod/deep/x.yaml")).path == nested.path)
        #expect(SOPSCreationRules.locate(for: file("secrets/x.yaml")).path == file(".sops.yaml"))
        try "x: 1\n".write(to: directory.appendingPathComponent("secrets/.sops.yml"), atomically: true, encoding: .utf8)
        let found = SOPSCreationRules.locate(for: file("secrets/x.yaml"))
        #expect(found.path == file(".sops.yaml"))
        #expect(found.warning?.contains(".sops.yml") == true)
    }
}

/// sops' index syntax for --extract, set and unset.
@Suite struct IndexPathTests {
    @Test func componentsAreQuotedKeysOrIndices() throws {
        #expect(
            try SOPSIndexPath(#"["a"]['b c'][0]["q\"uote"]"#).components == [
                .key("a"), .key("b c"), .index(0), .key("q\"uote"),
            ])
    }

    @Test(arguments: ["", "a", "[a]", #"["a""#, "[-1]", #"["a"]x"#, "[]"]) func malformedIndicesAreRefused(
        _ text: String
    ) { #expect(throws: SOPSIndexPath.Failure.self) { try SOPSIndexPath(text) } }

    @Test func setCreatesMappingsAndAppendsPastTheEndAndUnsetNeedsTheValue() throws {
        let document = SOPSValue.mapping([SOPSEntry(key: "list", value: .sequence([.scalar(.string("x"))]))])
        let set = try #require(document.setting(.scalar(.int(1)), at: try SOPSIndexPath(#"["a"]["b"]"#)))
        #expect(set.value(at: try SOPSIndexPath(#"["a"]["b"]"#)) == .scalar(.int(1)))
        let appended = try #require(document.setting(.scalar(.string("y")), at: try SOPSIndexPath(#"["list"][1]"#)))
        #expect(appended.value(at: try SOPSIndexPath(#"["list"][1]"#)) == .scalar(.string("y")))
        #expect(document.setting(.null, at: try SOPSIndexPath(#"["list"][5]"#)) == nil)
        #expect(document.setting(.null, at: try SOPSIndexPath(#"["list"][0]["k"]"#)) == nil)
        #expect(document.removing(try SOPSIndexPath(#"["missing"]"#)) == nil)
        #expect(
            document.removing(try SOPSIndexPath(#"["list"][0]"#))
                == .mapping([SOPSEntry(key: "list", value: .sequence([]))]))
    }
}

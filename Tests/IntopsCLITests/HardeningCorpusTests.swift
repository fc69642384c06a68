import Foundation
import TestSupport
import Testing

/// The bad-input corpus, grown from the classes the hardening trials found: each input ends the command with one
/// clear line first on stderr, exit 1 (64 for usage), and no request to the API.
@Suite struct HardeningCorpusTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var environment: [String: String] = [:]
        var damage: @Sendable (ExampleProject) throws -> Void = { _ in }
        var status: Int32 = 1
        var message: String
        var testDescription: String { name }
    }

    static let lowOrder = HardeningTests.lowOrderRecipient
    static let badChecksum = HardeningTests.badChecksumRecipient
    static let recipient = "age10atkt3rpatl9g8934enx393ld53fjz8h95wtg356a594qlz7y9dsqdeyra"

    static func replacing(_ file: String, _ old: String, _ new: String) -> @Sendable (ExampleProject) throws -> Void {
        { project in
            try project.edit(file) { text in
                precondition(text.contains(old), "\(file) has no \(old)")
                return text.replacingOccurrences(of: old, with: new)
            }
        }
    }

    static func writing(_ file: String, _ text: String) -> @Sendable (ExampleProject) throws -> Void {
        { project in
            let url = project.root.appendingPathComponent(file)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    static let globexApiSecret = "ApiSecret: ref+sops://../secrets/globex.enc.yaml#/AnalyticsApiSecret"

    static let cases: [Case] = [
        // Usage: numbers, names and clocks that say nothing.
        Case(
            name: "parallelism abc", arguments: ["plan", "--parallelism", "abc"], status: 64, message: "--parallelism"),
        Case(name: "parallelism 0", arguments: ["plan", "--parallelism", "0"], status: 64, message: "--parallelism"),
        Case(name: "parallelism -1", arguments: ["plan", "--parallelism", "-1"], status: 64, message: "--parallelism"),
        Case(
            name: "parallelism huge", arguments: ["apply", "--parallelism", "100000"], status: 64,
            message: "--parallelism"),
        Case(
            name: "parallelism decimal", arguments: ["apply", "--parallelism", "1.5"], status: 64,
            message: "--parallelism"),
        Case(name: "unknown format", arguments: ["plan", "--format", "xml"], status: 64, message: "--format"),
        Case(name: "unknown drift format", arguments: ["drift", "--format", "sarif"], status: 64, message: "--format"),
        Case(name: "unknown option", arguments: ["plan", "--prun"], status: 64, message: "--prun"),
        Case(name: "unknown command", arguments: ["planz"], status: 64, message: "planz"),
        Case(
            name: "bad INTOPS_NOW", arguments: ["drift"], environment: ["INTOPS_NOW": "yesterday"], status: 64,
            message: "INTOPS_NOW"),
        Case(
            name: "empty INTOPS_NOW", arguments: ["drift"], environment: ["INTOPS_NOW": ""], status: 64,
            message: "INTOPS_NOW"),
        Case(
            name: "lock timeout words", arguments: ["plan", "--lock-timeout", "soon"], status: 64,
            message: "--lock-timeout"),
        Case(name: "export without org", arguments: ["export"], status: 64, message: "--org"),
        // Names that name nothing.
        Case(
            name: "target naming nothing", arguments: ["plan", "--target", "no-such-entry"], message: "no-such-entry"),
        Case(name: "undeclared organization", arguments: ["plan", "--org", "initech"], message: "initech"),
        Case(
            name: "state mv to an undeclared organization",
            arguments: ["state", "mv", "acme-us/books", "initech/books"], message: "initech"),
        Case(name: "state show of nothing", arguments: ["state", "show", "no-such-entry"], message: "no-such-entry"),
        Case(
            name: "state rm in the wrong organization", arguments: ["state", "rm", "books", "--org", "globex-eu"],
            message: "books"),
        Case(name: "rotate of nothing", arguments: ["rotate", "no-such-entry"], message: "no-such-entry"),
        Case(name: "test of nothing", arguments: ["test", "no-such-entry"], message: "no-such-entry"),
        Case(
            name: "export of an undeclared organization", arguments: ["export", "--org", "initech"], message: "initech"),
        // Recipients that cannot be encrypted to.
        Case(
            name: "low-order recipient in intops.yaml", arguments: ["validate", "--offline"],
            damage: replacing("intops.yaml", recipient, lowOrder), message: "low-order point"),
        Case(
            name: "bad checksum recipient in intops.yaml", arguments: ["validate", "--offline"],
            damage: replacing("intops.yaml", recipient, badChecksum), message: "valid checksum"),
        Case(
            name: "low-order --age", arguments: ["secrets", "encrypt", "plain.yaml", "--age", lowOrder],
            damage: writing("plain.yaml", "a: b\n"), message: "low-order point"),
        Case(
            name: "bad checksum --age", arguments: ["secrets", "encrypt", "plain.yaml", "--age", badChecksum],
            damage: writing("plain.yaml", "a: b\n"), message: "valid checksum"),
        Case(
            name: "low-order SOPS_AGE_RECIPIENTS", arguments: ["secrets", "encrypt", "plain.yaml"],
            environment: ["SOPS_AGE_RECIPIENTS": lowOrder],
            damage: { project in
                try writing("plain.yaml", "a: b\n")(project)
                // Outside the project, where SOPS_AGE_RECIPIENTS is the only source of recipients.
                try FileManager.default.removeItem(at: project.root.appendingPathComponent("intops.yaml"))
            }, message: "low-order point"),
        Case(
            name: "not a recipient at all", arguments: ["secrets", "encrypt", "plain.yaml", "--age", "age1nope"],
            damage: writing("plain.yaml", "a: b\n"), message: "age1nope"),
        // Files that are not what they claim, or lead outside.
        Case(
            name: "ref+file to a directory", arguments: ["plan"],
            damage: { project in
                try FileManager.default.createDirectory(
                    at: project.root.appendingPathComponent("secrets/folder"), withIntermediateDirectories: true)
                try replacing("integrations/globex.yaml", globexApiSecret, "ApiSecret: ref+file://../secrets/folder")(
                    project)
            }, message: "it is a directory"),
        Case(
            name: "ref+sops to a directory", arguments: ["plan"],
            damage: { project in
                try FileManager.default.createDirectory(
                    at: project.root.appendingPathComponent("secrets/folder.enc.yaml"),
                    withIntermediateDirectories: true)
                try replacing(
                    "integrations/globex.yaml", globexApiSecret, "ApiSecret: ref+sops://../secrets/folder.enc.yaml#/x")(
                        project)
            }, message: "it is a directory"),
        Case(
            name: "ref+file under a file", arguments: ["plan"],
            damage: replacing(
                "integrations/globex.yaml", globexApiSecret, "ApiSecret: ref+file://../secrets/globex.enc.yaml/inner"),
            message: "not a directory"),
        Case(
            name: "ref+file through a symlink out of the project", arguments: ["plan"],
            damage: { project in
                try FileManager.default.createSymbolicLink(
                    atPath: project.root.appendingPathComponent("secrets/escape.txt").path,
                    withDestinationPath: "/etc/hostname")
                try replacing(
                    "integrations/globex.yaml", globexApiSecret, "ApiSecret: ref+file://../secrets/escape.txt")(project)
            }, message: "outside the project root"),
        Case(
            name: "ref+sops through a symlink out of the project", arguments: ["plan"],
            damage: { project in
                try FileManager.default.createSymbolicLink(
                    atPath: project.root.appendingPathComponent("secrets/escape.enc.yaml").path,
                    withDestinationPath: "/etc/hostname")
                try replacing(
                    "integrations/globex.yaml", globexApiSecret, "ApiSecret: ref+sops://../secrets/escape.enc.yaml#/x")(
                        project)
            }, message: "outside the project root"),
        Case(name: "plan --out to a device", arguments: ["plan", "--out", "/dev/null"], message: "/dev/null"),
        Case(name: "plan --out to a directory", arguments: ["plan", "--out", "secrets"], message: "secrets"),
        // Secrets files that are damaged in ways that must be told apart.
        Case(
            name: "truncated before its metadata", arguments: ["plan"],
            damage: { project in
                try project.edit("secrets/globex.enc.yaml") { text in
                    String(text[..<text.range(of: "sops:")!.lowerBound])
                }
            }, message: "holds ENC[…] values but no sops metadata"),
        Case(
            name: "type changed by hand", arguments: ["plan"],
            damage: { project in
                try project.edit("secrets/globex.enc.yaml") { text in
                    let line = text.components(separatedBy: "\n").first { $0.hasPrefix("ApiLoginId: ENC[") }!
                    return text.replacingOccurrences(
                        of: line, with: line.replacingOccurrences(of: "type:str]", with: "type:int]"))
                }
            }, message: "the type was altered"),
        Case(
            name: "encrypting an encrypted file", arguments: ["secrets", "encrypt", "-i", "secrets/globex.enc.yaml"],
            message: "is already encrypted"),
        Case(
            name: "a set index that is not sops' syntax",
            arguments: ["secrets", "set", "secrets/globex.enc.yaml", "ApiLoginId", "\"x\""],
            message: "is not an index like"),
        Case(
            name: "an unfilled export placeholder", arguments: ["plan"],
            damage: { project in
                try writing("secrets/placeholder.yaml", "x: intops-export:FILL-ME\n")(project)
                #expect(try project.intopsSync(["secrets", "encrypt", "-i", "secrets/placeholder.yaml"]) == 0)
                try replacing(
                    "integrations/globex.yaml", globexApiSecret, "ApiSecret: ref+sops://../secrets/placeholder.yaml#/x")(
                        project)
            }, message: "still holds the placeholder intops export wrote"),
        Case(
            name: "export over a hand-written manifest",
            arguments: ["export", "--org", "globex-eu", "--out", "integrations"],
            damage: writing("integrations/globex-eu.yaml", "# mine\n"), message: "export writes new files only"),
        // Project values that say nothing.
        Case(
            name: "decimal parallelism in intops.yaml", arguments: ["plan"],
            damage: replacing("intops.yaml", "parallelism: 8", "parallelism: 2.5"), message: "a decimal number"),
        Case(
            name: "parallelism .nan in intops.yaml", arguments: ["plan"],
            damage: replacing("intops.yaml", "parallelism: 8", "parallelism: .nan"),
            message: "an infinite or undefined number"),
        Case(
            name: "negative timeout", arguments: ["plan"],
            damage: replacing("intops.yaml", "timeout: 30s", "timeout: -5s"), message: "timeout"),
        Case(
            name: "timeout without a unit", arguments: ["plan"],
            damage: replacing("intops.yaml", "timeout: 30s", "timeout: 30"), message: "timeout"),
        Case(
            name: "maxRequestsPerSecond text", arguments: ["plan"],
            damage: replacing("intops.yaml", "parallelism: 8", "parallelism: 8\n  maxRequestsPerSecond: fast"),
            message: "maxRequestsPerSecond"),
    ]

    @Test(arguments: cases) func eachBadInputIsOneClearLine(_ input: Case) async throws {
        let project = try await ExampleProject(.http)
        try input.damage(project)
        let result = try await project.intops(input.arguments, environment: input.environment)
        #expect(result.status == input.status, "\(input.name): \(result.status) \(result.stdout)\(result.stderr)")
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.contains(input.message), "\(input.name): \(result.stderr)")
        if input.status == 1 {
            #expect(result.stderr.split(separator: "\n").count == 1, "\(input.name): one line, got \(result.stderr)")
        }
        #expect(!result.stderr.contains("internal error"), "\(input.name)")
        #expect(try await project.requestCount() == 0, "\(input.name): no request reached the API")
    }

    @Test func theCorpusGrew() { #expect(Self.cases.count >= 40, "\(Self.cases.count) cases") }
}

import ConcurrencyToolkit
import Foundation
import IntegrationsAPI
import TestSupport
import Testing

/// Classes of defect found by trying intops as an attacker and a bad day would: each is checked end to end with the
/// built binary.
@Suite struct HardeningTests {
    /// Runs intops with its standard output a pipe whose reader has already gone.
    static func runWithClosedStdout(
        _ arguments: [String], in project: ExampleProject
    ) throws -> (status: Int32, stderr: String) {
        let process = SpawnedProcess()
        process.executableURL = try TestSupport.executable
        process.arguments = arguments
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(
            project.environment
        ) { $1 }
        process.currentDirectoryURL = project.root
        let output = Pipe(), errors = Pipe()
        try output.fileHandleForReading.close()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try output.fileHandleForWriting.close()
        let stderr = Data(errors.fileHandleForReading.readAllBytes())
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    @Test(arguments: [
        ["secrets", "decrypt", "secrets/acme-payments.enc.yaml"], ["state", "list"], ["plan"], ["version"],
    ]) func aClosedStandardOutputEndsQuietly(_ arguments: [String]) async throws {
        let project = try await ExampleProject(.sandbox)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let (status, stderr) = try Self.runWithClosedStdout(arguments, in: project)
        #expect(status == 0 || status == 2, "intops \(arguments.joined(separator: " ")): \(status) \(stderr)")
        #expect(!stderr.contains("internal error"), "\(stderr)")
    }

    @Test(arguments: ["abc", "0", "-1", "100000"]) func aBadParallelismIsAUsageError(_ value: String) async throws {
        let project = try await ExampleProject(.sandbox)
        let result = try await project.intops(["apply", "--auto-approve", "--parallelism", value])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: --parallelism takes a whole number from 1 to 256, not '\(value)'"))
        #expect(!FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".intops/state.json").path))
    }

    @Test func aTargetThatNamesNothingIsAnError() async throws {
        let project = try await ExampleProject(.sandbox)
        for command in [["plan"], ["apply", "--auto-approve"]] {
            let result = try await project.intops(command + ["--target", "no-such-entry"])
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("--target no-such-entry names no integration"), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".intops/state.json").path))
    }

    @Test func stateShowAndRemoveKeepToTheirOrganization() async throws {
        let project = try await ExampleProject(.sandbox)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let list = try await project.intops(["state", "list", "--org", "globex-eu"])
        #expect(list.status == 0)
        #expect(!list.stdout.isEmpty && !list.stdout.contains("acme-us/"), "\(list.stdout)")
        let elsewhere = try await project.intops([
            "state", "show", "acme-us/main-payment-gateway", "--org", "globex-eu",
        ])
        #expect(
            elsewhere.status == 1 && elsewhere.stderr.contains("the state records no integration"),
            "\(elsewhere.stderr)")
        let removed = try await project.intops(["state", "rm", "main-payment-gateway", "--org", "globex-eu"])
        #expect(removed.status == 1, "\(removed.stdout)")
        #expect(try await project.intops(["state", "show", "acme-us/main-payment-gateway"]).status == 0)
    }

    @Test func anUnreadableClockOverrideIsAUsageError() async throws {
        let project = try await ExampleProject(.sandbox)
        let result = try await project.intops(["drift"], environment: ["INTOPS_NOW": "yesterday"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("error: INTOPS_NOW is 'yesterday', not an RFC 3339 time"), "\(result.stderr)")
    }

    /// A libcrypto without the algorithms (here: only OpenSSL's base provider, as a locked-down configuration can
    /// leave it) stops every command before it does anything, with one line that carries libcrypto's error code.
    @Test(arguments: [["plan"], ["secrets", "decrypt", "secrets/acme-payments.enc.yaml"], ["secrets", "keygen"]])
    func aLibcryptoWithoutTheAlgorithmsIsAnErrorWithItsCode(_ arguments: [String]) async throws {
        let project = try await ExampleProject(.sandbox)
        let configuration = project.root.appendingPathComponent("openssl-base-only.cnf")
        try """
        openssl_conf = openssl_init
        [openssl_init]
        providers = provider_sect
        [provider_sect]
        base = base_sect
        [base_sect]
        activate = 1

        """.write(to: configuration, atomically: true, encoding: .utf8)
        let result = try await project.intops(arguments, environment: ["OPENSSL_CONF": configuration.path])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: libcrypto could not perform "), "\(result.stderr)")
        #expect(result.stderr.contains("(error 0x"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".intops/state.json").path))
    }

    /// A file reference is a regular file inside the project for every command, as validate says.
    @Test func referencedFilesAreRegularFilesInsideTheProjectForEveryCommand() async throws {
        let project = try await ExampleProject(.sandbox)
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID().uuidString)")
        try "stolen-canary-value".write(to: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.createSymbolicLink(
            at: project.root.appendingPathComponent("secrets/link.txt"), withDestinationURL: outside)
        try FileManager.default.createDirectory(
            at: project.root.appendingPathComponent("secrets/a-directory"), withIntermediateDirectories: true)
        let manifest = try String(contentsOf: project.root.appendingPathComponent("intops.yaml"), encoding: .utf8)
        for (target, expected) in [
            ("ref+file://secrets/link.txt", "resolves outside the project root through a symbolic link"),
            ("ref+file://secrets/a-directory", "cannot be read: it is a directory"),
        ] {
            // The fingerprint key is a reference every command resolves first.
            let edited = manifest.replacingOccurrences(
                of: manifest.components(separatedBy: "\n").first { $0.hasPrefix("fingerprintKey:") }
                    ?? "fingerprintKey:", with: "fingerprintKey: \(target)")
            try edited.write(to: project.root.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
            for command in [["validate", "--offline"], ["plan"], ["apply", "--auto-approve"]] {
                let result = try await project.intops(command)
                #expect(result.status == 1, "\(command): \(result.stdout)\(result.stderr)")
                #expect(result.stderr.contains(expected), "\(command): \(result.stderr)")
                #expect(!(result.stdout + result.stderr).contains("stolen-canary-value"))
            }
        }
    }

    /// An output path that is not a regular file is refused, never replaced.
    @Test func outputFilesAreNeverWrittenOverSomethingElse() async throws {
        let project = try await ExampleProject(.sandbox)
        let fifo = project.root.appendingPathComponent("a-fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createDirectory(
            at: project.root.appendingPathComponent("a-directory"), withIntermediateDirectories: true)
        for (out, what) in [("a-fifo", "not a regular file"), ("a-directory", "a directory")] {
            let result = try await project.intops(["plan", "--out", out])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains("it is \(what), and intops writes only regular files"), "\(result.stderr)")
        }
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the FIFO is still a FIFO")
    }

    /// The all-zero X25519 point, which every scalar maps to zero, and an age1 key with a broken checksum.
    static let lowOrderRecipient = "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z"
    static let badChecksumRecipient = "age10atkt3rpatl9g8934enx393ld53fjz8h95wtg356a594qlz7y9dsqdeyrq"

    /// A recipient no file key can be wrapped to is refused wherever it is read: intops.yaml (validate, and the
    /// commands that encrypt to it), --age and SOPS_AGE_RECIPIENTS. It used to crash encrypt and pass validate.
    @Test func unusableAgeRecipientsAreRefusedWhereverTheyAreRead() async throws {
        let project = try await ExampleProject(.sandbox)
        try "a: 1\n".write(to: project.root.appendingPathComponent("plain.yaml"), atomically: true, encoding: .utf8)
        for (recipient, expected) in [
            (Self.lowOrderRecipient, "is a low-order point"), (Self.badChecksumRecipient, "with a valid checksum"),
        ] {
            let given = try await project.intops(["secrets", "encrypt", "--age", recipient, "plain.yaml"])
            #expect(given.status == 1 && given.stderr.contains(expected), "--age: \(given.stderr)")
            #expect(!given.stderr.contains("internal error"))
            // Outside a project, SOPS_AGE_RECIPIENTS names the recipients (inside, intops.yaml's come first).
            let elsewhere = try TestSupport.copy(project.root.appendingPathComponent("integrations"))
            defer { try? FileManager.default.removeItem(at: elsewhere) }
            try "a: 1\n".write(to: elsewhere.appendingPathComponent("plain.yaml"), atomically: true, encoding: .utf8)
            let fromEnvironment = try await TestSupport.runProcess(
                ["secrets", "encrypt", "plain.yaml"], in: elsewhere, environment: ["SOPS_AGE_RECIPIENTS": recipient])
            #expect(fromEnvironment.status == 1, "\(fromEnvironment.stdout)")
            #expect(fromEnvironment.stderr.contains(expected), "SOPS_AGE_RECIPIENTS: \(fromEnvironment.stderr)")
        }
        let original = try String(contentsOf: project.root.appendingPathComponent("intops.yaml"), encoding: .utf8)
        for (recipient, expected) in [
            (Self.lowOrderRecipient, "is a low-order point"), (Self.badChecksumRecipient, "with a valid checksum"),
        ] {
            try original.replacingOccurrences(
                of: "age10atkt3rpatl9g8934enx393ld53fjz8h95wtg356a594qlz7y9dsqdeyra", with: recipient
            ).write(to: project.root.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
            let validate = try await project.intops(["validate", "--offline"])
            #expect(validate.status == 1, "\(validate.stdout)\(validate.stderr)")
            #expect(validate.stderr.contains("intops.yaml:30:5: error: recipient '\(recipient)'"), "\(validate.stderr)")
            #expect(validate.stderr.contains(expected), "\(validate.stderr)")
        }
    }

    /// A SIGKILL between the temporary file and its rename leaves a whole-state copy; the next run that writes the
    /// state removes it, and leaves a fresh one (another process's write in flight) alone.
    @Test func leftoverStateCopiesAreRemovedByTheNextRun() async throws {
        let project = try await ExampleProject(.sandbox)
        let folder = project.root.appendingPathComponent(".intops")
        let stale = folder.appendingPathComponent(".intops-tmp-AbC123").path
        let fresh = folder.appendingPathComponent(".intops-tmp-XyZ789").path
        #expect(FileManager.default.createFile(atPath: stale, contents: Data("{}".utf8)))
        #expect(FileManager.default.createFile(atPath: fresh, contents: Data("{}".utf8)))
        var old = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, stale, &old, 0) == 0)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: stale), "the stale copy is removed")
        #expect(FileManager.default.fileExists(atPath: fresh), "a fresh one may be another run's write in flight")
    }

    /// An API that echoes each write (headers and body, plain and encoded) into its error: nothing intops prints
    /// holds a secret or a token, in any form an attacker could decode.
    @Test func errorBodiesThatEchoTheRequestAreRedacted() async throws {
        let project = try await ExampleProject(.http, emulatorArguments: ["--echo-writes"])
        var canaries = ["token-acme", "token-globex"]
        for file in ["acme-payments", "acme-backoffice", "globex"] {
            let decrypted = try await project.intops(["secrets", "decrypt", "secrets/\(file).enc.yaml"])
            #expect(decrypted.status == 0, "\(decrypted.stderr)")
            for line in decrypted.stdout.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let value = line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
                if value.count >= 6 { canaries.append(value) }
            }
        }
        #expect(canaries.count >= 8, "\(canaries.count)")
        for arguments in [["apply", "--auto-approve"], ["apply", "--auto-approve", "--verbose"]] {
            let result = try await project.intops(arguments)
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            let output = result.stdout + result.stderr
            #expect(output.contains("failed with 400 Bad Request: could not process POST"), "\(output)")
            #expect(output.contains("(redacted)"), "the echo is shown, cleaned: \(output)")
            for canary in canaries {
                #expect(!LeakScanner.decodings(of: output).contains { $0.contains(canary) }, "\(canary) leaked")
            }
        }
    }
}

/// Every reading of a text an attacker would try: as printed, percent-decoded, and each run of base64 or hex
/// characters decoded at every alignment.
enum LeakScanner {
    static func decodings(of text: String) -> [String] {
        var readings = [text, text.removingPercentEncoding ?? text]
        let base64 = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
        for run in runs(of: text, in: base64) {
            let standard = run.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            for skip in 0..<4 {
                var part = String(standard.dropFirst(skip))
                part = String(part.prefix(part.count - part.count % 4))
                if let data = Data(base64Encoded: part) { readings.append(String(decoding: data, as: UTF8.self)) }
            }
        }
        for run in runs(of: text, in: Set("0123456789abcdefABCDEF")) {
            for skip in 0..<2 {
                let digits = Array(run.dropFirst(skip))
                let bytes = stride(from: 0, to: digits.count - 1, by: 2).compactMap {
                    UInt8(String(digits[$0...$0 + 1]), radix: 16)
                }
                readings.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        return readings
    }

    private static func runs(of text: String, in alphabet: Set<Character>) -> [String] {
        var runs: [String] = []
        var current = ""
        for character in text + " " {
            if alphabet.contains(character) {
                current.append(character)
            } else {
                if current.count >= 8 { runs.append(current) }
                current = ""
            }
        }
        return runs
    }
}

extension HardeningTests {
    /// Renaming an entry and moving its state record with it keeps its secrets' standing: nothing to rotate.
    @Test func stateMoveKeepsTheSecretsStanding() async throws {
        let project = try await ExampleProject(.sandbox)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        try project.edit("integrations/acme-payments.yaml") {
            $0.replacingOccurrences(of: "name: main-payment-gateway", with: "name: card-gateway")
        }
        let move = try await project.intops(["state", "mv", "acme-us/main-payment-gateway", "acme-us/card-gateway"])
        #expect(move.status == 0, "\(move.stderr)")
        let plan = try await project.plan()
        #expect(plan.actions.isEmpty && plan.status == 0, "\(plan.actions) \(plan.output.stderr)")
    }
}

extension HardeningTests {
    /// An organization that cannot be read is an error beside the plan of the others, on stderr; the plan goes
    /// to stdout, and apply refuses the whole of it.
    @Test func oneOrganizationsErrorShowsTheOthersPlan() async throws {
        let project = try await ExampleProject(.http)
        let wrong = ["INTOPS_TOKEN_ACME_US": "wrong-token-canary"]
        let plan = try await project.intops(["plan"], environment: wrong)
        #expect(plan.status == 1)
        #expect(plan.stdout.contains("globex-eu/eu-newsletter will be created"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("acme-us") && !plan.stdout.contains("error"), "\(plan.stdout)")
        #expect(
            plan.stderr.contains("error: organization acme-us could not be read, so nothing of it is planned"),
            "\(plan.stderr)")
        let apply = try await project.intops(["apply", "--auto-approve"], environment: wrong)
        #expect(apply.status == 1)
        #expect(try await project.liveCount() == 0, "nothing is applied while part of the plan is unknown")
    }

    /// A plan with only errors says no "No changes." beside them.
    @Test func noChangesIsNotClaimedBesideAnError() async throws {
        let project = try await ExampleProject(.http)
        let plan = try await project.intops(
            ["plan"], environment: ["INTOPS_TOKEN_ACME_US": "wrong", "INTOPS_TOKEN_GLOBEX_EU": "wrong-too"])
        #expect(plan.status == 1)
        #expect(!plan.stdout.contains("No changes"), "\(plan.stdout)")
    }
}

extension HardeningTests {
    /// A configuration key set out of band, which the API cannot remove in place, is drift; the plan's error says
    /// what to do.
    @Test func aConfigurationKeyAddedOutOfBandIsDrift() async throws {
        let project = try await ExampleProject(.http)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        let transport = try URLSessionTransport(baseURL: project.emulator!.baseURL)
        let client = IntegrationsClient(transport: transport, credentials: ["globex-eu": .bearer("token-globex")])
        let newsletter = try #require(
            try await client.list(organization: "globex-eu").first { $0.displayName == "Newsletter" })
        _ = try await client.update(
            organization: "globex-eu", id: newsletter.integrationId,
            UpdateIntegrationRequest(configuration: ["FromName": "Set By Hand"]))
        let drift = try await project.intops(["drift", "--org", "globex-eu"])
        #expect(drift.status == 2, "\(drift.stdout)\(drift.stderr)")
        #expect(drift.stdout.contains("globex-eu/eu-newsletter: changed"), "\(drift.stdout)")
        #expect(drift.stdout.contains("configuration.FromName: live has it, the manifest does not"), "\(drift.stdout)")
        let plan = try await project.intops(["plan", "--org", "globex-eu"])
        #expect(plan.status == 1)
        #expect(
            plan.stderr.contains("add it to the manifest's configuration to keep it, or run with --allow-replace"),
            "\(plan.stderr)")
    }
}

extension HardeningTests {
    /// A rotation whose test fails has still put the new credential live: the summary says so, not "nothing
    /// changed".
    @Test func aFailedRotationSaysWhatItChanged() async throws {
        let project = try await ExampleProject(.http)
        #expect(try await project.intops(["apply", "--auto-approve"]).status == 0)
        _ = try await project.intops(
            ["secrets", "edit", "secrets/globex.enc.yaml"],
            environment: ["EDITOR": "sed -i s/SG.demo-globex-key/invalid-new-key/"])
        let apply = try await project.intops(["apply", "--auto-approve"])
        #expect(apply.status == 1)
        #expect(apply.stderr.contains("(what it changed before failing is live)"), "\(apply.stderr)")
        #expect(!apply.stdout.contains("nothing changed"), "\(apply.stdout)")
        #expect(apply.stdout.contains("1 changed, then failed (the change is live)"), "\(apply.stdout)")
    }
}

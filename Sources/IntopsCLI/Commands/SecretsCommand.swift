import Foundation
import Reconciler
import SOPS

#if canImport(Glibc)
import Glibc
#endif

/// `intops secrets keygen | encrypt | decrypt | edit | updatekeys`.
enum SecretsCommand {
    static let spec = CommandSpec(
        name: "secrets", summary: "Create age identities and read or write SOPS files, like age-keygen and sops.",
        arguments: "keygen|encrypt|decrypt|edit|updatekeys [FILE]", positionalCount: 1...2,
        options: [
            OptionSpec(name: "out", kind: .value(placeholder: "FILE"), help: "keygen: write the identity to FILE (mode 0600)."),
            OptionSpec(name: "age", kind: .repeated(placeholder: "RECIPIENT"), help: "encrypt/updatekeys: an age recipient (default: the project's recipients)."),
            OptionSpec(name: "in-place", short: "i", help: "encrypt/decrypt: replace FILE instead of printing."),
            OptionSpec(name: "ignore-mac", help: "decrypt: do not verify the MAC (recovery only)."),
            OptionSpec(name: "encrypted-regex", kind: .value(placeholder: "REGEX"), help: "encrypt: only keys matching REGEX are encrypted."),
            OptionSpec(name: "unencrypted-regex", kind: .value(placeholder: "REGEX"), help: "encrypt: keys matching REGEX stay clear."),
            OptionSpec(name: "encrypted-suffix", kind: .value(placeholder: "SUFFIX"), help: "encrypt: only keys ending in SUFFIX are encrypted."),
            OptionSpec(name: "unencrypted-suffix", kind: .value(placeholder: "SUFFIX"), help: "encrypt: keys ending in SUFFIX stay clear (default _unencrypted)."),
            OptionSpec(name: "mac-only-encrypted", help: "encrypt: the MAC covers encrypted values only."),
        ],
        discussion: """
            Identities come from SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and ~/.config/sops/age/keys.txt, as sops finds them.
            The file format follows the extension: .yaml/.yml, .json, .env, anything else as binary.
            edit opens $VISUAL or $EDITOR on a 0600 copy in a private directory and removes it on every way out.
            """,
        run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let arguments = invocation.arguments
        let subcommand = arguments.positionals[0]
        let file = arguments.positionals.count > 1
            ? ProjectPaths.resolve(arguments.positionals[1], from: invocation.global.directory) : nil
        func fail(_ message: String) -> Int32 {
            console.err(Style.red("error:", console.colorError) + " " + message)
            return ExitCode.failure
        }
        func requireFile() -> String? {
            if file == nil { console.err("error: intops secrets \(subcommand) needs a FILE") }
            return file
        }
        func keyring() -> SOPSKeyring? {
            do {
                let found = try SOPSKeyring.fromEnvironment(invocation.environment)
                for warning in found.warnings { console.err(Style.yellow("warning:", console.colorError) + " " + warning) }
                return found
            } catch {
                _ = fail("the age identity \(error)")
                return nil
            }
        }
        do {
            switch subcommand {
            case "keygen":
                let out = arguments.value("out").map { ProjectPaths.resolve($0, from: invocation.global.directory) }
                let (identity, text) = try SecretFiles.keygen(to: out)
                if out == nil { console.writeOutput(text) }
                console.err("Public key: \(identity.recipient)")
                return ExitCode.success
            case "encrypt":
                guard let file = requireFile() else { return ExitCode.usage }
                let recipients = try SecretFiles.recipients(
                    given: arguments.all("age"), project: try? currentProject(invocation), environment: invocation.environment)
                let sealed = try SecretFiles.encrypt(
                    file: file, recipients: recipients, rule: try rule(arguments),
                    macOnlyEncrypted: arguments.flag("mac-only-encrypted"))
                if arguments.flag("in-place") {
                    try write(sealed, to: file)
                } else {
                    console.writeOutput(String(decoding: sealed, as: UTF8.self))
                }
                return ExitCode.success
            case "decrypt":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                var plain = try SecretFiles.decrypt(file: file, keyring: keyring, ignoreMAC: arguments.flag("ignore-mac"))
                defer { _ = plain.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
                if arguments.flag("in-place") {
                    try write(plain, to: file)
                } else {
                    console.writeOutput(String(decoding: plain, as: UTF8.self))
                }
                return ExitCode.success
            case "updatekeys":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                let recipients = try SecretFiles.recipients(
                    given: arguments.all("age"), project: try? currentProject(invocation), environment: invocation.environment)
                try SecretFiles.updateKeys(file: file, keyring: keyring, recipients: recipients)
                if !invocation.global.quiet {
                    console.err("\(ProjectPaths.display(file, relativeTo: invocation.workingDirectory)): data key wrapped for \(recipients.count) recipient(s)")
                }
                return ExitCode.success
            case "edit":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                let editor = invocation.environment["VISUAL"].flatMap { $0.isEmpty ? nil : $0 }
                    ?? invocation.environment["EDITOR"].flatMap { $0.isEmpty ? nil : $0 } ?? "vi"
                let changed = try SecretFiles.edit(file: file, keyring: keyring, editor: editor) { editor, path in
                    try runEditor(editor, path, environment: invocation.environment)
                }
                if !invocation.global.quiet {
                    console.err(changed ? "re-encrypted \(ProjectPaths.display(file, relativeTo: invocation.workingDirectory))" : "no change")
                }
                return ExitCode.success
            default:
                console.err("error: unknown secrets subcommand '\(subcommand)'; use keygen, encrypt, decrypt, edit or updatekeys")
                return ExitCode.usage
            }
        } catch {
            // Messages name the file as the user wrote it, relative to where intops was started.
            var message = "\(error)"
            if let file { message = message.replacingOccurrences(of: file, with: ProjectPaths.display(file, relativeTo: invocation.workingDirectory)) }
            return fail(message)
        }
    }

    static func rule(_ arguments: ParsedArguments) throws -> SelectionRule {
        let given: [SelectionRule] = [
            arguments.value("encrypted-regex").map { .encryptedRegex($0) },
            arguments.value("unencrypted-regex").map { .unencryptedRegex($0) },
            arguments.value("encrypted-suffix").map { .encryptedSuffix($0) },
            arguments.value("unencrypted-suffix").map { .unencryptedSuffix($0) },
        ].compactMap { $0 }
        guard given.count <= 1 else { throw SecretFileError("give at most one of --encrypted-regex, --unencrypted-regex, --encrypted-suffix, --unencrypted-suffix") }
        return given.first ?? .default
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw SecretFileError(error.description)
        }
    }

    static func currentProject(_ invocation: Invocation) throws -> Project {
        try ProjectLoader.loadProject(file: ProjectLoader.locate(from: invocation.global.directory))
    }

    /// Runs the editor with the terminal, as sops does, through the shell so that `EDITOR="code --wait"` works.
    static func runEditor(_ editor: String, _ path: String, environment: [String: String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(editor) \"$1\"", "intops-edit", path]
        process.environment = environment
        process.standardInput = FileHandle.standardInput
        process.standardOutput = FileHandle.standardOutput
        process.standardError = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// `intops init`.
enum InitCommand {
    static let spec = CommandSpec(
        name: "init", summary: "Create intops.yaml, an age identity if none exists, and the encrypted fingerprint key.",
        run: { invocation in
            let console = invocation.console
            do {
                let report = try ProjectInitializer.run(in: invocation.global.directory, environment: invocation.environment)
                for warning in report.warnings { console.err(Style.yellow("warning:", console.colorError) + " " + warning) }
                let show = { (path: String) in ProjectPaths.display(path, relativeTo: invocation.workingDirectory) }
                if let identity = report.newIdentityFile {
                    console.out("created the age identity \(identity) (mode 0600); back it up, it decrypts every secret")
                }
                console.out("created \(show(report.projectFile)) with recipient \(report.recipient)")
                console.out("created \(show(report.fingerprintKeyFile)) (32 random bytes, encrypted)")
                console.out("next: add organizations and manifests under integrations/, then intops validate")
                return ExitCode.success
            } catch {
                console.err(Style.red("error:", console.colorError) + " \(error)")
                return ExitCode.failure
            }
        })
}

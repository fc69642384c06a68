import Foundation
import Reconciler

/// `intops secrets keygen | encrypt | decrypt | edit | updatekeys`.
enum SecretsCommand {
    static let out = OptionSpec.value("out", "FILE", "keygen: write the identity to FILE (mode 0600).")
    static let age = OptionSpec.repeated(
        "age", "RECIPIENT",
        "encrypt/updatekeys: an age recipient (default: the .sops.yaml creation rule, else the project's recipients).")
    static let inPlace = OptionSpec.flag("in-place", short: "i", "encrypt/decrypt: replace FILE instead of printing.")
    static let ignoreMAC = OptionSpec.flag("ignore-mac", "decrypt: do not verify the MAC (recovery only).")
    static let encryptedRegex = OptionSpec.value(
        "encrypted-regex", "REGEX", "encrypt: only keys matching REGEX are encrypted.")
    static let unencryptedRegex = OptionSpec.value(
        "unencrypted-regex", "REGEX", "encrypt: keys matching REGEX stay clear.")
    static let encryptedSuffix = OptionSpec.value(
        "encrypted-suffix", "SUFFIX", "encrypt: only keys ending in SUFFIX are encrypted.")
    static let unencryptedSuffix = OptionSpec.value(
        "unencrypted-suffix", "SUFFIX", "encrypt: keys ending in SUFFIX stay clear (default _unencrypted).")
    static let macOnlyEncrypted = OptionSpec.flag(
        "mac-only-encrypted", "encrypt: the MAC covers encrypted values only.")

    static let spec = CommandSpec(
        name: "secrets", summary: "Create age identities and read or write SOPS files, like age-keygen and sops.",
        arguments: "keygen|encrypt|decrypt|edit|updatekeys [FILE]", positionalCount: 1...2,
        options: [
            out, age, inPlace, ignoreMAC, encryptedRegex, unencryptedRegex, encryptedSuffix, unencryptedSuffix,
            macOnlyEncrypted,
        ],
        discussion: """
            Identities come from SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and ~/.config/sops/age/keys.txt, as sops finds them.
            The file format follows the extension: .yaml/.yml, .json, .env, anything else as binary.
            edit opens $VISUAL or $EDITOR on a 0600 copy in a private directory and removes it on every way out.
            """, run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let arguments = invocation.arguments
        let subcommand = arguments.positionals[0]
        let file =
            arguments.positionals.count > 1
            ? ProjectPaths.resolve(arguments.positionals[1], from: invocation.global.directory) : nil
        // Messages name the file as the user wrote it, relative to where intops was started.
        let shown = file.map(invocation.display)
        func fail(_ message: String) -> Int32 {
            invocation.error(message)
            return ExitCode.failure
        }
        func requireFile() -> String? {
            if file == nil { invocation.usage(UsageError(message: "intops secrets \(subcommand) needs a FILE")) }
            return file
        }
        func keyring() -> SecretIdentities? {
            do throws(SecretFileError) {
                let found = try SecretFiles.identities(environment: invocation.environment)
                for warning in found.warnings { invocation.warning(warning) }
                return found
            } catch {
                _ = fail(error.description)
                return nil
            }
        }
        do throws(SecretFileError) {
            switch subcommand {
            case "keygen":
                let out = arguments.value(out).map { ProjectPaths.resolve($0, from: invocation.global.directory) }
                let (identity, text) = try SecretFiles.keygen(to: out)
                if out == nil { console.writeOutput(text) }
                console.err("Public key: \(identity.recipient)")
                return ExitCode.success
            case "encrypt":
                guard let file = requireFile() else { return ExitCode.usage }
                let keys = try EncryptionKeys.forNewFile(
                    file, given: arguments.all(age), rule: rule(arguments),
                    macOnlyEncrypted: arguments.flag(macOnlyEncrypted), project: try? invocation.engine.loadProject(),
                    environment: invocation.environment)
                for warning in keys.warnings { invocation.warning(warning) }
                let sealed = try SecretFiles.encrypt(file: file, named: shown, keys: keys)
                if arguments.flag(inPlace) {
                    try SecretFiles.write(sealed, to: file, shown: shown)
                } else {
                    console.writeOutput(String(decoding: sealed, as: UTF8.self))
                }
                return ExitCode.success
            case "decrypt":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                var plain = try SecretFiles.decrypt(
                    file: file, named: shown, identities: keyring, ignoreMAC: arguments.flag(ignoreMAC))
                defer { _ = plain.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
                if arguments.flag(inPlace) {
                    try SecretFiles.write(plain, to: file, shown: shown)
                } else {
                    console.writeOutput(String(decoding: plain, as: UTF8.self))
                }
                return ExitCode.success
            case "updatekeys":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                let keys = try EncryptionKeys.forNewFile(
                    file, given: arguments.all(age), rule: EncryptionRule(), macOnlyEncrypted: false,
                    project: try? invocation.engine.loadProject(), environment: invocation.environment)
                for warning in keys.warnings { invocation.warning(warning) }
                guard keys.groups.count == 1 else {
                    return fail(
                        "\(keys.origin) has \(keys.groups.count) key groups; intops re-wraps files of one group, use sops updatekeys for this one"
                    )
                }
                let recipients = keys.groups[0]
                try SecretFiles.updateKeys(file: file, named: shown, identities: keyring, recipients: recipients)
                if !invocation.global.quiet {
                    console.err("\(invocation.display(file)): data key wrapped for \(recipients.count) recipient(s)")
                }
                return ExitCode.success
            case "edit":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                let editor =
                    invocation.environment["VISUAL"].flatMap { $0.isEmpty ? nil : $0 } ?? invocation.environment[
                        "EDITOR"
                    ].flatMap { $0.isEmpty ? nil : $0 } ?? "vi"
                let changed = try await SecretFiles.edit(
                    file: file, named: shown, identities: keyring, editor: editor, environment: invocation.environment)
                if !invocation.global.quiet {
                    console.err(changed ? "re-encrypted \(invocation.display(file))" : "no change")
                }
                return ExitCode.success
            default:
                invocation.usage(
                    UsageError(
                        message:
                            "unknown secrets subcommand '\(subcommand)'; use keygen, encrypt, decrypt, edit or updatekeys"
                    ))
                return ExitCode.usage
            }
        } catch { return fail(error.description) }
    }

    static func rule(_ arguments: ParsedArguments) -> EncryptionRule {
        EncryptionRule(
            encryptedRegex: arguments.value(encryptedRegex), unencryptedRegex: arguments.value(unencryptedRegex),
            encryptedSuffix: arguments.value(encryptedSuffix), unencryptedSuffix: arguments.value(unencryptedSuffix))
    }
}

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
    static let extract = OptionSpec.value(
        "extract", "INDEX", "decrypt: print only the value at INDEX, in sops' syntax: '[\"key\"][0]'.")
    static let valueFile = OptionSpec.value("value-file", "FILE", "set: read the JSON value from FILE.")
    static let valueStdin = OptionSpec.flag("value-stdin", "set: read the JSON value from standard input.")

    static let spec = CommandSpec(
        name: "secrets", summary: "Create age identities and read or write SOPS files, like age-keygen and sops.",
        arguments:
            "keygen|encrypt|decrypt|edit|updatekeys|rotate|filestatus [FILE] | set FILE INDEX [VALUE] | unset FILE INDEX | exec-env|exec-file FILE COMMAND",
        positionalCount: 1...4,
        options: [
            out, age, inPlace, ignoreMAC, encryptedRegex, unencryptedRegex, encryptedSuffix, unencryptedSuffix,
            macOnlyEncrypted, extract, valueFile, valueStdin,
        ],
        discussion: """
            Identities come from SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and ~/.config/sops/age/keys.txt, as sops finds them.
            The file format follows the extension: .yaml/.yml, .json, .env, anything else as binary.
            edit opens $VISUAL or $EDITOR on a 0600 copy in a private directory and removes it on every way out.
            INDEX is sops' syntax, '["key"]["nested"][0]'; set takes VALUE as JSON ('"text"', 5, {"a": 1}).
            exec-env runs COMMAND with sh -c and the file's top-level values as environment variables; exec-file
            replaces {} in COMMAND with the path of a 0600 decrypted copy, removed when COMMAND ends.
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
        // FILE alone, except for the verbs that take an index, a value or a command after it.
        let takesMore = ["set": 4, "unset": 3, "exec-env": 3, "exec-file": 3]
        if arguments.positionals.count > (takesMore[subcommand] ?? 2) {
            invocation.usage(
                UsageError(
                    message:
                        "intops secrets \(subcommand) takes \(takesMore[subcommand].map { "at most \($0 - 1)" } ?? "one") argument\(takesMore[subcommand] == nil ? "" : "s") after the subcommand"
                ))
            return ExitCode.usage
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
                if let index = arguments.value(extract) {
                    var value = try SecretFiles.extract(
                        file: file, named: shown, identities: keyring, index: index,
                        ignoreMAC: arguments.flag(ignoreMAC))
                    defer { zero(&value) }
                    console.writeOutput(String(decoding: value, as: UTF8.self))
                    return ExitCode.success
                }
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
                let recipients = try keys.singleGroup(
                    instead: "intops re-wraps files of one group, use sops updatekeys for this one")
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
            case "filestatus":
                guard let file = requireFile() else { return ExitCode.usage }
                let encrypted = try SecretFiles.isEncrypted(file: file, named: shown)
                console.writeOutput("{\"encrypted\":\(encrypted)}\n")
                return ExitCode.success
            case "rotate":
                guard let file = requireFile() else { return ExitCode.usage }
                guard let keyring = keyring() else { return ExitCode.failure }
                try SecretFiles.rotate(file: file, named: shown, identities: keyring)
                if !invocation.global.quiet { console.err("\(invocation.display(file)): a new data key, same values") }
                return ExitCode.success
            case "set", "unset":
                guard let file = requireFile() else { return ExitCode.usage }
                let positionals = arguments.positionals
                let fromFile = arguments.value(valueFile), fromStdin = arguments.flag(valueStdin)
                let valueCount = subcommand == "unset" ? 0 : (fromFile == nil && !fromStdin ? 1 : 0)
                guard positionals.count == 3 + valueCount, subcommand == "set" || (fromFile == nil && !fromStdin),
                    !(fromFile != nil && fromStdin)
                else {
                    invocation.usage(
                        UsageError(
                            message: subcommand == "set"
                                ? "intops secrets set takes FILE INDEX VALUE, or FILE INDEX with one of --value-file and --value-stdin"
                                : "intops secrets unset takes FILE INDEX"))
                    return ExitCode.usage
                }
                guard let keyring = keyring() else { return ExitCode.failure }
                if subcommand == "unset" {
                    try SecretFiles.unset(file: file, named: shown, identities: keyring, index: positionals[2])
                    return ExitCode.success
                }
                var json: [UInt8]
                if let fromFile {
                    let path = ProjectPaths.resolve(fromFile, from: invocation.global.directory)
                    guard let data = FileManager.default.contents(atPath: path) else {
                        return fail("\(invocation.display(path)) cannot be read")
                    }
                    json = Array(data)
                } else if fromStdin {
                    json = Array(FileHandle.standardInput.readDataToEndOfFile())
                } else {
                    json = Array(positionals[3].utf8)
                }
                defer { zero(&json) }
                try SecretFiles.set(file: file, named: shown, identities: keyring, index: positionals[2], json: json)
                return ExitCode.success
            case "exec-env", "exec-file":
                guard let file = requireFile() else { return ExitCode.usage }
                guard arguments.positionals.count == 3 else {
                    invocation.usage(UsageError(message: "intops secrets \(subcommand) takes FILE COMMAND"))
                    return ExitCode.usage
                }
                guard let keyring = keyring() else { return ExitCode.failure }
                let command = arguments.positionals[2]
                let status =
                    subcommand == "exec-env"
                    ? try await SecretFiles.execEnv(
                        file: file, named: shown, identities: keyring, command: command,
                        environment: invocation.environment)
                    : try await SecretFiles.execFile(
                        file: file, named: shown, identities: keyring, command: command,
                        environment: invocation.environment)
                return status
            default:
                invocation.usage(
                    UsageError(
                        message:
                            "unknown secrets subcommand '\(subcommand)'; use keygen, encrypt, decrypt, edit, updatekeys, rotate, filestatus, set, unset, exec-env or exec-file"
                    ))
                return ExitCode.usage
            }
        } catch { return fail(error.description) }
    }

    /// Plaintext bytes are overwritten before they are freed.
    static func zero(_ bytes: inout [UInt8]) {
        _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    static func rule(_ arguments: ParsedArguments) -> EncryptionRule {
        EncryptionRule(
            encryptedRegex: arguments.value(encryptedRegex), unencryptedRegex: arguments.value(unencryptedRegex),
            encryptedSuffix: arguments.value(encryptedSuffix), unencryptedSuffix: arguments.value(unencryptedSuffix))
    }
}

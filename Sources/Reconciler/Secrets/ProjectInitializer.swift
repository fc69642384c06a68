import Age
import CryptoPrimitives
import Foundation
import SOPS

/// `intops init`: a new project with its age identity, recipients and encrypted fingerprint key.
public enum ProjectInitializer {
    public struct Report: Sendable {
        public var projectFile: String
        public var fingerprintKeyFile: String
        /// Set when intops wrote the project's `.sops.yaml` (an existing one is left as it is).
        public var sopsConfigFile: String?
        /// Set when a new identity was written.
        public var newIdentityFile: String?
        public var recipient: String
        public var warnings: [String]
    }

    public static func run(
        in directory: String, environment: [String: String], now: Date = Date()
    ) throws(SecretFileError) -> Report {
        let projectFile = directory + "/intops.yaml"
        guard !FileManager.default.fileExists(atPath: projectFile) else {
            throw SecretFileError("\(projectFile) already exists; intops init never overwrites a project")
        }
        var keyring: SOPSKeyring
        do { keyring = try SOPSKeyring.fromEnvironment(environment) } catch {
            throw SecretFileError("the age identity \(error)")
        }
        var newIdentityFile: String?
        var identity = keyring.identities.compactMap { $0 as? X25519Identity }.first
        if identity == nil {
            let home = environment["HOME"] ?? NSHomeDirectory()
            let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
            let path =
                environment["SOPS_AGE_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? config + "/sops/age/keys.txt"
            identity = try SecretFiles.keygen(to: path, now: now).identity
            newIdentityFile = path
        }
        let recipient = identity!.recipient

        let keyFile = directory + "/.intops/fingerprint-key.enc.yaml"
        let sopsConfigFile = directory + "/" + SOPSCreationRules.fileName
        var wroteSopsConfig = false
        var key: [UInt8]
        do { key = try SecureRandom.bytes(32) } catch { throw SecretFileError("\(error)") }
        defer { secureZero(&key) }
        do {
            try FileManager.default.createDirectory(atPath: directory + "/.intops", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                atPath: directory + "/integrations", withIntermediateDirectories: true)
            let document = SOPSValue.mapping([SOPSEntry(key: "key", value: .scalar(.string(key.hex)))])
            try AtomicFile.write(
                try SOPS.encrypt([document], format: .yaml, recipients: [recipient], now: now), to: keyFile, mode: 0o644
            )
            if !FileManager.default.fileExists(atPath: sopsConfigFile) {
                try AtomicFile.write(
                    Array(sopsConfigText(recipient: recipient.description).utf8), to: sopsConfigFile, mode: 0o644)
                wroteSopsConfig = true
            }
            try AtomicFile.write(
                Array(projectText(recipient: recipient.description).utf8), to: projectFile, mode: 0o644)
        } catch { throw SecretFileError("\(error)") }
        return Report(
            projectFile: projectFile, fingerprintKeyFile: keyFile,
            sopsConfigFile: wroteSopsConfig ? sopsConfigFile : nil, newIdentityFile: newIdentityFile,
            recipient: recipient.description, warnings: keyring.warnings)
    }

    /// A `.sops.yaml` whose one rule covers every file of the project, so that plain `sops -e` and `sops edit`
    /// encrypt to the same recipient as intops.
    static func sopsConfigText(recipient: String) -> String {
        """
        # Created by intops init. sops and intops secrets encrypt both read these rules for a new file: the first
        # whose path_regex matches the file's path (relative to this folder) decides whom it is encrypted to.
        creation_rules:
          - path_regex: .*
            age: \(recipient)

        """
    }

    static func projectText(recipient: String) -> String {
        """
        # yaml-language-server: $schema=https://intops.dev/schemas/project.schema.json
        # Created by intops init. Point api.url at https://api.achievemomentum.com and set each organization's
        # token to manage the live API; sandbox: runs the emulator inside intops.
        apiVersion: intops/v1
        kind: Project
        api:
          url: sandbox:.intops/sandbox.json
        organizations:
          my-org:
            auth: bearer
            token: ref+env://INTOPS_TOKEN_MY_ORG
        manifests:
          - integrations/
        state: .intops/state.json
        fingerprintKey: ref+sops://.intops/fingerprint-key.enc.yaml#/key
        # Everyone who may decrypt the project's secrets (age recipients), for files no .sops.yaml rule covers;
        # intops init also wrote them into .sops.yaml, which sops and intops secrets encrypt read first.
        recipients:
          - \(recipient)

        """
    }
}

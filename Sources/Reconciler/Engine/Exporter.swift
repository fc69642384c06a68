import Age
import Foundation
import IntegrationsAPI
import SOPS
import YAML

/// `intops export`: manifests for every live integration of an organization, with secret references into a
/// generated SOPS skeleton to fill in; and `--adopt`, which records them in the state once the secrets are filled.
public enum Exporter {
    public struct Result: Sendable {
        public var manifestFile: String
        public var secretsFile: String
        public var count: Int
    }

    /// A manifest name from a displayName: lower case, `[a-z0-9-]`, unique within the organization.
    static func name(for displayName: String, taken: inout Set<String>) -> String {
        var slug = displayName.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }.reduce(
            into: ""
        ) { text, character in if !(character == "-" && text.hasSuffix("-")) { text.append(character) } }
        slug = slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        if slug.isEmpty || !(slug.first!.isLetter || slug.first!.isNumber) { slug = "integration" }
        slug = String(slug.prefix(56))
        var candidate = slug
        var counter = 2
        while taken.contains(candidate) {
            candidate = "\(slug)-\(counter)"
            counter += 1
        }
        taken.insert(candidate)
        return candidate
    }

    /// The relative path from folder `from` to file `to` (both absolute).
    static func relative(_ to: String, from: String) -> String {
        let target = to.split(separator: "/").map(String.init), base = from.split(separator: "/").map(String.init)
        var common = 0
        while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
        return (Array(repeating: "..", count: base.count - common) + target[common...]).joined(separator: "/")
    }

    /// - Parameters:
    ///   - directory: where the manifest goes.
    ///   - secretsDirectory: where the secrets skeleton goes (never among the manifests: it is not one).
    ///   - recipients: the project's, to which the secrets skeleton is encrypted.
    public static func export(
        organization: String, client: IntegrationsClient, templates: TemplateValidator, into directory: String,
        secretsDirectory: String, recipients: [any AgeRecipient]
    ) async throws(EngineError) -> Result {
        let manifestFile = directory + "/\(organization).yaml"
        var details: [IntegrationDetail] = []
        do throws(APIError) {
            for summary in try await client.list(organization: organization) {
                details.append(try await client.get(organization: organization, id: summary.integrationId))
            }
        } catch { throw .api(error) }
        var taken = Set<String>()
        let secretsName = "\(organization).secrets.enc.yaml"
        let secretsFile = secretsDirectory + "/\(secretsName)"
        let secretsReference = relative(secretsFile, from: directory)
        var manifest: [(String, Node)] = [
            ("apiVersion", .plain("intops/v1")), ("kind", .plain("IntegrationSet")),
            ("organization", .string(organization)),
        ]
        var integrations: [Node] = []
        var skeleton: [(String, Node)] = []
        for detail in details {
            let name = name(for: detail.displayName, taken: &taken)
            var entry: [(String, Node)] = [
                ("name", .string(name)), ("type", .plain(detail.integrationType.name)),
                ("provider", .string(detail.provider)), ("displayName", .string(detail.displayName)),
            ]
            if !detail.isEnabled { entry.append(("enabled", .plain("false"))) }
            if !detail.configuration.isEmpty {
                entry.append(
                    (
                        "configuration",
                        .mapping(detail.configuration.keys.sorted().map { ($0, .string(detail.configuration[$0]!)) })
                    ))
            }
            let template = templates.template(type: detail.integrationType, provider: detail.provider)
            let secretKeys = (template?.secretFields ?? []).filter(\.required).map(\.key)
            if !secretKeys.isEmpty {
                entry.append(
                    (
                        "secrets",
                        .mapping(secretKeys.map { ($0, .string("ref+sops://\(secretsReference)#/\(name)/\($0)")) })
                    ))
                skeleton.append(
                    (name, .mapping(secretKeys.map { (key: String) in (key, .string(ExportPlaceholder.value)) })))
            }
            integrations.append(.mapping(entry))
        }
        manifest.append(("integrations", .sequence(integrations)))
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: secretsDirectory, withIntermediateDirectories: true)
            let header = [
                "Exported by intops export --org \(organization). Review, then move into the project's manifests."
            ]
            try AtomicFile.write(
                Array(try YAMLEmitter.emit([.mapping(manifest)], header: header).utf8), to: manifestFile)
            // Encrypted from the start, as its name says: the placeholders are filled in with intops secrets edit.
            if !FileManager.default.fileExists(atPath: secretsFile) {
                let plaintext = Array(try YAMLEmitter.emit([.mapping(skeleton)]).utf8)
                let documents = try SOPS.parsePlaintext(plaintext, format: .yaml, file: secretsName)
                try AtomicFile.write(
                    try SOPS.encrypt(documents, format: .yaml, recipients: recipients), to: secretsFile, mode: 0o600)
            }
        } catch let failure as AtomicFile.Failure { throw .file(failure) } catch {
            throw .write(path: directory, reason: "\(error)")
        }
        return Result(manifestFile: manifestFile, secretsFile: secretsFile, count: details.count)
    }

    /// Records every declared integration of `organization` that matches a live one (by type, provider and
    /// displayName) in the state, with its secrets' fingerprints as the manifests give them: the secrets are
    /// trusted to be the ones in use, so the next plan is empty.
    public static func adopt(session: Session, organization: String) async throws(StateError) -> Int {
        var state = session.state
        let live = session.live.organizations[organization] ?? []
        var count = 0
        let now = Timestamp.string(Date())
        for desired in session.desired where desired.key.organization == organization && !desired.isTombstone {
            guard state.entry(desired.key) == nil, let identity = desired.identity,
                let match = live.first(where: { identity.matches($0.summary) })
            else { continue }
            let configuration = session.templates.effectiveConfiguration(desired)
            state.set(
                IntopsState.Entry(
                    organization: organization, name: desired.key.name, integrationId: match.id, type: identity.type,
                    provider: identity.provider, displayName: identity.displayName, updatedAt: match.summary.updatedAt,
                    configurationDigest: IntopsState.configurationDigest(configuration),
                    secrets: desired.fingerprints.mapValues {
                        IntopsState.SecretRecord(fingerprint: $0.hex, setAt: now)
                    }, lastTest: nil))
            count += 1
        }
        try await session.store.save(&state, organizations: session.organizations)
        return count
    }
}

import Age
import Foundation
import IntegrationsAPI
import YAML

/// Turns YAML documents into ``Project`` and ``IntegrationSet`` values, checking every field.
enum ManifestDecoder {
    static let projectFields = [
        "apiVersion", "kind", "api", "organizations", "manifests", "state", "fingerprintKey", "prune", "safety",
        "allowPlaintextSecrets", "recipients",
    ]
    static let apiFields = ["url", "timeout", "parallelism", "maxRequestsPerSecond"]
    static let organizationFields = ["auth", "token"]
    static let safetyFields = ["maxDeletes", "maxDeletePercent"]
    static let setFields = ["apiVersion", "kind", "organization", "integrations"]
    static let integrationFields = IntegrationManifest.fields
    static let rotationFields = ["maxAge"]

    // MARK: - Project

    /// Decodes intops.yaml; `file` is its absolute path and its folder is the project root.
    static func project(_ documents: [Document], file: String, reader: inout NodeReader) -> Project? {
        let root = ProjectPaths.directory(of: file)
        guard let document = documents.first else {
            reader.fail(
                SourceLocation(file: file, line: 1, column: 1),
                "intops.yaml is empty; it needs apiVersion: intops/v1, kind: Project, api and organizations")
            return nil
        }
        if documents.count > 1 {
            reader.fail(documents[1].location, "intops.yaml holds one document; remove the documents after the first")
        }
        guard let mapping = reader.mapping(document.root, "the Project document"),
            reader.header(mapping, kind: "Project"),
            let node = reader.mapping(mapping, "the Project document", allowed: projectFields)
        else { return nil }

        var endpoint: APISettings.Endpoint?
        var timeout = ManifestDuration(milliseconds: 30_000)
        var parallelism = 8
        var maxRequestsPerSecond: Double?
        if let apiNode = reader.required(node, "api", in: "the Project document"),
            let api = reader.mapping(apiNode, "api", allowed: apiFields)
        {
            if let urlNode = reader.required(api, "url", in: "api"), let url = reader.string(urlNode, "api.url") {
                endpoint = apiEndpoint(url, at: urlNode.location, root: root, reader: &reader)
            }
            if let value = api["timeout"] { timeout = reader.duration(value, "api.timeout") ?? timeout }
            if let value = api["parallelism"] {
                parallelism = reader.int(value, "api.parallelism", range: 1...64) ?? parallelism
            }
            if let value = api["maxRequestsPerSecond"] {
                maxRequestsPerSecond = reader.number(value, "api.maxRequestsPerSecond", range: 0.01...10_000)
            }
        }

        var allowPlaintext = false
        if let value = node["allowPlaintextSecrets"] {
            allowPlaintext = reader.bool(value, "allowPlaintextSecrets") ?? false
        }

        var organizations: [Organization] = []
        if let orgsNode = reader.required(node, "organizations", in: "the Project document"),
            let orgs = reader.mapping(orgsNode, "organizations")
        {
            if orgs.pairs?.isEmpty ?? true {
                reader.fail(orgs.location, "organizations is empty; declare at least one organization id")
            }
            for pair in orgs.pairs ?? [] {
                guard let id = reader.string(pair.key, "an organization id") else { continue }
                guard isOrganizationID(id) else {
                    reader.fail(
                        pair.key.location,
                        "organization id '\(id)' is not valid; use letters, digits, '_', '.' and '-' (up to 128)")
                    continue
                }
                var organization = Organization(id: id, auth: .bearer, token: nil, location: pair.key.location)
                if pair.value.isScalar, pair.value.resolved == .null {
                    organizations.append(organization)
                    continue
                }
                guard let settings = reader.mapping(pair.value, "organization \(id)", allowed: organizationFields)
                else { continue }
                if let value = settings["auth"] {
                    organization.auth =
                        reader.choice(value, "organizations.\(id).auth", as: Organization.Auth.self) ?? .bearer
                }
                if let value = settings["token"] {
                    organization.token = reference(
                        value, "organizations.\(id).token", root: root, allowPlaintext: allowPlaintext, reader: &reader)
                }
                organizations.append(organization)
            }
        }
        if case .remote = endpoint {
            for organization in organizations where organization.token == nil {
                reader.fail(
                    organization.location,
                    "organization \(organization.id) has no token; add token: ref+env://NAME (the API needs one)")
            }
        }

        var manifests: [ManifestSource] = []
        if let value = node["manifests"] {
            for item in reader.list(value, "manifests") ?? [] {
                guard let path = reader.string(item, "a manifests entry") else { continue }
                let resolved = ProjectPaths.resolve(path, from: root)
                guard ProjectPaths.isInside(resolved, root: root) else {
                    reader.fail(
                        item.location, "manifests entry '\(path)' is outside the project root; list folders inside it")
                    continue
                }
                manifests.append(ManifestSource(path: resolved, location: item.location))
            }
        } else {
            manifests = [ManifestSource(path: root + "/integrations", location: node.location)]
        }

        var state = StateSettings.local(path: root + "/.intops/state.json")
        if let value = node["state"] { state = stateSettings(value, root: root, reader: &reader) ?? state }

        var fingerprintKey: SecretReference?
        if let value = node["fingerprintKey"] {
            fingerprintKey = reference(value, "fingerprintKey", root: root, allowPlaintext: false, reader: &reader)
        }

        var prune = false
        if let value = node["prune"] { prune = reader.bool(value, "prune") ?? false }

        var safety = Safety.default
        if let value = node["safety"], let map = reader.mapping(value, "safety", allowed: safetyFields) {
            if let item = map["maxDeletes"] {
                safety.maxDeletes = reader.int(item, "safety.maxDeletes", range: 0...1_000_000) ?? safety.maxDeletes
            }
            if let item = map["maxDeletePercent"] {
                safety.maxDeletePercent =
                    reader.int(item, "safety.maxDeletePercent", range: 0...100) ?? safety.maxDeletePercent
            }
        }

        var recipients: [String] = []
        if let value = node["recipients"] {
            for item in reader.list(value, "recipients") ?? [] {
                guard let text = reader.string(item, "a recipient") else { continue }
                if case .failure(let refusal) = AgeRecipients.parse(text) {
                    switch refusal {
                    case .lowOrder:
                        reader.fail(
                            item.location,
                            "recipient '\(text)' is a low-order point: no file key can be wrapped to it; use the public key of an identity (age-keygen -y)"
                        )
                    case .malformed:
                        reader.fail(
                            item.location,
                            "recipient '\(text)' is not an age public key (age1… in lower case, with a valid checksum) or an ssh-ed25519 or ssh-rsa public key"
                        )
                    default: reader.fail(item.location, "recipient: \(refusal)")
                    }
                    continue
                }
                recipients.append(text)
            }
        }

        guard let endpoint else { return nil }
        return Project(
            root: root, file: file,
            api: APISettings(
                endpoint: endpoint, timeout: timeout, parallelism: parallelism,
                maxRequestsPerSecond: maxRequestsPerSecond), organizations: organizations, manifests: manifests,
            state: state, fingerprintKey: fingerprintKey, prune: prune, safety: safety,
            allowPlaintextSecrets: allowPlaintext, recipients: recipients)
    }

    static let s3StateFields = ["backend", "bucket", "key", "region", "endpoint"]
    static let gitStateFields = ["backend", "remote", "branch", "path"]

    /// `state:` as a path inside the project, or an `s3` or `git` backend mapping.
    static func stateSettings(_ value: Node, root: String, reader: inout NodeReader) -> StateSettings? {
        if value.isScalar {
            guard let path = reader.string(value, "state") else { return nil }
            let resolved = ProjectPaths.resolve(path, from: root)
            guard ProjectPaths.isInside(resolved, root: root), resolved != root else {
                reader.fail(
                    value.location,
                    "state path '\(path)' is outside the project root; keep the state inside it, or use a backend mapping (backend: s3 or git)"
                )
                return nil
            }
            guard placeholdersValid(path, value.location, "state", reader: &reader) else { return nil }
            return .local(path: resolved)
        }
        guard let map = reader.mapping(value, "state") else { return nil }
        guard let backendNode = reader.required(map, "backend", in: "state"),
            let backend = reader.string(backendNode, "state.backend")
        else { return nil }
        func text(_ key: String) -> String? { map[key].flatMap { reader.string($0, "state.\(key)") } }
        switch backend {
        case "s3":
            guard reader.mapping(value, "the s3 state backend", allowed: s3StateFields) != nil else { return nil }
            guard let bucketNode = reader.required(map, "bucket", in: "the s3 state backend"),
                let bucket = reader.string(bucketNode, "state.bucket")
            else { return nil }
            guard isBucketName(bucket) else {
                reader.fail(
                    bucketNode.location,
                    "state.bucket '\(bucket)' is not an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
                )
                return nil
            }
            let key = text("key") ?? "intops/state.json"
            if let keyNode = map["key"] {
                guard !key.isEmpty, !key.hasPrefix("/"), !key.hasSuffix(".lock") else {
                    reader.fail(
                        keyNode.location,
                        "state.key must be an object key like intops/state-{org}.json, not empty, not starting with / and not ending in .lock"
                    )
                    return nil
                }
                guard placeholdersValid(key, keyNode.location, "state.key", reader: &reader) else { return nil }
            }
            var endpoint: String?
            if let endpointNode = map["endpoint"], let url = reader.string(endpointNode, "state.endpoint") {
                guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
                    parsed.host?.isEmpty == false
                else {
                    reader.fail(
                        endpointNode.location,
                        "state.endpoint must be an http(s) URL like https://s3.eu-west-1.amazonaws.com")
                    return nil
                }
                guard (try? URLSessionTransport.checkSecure(parsed)) != nil else {
                    reader.fail(
                        endpointNode.location,
                        "state.endpoint uses http:// to a host that is not loopback; use https:// (state would cross the network unencrypted)"
                    )
                    return nil
                }
                endpoint = url
            }
            return .s3(bucket: bucket, key: key, region: text("region"), endpoint: endpoint)
        case "git":
            guard reader.mapping(value, "the git state backend", allowed: gitStateFields) != nil else { return nil }
            let branch = text("branch") ?? "intops-state"
            if let branchNode = map["branch"], !isBranchName(branch) {
                reader.fail(branchNode.location, "state.branch '\(branch)' is not a usable git branch name")
                return nil
            }
            let path = text("path") ?? "state.json"
            if let pathNode = map["path"] {
                let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                guard !path.isEmpty, !path.hasPrefix("/"),
                    !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
                else {
                    reader.fail(
                        pathNode.location,
                        "state.path must be a relative path inside the state branch, like state-{org}.json")
                    return nil
                }
                guard placeholdersValid(path, pathNode.location, "state.path", reader: &reader) else { return nil }
            }
            return .git(remote: text("remote"), branch: branch, path: path)
        default:
            let node = map["backend"]!
            let hint = Spelling.suggestion(for: backend, among: ["s3", "git"]).map { "did you mean '\($0)'? " } ?? ""
            reader.fail(
                node.location,
                "unknown state backend '\(backend)'; \(hint)use s3 or git, or give state a path for a local file")
            return nil
        }
    }

    /// `{org}` is the only placeholder a state location takes.
    static func placeholdersValid(
        _ text: String, _ location: SourceLocation, _ what: String, reader: inout NodeReader
    ) -> Bool {
        guard text.replacingOccurrences(of: "{org}", with: "").contains(where: { $0 == "{" || $0 == "}" }) else {
            return true
        }
        reader.fail(location, "\(what) may hold {org} (one state per organization) and no other placeholder")
        return false
    }

    static func isBucketName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(name.count), name.allSatisfy(allowed.contains), let first = name.first,
            let last = name.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else { return false }
        return !name.contains("..")
    }

    /// The rules of `git check-ref-format` that a name in a YAML file can break.
    static func isBranchName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"), !name.hasSuffix("."),
            !name.hasSuffix(".lock"), !name.contains(".."), !name.contains("@{"), !name.contains("//")
        else { return false }
        return !name.contains { $0.isWhitespace || "~^:?*[\\".contains($0) || ($0.asciiValue ?? 32) < 32 }
    }

    static func isOrganizationID(_ id: String) -> Bool {
        guard let first = id.first, first.isASCII, first.isLetter || first.isNumber, id.count <= 128 else {
            return false
        }
        return id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
    }

    static func apiEndpoint(
        _ url: String, at location: SourceLocation, root: String, reader: inout NodeReader
    ) -> APISettings.Endpoint? {
        if url.hasPrefix("sandbox:") {
            let path = String(url.dropFirst("sandbox:".count))
            guard !path.isEmpty else {
                reader.fail(
                    location,
                    "api.url sandbox: needs a file for the emulator's data, as in sandbox:.intops/sandbox.json")
                return nil
            }
            let resolved = ProjectPaths.resolve(path, from: root)
            guard ProjectPaths.isInside(resolved, root: root) else {
                reader.fail(
                    location,
                    "api.url sandbox file is outside the project root; keep it inside, as in sandbox:.intops/sandbox.json"
                )
                return nil
            }
            return .sandbox(path: resolved)
        }
        let lower = url.lowercased()
        if lower.hasPrefix("https://"), url.count > "https://".count { return .remote(url) }
        if lower.hasPrefix("http://") {
            // The transport's rule, so that what validates is what connects (127.example.com is not loopback).
            if let parsed = URL(string: url), (try? URLSessionTransport.checkSecure(parsed)) != nil {
                return .remote(url)
            }
            reader.fail(location, "api.url uses http:// to a host that is not loopback; credentials need https://")
            return nil
        }
        reader.fail(location, "api.url must be an https:// URL or sandbox:FILE for the embedded emulator")
        return nil
    }

    /// A secret reference field: a `ref+` string, or (only when the project allows it) plaintext.
    static func reference(
        _ node: Node, _ what: String, root: String, allowPlaintext: Bool, reader: inout NodeReader
    ) -> SecretReference? {
        guard node.isScalar, case .string(let text) = node.resolved else {
            reader.fail(
                node.location,
                "\(what) must be a secret reference string such as ref+sops://FILE#/key, not \(node.kindDescription)")
            return nil
        }
        guard SecretReference.looksLikeReference(text) else {
            if allowPlaintext {
                return SecretReference(source: .inline(text), text: "(plaintext)", location: node.location)
            }
            reader.fail(
                node.location,
                "plaintext secret in manifest: \(what) must be a reference (ref+sops://FILE#/key, ref+env://NAME or "
                    + "ref+file://FILE); move the value into a SOPS file and rotate it, it is in git history now")
            return nil
        }
        switch SecretReference.parse(text, at: node.location, root: root, paths: &reader.resolvedPaths) {
        case .success(let reference): return reference
        case .failure(let diagnostic):
            reader.diagnostics.append(diagnostic)
            return nil
        }
    }

    // MARK: - IntegrationSet

    /// The entries of one document's `integrations:` list, decoded as the parser finished each (see
    /// ``YAMLParser/parse(_:file:limits:streaming:item:)``), before the document's organization is known; their
    /// problems are reported only if the document turns out to be an IntegrationSet.
    struct StreamedEntries {
        var integrations: [IntegrationManifest] = []
        var reader = NodeReader()

        mutating func decode(_ item: Node, project: Project) {
            if let integration = integration(item, organization: "", project: project, reader: &reader) {
                integrations.append(integration)
            }
        }
    }

    /// Decodes the documents of one manifest file. An empty file is an error; empty documents between `---`
    /// separators are skipped.
    ///
    /// - Parameter streamed: the entries decoded while parsing, by document; a document without them has its
    ///   entries in its tree.
    static func integrationSets(
        _ documents: [Document], streamed: [Int: StreamedEntries], file: String, project: Project,
        reader: inout NodeReader
    ) -> [IntegrationSet] {
        let nonEmpty = documents.indices.filter {
            !(documents[$0].root.isScalar && documents[$0].root.resolved == .null)
        }
        guard !nonEmpty.isEmpty else {
            reader.fail(
                SourceLocation(file: file, line: 1, column: 1),
                "manifest file holds no document; add an IntegrationSet or delete the file")
            return []
        }
        return nonEmpty.compactMap {
            integrationSet(documents[$0].root, streamed: streamed[$0], project: project, reader: &reader)
        }
    }

    static func integrationSet(
        _ root: Node, streamed: StreamedEntries?, project: Project, reader: inout NodeReader
    ) -> IntegrationSet? {
        guard let mapping = reader.mapping(root, "an IntegrationSet document"),
            reader.header(mapping, kind: "IntegrationSet"),
            let node = reader.mapping(mapping, "an IntegrationSet document", allowed: setFields)
        else { return nil }
        guard let orgNode = reader.required(node, "organization", in: "the IntegrationSet"),
            let organization = reader.string(orgNode, "organization")
        else { return nil }
        guard project.organization(organization) != nil else {
            let known = project.organizations.map(\.id)
            reader.fail(
                orgNode.location,
                "organization '\(organization)' is not declared in intops.yaml; "
                    + (Spelling.suggestion(for: organization, among: known).map { "did you mean '\($0)'?" }
                        ?? "add it under organizations:"))
            return nil
        }
        guard let listNode = reader.required(node, "integrations", in: "the IntegrationSet"),
            let items = reader.list(listNode, "integrations")
        else { return nil }
        var integrations: [IntegrationManifest]
        if let streamed {
            reader.diagnostics += streamed.reader.diagnostics
            integrations = streamed.integrations
            for index in integrations.indices { integrations[index].organization = organization }
        } else {
            integrations = items.compactMap {
                integration($0, organization: organization, project: project, reader: &reader)
            }
        }
        return IntegrationSet(organization: organization, integrations: integrations, location: node.location)
    }

    static func isIntegrationName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        return allowed(bytes[0]) && bytes.allSatisfy { allowed($0) || $0 == UInt8(ascii: "-") }
    }

    static func integration(
        _ item: Node, organization: String, project: Project, reader: inout NodeReader
    ) -> IntegrationManifest? {
        guard let node = reader.mapping(item, "an integration", allowed: integrationFields) else { return nil }
        var fieldLocations = FieldLocations(capacity: node.pairs?.count ?? 0)
        for pair in node.pairs ?? [] {
            if let key = pair.key.scalarText {
                fieldLocations.set(key, line: pair.key.location.line, column: pair.key.location.column)
            }
        }
        guard let nameNode = reader.required(node, "name", in: "an integration"),
            let name = reader.string(nameNode, "name")
        else { return nil }
        guard isIntegrationName(name) else {
            reader.fail(
                nameNode.location,
                "integration name '\(name)' is not valid; use 1 to 63 lowercase letters, digits and '-', starting with a letter or digit"
            )
            return nil
        }
        let what = "integration \(name)"
        let errorsBefore = reader.diagnostics.count

        var ensure = IntegrationManifest.Ensure.present
        if let value = node["ensure"] {
            ensure = reader.choice(value, "\(what): ensure", as: IntegrationManifest.Ensure.self) ?? .present
        }
        let present = ensure == .present

        var type: IntegrationType?
        if let value = present ? reader.required(node, "type", in: what) : node["type"] {
            type = integrationType(value, what: what, reader: &reader)
        }
        var provider: String?
        if let value = present ? reader.required(node, "provider", in: what) : node["provider"] {
            provider = reader.string(value, "\(what): provider")
            if provider?.isEmpty == true { reader.fail(value.location, "\(what): provider is empty") }
        }
        var displayName: String?
        if let value = present ? reader.required(node, "displayName", in: what) : node["displayName"] {
            displayName = reader.string(value, "\(what): displayName")
            if let text = displayName, text.trimmingCharacters(in: .whitespaces).isEmpty || text.count > 200 {
                reader.fail(value.location, "\(what): displayName must hold 1 to 200 characters and not only spaces")
            }
        }
        var enabled = true
        if let value = node["enabled"] { enabled = reader.bool(value, "\(what): enabled") ?? true }

        var configuration: [IntegrationManifest.ConfigurationValue] = []
        if let value = node["configuration"], !(value.isScalar && value.resolved == .null),
            let map = reader.mapping(value, "\(what): configuration")
        {
            for pair in map.pairs ?? [] {
                guard let key = reader.string(pair.key, "a configuration key"), !key.isEmpty else { continue }
                guard pair.value.isScalar else {
                    reader.fail(
                        pair.value.location,
                        "\(what): configuration.\(key) must be a single value (text, number or true/false), not \(pair.value.kindDescription)"
                    )
                    continue
                }
                if pair.value.resolved == .null {
                    reader.fail(
                        pair.value.location, "\(what): configuration.\(key) has no value; give one or remove the key")
                    continue
                }
                configuration.append(
                    .init(
                        key: key, value: pair.value.resolved, text: pair.value.scalarText ?? "",
                        location: pair.value.location))
            }
        }

        var secrets: [IntegrationManifest.Secret] = []
        if let value = node["secrets"], !(value.isScalar && value.resolved == .null),
            let map = reader.mapping(value, "\(what): secrets")
        {
            for pair in map.pairs ?? [] {
                guard let key = reader.string(pair.key, "a secret key"), !key.isEmpty else { continue }
                if let reference = reference(
                    pair.value, "\(what): secrets.\(key)", root: project.root,
                    allowPlaintext: project.allowPlaintextSecrets, reader: &reader)
                {
                    secrets.append(.init(key: key, reference: reference))
                }
            }
        }

        var test = IntegrationManifest.TestPolicy.onChange
        if let value = node["test"] {
            test = reader.choice(value, "\(what): test", as: IntegrationManifest.TestPolicy.self) ?? .onChange
        }
        var maxAge: ManifestDuration?
        if let value = node["rotation"], let map = reader.mapping(value, "\(what): rotation", allowed: rotationFields) {
            if let ageNode = reader.required(map, "maxAge", in: "\(what): rotation") {
                maxAge = reader.duration(ageNode, "\(what): rotation.maxAge")
            }
        }
        var protect = false
        if let value = node["protect"] { protect = reader.bool(value, "\(what): protect") ?? false }
        if protect && !present, let ensureNode = node["ensure"] {
            reader.fail(
                ensureNode.location,
                "\(what) is protected and cannot be deleted; remove protect: true first, in its own change")
        }

        guard reader.diagnostics.count == errorsBefore else { return nil }
        return IntegrationManifest(
            organization: organization, name: name, ensure: ensure, type: type, provider: provider,
            displayName: displayName, enabled: enabled, configuration: configuration, secrets: secrets, test: test,
            rotationMaxAge: maxAge, protect: protect, location: node.location, fieldLocations: fieldLocations)
    }

    static func integrationType(_ node: Node, what: String, reader: inout NodeReader) -> IntegrationType? {
        let names = IntegrationType.allCases.map(\.name)
        switch node.resolved {
        case .int(let number) where node.isScalar:
            guard let type = IntegrationType(rawValue: number) else {
                reader.fail(node.location, "\(what): type \(number) is not between 1 and 8 (\(Spelling.list(names)))")
                return nil
            }
            return type
        case .string(let text) where node.isScalar:
            guard let type = IntegrationType(name: text) else {
                reader.fail(
                    node.location,
                    "\(what): unknown type '\(text)'; "
                        + (Spelling.suggestion(for: text, among: names).map { "did you mean '\($0)'?" }
                            ?? "use one of \(Spelling.list(names)) or 1 to 8"))
                return nil
            }
            return type
        default:
            reader.fail(
                node.location, "\(what): type must be a type name or a number from 1 to 8, not \(node.kindDescription)")
            return nil
        }
    }
}

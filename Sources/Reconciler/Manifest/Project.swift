import YAML

/// `intops.yaml`: where the API is, which organizations intops manages and where everything else lives.
public struct Project: Sendable {
    public static let fileName = "intops.yaml"
    public static let apiVersion = "intops/v1"

    /// The folder holding intops.yaml; every relative path in the project is inside it.
    public var root: String
    /// The absolute path of intops.yaml.
    public var file: String
    public var api: APISettings
    public var organizations: [Organization]
    public var manifests: [ManifestSource]
    /// Where the state lives; its location may hold `{org}` for one object per organization.
    public var state: StateSettings
    public var fingerprintKey: SecretReference?
    public var prune: Bool
    public var safety: Safety
    public var allowPlaintextSecrets: Bool
    /// age recipients new secret files are encrypted to.
    public var recipients: [String]

    public func organization(_ id: String) -> Organization? { organizations.first { $0.id == id } }

    /// The same project with only these organizations (a sandbox keeps all: it needs no tokens).
    public func limited(to organizations: [String]) -> Project {
        guard !api.isSandbox else { return self }
        var copy = self
        copy.organizations = self.organizations.filter { organizations.contains($0.id) }
        return copy
    }

    /// Where the templates cache lives (`intops templates --refresh` writes it).
    public var templatesCachePath: String { root + "/.intops/templates.json" }
}

public struct APISettings: Sendable {
    public enum Endpoint: Sendable, Hashable {
        /// An HTTPS URL, or HTTP to a loopback host.
        case remote(String)
        /// The embedded emulator, persisted to the absolute path given.
        case sandbox(path: String)
    }

    public var endpoint: Endpoint
    public var timeout: ManifestDuration
    public var parallelism: Int
    /// A hard ceiling on each organization's request rate; nil for none (the rate adapts to the server).
    public var maxRequestsPerSecond: Double?

    public var isSandbox: Bool {
        if case .sandbox = endpoint { return true }
        return false
    }
}

public struct Organization: Sendable {
    public enum Auth: String, Sendable, CaseIterable {
        case bearer
        case apiKey = "api-key"
    }

    public var id: String
    public var auth: Auth
    public var token: SecretReference?
    public var location: SourceLocation
}

/// One entry of `manifests:`: a file or a folder searched recursively for `*.yaml` and `*.yml`.
public struct ManifestSource: Sendable {
    public var path: String
    public var location: SourceLocation
}

public struct Safety: Sendable {
    public var maxDeletes: Int
    public var maxDeletePercent: Int

    public static let `default` = Safety(maxDeletes: 5, maxDeletePercent: 25)
    /// The share of deletions is checked only in organizations with at least this many managed integrations.
    public static let percentageFloor = 10
}

/// The `state:` of intops.yaml: a local path, or a backend mapping.
public enum StateSettings: Sendable, Equatable {
    /// An absolute path, inside the project root.
    case local(path: String)
    case s3(bucket: String, key: String, region: String?, endpoint: String?)
    /// `remote` nil: the `origin` of the repository holding intops.yaml.
    case git(remote: String?, branch: String, path: String)

    /// The object name the store works with: the path, the key, the path in the branch.
    public var objectTemplate: String {
        switch self {
        case .local(let path): path
        case .s3(_, let key, _, _): key
        case .git(_, _, let path): path
        }
    }

    public var isLocal: Bool {
        if case .local = self { return true }
        return false
    }

    public var backendName: String {
        switch self {
        case .local: "local"
        case .s3: "s3"
        case .git: "git"
        }
    }
}

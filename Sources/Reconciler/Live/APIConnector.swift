import Foundation
import HTTPSupport
import IntegrationsAPI
import YAML

/// Why the project's API could not be reached before any request was made.
public enum APIConnectionError: Error, Sendable, CustomStringConvertible {
    /// A remote API and an organization without a resolved token.
    case noToken(organization: String, at: SourceLocation)
    case notAURL(String)
    /// http:// to a host that is not loopback.
    case insecure(InsecureURLError)
    /// A `sandbox:` URL, and the program was composed without a sandbox.
    case noSandbox
    /// The sandbox's data file could not be opened.
    case sandbox(path: String, reason: String)
    /// Tokens that could not be resolved, each at its reference.
    case tokens([Diagnostic])

    public var description: String {
        switch self {
        case .noToken(let organization, let location):
            "\(location): organization \(organization) has no API token; set its token: reference"
        case .notAURL(let text): "api.url \(text) is not a URL"
        case .insecure(let error): "api.url \(error)"
        case .noSandbox: "api.url is a sandbox: URL, and this program has no embedded sandbox"
        case .sandbox(_, let reason): "the sandbox \(reason)"
        case .tokens(let problems): problems.map(\.description).joined(separator: "\n")
        }
    }
}

/// Builds the one ``IntegrationsClient`` of a run from the project's `api:` settings: URLSession for an https://
/// (or loopback http://) URL, the composition's ``SandboxProvider`` for `sandbox:PATH`. Everything above this sees
/// one client.
public enum APIConnector {
    /// - Parameter tokens: each organization's resolved API token, by organization id. A `sandbox:` project
    ///   needs none: an organization without one gets a sandbox-only token.
    public static func client(
        for project: Project, tokens: [String: String], sandbox: (any SandboxProvider)?,
        redactor: Redactor = Redactor(), pacingChanged: (@Sendable (PacingChange) -> Void)? = nil
    ) throws(APIConnectionError) -> IntegrationsClient {
        let settings = project.api
        let policy = ClientPolicy(
            maxInFlight: settings.parallelism, requestsPerSecond: settings.maxRequestsPerSecond,
            timeout: settings.timeout.duration)
        var resolved = tokens
        switch settings.endpoint {
        case .sandbox:
            for organization in project.organizations where resolved[organization.id] == nil {
                resolved[organization.id] = "sandbox-\(organization.id)"
            }
        case .remote:
            if let missing = project.organizations.first(where: { resolved[$0.id] == nil }) {
                throw .noToken(organization: missing.id, at: missing.location)
            }
        }
        var credentials: [String: APICredential] = [:]
        for organization in project.organizations {
            guard let token = resolved[organization.id] else { continue }
            credentials[organization.id] = organization.auth == .bearer ? .bearer(token) : .apiKey(token)
        }

        let transport: any HTTPTransport
        switch settings.endpoint {
        case .remote(let text):
            guard let url = URL(string: text) else { throw .notAURL(text) }
            do throws(InsecureURLError) {
                transport = try URLSessionTransport(
                    baseURL: url, timeout: settings.timeout.duration, maximumConnections: settings.parallelism)
            } catch { throw .insecure(error) }
        case .sandbox(let path):
            guard let sandbox else { throw .noSandbox }
            do {
                transport = try sandbox.transport(
                    path: path,
                    credentials: project.organizations.map {
                        SandboxCredential(token: resolved[$0.id] ?? "", organizationId: $0.id)
                    })
            } catch { throw .sandbox(path: path, reason: "\(error)") }
        }
        return IntegrationsClient(
            transport: transport, credentials: credentials, policy: policy, redactor: redactor,
            pacingChanged: pacingChanged)
    }

    /// Each organization's API token, resolved from its `token:` reference; a sandbox project needs none. The one
    /// place tokens are read: every command that reaches the API comes through here.
    public static func tokens(
        for project: Project, organizations: [String], resolver: SecretResolver
    ) -> (tokens: [String: String], problems: [Diagnostic]) {
        guard !project.api.isSandbox else { return ([:], []) }
        var tokens: [String: String] = [:]
        var problems: [Diagnostic] = []
        for organization in project.organizations where organizations.contains(organization.id) {
            guard let reference = organization.token else {
                problems.append(
                    .error(
                        organization.location, "organization \(organization.id) has no token; add token: ref+env://…"))
                continue
            }
            do { tokens[organization.id] = try resolver.resolve(reference).exposedString() } catch {
                problems.append(error)
            }
        }
        return (tokens, problems)
    }

    /// The client for these organizations of the project, tokens resolved on the way.
    public static func client(
        for project: Project, organizations: [String], environment: [String: String], sandbox: (any SandboxProvider)?
    ) throws(APIConnectionError) -> IntegrationsClient {
        let resolver = SecretResolver(root: project.root, environment: environment)
        let (tokens, problems) = Self.tokens(for: project, organizations: organizations, resolver: resolver)
        guard problems.isEmpty else { throw .tokens(problems) }
        return try client(for: project.limited(to: organizations), tokens: tokens, sandbox: sandbox)
    }
}

import Emulator
import Foundation
import IntegrationsAPI

/// Why the project's API could not be reached before any request was made.
public struct APIConnectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Builds the one ``IntegrationsClient`` of a run from the project's `api:` settings: URLSession for an https://
/// (or loopback http://) URL, the in-process emulator for `sandbox:PATH`. Everything above this sees one client.
public enum APIConnector {
    /// - Parameter tokens: each organization's resolved API token, by organization id. A `sandbox:` project
    ///   needs none: an organization without one gets a sandbox-only token.
    public static func client(for project: Project, tokens: [String: String]) throws(APIConnectionError) -> IntegrationsClient {
        let settings = project.api
        let policy = ClientPolicy(
            maxInFlight: settings.parallelism, requestsPerSecond: settings.maxRequestsPerSecond > 0 ? settings.maxRequestsPerSecond : nil,
            timeout: settings.timeout.duration)
        var resolved = tokens
        switch settings.endpoint {
        case .sandbox:
            for organization in project.organizations where resolved[organization.id] == nil {
                resolved[organization.id] = "sandbox-\(organization.id)"
            }
        case .remote:
            if let missing = project.organizations.first(where: { resolved[$0.id] == nil }) {
                throw APIConnectionError(description: "\(missing.location): organization \(missing.id) has no API token; set its token: reference")
            }
        }
        var credentials: [String: APICredential] = [:]
        for organization in project.organizations {
            let token = resolved[organization.id]!
            credentials[organization.id] = organization.auth == .bearer ? .bearer(token) : .apiKey(token)
        }

        let transport: any HTTPTransport
        switch settings.endpoint {
        case .remote(let text):
            guard let url = URL(string: text) else { throw APIConnectionError(description: "api.url \(text) is not a URL") }
            do {
                transport = try URLSessionTransport(baseURL: url, timeout: settings.timeout.duration, maximumConnections: settings.parallelism)
            } catch {
                throw APIConnectionError(description: "api.url \(error)")
            }
        case .sandbox(let path):
            do {
                let emulator = try Emulator.open(
                    url: URL(fileURLWithPath: path),
                    credentials: project.organizations.map { EmulatorCredential(token: resolved[$0.id]!, organizationId: $0.id) })
                transport = SandboxTransport(emulator: emulator)
            } catch {
                throw APIConnectionError(description: "the sandbox \(error)")
            }
        }
        return IntegrationsClient(transport: transport, credentials: credentials, policy: policy)
    }
}

import IntegrationsAPI

/// What `api.url: sandbox:PATH` connects to. The program supplies it where it is composed (the intops executable
/// wires in the embedded emulator), so the engine never depends on the emulator; without one, a sandbox project is
/// refused with a clear error.
public protocol SandboxProvider: Sendable {
    /// A transport to the sandbox whose data lives at `path`, accepting these organizations' tokens.
    func transport(path: String, credentials: [SandboxCredential]) throws -> any HTTPTransport
    /// The sandbox's template catalog, for validating offline.
    var templates: [IntegrationTemplate] { get }
}

/// One organization's token as the sandbox accepts it.
public struct SandboxCredential: Sendable, Hashable {
    public var token: String
    public var organizationId: String

    public init(token: String, organizationId: String) {
        self.token = token
        self.organizationId = organizationId
    }
}

import Emulator
import Foundation
import IntegrationsAPI
import Reconciler

/// `api.url: sandbox:PATH` served by the in-process emulator: where the program is composed (the intops
/// executable, tests, benchmarks), this is handed to the engine, which knows only ``SandboxProvider``.
public struct EmbeddedSandbox: SandboxProvider {
    public init() {}

    public func transport(path: String, credentials: [SandboxCredential]) throws -> any HTTPTransport {
        let emulator = try Emulator.open(
            url: URL(fileURLWithPath: path),
            credentials: credentials.map { EmulatorCredential(token: $0.token, organizationId: $0.organizationId) })
        return SandboxTransport(emulator: emulator)
    }

    public var templates: [IntegrationTemplate] { TemplateCatalog.standard }
}

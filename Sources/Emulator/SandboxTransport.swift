import Foundation
import IntegrationsAPI

/// The in-process transport behind `sandbox:PATH` API URLs: requests go straight to an ``Emulator``, with its
/// fault injection, and a dropped answer reaches the client as a lost connection, just as over HTTP.
public struct SandboxTransport: HTTPTransport {
    public let emulator: Emulator

    public init(emulator: Emulator) { self.emulator = emulator }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch await emulator.serve(request) {
        case .respond(let response): return response
        case .drop: throw TransportFailure(.connectionLost, "the connection closed before an answer arrived")
        }
    }
}

import Foundation

/// An HTTP exchange as the API client sees it, independent of how it travels: over URLSession to a server, or
/// straight into the in-process emulator for `sandbox:` URLs. One client, two transports.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path without the query, e.g. `/api/organizations/org123/integrations`.
    public var path: String
    public var query: [URLQueryItem]
    /// Header names are lowercased.
    public var headers: [String: String]
    public var body: Data?

    public init(
        method: String, path: String, query: [URLQueryItem] = [], headers: [String: String] = [:], body: Data? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
    public func queryValue(_ name: String) -> String? { query.last { $0.name == name }?.value }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// Header names are lowercased.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Carries requests to the API.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

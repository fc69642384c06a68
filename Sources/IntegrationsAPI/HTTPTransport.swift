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
public protocol HTTPTransport: Sendable { func send(_ request: HTTPRequest) async throws -> HTTPResponse }

public enum HTTPStatus {
    /// The reason phrase of a status code, as servers print it and error messages name it.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 302: "Found"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}

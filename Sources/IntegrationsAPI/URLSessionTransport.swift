import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a base URL is refused.
public struct InsecureURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var url: String
    public var description: String {
        "\(url) is not allowed: the API is reached over https://, and http:// only on loopback (127.0.0.1, ::1, localhost)"
    }
}

/// The API over the network, through URLSession.
public final class URLSessionTransport: HTTPTransport {
    public let baseURL: URL
    /// Reads reuse keep-alive connections.
    private let readSession: URLSession
    /// Writes go on a fresh connection each. libcurl, under URLSession on Linux, silently re-sends a request
    /// whose reused connection died without an answer, and cannot replay the body: the server then waits for
    /// bytes that never come and the client for an answer, until the timeout. A fresh connection is never
    /// re-sent that way, so a write is sent exactly as often as this client decides.
    private let writeSession: URLSession

    /// - Parameters:
    ///   - timeout: how long one request may take, from sending to the last byte of the answer.
    ///   - maximumConnections: connections kept to the host (match the client's in-flight bound).
    public init(baseURL: URL, timeout: Duration = .seconds(30), maximumConnections: Int = 8) throws(InsecureURLError) {
        try Self.checkSecure(baseURL)
        self.baseURL = baseURL
        let configuration = URLSessionConfiguration.ephemeral
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        configuration.httpMaximumConnectionsPerHost = maximumConnections
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        readSession = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        writeSession = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    deinit {
        readSession.finishTasksAndInvalidate()
        writeSession.finishTasksAndInvalidate()
    }

    /// https for any host; http only for loopback, where nothing crosses a network.
    public static func checkSecure(_ url: URL) throws(InsecureURLError) {
        switch url.scheme?.lowercased() {
        case "https" where url.host?.isEmpty == false: return
        case "http":
            let host = (url.host ?? "").lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if host == "localhost" || host == "::1" || Self.isIPv4Loopback(host) { return }
        default: break
        }
        throw InsecureURLError(url: url.absoluteString)
    }

    static func isIPv4Loopback(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in UInt8(part).map { _ in true } ?? false }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false)!
        let prefix = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
        components.path = prefix + request.path
        components.queryItems = request.query.isEmpty ? nil : request.query
        guard let url = components.url else { throw TransportFailure(.invalidRequest, "the request URL is not valid") }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        urlRequest.httpBody = request.body
        let isRead = request.method == "GET" || request.method == "HEAD"
        if !isRead { urlRequest.setValue("close", forHTTPHeaderField: "Connection") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await (isRead ? readSession : writeSession).data(for: urlRequest)
        } catch let error as URLError {
            throw Self.failure(error)
        } catch is CancellationError {
            throw TransportFailure(.cancelled, "cancelled")
        } catch {
            throw TransportFailure(.connectionLost, "the request failed")
        }
        guard let http = response as? HTTPURLResponse else {
            throw TransportFailure(.connectionLost, "the answer was not HTTP")
        }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return HTTPResponse(status: http.statusCode, headers: headers, body: data)
    }

    /// URLError descriptions can repeat the URL; these messages name only what happened.
    static func failure(_ error: URLError) -> TransportFailure {
        switch error.code {
        case .timedOut: TransportFailure(.timedOut, "no answer within the timeout")
        case .cannotConnectToHost: TransportFailure(.cannotConnect, "connection refused")
        case .cannotFindHost, .dnsLookupFailed: TransportFailure(.cannotConnect, "the host name does not resolve")
        case .notConnectedToInternet: TransportFailure(.cannotConnect, "no network")
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            TransportFailure(.cannotConnect, "the TLS connection could not be established")
        case .cancelled: TransportFailure(.cancelled, "cancelled")
        case .badURL, .unsupportedURL: TransportFailure(.invalidRequest, "the request URL is not valid")
        case .networkConnectionLost: TransportFailure(.connectionLost, "the connection closed before an answer arrived")
        case .badServerResponse, .zeroByteResource, .cannotParseResponse:
            TransportFailure(.connectionLost, "the server closed the connection without a valid answer")
        default: TransportFailure(.connectionLost, "the connection failed (URLError \(error.code.rawValue))")
        }
    }
}

/// The client reads a 302 (the OAuth callback) as an answer; it never follows it.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

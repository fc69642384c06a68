import Foundation
import HTTPSupport

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
    /// Reads and writes with a body share keep-alive connections. libcurl, under URLSession on Linux, silently
    /// re-sends a request whose reused connection died before any answer (a server closing an idle connection just
    /// then, or dropping one after a commit). URLSession cannot rewind a `Data` body for that copy: it would
    /// announce its length, send nothing and hang until the timeout. And sending a write again is this client's
    /// decision, not the transport's: a create may already have been committed. Before re-sending a write that
    /// has a body, libcurl asks the session's delegate for the body again; `SessionDelegate` cancels the task
    /// instead, and the request fails at once as a lost connection, which the client retries or resolves by
    /// listing. (A body handed out as a stream could be replayed, but a stream goes chunked and costs the client a
    /// third more CPU per write.) Reads, and connection tests, are safe for libcurl to repeat.
    private let session: URLSession
    /// A delete has no body, so libcurl would repeat it without asking; it goes on a connection of its own, closed
    /// after the answer, which libcurl never re-sends on.
    private let closingSession: URLSession
    private let delegate = GuardedSessionDelegate()

    /// - Parameters:
    ///   - timeout: how long one request may take, from sending to the last byte of the answer.
    ///   - maximumConnections: connections kept to the host (match the client's in-flight bound).
    public init(baseURL: URL, timeout: Duration = .seconds(30), maximumConnections: Int = 8) throws(InsecureURLError) {
        try Self.checkSecure(baseURL)
        self.baseURL = baseURL
        let configuration = URLSessionConfiguration.uncached(timeout: timeout, maximumConnections: maximumConnections)
        session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        closingSession = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
        closingSession.finishTasksAndInvalidate()
    }

    /// https for any host; http only for loopback, where nothing crosses a network.
    public static func checkSecure(_ url: URL) throws(InsecureURLError) {
        guard EndpointRule.allows(url) else { throw InsecureURLError(url: url.absoluteString) }
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
        // libcurl may repeat a bodiless write unasked: harmless for a connection test (the one bodiless POST), not
        // for a delete.
        let ownConnection = request.body?.isEmpty != false && !["GET", "HEAD", "POST"].contains(request.method)
        if ownConnection { urlRequest.setValue("close", forHTTPHeaderField: "Connection") }
        let (data, response) = try await perform(urlRequest, in: ownConnection ? closingSession : session)
        guard let http = response as? HTTPURLResponse else {
            throw TransportFailure(.connectionLost, "the answer was not HTTP")
        }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return HTTPResponse(status: http.statusCode, headers: headers, body: data)
    }

    /// One task, its answer or its failure as a `TransportFailure`; cancelling the calling task cancels it.
    private func perform(_ urlRequest: URLRequest, in session: URLSession) async throws -> (Data, URLResponse) {
        let handle = TaskHandle()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<(Data, URLResponse), Error>) in
                let task = session.dataTask(with: urlRequest) { [delegate] data, response, error in
                    // An answer to the refused copy would answer a request whose body never went out.
                    if let task = handle.task, delegate.takeRefusal(of: task) {
                        continuation.resume(
                            throwing: TransportFailure(
                                .connectionLost, "the connection closed before an answer arrived"))
                    } else if let data, let response, error == nil {
                        continuation.resume(returning: (data, response))
                    } else if let error = error as? URLError {
                        continuation.resume(throwing: Self.failure(error))
                    } else {
                        continuation.resume(throwing: TransportFailure(.connectionLost, "the request failed"))
                    }
                }
                if !handle.start(task) { continuation.resume(throwing: TransportFailure(.cancelled, "cancelled")) }
            }
        } onCancel: {
            handle.cancel()
        }
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

/// The URLSession task of one request, for a cancellation that may come before the task exists.
private final class TaskHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var current: URLSessionTask?
    private var cancelled = false

    var task: URLSessionTask? { lock.withLock { current } }

    /// Resumes the task, unless the request was cancelled already: then the task is never started (and never
    /// completes), and the caller answers for it.
    func start(_ task: URLSessionTask) -> Bool {
        let cancelledAlready = lock.withLock {
            current = task
            return cancelled
        }
        if !cancelledAlready { task.resume() }
        return !cancelledAlready
    }

    func cancel() {
        lock.withLock {
            cancelled = true
            return current
        }?.cancel()
    }
}

import Dispatch
import Emulator
import Foundation
import IntegrationsAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct HTTPServerError: Error, CustomStringConvertible, Sendable { public var description: String }

/// HTTP/1.1 on POSIX sockets, enough to serve the emulator to real clients: persistent connections,
/// `Content-Length` and chunked bodies, many connections at once. Loopback is the intended use; nothing here is hardened for
/// the open internet.
///
/// Each connection gets a thread that blocks on its socket, which keeps the parser a plain loop; the handler runs
/// as a Swift task and the connection thread waits for it.
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async -> EmulatorOutcome

    /// The port actually bound (useful with port 0).
    public let port: UInt16
    public let host: String
    private let listener: Int32
    private let handler: Handler
    private let lock = NSLock()
    private var connections: Set<Int32> = []
    private var stopped = false

    static let maximumHeadBytes = 64 * 1024
    static let maximumBodyBytes = 8 * 1024 * 1024

    public init(host: String = "127.0.0.1", port: UInt16 = 0, handler: @escaping Handler) throws(HTTPServerError) {
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else {
            throw HTTPServerError(description: "\(host) is not an IPv4 address")
        }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw HTTPServerError(description: "socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr = address
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 512) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw HTTPServerError(description: "cannot listen on \(host):\(port): \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.listener = fd
        self.host = host
        self.port = UInt16(bigEndian: actual.sin_port)
        self.handler = handler
    }

    /// `http://HOST:PORT`.
    public var baseURL: String { "http://\(host):\(port)" }

    /// Starts accepting connections on a thread of its own and returns at once.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "http-accept"
        thread.start()
    }

    /// Stops accepting and closes every open connection. The listener is closed by the accept loop once its accept
    /// fails: closed here, its descriptor's number could go to another server's socket before the loop's next
    /// accept, which would then take that server's connections.
    public func stop() {
        let open: Set<Int32> = lock.withLock {
            stopped = true
            return connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    usleep(10_000)
                    continue
                }
                return
            }
            var yes: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            // An idle or stalled connection gives its thread back after a minute.
            var idle = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, socklen_t(MemoryLayout<timeval>.size))
            #if canImport(Darwin)
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &yes, socklen_t(MemoryLayout<Int32>.size))
            #endif
            let accepted = lock.withLock { () -> Bool in
                guard !stopped else { return false }
                connections.insert(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            let thread = Thread { [self] in
                serve(connection: fd)
                lock.withLock { _ = connections.remove(fd) }
                close(fd)
            }
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    private func serve(connection fd: Int32) {
        var reader = RequestReader(fd: fd)
        while true {
            let parsed: ParsedRequest
            switch reader.next() {
            case .closed: return
            case .malformed(let status, let reason):
                write(fd, Self.errorResponse(status, reason), keepAlive: false)
                return
            case .request(let request): parsed = request
            }
            let outcome = runHandler(parsed.request)
            switch outcome {
            case .drop:
                // The change is committed; the client sees the connection die without an answer.
                shutdown(fd, Int32(SHUT_RDWR))
                return
            case .respond(let response):
                guard write(fd, response, keepAlive: parsed.keepAlive) else { return }
                if !parsed.keepAlive { return }
            }
        }
    }

    private func runHandler(_ request: HTTPRequest) -> EmulatorOutcome {
        let box = OutcomeBox()
        let handler = self.handler
        Task {
            box.outcome = await handler(request)
            box.done.signal()
        }
        box.done.wait()
        return box.outcome ?? .drop
    }

    @discardableResult private func write(_ fd: Int32, _ response: HTTPResponse, keepAlive: Bool) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key })
        where name != "content-length" && name != "connection" { head += "\(name): \(value)\r\n" }
        head += "content-length: \(response.body.count)\r\n"
        head += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        bytes.append(contentsOf: response.body)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                #if canImport(Glibc)
                send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                #else
                send(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
                #endif
            }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    static func errorResponse(_ status: Int, _ reason: String) -> HTTPResponse {
        let body = ProblemDetails(
            type: "https://tools.ietf.org/html/rfc9110#section-15.5.1", title: Self.reason(status), status: status,
            detail: reason)
        return HTTPResponse(
            status: status, headers: ["content-type": "application/problem+json; charset=utf-8"],
            body: (try? JSONEncoder().encode(body)) ?? Data())
    }

    static func reason(_ status: Int) -> String {
        let phrase = HTTPStatus.reasonPhrase(status)
        return phrase.isEmpty ? "Status \(status)" : phrase
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var outcome: EmulatorOutcome?
    let done = DispatchSemaphore(value: 0)
}

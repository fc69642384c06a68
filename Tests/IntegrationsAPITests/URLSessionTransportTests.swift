import Foundation
import IntegrationsAPI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a scripted server does with one request.
enum ScriptedAnswer: Sendable {
    case answer(status: Int, headers: [String: String] = [:])
    /// Closes the connection after reading the whole request, without a byte of answer (a drop after a commit).
    case dropConnection
    /// Never answers; the connection stays open until the client closes it.
    case silence
}

/// A request as the scripted server saw it.
struct SeenRequest: Sendable, Equatable {
    var method: String
    var path: String
    var body: String
    /// False when the connection ended before the announced body arrived.
    var complete: Bool
}

/// An HTTP/1.1 server on loopback whose every answer is scripted, to put URLSession in the situations a real
/// server rarely makes: a reused connection that dies before answering.
final class ScriptedServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var seenRequests: [SeenRequest] = []
    private var acceptedConnections = 0
    private let script: @Sendable (_ index: Int, _ request: SeenRequest) -> ScriptedAnswer

    init(script: @escaping @Sendable (_ index: Int, _ request: SeenRequest) -> ScriptedAnswer) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw TransportFailure(.cannotConnect, "the scripted server cannot listen")
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Ends the accept loop (which holds the server until then).
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    deinit { close(listener) }

    var requests: [SeenRequest] { lock.withLock { seenRequests } }
    var connections: Int { lock.withLock { acceptedConnections } }
    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            lock.withLock { acceptedConnections += 1 }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
        while true {
            var headEnd: Int?
            while headEnd == nil {
                headEnd = buffer.firstRange(of: Array("\r\n\r\n".utf8))?.lowerBound
                if headEnd == nil && !fill() { return }
            }
            let head = String(decoding: buffer[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
            buffer.removeFirst(headEnd! + 4)
            let requestLine = head[0].split(separator: " ")
            let closeAfter = head.dropFirst().contains {
                $0.lowercased().replacingOccurrences(of: " ", with: "") == "connection:close"
            }
            let length =
                head.dropFirst().compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    return parts.count == 2 && parts[0].lowercased() == "content-length"
                        ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
                }.first ?? 0
            var complete = true
            while buffer.count < length {
                if !fill() {
                    complete = false
                    break
                }
            }
            let body = String(decoding: buffer.prefix(length), as: UTF8.self)
            buffer.removeFirst(min(length, buffer.count))
            let seen = SeenRequest(
                method: String(requestLine[0]), path: String(requestLine[1]), body: body, complete: complete)
            let index = lock.withLock {
                seenRequests.append(seen)
                return seenRequests.count - 1
            }
            guard complete else { return }
            switch script(index, seen) {
            case .dropConnection: return
            case .silence:
                while fill() {}
                return
            case .answer(let status, let headers):
                var text = "HTTP/1.1 \(status) Scripted\r\nContent-Length: 2\r\nContent-Type: application/json\r\n"
                for (name, value) in headers { text += "\(name): \(value)\r\n" }
                if closeAfter { text += "Connection: close\r\n" }
                text += "\r\n{}"
                let bytes = Array(text.utf8)
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if closeAfter { return }
            }
        }
    }
}

@Suite struct URLSessionTransportTests {
    /// libcurl re-sends a request on its own when a reused connection dies unanswered, and URLSession cannot
    /// replay a body for it: the copy would hang until the timeout, or a create would be sent twice behind the
    /// client's back. The transport refuses the re-send; the request fails at once as a lost connection.
    @Test func aWriteOnAReusedConnectionThatDiesIsNotSentAgainBehindTheClientsBack() async throws {
        let server = try ScriptedServer { index, _ in index == 1 ? .dropConnection : .answer(status: 200) }
        defer { server.stop() }
        let transport = try URLSessionTransport(baseURL: server.baseURL, timeout: .seconds(20), maximumConnections: 1)
        let first = try await transport.send(HTTPRequest(method: "GET", path: "/api/integrations"))
        #expect(first.status == 200)
        let body = Data(#"{"displayName":"Main"}"#.utf8)
        do {
            _ = try await transport.send(
                HTTPRequest(
                    method: "POST", path: "/api/integrations", headers: ["content-type": "application/json"], body: body
                ))
            Issue.record("the dropped write succeeded")
        } catch let failure as TransportFailure {
            #expect(failure.kind == .connectionLost, "a lost connection, not a hang until the timeout: \(failure)")
        }
        let writes = server.requests.filter { $0.method == "POST" }
        #expect(writes.filter(\.complete).count == 1, "the body reached the server exactly once: \(writes)")
        #expect(writes.allSatisfy { $0.body.isEmpty || $0.body == #"{"displayName":"Main"}"# })
    }

    /// A delete has no body for libcurl to ask for again, so it goes on a connection of its own, which libcurl
    /// never re-sends on: a dropped delete fails once, and the client decides (a later 404 then means done).
    @Test func aDeleteIsNeverRepeatedBehindTheClientsBack() async throws {
        let server = try ScriptedServer { _, request in
            request.method == "DELETE" ? .dropConnection : .answer(status: 200)
        }
        defer { server.stop() }
        let transport = try URLSessionTransport(baseURL: server.baseURL, timeout: .seconds(20), maximumConnections: 1)
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/a"))
        do {
            _ = try await transport.send(HTTPRequest(method: "DELETE", path: "/api/integrations/i"))
            Issue.record("the dropped delete succeeded")
        } catch let failure as TransportFailure { #expect(failure.kind == .connectionLost, "\(failure)") }
        #expect(server.requests.filter { $0.method == "DELETE" }.count == 1)
        #expect(server.connections == 2, "the delete had a connection of its own")
    }

    /// A connection test has no body either, and libcurl's own second try of it is harmless: it runs the test again.
    @Test func aConnectionTestMayBeRepeatedByLibcurl() async throws {
        let server = try ScriptedServer { index, _ in index == 1 ? .dropConnection : .answer(status: 200) }
        defer { server.stop() }
        let transport = try URLSessionTransport(baseURL: server.baseURL, timeout: .seconds(20), maximumConnections: 1)
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/a"))
        let tested = try await transport.send(HTTPRequest(method: "POST", path: "/api/integrations/i/test"))
        #expect(tested.status == 200)
        #expect(server.requests.map(\.path) == ["/a", "/api/integrations/i/test", "/api/integrations/i/test"])
    }

    /// Reads are safe to repeat, and libcurl's own re-send of them is left alone.
    @Test func aReadOnAReusedConnectionThatDiesIsRetriedOnANewOne() async throws {
        let server = try ScriptedServer { index, _ in index == 1 ? .dropConnection : .answer(status: 200) }
        defer { server.stop() }
        let transport = try URLSessionTransport(baseURL: server.baseURL, timeout: .seconds(20), maximumConnections: 1)
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/a"))
        let second = try await transport.send(HTTPRequest(method: "GET", path: "/b"))
        #expect(second.status == 200)
        #expect(server.requests.map(\.path) == ["/a", "/b", "/b"])
    }

    /// Cancelling the calling task ends the request at once, as a cancellation, not a failure to retry.
    @Test func cancellingTheCallerCancelsTheRequest() async throws {
        let server = try ScriptedServer { _, _ in .silence }
        defer { server.stop() }
        let transport = try URLSessionTransport(baseURL: server.baseURL, timeout: .seconds(20), maximumConnections: 1)
        let request = Task {
            try await transport.send(HTTPRequest(method: "POST", path: "/slow", body: Data("{}".utf8)))
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while server.requests.isEmpty && ContinuousClock.now < deadline { await Task.yield() }
        #expect(server.requests.count == 1, "the request reached the server")
        request.cancel()
        do {
            _ = try await request.value
            Issue.record("a request nobody answered succeeded")
        } catch let failure as TransportFailure { #expect(failure.kind == .cancelled, "\(failure)") }
    }

    @Test func writesReuseTheConnectionAndRedirectsAreAnswersNotFollowed() async throws {
        let server = try ScriptedServer { _, request in
            request.path == "/callback"
                ? .answer(status: 302, headers: ["Location": "/elsewhere"]) : .answer(status: 201)
        }
        defer { server.stop() }
        let transport = try URLSessionTransport(baseURL: server.baseURL, maximumConnections: 1)
        for index in 0..<3 {
            let response = try await transport.send(
                HTTPRequest(method: "POST", path: "/w\(index)", body: Data("{}".utf8)))
            #expect(response.status == 201)
        }
        let redirect = try await transport.send(HTTPRequest(method: "GET", path: "/callback"))
        #expect(redirect.status == 302 && redirect.headers["location"] == "/elsewhere")
        #expect(server.requests.map(\.path) == ["/w0", "/w1", "/w2", "/callback"])
        #expect(server.connections == 1, "writes and reads share one keep-alive connection")
    }
}

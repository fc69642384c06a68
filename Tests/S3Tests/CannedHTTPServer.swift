import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP server on loopback that answers each connection with the next of a fixed list of responses and
/// records the requests: for what moto cannot be made to do (fail with 503, redirect, send a hostile error
/// body) and for looking at the exact bytes the client sends.
final class CannedHTTPServer: @unchecked Sendable {
    struct Response {
        var status: Int
        var reason: String
        var headers: [(String, String)] = []
        var body: String = ""
    }

    struct Received {
        var method: String
        var target: String
        /// Lowercased names.
        var headers: [String: String]
        var body: [UInt8]
    }

    let port: UInt16
    var endpoint: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let lock = NSLock()
    private var responses: [Response]
    private var receivedRequests: [Received] = []

    /// Serves `responses` in order, the last one again for any further request.
    init(_ responses: [Response]) throws {
        precondition(!responses.isEmpty)
        self.responses = responses
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestFailure("socket() failed") }
        self.listener = listener
        var address = MotoServer.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard ready else {
            close(listener)
            throw TestFailure("could not listen on loopback: errno \(errno)")
        }
        port = UInt16(bigEndian: address.sin_port)
        // Blocking accept and reads, on a thread of its own rather than the cooperative pool.
        Thread { [self] in serve() }.start()
    }

    var requests: [Received] { lock.withLock { receivedRequests } }

    /// Must be called: the serving thread keeps the server alive until then. Only the serving thread closes the
    /// listener, once its accept fails: closed here, the descriptor's number could be reused by the next test's
    /// server before this thread's next accept, which would then serve that test's requests from this script.
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                close(listener)
                return
            }
            if let request = Self.read(connection) {
                let response = lock.withLock {
                    receivedRequests.append(request)
                    return responses.count > 1 ? responses.removeFirst() : responses[0]
                }
                Self.write(response, to: connection)
            }
            close(connection)
        }
    }

    private static func read(_ connection: Int32) -> Received? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        var expectedLength = 0
        while true {
            if let end = headerEnd, data.count >= end + expectedLength { break }
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            data += buffer[0..<count]
            if headerEnd == nil, let range = data.firstRange(of: separator) {
                headerEnd = range.upperBound
                let head = String(decoding: data[0..<range.lowerBound], as: UTF8.self)
                for line in head.split(separator: "\r\n").dropFirst()
                where line.lowercased().hasPrefix("content-length:") {
                    expectedLength =
                        Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
        }
        let end = headerEnd!
        let lines = String(decoding: data[0..<(end - 4)], as: UTF8.self).split(separator: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return Received(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers,
            body: Array(data[end..<(end + expectedLength)]))
    }

    #if os(Linux)
    private static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    private static let noSignal: Int32 = 0
    #endif

    private static func write(_ response: Response, to connection: Int32) {
        var head = "HTTP/1.1 \(response.status) \(response.reason)\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(response.body.utf8.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array((head + response.body).utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, noSignal) }
            guard count > 0 else { return }
            sent += count
        }
    }
}

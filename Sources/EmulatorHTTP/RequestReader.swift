import Foundation
import IntegrationsAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ParsedRequest {
    var request: HTTPRequest
    var keepAlive: Bool
}

enum ReadResult {
    case request(ParsedRequest)
    case malformed(status: Int, reason: String)
    case closed
}

/// Reads HTTP/1.1 requests off a blocking socket, one after another on the same connection.
struct RequestReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> ReadResult {
        var headEnd: Int?
        var searched = 0
        while headEnd == nil {
            headEnd = Self.findHeadEnd(buffer, from: max(0, searched - 3))
            if headEnd != nil { break }
            searched = buffer.count
            if buffer.count > HTTPServer.maximumHeadBytes {
                return .malformed(status: 431, reason: "the request head exceeds 64 KiB")
            }
            guard fill() else {
                return buffer.isEmpty ? .closed : .malformed(status: 400, reason: "the connection closed mid-request")
            }
        }
        let end = headEnd!
        guard let head = String(bytes: buffer[0..<end], encoding: .utf8) else {
            return .malformed(status: 400, reason: "the request head is not UTF-8")
        }
        buffer.removeFirst(end + 4)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, !requestLine[0].isEmpty, requestLine[1].hasPrefix("/") else {
            return .malformed(status: 400, reason: "the request line is not METHOD /target HTTP/1.1")
        }
        let version = requestLine[2]
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .malformed(status: 505, reason: "only HTTP/1.1 and HTTP/1.0 are served")
        }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                return .malformed(status: 400, reason: "a header line has no name")
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        var body: Data?
        if let coding = headers["transfer-encoding"] {
            // Both framings at once is how requests are smuggled past proxies; refuse rather than pick one.
            guard headers["content-length"] == nil else {
                return .malformed(
                    status: 400, reason: "a request has either Content-Length or Transfer-Encoding, not both")
            }
            guard coding.lowercased() == "chunked" else {
                return .malformed(status: 501, reason: "only the chunked transfer coding is supported")
            }
            switch readChunkedBody() {
            case .success(let bytes): body = Data(bytes)
            case .failure(let problem): return .malformed(status: problem.status, reason: problem.reason)
            }
        } else if let lengthText = headers["content-length"] {
            guard let length = Int(lengthText), length >= 0 else {
                return .malformed(status: 400, reason: "Content-Length is not a number")
            }
            guard length <= HTTPServer.maximumBodyBytes else {
                return .malformed(status: 413, reason: "the body exceeds 8 MiB")
            }
            while buffer.count < length {
                guard fill() else { return .malformed(status: 400, reason: "the connection closed mid-body") }
            }
            body = Data(buffer[0..<length])
            buffer.removeFirst(length)
        }
        let connection = headers["connection"]?.lowercased() ?? ""
        let keepAlive = version == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")

        let target = String(requestLine[1])
        let components = URLComponents(string: target)
        let path = components?.percentEncodedPath.removingPercentEncoding ?? target
        let request = HTTPRequest(
            method: String(requestLine[0]), path: path, query: components?.queryItems ?? [], headers: headers,
            body: body)
        return .request(ParsedRequest(request: request, keepAlive: keepAlive))
    }

    struct BodyProblem: Error {
        var status: Int
        var reason: String
    }

    /// A chunked body (RFC 9112 §7.1): hex sizes with optional extensions, the data, a last chunk of size 0 and
    /// optional trailer lines, which are read and ignored.
    private mutating func readChunkedBody() -> Result<[UInt8], BodyProblem> {
        var body: [UInt8] = []
        while true {
            guard let line = readLine() else {
                return .failure(BodyProblem(status: 400, reason: "the connection closed mid-body"))
            }
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }
            guard !sizeText.isEmpty, sizeText.count <= 8,
                let size = Int(
                    String(decoding: sizeText, as: UTF8.self).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return .failure(BodyProblem(status: 400, reason: "a chunk size is not a hexadecimal number")) }
            if size == 0 { break }
            guard body.count + size <= HTTPServer.maximumBodyBytes else {
                return .failure(BodyProblem(status: 413, reason: "the body exceeds 8 MiB"))
            }
            while buffer.count < size + 2 {
                guard fill() else {
                    return .failure(BodyProblem(status: 400, reason: "the connection closed mid-body"))
                }
            }
            guard buffer[size] == 13, buffer[size + 1] == 10 else {
                return .failure(BodyProblem(status: 400, reason: "a chunk is longer than its size"))
            }
            body.append(contentsOf: buffer[0..<size])
            buffer.removeFirst(size + 2)
        }
        while true {
            guard let trailer = readLine() else {
                return .failure(BodyProblem(status: 400, reason: "the connection closed mid-body"))
            }
            if trailer.isEmpty { return .success(body) }
        }
    }

    /// One CRLF-terminated line without its terminator, or nil when the connection ends first.
    private mutating func readLine() -> [UInt8]? {
        var searched = 0
        while true {
            if buffer.count >= 2,
                let end = (max(0, searched - 1)..<(buffer.count - 1)).first(where: {
                    buffer[$0] == 13 && buffer[$0 + 1] == 10
                })
            {
                let line = Array(buffer[0..<end])
                buffer.removeFirst(end + 2)
                return line
            }
            searched = buffer.count
            guard buffer.count <= HTTPServer.maximumHeadBytes, fill() else { return nil }
        }
    }

    /// Reads more bytes; false at end of stream or on error.
    private mutating func fill() -> Bool {
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }

    static func findHeadEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = start
        while index <= bytes.count - 4 {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }
}

import Emulator
import EmulatorHTTP
import Foundation
import IntegrationsAPI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection, to speak HTTP byte by byte.
final class RawConnection {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw RawError(description: "connect failed") }
        // Generous: the suite runs beside end-to-end tests that load both cores; this test is about correctness.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads one response (head and Content-Length body), or nil when the server closed the connection.
    private var buffer = [UInt8]()

    func readResponse() -> (status: Int, headers: [String: String], body: String)? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        func fill() -> Bool {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            if let range = buffer.firstRange(of: Array("\r\n\r\n".utf8)) {
                headEnd = range.lowerBound
                break
            }
            guard fill() else { return nil }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ")[1])!
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0")!
        let bodyStart = headEnd! + 4
        while buffer.count < bodyStart + length { guard fill() else { return nil } }
        let body = String(decoding: buffer[bodyStart..<(bodyStart + length)], as: UTF8.self)
        buffer.removeFirst(bodyStart + length)
        return (status, headers, body)
    }

    struct RawError: Error, CustomStringConvertible { var description: String }
}

/// Runs blocking socket work on a thread of its own: the server's handlers run on Swift's cooperative pool,
/// which a test must not fill with threads blocked in recv.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

struct Answer: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String
}

@Suite struct HTTPServerTests {
    let server: HTTPServer

    init() throws {
        let emulator = Emulator(credentials: [EmulatorCredential(token: "t", organizationId: "o")])
        server = try HTTPServer { request in await emulator.serve(request) }
        server.start()
    }

    @Test func keepsConnectionsAliveAndReadsBodies() async throws {
        defer { server.stop() }
        let answers = try await offPool { [server] in
            let connection = try RawConnection(port: server.port)
            let body =
                #"{"integrationType":"Payment","provider":"AuthorizeNet","displayName":"Main","secrets":{"ApiLoginId":"a","TransactionKey":"b"}}"#
            // Two requests in one write (pipelined), then a third after the answers, then the close.
            connection.write(
                "POST /api/organizations/o/integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "GET /api/organizations/o/integrations?isEnabled=true HTTP/1.1\r\nHost: x\r\nx-api-key: t\r\n\r\n"
            )
            var answers = [connection.readResponse(), connection.readResponse()]
            connection.write("GET /_emulator/stats HTTP/1.1\r\nConnection: close\r\n\r\n")
            answers += [connection.readResponse(), connection.readResponse()]
            return answers.map { $0.map { Answer(status: $0.status, headers: $0.headers, body: $0.body) } }
        }
        let created = try #require(answers[0])
        #expect(created.status == 201 && created.headers["connection"] == "keep-alive")
        #expect(created.headers["content-type"] == "application/json; charset=utf-8")
        let listed = try #require(answers[1])
        #expect(listed.status == 200 && listed.body.contains(#""displayName":"Main""#))
        let stats = try #require(answers[2])
        #expect(stats.status == 200 && stats.headers["connection"] == "close")
        #expect(stats.body.contains(#""total":2"#))
        #expect(answers[3] == nil, "closed after Connection: close")
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        defer { server.stop() }
        let statuses = try await offPool { [server] in
            let connection = try RawConnection(port: server.port)
            connection.write("GET /api/integration-templates HTTP/1.0\r\nAuthorization: Bearer t\r\n\r\n")
            return [connection.readResponse()?.status, connection.readResponse()?.status]
        }
        #expect(statuses == [200, nil])
    }

    @Test(arguments: [
        ("NONSENSE\r\n\r\n", 400), ("GET /x HTTP/2.0\r\n\r\n", 505),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n", 413),
        ("POST /x HTTP/1.1\r\nContent-Length: banana\r\n\r\n", 400),
        ("POST /x HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 413), ("GET /x HTTP/1.1\r\n: no-name\r\n\r\n", 400),
    ]) func malformedRequestsGetAClearStatusAndAClose(_ request: String, _ status: Int) async throws {
        defer { server.stop() }
        let answer = try await offPool { [server] in
            let connection = try RawConnection(port: server.port)
            connection.write(request)
            return connection.readResponse().map { Answer(status: $0.status, headers: $0.headers, body: $0.body) }
        }
        let response = try #require(answer)
        #expect(response.status == status)
        #expect(response.headers["connection"] == "close")
        #expect(response.body.contains(#""status":\#(status)"#))
    }

    /// URLSession on Linux sends a body it can replay (a stream) chunked, so the emulator reads that framing too.
    @Test func chunkedBodiesAreReadAndTheConnectionStaysOpen() async throws {
        defer { server.stop() }
        let answers = try await offPool { [server] in
            let connection = try RawConnection(port: server.port)
            let body =
                #"{"integrationType":"Payment","provider":"AuthorizeNet","displayName":"Chunked","secrets":{"ApiLoginId":"a","TransactionKey":"b"}}"#
            let bytes = Array(body.utf8)
            let split = bytes.count / 3
            connection.write(
                "POST /api/organizations/o/integrations HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            connection.write(
                String(split, radix: 16) + ";ext=1\r\n" + String(decoding: bytes[..<split], as: UTF8.self) + "\r\n")
            connection.write(
                String(bytes.count - split, radix: 16) + "\r\n" + String(decoding: bytes[split...], as: UTF8.self)
                    + "\r\n")
            connection.write("0\r\nX-Trailer: ignored\r\n\r\n")
            let created = connection.readResponse()
            connection.write("GET /api/organizations/o/integrations HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n")
            return [created, connection.readResponse()].map {
                $0.map { Answer(status: $0.status, headers: $0.headers, body: $0.body) }
            }
        }
        let created = try #require(answers[0])
        #expect(created.status == 201 && created.body.contains(#""displayName":"Chunked""#))
        let listed = try #require(answers[1])
        #expect(listed.status == 200 && listed.body.contains(#""displayName":"Chunked""#))
    }

    @Test func servesManyConnectionsAtOnce() async throws {
        defer { server.stop() }
        let port = server.port
        let statuses = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<64 {
                group.addTask {
                    (try? await offPool {
                        let connection = try RawConnection(port: port)
                        var seen: [Int] = []
                        for _ in 0..<10 {
                            connection.write(
                                "GET /api/integration-templates HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n")
                            seen.append(connection.readResponse()?.status ?? 0)
                        }
                        return seen
                    }) ?? []
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(statuses.count == 640 && statuses.allSatisfy { $0 == 200 })
    }

    @Test func percentEncodedPathsAndQueriesAreDecoded() async throws {
        defer { server.stop() }
        let answer = try await offPool { [server] in
            let connection = try RawConnection(port: server.port)
            connection.write(
                "GET /api/integration-templates?integrationType=%50ayment HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n")
            return connection.readResponse().map { Answer(status: $0.status, headers: $0.headers, body: $0.body) }
        }
        let response = try #require(answer)
        #expect(
            response.status == 200 && response.body.contains("AuthorizeNet") && !response.body.contains("QuickBooks"))
    }
}

@Suite struct EmulatorOptionsTests {
    @Test func parsesEveryFlag() throws {
        let options = try EmulatorOptions.parse([
            "--listen", "127.0.0.1:8080", "--org", "org123=TOKEN", "--org=org9=V:viewer", "--data", "/tmp/d.json",
            "--latency", "20ms", "--jitter", "5ms", "--fault-rate", "0.05", "--throttle-rate", "0.1", "--rate-limit",
            "100", "--drop-rate", "0.02", "--seed", "42", "--retry-after", "2s",
        ])
        #expect(options.port == 8080 && options.host == "127.0.0.1" && options.dataFile == "/tmp/d.json")
        #expect(
            options.credentials == [
                EmulatorCredential(token: "TOKEN", organizationId: "org123"),
                EmulatorCredential(token: "V", organizationId: "org9", isAdmin: false),
            ])
        #expect(
            options.faults
                == EmulatorFaults(
                    latency: .milliseconds(20), jitter: .milliseconds(5), faultRate: 0.05, throttleRate: 0.1,
                    rateLimit: 100, dropRate: 0.02, retryAfterSeconds: 2, seed: 42))
    }

    @Test(arguments: [
        (["--org", "o=t", "--fault-rate", "2"], "--fault-rate takes a share between 0 and 1, not '2'"),
        (["--org", "o=t", "--latency", "fast"], "--latency takes a duration such as 20ms or 1s, not 'fast'"),
        (["--org", "o"], "--org takes ORG=TOKEN"), ([], "at least one --org ORG=TOKEN is required"),
        (["--org", "o=t", "--bogus"], "unknown argument --bogus"),
        (["--org", "o=t", "--listen", "nowhere"], "--listen takes HOST:PORT, e.g. 127.0.0.1:0"),
        (["--org", "o=t", "--seed"], "--seed needs a value"),
    ]) func refusesBadFlagsClearly(_ arguments: [String], _ message: String) {
        #expect(throws: EmulatorOptions.Failure.self) { try EmulatorOptions.parse(arguments) }
        do { _ = try EmulatorOptions.parse(arguments) } catch { #expect(error.description == message) }
    }
}

import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import S3

/// The client against a server that answers what the test says: retries, redirects, hostile error bodies and
/// the exact request on the wire.
@Suite("S3Client on the wire") struct S3ClientWireTests {
    static let credentials = S3Credentials(accessKeyID: "AKIAWIRETESTKEY00001", secretAccessKey: "WIRE/secret+value")

    func client(
        _ server: CannedHTTPServer, sessionToken: String? = nil, timeout: Duration = .seconds(10)
    ) throws -> S3Client {
        var configuration = try S3Configuration.resolve(
            region: "eu-west-1", endpoint: server.endpoint,
            environment: [
                "AWS_ACCESS_KEY_ID": Self.credentials.accessKeyID,
                "AWS_SECRET_ACCESS_KEY": Self.credentials.secretAccessKey,
            ])
        configuration.credentials.sessionToken = sessionToken
        return S3Client(configuration: configuration, timeout: timeout)
    }

    static func errorBody(_ code: String, _ message: String, extra: String = "") -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(message)</Message>\(extra)<RequestId>R</RequestId></Error>"
    }

    @Test(
        "a conditional PUT goes out signed, with If-None-Match: *, the body's SHA-256 and each key segment encoded once"
    ) func putOnTheWire() async throws {
        let server = try CannedHTTPServer([.init(status: 200, reason: "OK", headers: [("ETag", "\"abc\"")])])
        defer { server.stop() }
        let body = Array(#"{"serial":1}"#.utf8)
        let etag = try await client(server, sessionToken: "TOKEN/with+chars==").put(
            bucket: "state-bucket", key: "dir one/café (1)+x.json", bytes: body, condition: .ifNoneMatch)
        #expect(etag == "\"abc\"")

        let request = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(request.method == "PUT")
        #expect(request.target == "/state-bucket/dir%20one/caf%C3%A9%20%281%29%2Bx.json")
        #expect(request.headers["if-none-match"] == "*")
        #expect(request.headers["if-match"] == nil)
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["x-amz-content-sha256"] == Digest.sha256(body).hex)
        #expect(request.headers["x-amz-security-token"] == "TOKEN/with+chars==")
        #expect(request.headers["host"] == "127.0.0.1:\(server.port)")
        #expect(request.body == body)
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIAWIRETESTKEY00001/"))
        #expect(authorization.contains("/eu-west-1/s3/aws4_request, "))
        #expect(
            authorization.contains(
                "SignedHeaders=content-type;host;if-none-match;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="
            ))
    }

    /// Recomputes the signature from the bytes received, so that what was signed is what was sent.
    @Test("the signature covers the request as received") func signatureMatchesReceivedRequest() async throws {
        let server = try CannedHTTPServer([.init(status: 200, reason: "OK", headers: [("ETag", "\"e\"")])])
        defer { server.stop() }
        try await client(server).put(
            bucket: "state-bucket", key: "a b/ü.json", bytes: [1, 2, 3], condition: .ifMatch("\"old\""))
        let request = try #require(server.requests.first)
        let authorization = try #require(request.headers["authorization"])
        let signedNames = try #require(
            authorization.firstRange(of: "SignedHeaders=").map { authorization[$0.upperBound...] }
        ).prefix { $0 != "," }.split(separator: ";").map(String.init)
        let date = try #require(request.headers["x-amz-date"])
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        let digits = Array(date)
        func number(_ range: Range<Int>) -> Int { Int(String(digits[range]))! }
        components.year = number(0..<4)
        components.month = number(4..<6)
        components.day = number(6..<8)
        components.hour = number(9..<11)
        components.minute = number(11..<13)
        components.second = number(13..<15)
        let instant = try #require(Calendar(identifier: .gregorian).date(from: components))
        let path = String(request.target.prefix { $0 != "?" })
        let resigned = SigV4.sign(
            method: request.method, path: path, query: "",
            headers: signedNames.filter { !$0.hasPrefix("x-amz-") }.map { ($0, request.headers[$0] ?? "") },
            payloadSHA256: Digest.sha256(request.body).hex, date: instant, region: "eu-west-1", service: "s3",
            credentials: Self.credentials, pathEncoding: .once)
        #expect(resigned.authorization == authorization)
        #expect(signedNames.contains("if-match"))
        #expect(request.headers["if-match"] == "\"old\"")
    }

    @Test("GET keeps the ETag exactly as sent, quotes included, and a 404 NoSuchKey is nil") func getKeepsETag()
        async throws
    {
        let server = try CannedHTTPServer([
            .init(
                status: 200, reason: "OK", headers: [("ETag", "\"d41d8cd98f00b204e9800998ecf8427e-1\"")], body: "hello"),
            .init(
                status: 404, reason: "Not Found", body: Self.errorBody("NoSuchKey", "The specified key does not exist.")
            ),
        ])
        defer { server.stop() }
        let s3 = try client(server)
        let object = try #require(try await s3.get(bucket: "state-bucket", key: "k"))
        #expect(object == S3Object(bytes: Array("hello".utf8), etag: "\"d41d8cd98f00b204e9800998ecf8427e-1\""))
        #expect(try await s3.get(bucket: "state-bucket", key: "k") == nil)
    }

    @Test("a success without an ETag is an error: a write could not be followed by a compare-and-swap")
    func missingETag() async throws {
        let server = try CannedHTTPServer([.init(status: 200, reason: "OK")])
        defer { server.stop() }
        let error = await #expect(throws: S3Error.self) {
            try await client(server).put(bucket: "state-bucket", key: "k", bytes: [1], condition: .none)
        }
        #expect(error?.kind == .server)
        #expect(
            error?.description == "S3 PutObject of s3://state-bucket/k failed: HTTP 200: the answer had no ETag header")
    }

    @Test("503 and 500 are retried with backoff, and the answer after them is the result") func retriesServerErrors()
        async throws
    {
        let server = try CannedHTTPServer([
            .init(
                status: 503, reason: "Slow Down", body: Self.errorBody("SlowDown", "Please reduce your request rate.")),
            .init(
                status: 500, reason: "Internal Server Error",
                body: Self.errorBody("InternalError", "We encountered an internal error.")),
            .init(status: 503, reason: "Slow Down"),
            .init(status: 200, reason: "OK", headers: [("ETag", "\"x\"")], body: "ok"),
        ])
        defer { server.stop() }
        let object = try await client(server).get(bucket: "state-bucket", key: "k")
        #expect(object?.bytes == Array("ok".utf8))
        #expect(server.requests.count == 4)
        // Each attempt is signed anew, not replayed.
        #expect(server.requests.allSatisfy { $0.headers["authorization"] != nil })
    }

    @Test("after three retries the 500 is the error, saying how many attempts were made")
    func givesUpAfterThreeRetries() async throws {
        let server = try CannedHTTPServer([
            .init(
                status: 500, reason: "Internal Server Error",
                body: Self.errorBody("InternalError", "We encountered an internal error."))
        ])
        defer { server.stop() }
        let error = await #expect(throws: S3Error.self) {
            try await client(server).put(bucket: "state-bucket", key: "k", bytes: [1], condition: .none)
        }
        #expect(server.requests.count == 4)
        #expect(error?.kind == .server)
        #expect(error?.status == 500)
        #expect(error?.code == "InternalError")
        #expect(error?.description.contains("after 4 attempts") == true)
    }

    @Test("a 412 is not retried") func preconditionNotRetried() async throws {
        let server = try CannedHTTPServer([
            .init(
                status: 412, reason: "Precondition Failed",
                body: Self.errorBody(
                    "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"))
        ])
        defer { server.stop() }
        let error = await #expect(throws: S3Error.self) {
            try await client(server).put(bucket: "state-bucket", key: "k", bytes: [1], condition: .ifMatch("\"stale\""))
        }
        #expect(error?.kind == .preconditionFailed)
        #expect(server.requests.count == 1)
    }

    @Test("409 ConditionalRequestConflict is a failed precondition too") func conditionalConflict() async throws {
        let server = try CannedHTTPServer([
            .init(
                status: 409, reason: "Conflict",
                body: Self.errorBody(
                    "ConditionalRequestConflict",
                    "A conflicting conditional operation is currently in progress against this resource."))
        ])
        defer { server.stop() }
        let error = await #expect(throws: S3Error.self) {
            try await client(server).put(bucket: "state-bucket", key: "k", bytes: [1], condition: .ifNoneMatch)
        }
        #expect(error?.kind == .preconditionFailed)
    }

    @Test("a redirect is not followed; the bucket's region in it becomes the hint") func redirectsRefused() async throws
    {
        let elsewhere = try CannedHTTPServer([
            .init(status: 200, reason: "OK", headers: [("ETag", "\"never\"")], body: "wrong host")
        ])
        defer { elsewhere.stop() }
        let server = try CannedHTTPServer([
            .init(
                status: 307, reason: "Temporary Redirect",
                headers: [
                    ("Location", "\(elsewhere.endpoint)/state-bucket/k"), ("x-amz-bucket-region", "ap-southeast-2"),
                ],
                body: Self.errorBody(
                    "TemporaryRedirect", "Please re-send this request to the specified temporary endpoint."))
        ])
        defer { server.stop() }
        let error = await #expect(throws: S3Error.self) {
            try await client(server).get(bucket: "state-bucket", key: "k")
        }
        #expect(elsewhere.requests.isEmpty)
        #expect(server.requests.count == 1)
        #expect(error?.status == 307)
        #expect(error?.description.contains("set the region to ap-southeast-2") == true)
    }

    @Test("an error body that quotes the access key id and diagnostics gives a clean, clipped, one-line description")
    func hostileErrorBody() async throws {
        let longMessage =
            "The request signature we calculated does not match for AKIAWIRETESTKEY00001 and ASIAOTHERKEY00000042\nsecond line "
            + String(repeating: "x", count: 400)
        let server = try CannedHTTPServer([
            .init(
                status: 403, reason: "Forbidden",
                body: Self.errorBody(
                    "SignatureDoesNotMatch", longMessage,
                    extra:
                        "<AWSAccessKeyId>AKIAWIRETESTKEY00001</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 CANONICAL-LEAK</StringToSign><SignatureProvided>SIGNATURE-LEAK</SignatureProvided>"
                ))
        ])
        defer { server.stop() }
        let caught = await #expect(throws: S3Error.self) {
            try await client(server).get(bucket: "state-bucket", key: "k")
        }
        let error = try #require(caught)
        let text = error.description
        #expect(error.kind == .accessDenied)
        #expect(!text.contains("AKIAWIRETESTKEY00001"))
        #expect(!text.contains("ASIAOTHERKEY00000042"))
        #expect(!text.contains("WIRE/secret+value"))
        #expect(!text.contains("LEAK"))
        #expect(!text.contains("\n"))
        #expect(text.contains("HTTP 403 SignatureDoesNotMatch"))
        #expect(text.contains("AWS_SECRET_ACCESS_KEY"))
        #expect((error.message?.count ?? 0) <= 200)
        #expect(text.count < 600)
    }

    @Test("a refused connection is a transport error after the retries") func connectionRefused() async throws {
        let port = try MotoServer.freePort()
        let configuration = try S3Configuration.resolve(
            region: nil, endpoint: "http://127.0.0.1:\(port)",
            environment: ["AWS_ACCESS_KEY_ID": "AKIDCANARY", "AWS_SECRET_ACCESS_KEY": "SECRETCANARY"])
        let error = await #expect(throws: S3Error.self) {
            try await S3Client(configuration: configuration).get(bucket: "state-bucket", key: "k")
        }
        #expect(error?.kind == .transport)
        #expect(error?.description.contains("connection refused") == true)
        #expect(error?.description.contains("after 4 attempts") == true)
        #expect(error?.description.contains("127.0.0.1:\(port)") == true)
    }

    @Test("invalid bucket names and dot-segment keys are refused before anything is sent") func refusedBeforeSending()
        async throws
    {
        let server = try CannedHTTPServer([.init(status: 200, reason: "OK", headers: [("ETag", "\"e\"")])])
        defer { server.stop() }
        let s3 = try client(server)
        for bucket in [
            "UPPER", "ab", "-leading", "trailing-", "a..b", "under_score", String(repeating: "a", count: 64),
        ] {
            let error = await #expect(throws: S3Error.self) { try await s3.get(bucket: bucket, key: "k") }
            #expect(error?.kind == .configuration, "\(bucket)")
        }
        for key in ["", "a/../b", "./x", "x/.", String(repeating: "k", count: 1025)] {
            let error = await #expect(throws: S3Error.self) {
                try await s3.put(bucket: "state-bucket", key: key, bytes: [], condition: .none)
            }
            #expect(error?.kind == .configuration, "\(key)")
        }
        #expect(server.requests.isEmpty)
    }

    @Test("DELETE sends If-Match when asked; 204 and 404 NoSuchKey both succeed, 404 NoSuchBucket does not")
    func deletes() async throws {
        let server = try CannedHTTPServer([
            .init(status: 204, reason: "No Content"),
            .init(
                status: 404, reason: "Not Found", body: Self.errorBody("NoSuchKey", "The specified key does not exist.")
            ),
            .init(
                status: 404, reason: "Not Found",
                body: Self.errorBody("NoSuchBucket", "The specified bucket does not exist")),
        ])
        defer { server.stop() }
        let s3 = try client(server)
        try await s3.delete(bucket: "state-bucket", key: "k", ifMatch: "\"e1\"")
        try await s3.delete(bucket: "state-bucket", key: "k")
        let error = await #expect(throws: S3Error.self) { try await s3.delete(bucket: "state-bucket", key: "k") }
        #expect(error?.kind == .notFound)
        #expect(server.requests.map(\.method) == ["DELETE", "DELETE", "DELETE"])
        #expect(server.requests[0].headers["if-match"] == "\"e1\"")
        #expect(server.requests[1].headers["if-match"] == nil)
    }

    @Test("CreateBucket outside us-east-1 names the region; BucketAlreadyOwnedByYou is fine") func createBucket()
        async throws
    {
        let server = try CannedHTTPServer([
            .init(
                status: 409, reason: "Conflict",
                body: Self.errorBody(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it."))
        ])
        defer { server.stop() }
        try await client(server).createBucket("state-bucket")
        let request = try #require(server.requests.first)
        #expect(request.target == "/state-bucket")
        #expect(
            String(decoding: request.body, as: UTF8.self).contains("<LocationConstraint>eu-west-1</LocationConstraint>")
        )
    }
}

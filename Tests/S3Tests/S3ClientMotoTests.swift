import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import S3

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The client against moto's S3. Serialized: one test switches moto's signature checking on for the whole
/// server while it runs.
@Suite("S3Client against moto", .serialized, .motoServer) struct S3ClientMotoTests {
    /// moto checks no signature unless asked to (see `signaturesVerified`), so any pair is accepted; canary
    /// values make a leak into a message easy to find.
    static let canary = S3Credentials(accessKeyID: "CANARYKEYID123", secretAccessKey: "CANARYSECRET123")

    func client(_ credentials: S3Credentials = canary, region: String = "us-east-1") throws -> S3Client {
        let server = try MotoServer.require()
        return S3Client(
            configuration: S3Configuration(
                region: region, endpoint: server.endpoint, pathStyle: true, credentials: credentials),
            timeout: .seconds(20))
    }

    /// A bucket of its own for each test, so that no test depends on another's objects.
    func freshBucket(_ s3: S3Client) async throws -> String {
        let bucket = "intops-s3-\(UUID().uuidString.prefix(8).lowercased())"
        try await s3.createBucket(bucket)
        return bucket
    }

    @Test("creating a bucket twice is fine") func createBucketTwice() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        try await s3.createBucket(bucket)
    }

    @Test("a bucket outside us-east-1 is created with its location constraint") func createBucketInRegion() async throws
    {
        let s3 = try client(region: "eu-west-1")
        let bucket = try await freshBucket(s3)
        let etag = try await s3.put(bucket: bucket, key: "k", bytes: [1], condition: .ifNoneMatch)
        #expect(try await s3.get(bucket: bucket, key: "k")?.etag == etag)
    }

    @Test("a missing key reads as nil") func missingKey() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        #expect(try await s3.get(bucket: bucket, key: "intops/state.json") == nil)
    }

    @Test("If-None-Match: * creates once; the second create is a failed precondition") func createOnlyOnce()
        async throws
    {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        let etag = try await s3.put(
            bucket: bucket, key: "state.json", bytes: Array(#"{"serial":1}"#.utf8), condition: .ifNoneMatch)
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""))
        let error = await #expect(throws: S3Error.self) {
            try await s3.put(
                bucket: bucket, key: "state.json", bytes: Array(#"{"serial":2}"#.utf8), condition: .ifNoneMatch)
        }
        #expect(error?.kind == .preconditionFailed)
        #expect(error?.status == 412)
        #expect(try await s3.get(bucket: bucket, key: "state.json")?.bytes == Array(#"{"serial":1}"#.utf8))
    }

    @Test("If-Match: the current ETag replaces and gives a new ETag; a stale one is a failed precondition")
    func compareAndSwap() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        let first = try await s3.put(
            bucket: bucket, key: "state.json", bytes: Array("one".utf8), condition: .ifNoneMatch)
        let second = try await s3.put(
            bucket: bucket, key: "state.json", bytes: Array("two".utf8), condition: .ifMatch(first))
        #expect(second != first)

        let stale = await #expect(throws: S3Error.self) {
            try await s3.put(bucket: bucket, key: "state.json", bytes: Array("three".utf8), condition: .ifMatch(first))
        }
        #expect(stale?.kind == .preconditionFailed)
        #expect(stale?.code == "PreconditionFailed")

        let object = try #require(try await s3.get(bucket: bucket, key: "state.json"))
        #expect(object == S3Object(bytes: Array("two".utf8), etag: second))
    }

    @Test("a GET's ETag, sent back in If-Match, is accepted") func etagRoundTrips() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        try await s3.put(bucket: bucket, key: "k", bytes: Array("v1".utf8), condition: .none)
        let read = try #require(try await s3.get(bucket: bucket, key: "k"))
        let written = try await s3.put(
            bucket: bucket, key: "k", bytes: Array("v2".utf8), condition: .ifMatch(read.etag))
        #expect(try await s3.get(bucket: bucket, key: "k") == S3Object(bytes: Array("v2".utf8), etag: written))
    }

    @Test("DELETE with a stale If-Match is a failed precondition; with the current one, or none, it deletes")
    func conditionalDelete() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        let old = try await s3.put(bucket: bucket, key: "lock", bytes: Array("a".utf8), condition: .ifNoneMatch)
        let current = try await s3.put(bucket: bucket, key: "lock", bytes: Array("b".utf8), condition: .ifMatch(old))

        let error = await #expect(throws: S3Error.self) {
            try await s3.delete(bucket: bucket, key: "lock", ifMatch: old)
        }
        #expect(error?.kind == .preconditionFailed)
        #expect(try await s3.get(bucket: bucket, key: "lock") != nil)

        try await s3.delete(bucket: bucket, key: "lock", ifMatch: current)
        #expect(try await s3.get(bucket: bucket, key: "lock") == nil)

        try await s3.put(bucket: bucket, key: "other", bytes: [], condition: .none)
        try await s3.delete(bucket: bucket, key: "other")
        #expect(try await s3.get(bucket: bucket, key: "other") == nil)
        // Gone already: still fine.
        try await s3.delete(bucket: bucket, key: "other")
    }

    @Test(
        "keys with spaces, non-ASCII characters, slashes and reserved characters round-trip",
        arguments: [
            "intops/prod org/state.json", "états/naïve ünïcode/ключ.json", "a/b/c/d/e.json",
            "with+plus & amp=eq,comma;semi.json", "(parens) [brackets] {braces}!*'@$.json", "percent%20literal%.json",
            "tilde~under_score-dash.json", "emoji 🚀/x.json", "/leading-slash", "double//slash",
        ]) func keyRoundTrip(key: String) async throws
    {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        let bytes = Array("content of \(key)".utf8)
        let etag = try await s3.put(bucket: bucket, key: key, bytes: bytes, condition: .ifNoneMatch)
        #expect(try await s3.get(bucket: bucket, key: key) == S3Object(bytes: bytes, etag: etag))
        // Another key that differs only in encoding-relevant ways must be another object.
        #expect(try await s3.get(bucket: bucket, key: key + "x") == nil)
        try await s3.delete(bucket: bucket, key: key, ifMatch: etag)
        #expect(try await s3.get(bucket: bucket, key: key) == nil)
    }

    @Test("an empty object and a large one round-trip") func sizes() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        let empty = try await s3.put(bucket: bucket, key: "empty", bytes: [], condition: .ifNoneMatch)
        #expect(try await s3.get(bucket: bucket, key: "empty") == S3Object(bytes: [], etag: empty))
        var generator = SystemRandomNumberGenerator()
        let large = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let etag = try await s3.put(
            bucket: bucket, key: "large", bytes: large, condition: .ifNoneMatch, contentType: "application/octet-stream"
        )
        let read = try #require(try await s3.get(bucket: bucket, key: "large"))
        #expect(read.etag == etag)
        #expect(read.bytes.count == large.count)
        #expect(read.bytes == large)
    }

    @Test("a missing bucket: the description names the bucket, the status and NoSuchBucket, and what to do")
    func missingBucket() async throws {
        let s3 = try client()
        let bucket = "intops-missing-\(UUID().uuidString.prefix(8).lowercased())"
        let error = await #expect(throws: S3Error.self) { try await s3.get(bucket: bucket, key: "intops/state.json") }
        #expect(error?.kind == .notFound)
        #expect(error?.code == "NoSuchBucket")
        #expect(error?.bucket == bucket)
        let text = error?.description ?? ""
        #expect(text.contains(bucket))
        #expect(text.contains("404"))
        #expect(text.contains("NoSuchBucket"))
        #expect(text.contains("GetObject"))
        #expect(text.contains("intops/state.json"))
        #expect(text.contains("create it"))
        #expect(!text.contains("\n"))

        let put = await #expect(throws: S3Error.self) {
            try await s3.put(bucket: bucket, key: "k", bytes: [1], condition: .ifNoneMatch)
        }
        #expect(put?.code == "NoSuchBucket")
    }

    @Test("no error description carries the access key id or the secret") func noCredentialsInErrors() async throws {
        let s3 = try client()
        let bucket = try await freshBucket(s3)
        try await s3.put(bucket: bucket, key: "k", bytes: [1], condition: .ifNoneMatch)
        var errors: [S3Error] = []
        let attempts: [@Sendable () async throws -> Void] = [
            { _ = try await s3.get(bucket: "intops-missing-bucket-canary", key: "k") },
            { _ = try await s3.put(bucket: bucket, key: "k", bytes: [2], condition: .ifNoneMatch) },
            { _ = try await s3.put(bucket: bucket, key: "k", bytes: [2], condition: .ifMatch("\"stale\"")) },
            { try await s3.delete(bucket: bucket, key: "k", ifMatch: "\"stale\"") },
            { try await s3.delete(bucket: "intops-missing-bucket-canary", key: "k") },
        ]
        for attempt in attempts { do { try await attempt() } catch let error as S3Error { errors.append(error) } }
        #expect(errors.count == attempts.count)
        for error in errors {
            for text in [error.description, String(reflecting: error), "\(error)"] {
                #expect(!text.contains("CANARYSECRET123"), "\(text)")
                #expect(!text.contains("CANARYKEYID123"), "\(text)")
            }
        }
    }

    /// moto checks signatures only when told to, and then for every request to the server: it recomputes each
    /// one with botocore, an implementation independent of this one. Its check mishandles non-ASCII and
    /// reserved characters in keys — it fails botocore's own requests for those — so the keys here are ones
    /// it reconstructs faithfully.
    @Test("with moto verifying signatures, signed requests pass and wrong credentials are refused")
    func signaturesVerified() async throws {
        let server = try MotoServer.require()
        // Three requests go unchecked: the IAM calls that create the user and its key.
        try await resetAuthentication(server, uncheckedRequests: "3")
        do {
            let credentials = try await provisionAccessKey(server)
            let s3 = try client(credentials)
            let bucket = try await freshBucket(s3)
            let key = "intops/prod org/state.json"
            let first = try await s3.put(bucket: bucket, key: key, bytes: Array("{}".utf8), condition: .ifNoneMatch)
            let second = try await s3.put(
                bucket: bucket, key: key, bytes: Array("{\"a\":1}".utf8), condition: .ifMatch(first))
            #expect(
                try await s3.get(bucket: bucket, key: key) == S3Object(bytes: Array("{\"a\":1}".utf8), etag: second))
            let stale = await #expect(throws: S3Error.self) {
                try await s3.put(bucket: bucket, key: key, bytes: [1], condition: .ifMatch(first))
            }
            #expect(stale?.kind == .preconditionFailed)
            try await s3.delete(bucket: bucket, key: key, ifMatch: second)
            #expect(try await s3.get(bucket: bucket, key: key) == nil)

            // The same key id with another secret: only the signature differs.
            var wrongSecret = credentials
            wrongSecret.secretAccessKey = "not-the-secret"
            let mismatch = await #expect(throws: S3Error.self) {
                try await client(wrongSecret).get(bucket: bucket, key: key)
            }
            #expect(mismatch?.kind == .accessDenied)
            #expect(mismatch?.code == "SignatureDoesNotMatch")
            #expect(mismatch?.description.contains(credentials.accessKeyID) == false)
            #expect(mismatch?.description.contains("not-the-secret") == false)

            let unknown = await #expect(throws: S3Error.self) {
                try await client(Self.canary).get(bucket: bucket, key: key)
            }
            #expect(unknown?.kind == .accessDenied)
            #expect(unknown?.code == "InvalidAccessKeyId")
            #expect(unknown?.description.contains("CANARYKEYID123") == false)
            #expect(unknown?.description.contains("CANARYSECRET123") == false)
            #expect(unknown?.description.contains("AWS_ACCESS_KEY_ID") == true)
        } catch {
            try? await resetAuthentication(server, uncheckedRequests: "inf")
            throw error
        }
        try await resetAuthentication(server, uncheckedRequests: "inf")
    }

    // MARK: - moto's IAM

    /// moto's switch for signature checking: after `uncheckedRequests` more requests, every one is checked.
    func resetAuthentication(_ server: MotoServer, uncheckedRequests: String) async throws {
        var request = URLRequest(url: server.endpoint.appendingPathComponent("moto-api/reset-auth"))
        request.httpMethod = "POST"
        request.httpBody = Data(uncheckedRequests.utf8)
        // moto reads the raw body, which a form content type (URLSession's default for a POST) would hide.
        request.setValue("text/plain", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode
        guard status == 200 else {
            throw TestFailure("moto's reset-auth answered \(status.map(String.init) ?? "no HTTP")")
        }
    }

    /// An IAM user allowed everything, and its access key. moto routes a request to IAM by the service in the
    /// signature's scope, so even these unchecked requests are signed, for service `iam`.
    func provisionAccessKey(_ server: MotoServer) async throws -> S3Credentials {
        let user = "intops-\(UUID().uuidString.prefix(8).lowercased())"
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        let bootstrap = S3Credentials(accessKeyID: "AKIDBOOTSTRAP", secretAccessKey: "bootstrap")
        _ = try await iam(server, ["Action": "CreateUser", "UserName": user], bootstrap)
        let created = try await iam(server, ["Action": "CreateAccessKey", "UserName": user], bootstrap)
        _ = try await iam(
            server,
            ["Action": "PutUserPolicy", "UserName": user, "PolicyName": "everything", "PolicyDocument": policy],
            bootstrap)
        guard let id = S3Error.element("AccessKeyId", in: created),
            let secret = S3Error.element("SecretAccessKey", in: created)
        else { throw TestFailure("moto's CreateAccessKey answer has no key: \(created.prefix(500))") }
        let credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret)
        // Checked already: the same signer in its other services' mode, verified by moto's IAM.
        let me = try await iam(server, ["Action": "GetUser"], credentials)
        guard me.contains("<UserName>\(user)</UserName>") else {
            throw TestFailure("GetUser answered \(me.prefix(500))")
        }
        return credentials
    }

    func iam(_ server: MotoServer, _ parameters: [String: String], _ credentials: S3Credentials) async throws -> String
    {
        let form = (parameters.merging(["Version": "2010-05-08"]) { $1 }).sorted { $0.key < $1.key }.map {
            "\(SigV4.uriEncode($0.key.utf8))=\(SigV4.uriEncode($0.value.utf8))"
        }.joined(separator: "&")
        let body = Array(form.utf8)
        let url = server.endpoint.appendingPathComponent("/")
        let contentType = "application/x-www-form-urlencoded; charset=utf-8"
        let signed = SigV4.sign(
            method: "POST", url: url, headers: [("Content-Type", contentType)], payloadSHA256: Digest.sha256(body).hex,
            date: Date(), region: "us-east-1", service: "iam", credentials: credentials, pathEncoding: .twice)
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        for header in signed.addedHeaders { request.setValue(header.value, forHTTPHeaderField: header.name) }
        request.setValue(signed.authorization, forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        let text = String(decoding: data, as: UTF8.self)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw TestFailure(
                "moto's IAM \(parameters["Action"] ?? "") answered \((response as? HTTPURLResponse)?.statusCode ?? 0): \(text.prefix(500))"
            )
        }
        return text
    }
}

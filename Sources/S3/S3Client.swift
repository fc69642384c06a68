import CryptoPrimitives
import Foundation
import HTTPSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An object's bytes and its ETag, kept exactly as S3 sent it (quotes included) so that it can go back in
/// `If-Match` unchanged.
public struct S3Object: Sendable, Equatable {
    public var bytes: [UInt8]
    public var etag: String

    public init(bytes: [UInt8], etag: String) {
        self.bytes = bytes
        self.etag = etag
    }
}

/// What a write requires of the object it replaces.
public enum S3WriteCondition: Sendable, Equatable {
    /// Write whatever is there.
    case none
    /// Write only over this ETag: a compare-and-swap.
    case ifMatch(String)
    /// Write only if the key does not exist yet (`If-None-Match: *`).
    case ifNoneMatch
}

/// Objects in S3 or an S3-compatible server, over Signature Version 4.
///
/// Failures without an answer, and 500 and 503 answers, are retried up to three times with a short exponential
/// backoff. That is safe for every request this client makes, conditional writes included: if a conditional
/// PUT was committed but its answer lost, the retry no longer matches and answers 412, which the caller takes as
/// a conflict and resolves by reading again — never as a lost or doubled write. (A conditional DELETE retried
/// that way answers 404, success, or 412, the same conflict.) Redirects are
/// never followed: S3 redirects only to say that the bucket is in another region, and following one would send
/// the signed request to a host that was not configured.
public struct S3Client: Sendable, CustomStringConvertible {
    public let configuration: S3Configuration
    private let transport: Transport
    static let maximumAttempts = 4

    public init(configuration: S3Configuration, timeout: Duration = .seconds(30)) {
        self.configuration = configuration
        transport = Transport(timeout: timeout)
    }

    public var description: String { "S3Client(\(configuration))" }

    /// The object, or nil when the key does not exist.
    public func get(bucket: String, key: String) async throws(S3Error) -> S3Object? {
        let answer = try await send(Request(operation: "GetObject", method: "GET", bucket: bucket, key: key))
        switch answer.status {
        case 200: return S3Object(bytes: answer.body, etag: try answer.etag(for: self, "GetObject", bucket, key))
        case 404 where answer.code == "NoSuchKey": return nil
        default: throw failure(answer, "GetObject", bucket, key)
        }
    }

    /// Writes the object if `condition` holds, and returns its new ETag.
    @discardableResult public func put(
        bucket: String, key: String, bytes: [UInt8], condition: S3WriteCondition,
        contentType: String = "application/json"
    ) async throws(S3Error) -> String {
        var headers: [(name: String, value: String)] = [("Content-Type", contentType)]
        switch condition {
        case .none: break
        case .ifMatch(let etag): headers.append(("If-Match", etag))
        case .ifNoneMatch: headers.append(("If-None-Match", "*"))
        }
        let answer = try await send(
            Request(operation: "PutObject", method: "PUT", bucket: bucket, key: key, headers: headers, body: bytes))
        guard answer.status == 200 else { throw failure(answer, "PutObject", bucket, key) }
        return try answer.etag(for: self, "PutObject", bucket, key)
    }

    /// Deletes the object, only if its ETag is still `ifMatch` when one is given. A key that does not exist is
    /// not an error: the object is gone either way.
    public func delete(bucket: String, key: String, ifMatch: String? = nil) async throws(S3Error) {
        let headers: [(name: String, value: String)] = ifMatch.map { [("If-Match", $0)] } ?? []
        let answer = try await send(
            Request(operation: "DeleteObject", method: "DELETE", bucket: bucket, key: key, headers: headers))
        switch answer.status {
        case 200, 204: return
        case 404 where answer.code != "NoSuchBucket": return
        default: throw failure(answer, "DeleteObject", bucket, key)
        }
    }

    /// Creates the bucket in the configured region; one that this account owns already is fine.
    public func createBucket(_ bucket: String) async throws(S3Error) {
        // us-east-1 is S3's default location and refuses to be named as a constraint.
        let body =
            configuration.region == "us-east-1"
            ? []
            : Array(
                """
                <CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
                <LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>
                """.utf8)
        let headers: [(name: String, value: String)] = body.isEmpty ? [] : [("Content-Type", "application/xml")]
        let answer = try await send(
            Request(operation: "CreateBucket", method: "PUT", bucket: bucket, key: nil, headers: headers, body: body))
        switch answer.status {
        case 200: return
        case 409 where answer.code == "BucketAlreadyOwnedByYou": return
        default: throw failure(answer, "CreateBucket", bucket, nil)
        }
    }

    // MARK: - Requests

    struct Request {
        var operation: String
        var method: String
        var bucket: String
        var key: String?
        var headers: [(name: String, value: String)] = []
        var body: [UInt8] = []
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var attempts: Int

        /// S3 sends its error code in the XML body.
        var code: String? { status >= 300 ? S3Error.element("Code", in: String(decoding: body, as: UTF8.self)) : nil }

        func etag(for client: S3Client, _ operation: String, _ bucket: String, _ key: String) throws(S3Error) -> String
        {
            guard let etag = headers["etag"], !etag.isEmpty else {
                var error = S3Error(
                    .server, operation: operation, bucket: bucket, key: key, status: status,
                    detail: "the answer had no ETag header")
                error.region = client.configuration.region
                throw error
            }
            return etag
        }
    }

    private func failure(_ answer: Answer, _ operation: String, _ bucket: String, _ key: String?) -> S3Error {
        var error = S3Error.response(
            operation: operation, bucket: bucket, key: key, status: answer.status, body: answer.body,
            bucketRegion: answer.headers["x-amz-bucket-region"], credentials: configuration.credentials,
            region: configuration.region)
        error.attempts = answer.attempts
        return error
    }

    /// Signs and sends `request`, again on a transport failure or a 500 or 503, each attempt signed anew.
    private func send(_ request: Request) async throws(S3Error) -> Answer {
        let url = try url(bucket: request.bucket, key: request.key)
        let payloadHash = Digest.sha256(request.body).hex
        var attempt = 1
        while true {
            let signed = SigV4.sign(
                method: request.method, url: url, headers: request.headers, payloadSHA256: payloadHash, date: Date(),
                region: configuration.region, service: "s3", credentials: configuration.credentials, pathEncoding: .once
            )
            var urlRequest = URLRequest(url: url)
            urlRequest.httpMethod = request.method
            for header in request.headers + signed.addedHeaders {
                urlRequest.setValue(header.value, forHTTPHeaderField: header.name)
            }
            urlRequest.setValue(signed.authorization, forHTTPHeaderField: "Authorization")
            // A PUT announces its length even when empty: S3 refuses a PUT without Content-Length.
            if request.method == "PUT" || !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }

            do {
                let answer = try await transport.perform(urlRequest)
                if !(answer.status == 500 || answer.status == 503) || attempt == Self.maximumAttempts {
                    return Answer(status: answer.status, headers: answer.headers, body: answer.body, attempts: attempt)
                }
            } catch {
                if !error.retryable || attempt == Self.maximumAttempts {
                    var failure = S3Error(
                        .transport, operation: request.operation, bucket: request.bucket, key: request.key,
                        detail: "\(error.reason) (\(SigV4.hostHeader(for: url) ?? "the endpoint"))")
                    failure.attempts = attempt
                    failure.region = configuration.region
                    throw failure
                }
            }
            try await backOff(after: attempt, request)
            attempt += 1
        }
    }

    /// 100 ms, 200 ms, 400 ms, each between half and all of that at random so that clients failing together
    /// do not retry together.
    private func backOff(after attempt: Int, _ request: Request) async throws(S3Error) {
        let milliseconds = 100 * (1 << (attempt - 1))
        do { try await Task.sleep(for: .milliseconds(Int(Double(milliseconds) * Double.random(in: 0.5...1.0)))) } catch
        {
            throw S3Error(
                .transport, operation: request.operation, bucket: request.bucket, key: request.key, detail: "cancelled")
        }
    }

    // MARK: - Addressing

    /// Path-style `ENDPOINT/BUCKET/KEY`, or virtual-hosted `https://BUCKET.s3.REGION.amazonaws.com/KEY`. A bucket
    /// with a dot goes path-style even on AWS: `a.b.s3.…` is not covered by S3's `*.s3.…` TLS certificate.
    func url(bucket: String, key: String?) throws(S3Error) -> URL {
        try Self.checkBucket(bucket)
        let path = try key.map { key throws(S3Error) in "/" + (try Self.encodedKey(key, bucket: bucket)) } ?? ""
        let endpoint =
            configuration.endpoint.absoluteString.hasSuffix("/")
            ? String(configuration.endpoint.absoluteString.dropLast()) : configuration.endpoint.absoluteString
        let text: String
        if configuration.pathStyle || bucket.contains(".") {
            text = endpoint + "/" + bucket + path
        } else {
            let scheme = configuration.endpoint.scheme ?? "https"
            let host = SigV4.hostHeader(for: configuration.endpoint) ?? ""
            text = "\(scheme)://\(bucket).\(host)" + (path.isEmpty ? "/" : path)
        }
        guard let url = URL(string: text) else {
            throw S3Error.configuration("the S3 URL for bucket \(bucket) could not be formed", bucket: bucket, key: key)
        }
        return url
    }

    /// S3's naming rules for buckets: the name becomes a host name label.
    static func checkBucket(_ bucket: String) throws(S3Error) {
        let bytes = Array(bucket.utf8)
        let allowed = bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-")
        }
        let edgesAlphanumeric = [bytes.first, bytes.last].allSatisfy { byte in
            byte.map { $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "-") } ?? false
        }
        guard (3...63).contains(bytes.count), allowed, edgesAlphanumeric, !bucket.contains("..") else {
            throw S3Error.configuration(
                "'\(S3Error.oneLine(String(bucket.prefix(80))))' is not an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
                bucket: bucket)
        }
    }

    /// Each `/`-separated segment URI-encoded, the slashes kept: the key's own structure stays visible in the
    /// path, and SigV4 for S3 signs exactly this form.
    static func encodedKey(_ key: String, bucket: String) throws(S3Error) -> String {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        // HTTP clients resolve `.` and `..` segments before sending (libcurl does), so such a key would
        // silently name another object.
        guard !key.isEmpty, key.utf8.count <= 1024, !segments.contains(where: { $0 == "." || $0 == ".." }) else {
            throw S3Error.configuration(
                "the S3 key '\(S3Error.oneLine(String(key.prefix(200))))' cannot be used: it must be 1 to 1024 bytes, without '.' or '..' segments",
                bucket: bucket, key: key)
        }
        return segments.map { SigV4.uriEncode($0.utf8) }.joined(separator: "/")
    }
}

// MARK: - Transport

/// Why no HTTP answer arrived, worded without the URL (a URLError's description repeats it).
struct TransportFailure: Error {
    var reason: String
    var retryable: Bool
}

/// One URLSession for the client's lifetime, so that connections (and TLS sessions) are reused.
private final class Transport: Sendable {
    private let session: URLSession

    init(timeout: Duration) {
        session = URLSession(
            configuration: .uncached(timeout: timeout), delegate: GuardedSessionDelegate(), delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    func perform(
        _ request: URLRequest
    ) async throws(TransportFailure) -> (status: Int, headers: [String: String], body: [UInt8]) {
        let data: Data
        let response: URLResponse
        do { (data, response) = try await session.data(for: request) } catch {
            if Task.isCancelled { throw TransportFailure(reason: "cancelled", retryable: false) }
            throw Self.failure(error as? URLError)
        }
        guard let http = response as? HTTPURLResponse else {
            throw TransportFailure(reason: "the answer was not HTTP", retryable: true)
        }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return (http.statusCode, headers, [UInt8](data))
    }

    static func failure(_ error: URLError?) -> TransportFailure {
        guard let error else { return TransportFailure(reason: "the request failed", retryable: true) }
        switch error.code {
        case .timedOut: return TransportFailure(reason: "no answer within the timeout", retryable: true)
        case .cannotConnectToHost: return TransportFailure(reason: "connection refused", retryable: true)
        case .cannotFindHost, .dnsLookupFailed:
            return TransportFailure(reason: "the host name does not resolve", retryable: true)
        case .notConnectedToInternet: return TransportFailure(reason: "no network", retryable: true)
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            // A certificate does not fix itself in a second.
            return TransportFailure(reason: "the TLS connection could not be established", retryable: false)
        case .badURL, .unsupportedURL: return TransportFailure(reason: "the request URL is not valid", retryable: false)
        // Also what a task refused by `GuardedSessionDelegate` ends with.
        case .cancelled, .networkConnectionLost:
            return TransportFailure(reason: "the connection closed before an answer arrived", retryable: true)
        case .badServerResponse, .zeroByteResource, .cannotParseResponse:
            return TransportFailure(reason: "the server closed the connection without a valid answer", retryable: true)
        default:
            return TransportFailure(reason: "the connection failed (URLError \(error.code.rawValue))", retryable: true)
        }
    }
}

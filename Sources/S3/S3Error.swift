import Foundation

/// Why an S3 request did not give the object or the write it asked for.
///
/// `description` is one line that a person can act on. It is built from the fields alone, never from the
/// response body, so that nothing the server echoed back — its signature diagnostics carry the canonical
/// request and the access key id — and no credential reaches a log.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// An `If-Match` or `If-None-Match` condition did not hold (412, or 409 `ConditionalRequestConflict`
        /// when a concurrent write to the same key was in flight): someone else wrote first.
        case preconditionFailed
        case notFound
        /// 401 or 403: unknown or wrong credentials, or credentials without the permission.
        case accessDenied
        /// The configuration, a bucket name or a key cannot be used; nothing was sent.
        case configuration
        /// No HTTP answer: connection refused or lost, timeout, TLS, cancellation.
        case transport
        /// Any other answer: 5xx after the retries, a redirect, an unexpected status.
        case server
    }

    public var kind: Kind
    /// The S3 operation: `GetObject`, `PutObject`, `DeleteObject`, `CreateBucket`; empty for configuration.
    public var operation: String
    public var bucket: String?
    public var key: String?
    public var status: Int?
    /// The `<Code>` of S3's XML error body.
    public var code: String?
    /// S3's `<Message>`, without anything that looks like an access key id, on one line, at most 200 characters.
    public var message: String?
    /// What happened when there is no S3 code: the transport failure, the configuration problem.
    var detail: String?
    var region: String?
    /// The region S3 says the bucket is in (`x-amz-bucket-region`), for a wrong-region answer.
    var bucketRegion: String?
    var attempts = 1

    init(
        _ kind: Kind, operation: String, bucket: String? = nil, key: String? = nil, status: Int? = nil,
        code: String? = nil, message: String? = nil, detail: String? = nil
    ) {
        self.kind = kind
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
    }

    static func configuration(_ detail: String, bucket: String? = nil, key: String? = nil) -> S3Error {
        S3Error(.configuration, operation: "", bucket: bucket, key: key, detail: detail)
    }

    public var description: String {
        if kind == .configuration, let detail { return Self.oneLine(detail) }
        var line = "S3 \(operation)"
        if let bucket {
            line += " of s3://\(Self.oneLine(bucket))/"
            if let key { line += Self.oneLine(key) }
        }
        line += " failed: "
        if let status {
            line += "HTTP \(status)"
            if let code { line += " \(Self.oneLine(code))" }
            if let detail { line += ": \(Self.oneLine(detail))" }
        } else if let detail {
            line += Self.oneLine(detail)
        }
        if attempts > 1 { line += " (after \(attempts) attempts)" }
        if let hint { line += "; \(hint)" }
        if let message, !message.isEmpty { line += " (S3: \(message))" }
        return line
    }

    /// What to do about it, for the answers whose remedy is known.
    var hint: String? {
        let here = region.map { " (\($0))" } ?? ""
        if let bucketRegion, bucketRegion != region, status.map({ (300..<500).contains($0) }) ?? false {
            return
                "the bucket is in region \(bucketRegion), not \(region ?? "the configured one"): set the region to \(bucketRegion)"
        }
        switch code {
        case "NoSuchBucket":
            return "the bucket does not exist: create it, or check the bucket name, the region\(here) and the endpoint"
        case "InvalidAccessKeyId":
            return
                "S3 does not know this access key id: check AWS_ACCESS_KEY_ID (temporary credentials also need AWS_SESSION_TOKEN)"
        case "SignatureDoesNotMatch":
            return "the secret access key does not belong to the access key id: check AWS_SECRET_ACCESS_KEY"
        case "ExpiredToken", "TokenRefreshRequired":
            return
                "the temporary credentials expired: renew AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
        case "InvalidToken": return "the session token is not valid for these credentials: check AWS_SESSION_TOKEN"
        case "RequestTimeTooSkewed":
            return "this machine's clock is more than 15 minutes away from S3's: correct the clock"
        case "AuthorizationHeaderMalformed", "PermanentRedirect", "TemporaryRedirect",
            "IllegalLocationConstraintException":
            return
                "the bucket is in another region than\(here.isEmpty ? " the one configured" : here): set the bucket's region"
        default: break
        }
        switch kind {
        case .preconditionFailed:
            return "the object was changed or created by another writer since it was read: read it again before writing"
        case .accessDenied:
            let resource =
                "arn:aws:s3:::\(bucket.map(Self.oneLine) ?? "*")" + (key.map { "/\(Self.oneLine($0))" } ?? "")
            return
                "these credentials may not \(action) on \(resource): grant it (IAM or bucket policy), or check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        case .notFound: return "check the bucket name, the key and the endpoint"
        case .server where (status ?? 0) >= 500: return "S3 is failing: try again later"
        default: return nil
        }
    }

    private var action: String {
        switch operation {
        case "GetObject": "s3:GetObject"
        case "PutObject": "s3:PutObject"
        case "DeleteObject": "s3:DeleteObject"
        case "CreateBucket": "s3:CreateBucket"
        default: "this"
        }
    }

    /// Control characters (a key may hold a newline) as spaces, so that the description stays one line.
    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) })
    }

    // MARK: - From an answer

    /// The error for an HTTP answer that is not the success the operation expected.
    static func response(
        operation: String, bucket: String?, key: String?, status: Int, body: [UInt8], bucketRegion: String?,
        credentials: S3Credentials, region: String
    ) -> S3Error {
        let xml = String(decoding: body, as: UTF8.self)
        let code = element("Code", in: xml).map { String($0.prefix(100)) }
        let kind: Kind =
            switch status {
            case 412: .preconditionFailed
            case 409 where code == "ConditionalRequestConflict": .preconditionFailed
            case 404: .notFound
            case 401, 403: .accessDenied
            default: .server
            }
        var error = S3Error(
            kind, operation: operation, bucket: bucket, key: key, status: status, code: code,
            message: element("Message", in: xml).map { sanitizedMessage($0, credentials: credentials) })
        error.region = region
        // A header is not trusted to hold a region name: it is repeated in the hint only if it looks like one.
        error.bucketRegion = bucketRegion.flatMap { S3Configuration.isValidRegion($0) ? $0 : nil }
        return error
    }

    /// The text of the first `<name>` element, entities decoded. S3's error bodies are flat and small; this
    /// avoids a dependency on an XML parser (FoundationXML on Linux pulls in libxml2).
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"),
            let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        let raw = xml[open.upperBound..<close.lowerBound]
        return raw.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// S3's message may quote the access key id (`The AWS Access Key Id you provided does not exist`, or a
    /// proxy's own wording): the configured id and secret, and anything shaped like an AWS key id, are replaced
    /// before the text is clipped, so that clipping cannot leave a fragment of one.
    static func sanitizedMessage(_ message: String, credentials: S3Credentials) -> String {
        var text = oneLine(message)
        for secret in [credentials.accessKeyID, credentials.secretAccessKey, credentials.sessionToken ?? ""]
        where !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "(redacted)") }
        text = text.replacing(
            #/(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{12,}/#, with: "(redacted)")
        text = text.trimmingCharacters(in: .whitespaces)
        return text.count > 200 ? String(text.prefix(199)) + "…" : text
    }
}

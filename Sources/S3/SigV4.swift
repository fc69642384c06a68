import CryptoPrimitives
import Foundation

/// AWS Signature Version 4, carried in the `Authorization` header.
///
/// The signature covers a canonical form of the request, so that proxies and HTTP stacks that reorder headers
/// or re-space values do not break it; every rule below is one the server applies to what it receives, and a
/// single byte of difference is a `SignatureDoesNotMatch`.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// How the request path becomes the canonical URI.
    public enum PathEncoding: Sendable, Equatable {
        /// S3: the path is signed as S3 reads it, each segment URI-encoded exactly once. A path that arrives
        /// encoded differently (a literal `(`, say) is decoded and encoded again, so the signature does not
        /// depend on how loosely the caller escaped it.
        case once
        /// Every other service: the path as sent, URI-encoded once more (a `%20` on the wire signs as `%2520`).
        case twice
    }

    /// Everything the signing produced: the intermediate strings are kept because a mismatch is only
    /// diagnosable by comparing them with what the server computed.
    public struct SignedRequest: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        /// Lowercase hexadecimal HMAC-SHA256 of the string to sign.
        public var signature: String
        /// The value of the `Authorization` header.
        public var authorization: String
        /// Headers the request must carry in addition to its own, the signer's: `x-amz-date`,
        /// `x-amz-content-sha256` when the payload hash is signed, `x-amz-security-token` with a session token.
        /// `Authorization` itself is not among them.
        public var addedHeaders: [(name: String, value: String)]
    }

    /// Signs a request given as it goes on the wire.
    ///
    /// - Parameters:
    ///   - path: the request target's path as sent, percent-encoded or not (`/a%20b`, or `/a b` as the AWS test
    ///     suite writes it); empty means `/`.
    ///   - query: the request target's query as sent, without `?`; empty when there is none.
    ///   - headers: the headers to sign, `Host` among them; names in any case, repeated names allowed (their
    ///     values are joined with commas, in order). `x-amz-date`, `x-amz-content-sha256` and
    ///     `x-amz-security-token` belong to the signer: given ones are replaced.
    ///   - payloadSHA256: lowercase hexadecimal SHA-256 of the body.
    ///   - signsPayloadHash: whether `x-amz-content-sha256` is added and signed (S3 requires it).
    public static func sign(
        method: String, path: String, query: String, headers: [(name: String, value: String)], payloadSHA256: String,
        date: Date, region: String, service: String, credentials: S3Credentials, pathEncoding: PathEncoding,
        signsPayloadHash: Bool = true
    ) -> SignedRequest {
        let timestamp = Timestamp(date)
        var added: [(name: String, value: String)] = [("x-amz-date", timestamp.dateTime)]
        if signsPayloadHash { added.append(("x-amz-content-sha256", payloadSHA256)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        let owned: Set<String> = ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization"]
        let signed = headers.filter { !owned.contains($0.name.lowercased()) } + added

        let (canonicalHeaders, signedHeaders) = canonicalHeaders(signed)
        let canonicalRequest = [
            method.uppercased(), canonicalURI(path, encoding: pathEncoding), canonicalQuery(query), canonicalHeaders,
            signedHeaders, payloadSHA256,
        ].joined(separator: "\n")

        let scope = "\(timestamp.date)/\(region)/\(service)/aws4_request"
        let stringToSign = [algorithm, timestamp.dateTime, scope, Digest.sha256(Array(canonicalRequest.utf8)).hex]
            .joined(separator: "\n")

        let key = signingKey(
            secret: credentials.secretAccessKey, date: timestamp.date, region: region, service: service)
        let signature = Digest.hmacSHA256(key: key, data: Array(stringToSign.utf8)).hex
        let authorization =
            "\(algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return SignedRequest(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders,
            signature: signature, authorization: authorization, addedHeaders: added)
    }

    /// Signs a request to `url`: its percent-encoded path and query are what goes on the wire, and a `Host`
    /// header is signed from the URL unless `headers` has one.
    public static func sign(
        method: String, url: URL, headers: [(name: String, value: String)], payloadSHA256: String, date: Date,
        region: String, service: String, credentials: S3Credentials, pathEncoding: PathEncoding,
        signsPayloadHash: Bool = true
    ) -> SignedRequest {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        var all = headers
        if !headers.contains(where: { $0.name.lowercased() == "host" }), let host = hostHeader(for: url) {
            all.append(("host", host))
        }
        return sign(
            method: method, path: components?.percentEncodedPath ?? "/", query: components?.percentEncodedQuery ?? "",
            headers: all, payloadSHA256: payloadSHA256, date: date, region: region, service: service,
            credentials: credentials, pathEncoding: pathEncoding, signsPayloadHash: signsPayloadHash)
    }

    /// The `Host` header an HTTP client sends for `url`: the port only when the URL names one, IPv6 literals in
    /// brackets.
    public static func hostHeader(for url: URL) -> String? {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: true), let host = components.host,
            !host.isEmpty
        else { return nil }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return components.port.map { "\(bracketed):\($0)" } ?? bracketed
    }

    // MARK: - Canonical request

    static func canonicalURI(_ path: String, encoding: PathEncoding) -> String {
        guard !path.isEmpty else { return "/" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let encoded = segments.map { segment in
            switch encoding {
            case .once: uriEncode(percentDecoded(segment))
            case .twice: uriEncode(Array(segment.utf8))
            }
        }
        let joined = encoded.joined(separator: "/")
        return joined.hasPrefix("/") ? joined : "/" + joined
    }

    /// Parameters decoded and encoded again under SigV4's own rules, then sorted by key and, for repeated keys,
    /// by value — byte order of the encoded forms, which is what the server sorts.
    static func canonicalQuery(_ query: String) -> String {
        let parameters = query.split(separator: "&").map { parameter -> (String, String) in
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = uriEncode(percentDecoded(parts[0]))
            let value = parts.count > 1 ? uriEncode(percentDecoded(parts[1])) : ""
            return (name, value)
        }
        return parameters.sorted { lhs, rhs in
            lhs.0 != rhs.0
                ? Array(lhs.0.utf8).lexicographicallyPrecedes(rhs.0.utf8)
                : Array(lhs.1.utf8).lexicographicallyPrecedes(rhs.1.utf8)
        }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Lines `name:value\n` sorted by name, and the names joined by `;`. A proxy may fold or re-space a value;
    /// trimming and collapsing runs of spaces makes the signature survive that.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (lines: String, signed: String) {
        var values: [String: [String]] = [:]
        for header in headers { values[header.name.lowercased(), default: []].append(normalizedValue(header.value)) }
        let names = values.keys.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
        let lines = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    static func normalizedValue(_ value: String) -> String {
        var out = ""
        var previousWasSpace = false
        for character in value.trimmingCharacters(in: .whitespaces) {
            if character == " " {
                if !previousWasSpace { out.append(character) }
                previousWasSpace = true
            } else {
                out.append(character)
                previousWasSpace = false
            }
        }
        return out
    }

    /// RFC 3986 unreserved bytes kept, every other byte `%XX` in uppercase hexadecimal.
    static func uriEncode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// `%XX` sequences as bytes; a `%` not followed by two hexadecimal digits stays a literal `%`, as a server
    /// reading the same path would take it.
    static func percentDecoded(_ text: Substring) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: - Key and time

    /// The secret never signs a request directly: it is narrowed to one day, region and service first.
    static func signingKey(secret: String, date: String, region: String, service: String) -> [UInt8] {
        var key = Array("AWS4\(secret)".utf8)
        for part in [date, region, service, "aws4_request"] {
            key = Digest.hmacSHA256(key: key, data: Array(part.utf8))
        }
        return key
    }

    /// UTC, computed from the seconds since 1970 so that neither the locale nor the calendar settings of the
    /// machine can change the digits.
    struct Timestamp {
        /// `YYYYMMDD`
        var date: String
        /// `YYYYMMDD'T'HHMMSS'Z'`
        var dateTime: String

        init(_ instant: Date) {
            let seconds = Int(instant.timeIntervalSince1970.rounded(.down))
            let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
            let secondOfDay = seconds - days * 86_400
            let (year, month, day) = Self.civil(fromDays: days)
            date = Self.digits(year, 4) + Self.digits(month, 2) + Self.digits(day, 2)
            dateTime =
                date + "T" + Self.digits(secondOfDay / 3600, 2) + Self.digits(secondOfDay / 60 % 60, 2)
                + Self.digits(secondOfDay % 60, 2) + "Z"
        }

        private static func digits(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }

        /// Days since 1970-01-01 to a proleptic Gregorian date (the algorithm counts in 400-year eras, which
        /// repeat exactly).
        private static func civil(fromDays days: Int) -> (Int, Int, Int) {
            let shifted = days + 719_468
            let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
            let dayOfEra = shifted - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let monthIndex = (5 * dayOfYear + 2) / 153
            let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
            let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
            let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
            return (year, month, day)
        }
    }
}

import Foundation
import HTTPSupport

/// An access key pair, and the session token of temporary credentials.
///
/// Every textual form — `description`, `debugDescription`, the mirror `dump` walks — shows the access key id
/// and `(redacted)` for the rest, so that logging a configuration cannot leak the secret.
public struct S3Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "S3Credentials(accessKeyID: \(accessKeyID), secretAccessKey: (redacted)"
            + (sessionToken == nil ? ")" : ", sessionToken: (redacted))")
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": accessKeyID, "secretAccessKey": "(redacted)",
                "sessionToken": sessionToken.map { _ in "(redacted)" } as Any,
            ], displayStyle: .struct)
    }
}

/// Where the objects are and who asks for them.
public struct S3Configuration: Sendable, CustomStringConvertible {
    public var region: String
    /// `scheme://host[:port]`, without a path.
    public var endpoint: URL
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`) when an endpoint was given: S3-compatible servers rarely
    /// answer on `BUCKET.host`. AWS itself gets virtual-hosted addressing (`https://BUCKET.s3.REGION.amazonaws.com/KEY`).
    public var pathStyle: Bool
    public var credentials: S3Credentials

    public init(region: String, endpoint: URL, pathStyle: Bool, credentials: S3Credentials) {
        self.region = region
        self.endpoint = endpoint
        self.pathStyle = pathStyle
        self.credentials = credentials
    }

    public var description: String {
        "S3Configuration(region: \(region), endpoint: \(endpoint.absoluteString), pathStyle: \(pathStyle), credentials: \(credentials))"
    }

    /// The configuration from a manifest's values and the process environment.
    ///
    /// The region is `region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`. The endpoint is
    /// `endpoint`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` — any of them selecting path-style
    /// addressing — else AWS's regional endpoint. Credentials come from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and, for temporary credentials, `AWS_SESSION_TOKEN`. Empty values count as unset,
    /// as shells and CI systems leave them.
    public static func resolve(
        region: String?, endpoint: String?, environment: [String: String]
    ) throws(S3Error) -> S3Configuration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        let given = { (text: String?) -> String? in
            guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }

        let region = given(region) ?? value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        guard isValidRegion(region) else {
            throw S3Error.configuration(
                "the S3 region '\(region.prefix(64))' is not a region name (lowercase letters, digits and hyphens, like eu-west-1)"
            )
        }

        let explicitEndpoint = given(endpoint) ?? value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
        let endpointURL: URL
        if let explicitEndpoint {
            endpointURL = try checkedEndpoint(explicitEndpoint)
        } else {
            let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
            endpointURL = URL(string: "https://s3.\(region).\(suffix)")!
        }

        let accessKeyID = value("AWS_ACCESS_KEY_ID")
        let secretAccessKey = value("AWS_SECRET_ACCESS_KEY")
        guard let accessKeyID, let secretAccessKey else {
            let missing = [
                accessKeyID == nil ? "AWS_ACCESS_KEY_ID" : nil, secretAccessKey == nil ? "AWS_SECRET_ACCESS_KEY" : nil,
            ].compactMap { $0 }
            throw S3Error.configuration(
                "S3 credentials are missing: set \(missing.joined(separator: " and ")) in the environment (and AWS_SESSION_TOKEN for temporary credentials)"
            )
        }
        let credentials = S3Credentials(
            accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: value("AWS_SESSION_TOKEN"))
        return S3Configuration(
            region: region, endpoint: endpointURL, pathStyle: explicitEndpoint != nil, credentials: credentials)
    }

    /// The region goes into a host name and into the signature's scope, so only what a region name can hold.
    static func isValidRegion(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 64
            && region.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
            } && !region.hasPrefix("-") && !region.hasSuffix("-")
    }

    /// `scheme://host[:port]` with the default port dropped, since HTTP clients leave a default port out of
    /// the `Host` header and the signature must name the host exactly as sent.
    static func checkedEndpoint(_ text: String) throws(S3Error) -> URL {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw S3Error.configuration("the S3 endpoint '\(text.prefix(200))' is not a URL like https://host[:port]")
        }
        // The text may hold a password: it is not repeated.
        if components.user != nil || components.password != nil {
            throw S3Error.configuration(
                "the S3 endpoint must not carry a user name or password; credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        }
        let port = components.port
        let portText = port.map { ":\($0)" } ?? ""
        let bracketedHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let shown = "\(scheme)://\(bracketedHost)\(portText)"
        guard scheme == "https" || scheme == "http" else {
            throw S3Error.configuration(
                "the S3 endpoint \(shown) is refused: it must be https:// (http:// only for a loopback host)")
        }
        if scheme == "http" && !EndpointRule.isLoopback(host) {
            throw S3Error.configuration(
                "the S3 endpoint \(shown) is refused: http:// would send the requests unencrypted; use https://, or http:// only for a loopback host (127.0.0.1, ::1, localhost)"
            )
        }
        guard components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/", components.query == nil,
            components.fragment == nil
        else {
            throw S3Error.configuration(
                "the S3 endpoint \(shown) must be just scheme://host[:port], without a path, query or fragment: the bucket and key make the path"
            )
        }
        let defaultPort = scheme == "https" ? 443 : 80
        let keptPort = port == nil || port == defaultPort ? "" : portText
        guard let url = URL(string: "\(scheme)://\(bracketedHost)\(keptPort)") else {
            throw S3Error.configuration("the S3 endpoint '\(shown)' is not a URL like https://host[:port]")
        }
        return url
    }
}

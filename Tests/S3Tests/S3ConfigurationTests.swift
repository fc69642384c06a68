import Foundation
import Testing

@testable import S3

@Suite("S3 configuration") struct S3ConfigurationTests {
    static let keys = ["AWS_ACCESS_KEY_ID": "AKIDCONFIG", "AWS_SECRET_ACCESS_KEY": "CONFIGSECRET"]

    func resolve(
        region: String? = nil, endpoint: String? = nil, _ environment: [String: String] = [:]
    ) throws(S3Error) -> S3Configuration {
        try S3Configuration.resolve(
            region: region, endpoint: endpoint, environment: Self.keys.merging(environment) { $1 })
    }

    @Test("endpoint: the mapping's, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS's own")
    func endpointPrecedence() throws {
        let both = [
            "AWS_ENDPOINT_URL_S3": "https://s3.internal.example", "AWS_ENDPOINT_URL": "https://all.internal.example",
        ]
        let mapped = try resolve(endpoint: "https://minio.example:9000", both)
        #expect(mapped.endpoint.absoluteString == "https://minio.example:9000")
        #expect(mapped.pathStyle)
        let s3Variable = try resolve(both)
        #expect(s3Variable.endpoint.absoluteString == "https://s3.internal.example")
        #expect(s3Variable.pathStyle)
        let general = try resolve(["AWS_ENDPOINT_URL": "https://all.internal.example"])
        #expect(general.endpoint.absoluteString == "https://all.internal.example")
        #expect(general.pathStyle)
        let aws = try resolve(region: "eu-central-1")
        #expect(aws.endpoint.absoluteString == "https://s3.eu-central-1.amazonaws.com")
        #expect(!aws.pathStyle)
        // Unset in a CI system often means set to nothing.
        let empty = try resolve(endpoint: "", ["AWS_ENDPOINT_URL_S3": "", "AWS_ENDPOINT_URL": " "])
        #expect(!empty.pathStyle)
    }

    @Test("region: the mapping's, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1") func regionPrecedence()
        throws
    {
        let both = ["AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-south-1"]
        #expect(try resolve(region: "us-west-2", both).region == "us-west-2")
        #expect(try resolve(both).region == "eu-west-1")
        #expect(try resolve(["AWS_DEFAULT_REGION": "ap-south-1"]).region == "ap-south-1")
        #expect(try resolve().region == "us-east-1")
        #expect(try resolve(region: "", ["AWS_REGION": ""]).region == "us-east-1")
    }

    @Test("a region that is not a region name is refused: it would go into the host name") func badRegion() {
        for region in ["EU-WEST-1", "eu west", "evil.com/x", "-x"] {
            let error = #expect(throws: S3Error.self) { try resolve(region: region) }
            #expect(error?.kind == .configuration)
        }
    }

    @Test("missing credentials name exactly the variables to set") func missingCredentials() {
        let neither = #expect(throws: S3Error.self) {
            try S3Configuration.resolve(region: nil, endpoint: nil, environment: [:])
        }
        #expect(neither?.kind == .configuration)
        #expect(neither?.description.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") == true)
        let noSecret = #expect(throws: S3Error.self) {
            try S3Configuration.resolve(region: nil, endpoint: nil, environment: ["AWS_ACCESS_KEY_ID": "AKIDONLY"])
        }
        #expect(noSecret?.description.contains("set AWS_SECRET_ACCESS_KEY") == true)
        #expect(noSecret?.description.contains("AKIDONLY") == false)
        let empty = #expect(throws: S3Error.self) {
            try S3Configuration.resolve(
                region: nil, endpoint: nil, environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "s"])
        }
        #expect(empty?.description.contains("set AWS_ACCESS_KEY_ID in") == true)
    }

    @Test("the session token is taken when set") func sessionToken() throws {
        #expect(try resolve(["AWS_SESSION_TOKEN": "TOKEN"]).credentials.sessionToken == "TOKEN")
        #expect(try resolve().credentials.sessionToken == nil)
    }

    @Test(
        "http:// is refused unless the host is loopback, in one line",
        arguments: [
            "http://example.com:9000", "http://10.0.0.5", "http://127.0.0.1.evil.example",
            "http://localhost.evil.example", "http://128.0.0.1:9000", "http://[::2]:9000",
        ]) func plainHTTPRefused(endpoint: String)
    {
        let error = #expect(throws: S3Error.self) { try resolve(endpoint: endpoint) }
        #expect(error?.kind == .configuration)
        #expect(error?.description.contains("https://") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test(
        "http:// to loopback is allowed",
        arguments: [
            "http://127.0.0.1:5000", "http://127.8.9.10:5000", "http://localhost:9000", "http://LOCALHOST",
            "http://[::1]:9000",
        ]) func loopbackHTTPAllowed(endpoint: String) throws
    {
        let configuration = try resolve(endpoint: endpoint)
        #expect(configuration.pathStyle)
        #expect(configuration.endpoint.scheme == "http")
    }

    @Test("an endpoint with a path, a query, credentials or another scheme is refused; the password is not repeated")
    func malformedEndpoints() {
        for endpoint in [
            "https://s3.example/bucket", "https://s3.example?x=1", "ftp://s3.example", "s3.example", "https://",
        ] {
            let error = #expect(throws: S3Error.self) { try resolve(endpoint: endpoint) }
            #expect(error?.kind == .configuration, "\(endpoint)")
        }
        let error = #expect(throws: S3Error.self) { try resolve(endpoint: "https://user:hunter2pass@s3.example") }
        #expect(error?.description.contains("hunter2pass") == false)
    }

    @Test("a default port and a trailing slash are dropped: the Host header must be signed as it is sent")
    func endpointNormalized() throws {
        #expect(try resolve(endpoint: "https://s3.example:443/").endpoint.absoluteString == "https://s3.example")
        #expect(try resolve(endpoint: "http://localhost:80").endpoint.absoluteString == "http://localhost")
        #expect(try resolve(endpoint: "HTTPS://s3.example:8443").endpoint.absoluteString == "https://s3.example:8443")
    }

    @Test("no textual form of the credentials or the configuration shows the secret or the token") func redaction()
        throws
    {
        let configuration = try resolve(["AWS_SESSION_TOKEN": "TOKENCANARY"])
        var dumped = ""
        dump(configuration, to: &dumped)
        var dumpedCredentials = ""
        dump(configuration.credentials, to: &dumpedCredentials)
        let client = S3Client(configuration: configuration)
        for text in [
            String(describing: configuration), String(reflecting: configuration),
            String(describing: configuration.credentials), String(reflecting: configuration.credentials), dumped,
            dumpedCredentials, String(describing: client), "\(configuration.credentials)",
        ] {
            #expect(!text.contains("CONFIGSECRET"), "\(text)")
            #expect(!text.contains("TOKENCANARY"), "\(text)")
            #expect(text.contains("(redacted)"), "\(text)")
        }
    }

    @Test("addressing: virtual-hosted on AWS, path-style on a given endpoint and for buckets with dots")
    func addressing() throws {
        let aws = S3Client(configuration: try resolve(region: "eu-west-1"))
        #expect(
            try aws.url(bucket: "state-bucket", key: "dir/a b.json").absoluteString
                == "https://state-bucket.s3.eu-west-1.amazonaws.com/dir/a%20b.json")
        #expect(
            try aws.url(bucket: "state-bucket", key: nil).absoluteString
                == "https://state-bucket.s3.eu-west-1.amazonaws.com/")
        #expect(
            try aws.url(bucket: "my.state.bucket", key: "k").absoluteString
                == "https://s3.eu-west-1.amazonaws.com/my.state.bucket/k")
        let minio = S3Client(configuration: try resolve(endpoint: "http://127.0.0.1:9000"))
        #expect(
            try minio.url(bucket: "state-bucket", key: "ü/x+y.json").absoluteString
                == "http://127.0.0.1:9000/state-bucket/%C3%BC/x%2By.json")
        #expect(try minio.url(bucket: "state-bucket", key: nil).absoluteString == "http://127.0.0.1:9000/state-bucket")
    }
}

@Suite("S3 errors") struct S3ErrorTests {
    static let credentials = S3Credentials(accessKeyID: "AKIAERRORTESTKEY0001", secretAccessKey: "ERRSECRET")

    func error(
        _ status: Int, _ code: String, _ message: String = "m", bucket: String = "b", key: String? = "k",
        operation: String = "GetObject", bucketRegion: String? = nil
    ) -> S3Error {
        S3Error.response(
            operation: operation, bucket: bucket, key: key, status: status,
            body: Array("<Error><Code>\(code)</Code><Message>\(message)</Message></Error>".utf8),
            bucketRegion: bucketRegion, credentials: Self.credentials, region: "us-east-1")
    }

    @Test("kinds follow the status, and 409 only for ConditionalRequestConflict") func kinds() {
        #expect(error(412, "PreconditionFailed").kind == .preconditionFailed)
        #expect(error(409, "ConditionalRequestConflict").kind == .preconditionFailed)
        #expect(error(409, "BucketNotEmpty").kind == .server)
        #expect(error(404, "NoSuchBucket").kind == .notFound)
        #expect(error(403, "AccessDenied").kind == .accessDenied)
        #expect(error(401, "Unauthorized").kind == .accessDenied)
        #expect(error(503, "SlowDown").kind == .server)
    }

    @Test("the description names operation, bucket, key, status and code, with the remedy") func describes() {
        let missing = error(
            404, "NoSuchBucket", "The specified bucket does not exist", bucket: "no-such-bucket",
            key: "intops/state.json")
        #expect(
            missing.description
                == "S3 GetObject of s3://no-such-bucket/intops/state.json failed: HTTP 404 NoSuchBucket; the bucket does not exist: create it, or check the bucket name, the region (us-east-1) and the endpoint (S3: The specified bucket does not exist)"
        )
        let denied = error(403, "AccessDenied", "Access Denied", operation: "PutObject")
        #expect(denied.description.contains("s3:PutObject on arn:aws:s3:::b/k"))
        #expect(error(403, "InvalidAccessKeyId").description.contains("check AWS_ACCESS_KEY_ID"))
        #expect(error(403, "RequestTimeTooSkewed").description.contains("clock"))
        #expect(error(400, "ExpiredToken").description.contains("AWS_SESSION_TOKEN"))
        #expect(
            error(301, "PermanentRedirect", bucketRegion: "eu-north-1").description.contains(
                "set the region to eu-north-1"))
        #expect(!error(301, "PermanentRedirect", bucketRegion: "evil.example/x").description.contains("evil"))
        #expect(error(412, "PreconditionFailed").description.contains("another writer"))
    }

    @Test("S3's message loses anything like an access key id, then is clipped to 200 characters on one line")
    func sanitizedMessage() {
        let message = S3Error.sanitizedMessage(
            "key AKIAERRORTESTKEY0001 or AKIAIOSFODNN7EXAMPLE, secret ERRSECRET\r\nand "
                + String(repeating: "y", count: 300), credentials: Self.credentials)
        #expect(!message.contains("AKIA"))
        #expect(!message.contains("ERRSECRET"))
        #expect(!message.contains("\n") && !message.contains("\r"))
        #expect(message.count == 200)
        #expect(message.hasPrefix("key (redacted) or (redacted), secret (redacted)"))
    }

    @Test("a key with a newline stays one line in the description") func oneLine() {
        #expect(!error(404, "NoSuchBucket", key: "a\nb").description.contains("\n"))
    }

    @Test("XML entities in the code and message are decoded") func entities() {
        #expect(
            S3Error.element("Message", in: "<Error><Message>a &lt;b&gt; &amp; &quot;c&quot;</Message></Error>")
                == "a <b> & \"c\"")
        #expect(S3Error.element("Code", in: "<Error></Error>") == nil)
    }
}

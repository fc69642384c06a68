import CryptoPrimitives
import Foundation
import Testing

@testable import S3

@Suite("Signature Version 4") struct SigV4Tests {
    /// Each stage separately: a wrong signature alone would not say whether the canonical form or the key
    /// derivation is at fault.
    @Test("the AWS test suite, in the encoding of services other than S3", arguments: suiteVectors) func suite(
        _ vector: SuiteVector
    ) {
        let signed = vector.sign()
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.stringToSign == vector.stringToSign)
        #expect(signed.authorization == vector.authorization)
    }

    /// The suite writes paths raw; the S3 client sends them percent-encoded. S3's single encoding must sign the
    /// encoded form exactly as the suite signs the raw one.
    @Test(
        "the suite's paths, percent-encoded as the client sends them, sign alike under S3's encoding",
        arguments: [
            ("get-utf8", "/%E1%88%B4"), ("get-space-unnormalized", "/example%20space/"),
            ("get-unreserved", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            ("get-slashes-unnormalized", "//example//"), ("get-vanilla", "/"),
        ]) func suiteUnderS3Encoding(name: String, encodedPath: String) throws
    {
        let vector = try #require(suiteVectors.first { $0.name == name })
        let signed = vector.sign(path: encodedPath, encoding: .once)
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.authorization == vector.authorization)
    }

    @Test("the vectors cover what the brief asks of them") func coverage() {
        let names = Set(suiteVectors.map(\.name))
        for required in [
            "get-vanilla", "get-vanilla-query-order-key-case", "get-utf8", "get-space-unnormalized",
            "get-slash-unnormalized", "post-x-www-form-urlencoded", "post-header-key-sort", "get-header-value-trim",
            "post-sts-header-before",
        ] { #expect(names.contains(required), "missing \(required)") }
    }

    @Test("the session token is signed and added as x-amz-security-token") func sessionTokenHeader() throws {
        let vector = try #require(suiteVectors.first { $0.name == "post-sts-header-before" })
        let signed = vector.sign()
        #expect(signed.addedHeaders.contains { $0.name == "x-amz-security-token" && $0.value == vector.sessionToken })
        #expect(signed.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(signed.addedHeaders.contains { $0.name == "x-amz-date" && $0.value == "20150830T123600Z" })
        #expect(!signed.addedHeaders.contains { $0.name == "x-amz-content-sha256" })
    }

    // MARK: - The S3 documentation's examples

    /// The access key pair of the S3 documentation's signing examples (not the test suite's: the secret differs).
    static let s3Example = S3Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3ExampleDate = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test("S3 documentation: GET Object with a Range header") func s3GetObjectExample() throws {
        let signed = SigV4.sign(
            method: "GET", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")),
            headers: [("Range", "bytes=0-9")], payloadSHA256: Self.emptySHA256, date: Self.s3ExampleDate,
            region: "us-east-1", service: "s3", credentials: Self.s3Example, pathEncoding: .once)
        #expect(
            signed.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            signed.stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    /// A `$` in the key, which URLs allow literally and SigV4 encodes: the canonical URI must carry `%24`.
    @Test("S3 documentation: PUT Object with a body and a storage class") func s3PutObjectExample() throws {
        let body = Array("Welcome to Amazon S3.".utf8)
        let payload = Digest.sha256(body).hex
        #expect(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signed = SigV4.sign(
            method: "PUT", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test$file.text")),
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payloadSHA256: payload, date: Self.s3ExampleDate, region: "us-east-1", service: "s3",
            credentials: Self.s3Example, pathEncoding: .once)
        #expect(
            signed.canonicalRequest == """
                PUT
                /test%24file.text

                date:Fri, 24 May 2013 00:00:00 GMT
                host:examplebucket.s3.amazonaws.com
                x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
                x-amz-date:20130524T000000Z
                x-amz-storage-class:REDUCED_REDUNDANCY

                date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class
                44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
                """)
        #expect(
            Digest.sha256(Array(signed.canonicalRequest.utf8)).hex
                == "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d")
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test(
        "S3 documentation: GET Bucket lifecycle and list objects, with queries",
        arguments: [
            ("lifecycle", "lifecycle=", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
            // Given out of order: the canonical query sorts them.
            (
                "prefix=J&max-keys=2", "max-keys=2&prefix=J",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            ),
        ]) func s3BucketExamples(query: String, canonicalQuery: String, signature: String) throws
    {
        let signed = SigV4.sign(
            method: "GET", url: try #require(URL(string: "https://examplebucket.s3.amazonaws.com/?\(query)")),
            headers: [], payloadSHA256: Self.emptySHA256, date: Self.s3ExampleDate, region: "us-east-1", service: "s3",
            credentials: Self.s3Example, pathEncoding: .once)
        #expect(
            signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2]
                == Substring(canonicalQuery))
        #expect(signed.signature == signature)
    }

    // MARK: - The pieces

    @Test(
        "canonical URI: S3 encodes each segment once, other services encode the sent path again",
        arguments: [
            ("/a b/c", SigV4.PathEncoding.once, "/a%20b/c"), ("/a%20b/c", .once, "/a%20b/c"),
            ("/dir/caf%C3%A9 (1)+x.json", .once, "/dir/caf%C3%A9%20%281%29%2Bx.json"),
            ("/a(b)/~x", .once, "/a%28b%29/~x"), ("/50%/x", .once, "/50%25/x"), ("/a%2Fb", .once, "/a%2Fb"),
            ("/a%20b/c", .twice, "/a%2520b/c"), ("/a b", .twice, "/a%20b"), ("", .once, "/"), ("", .twice, "/"),
            ("//x//", .once, "//x//"),
        ]) func canonicalURI(path: String, encoding: SigV4.PathEncoding, expected: String)
    { #expect(SigV4.canonicalURI(path, encoding: encoding) == expected) }

    @Test(
        "canonical query: decoded, encoded again, sorted by encoded name then value",
        arguments: [
            ("b=2&a=1", "a=1&b=2"), ("a=2&a=1&a=10", "a=1&a=10&a=2"), ("flag&x=%7e", "flag=&x=~"),
            ("k=a+b c", "k=a%2Bb%20c"),
            (
                "list-type=2&prefix=dir%2Fsub%2F&continuation-token=abc%3D%3D",
                "continuation-token=abc%3D%3D&list-type=2&prefix=dir%2Fsub%2F"
            ), ("", ""),
        ]) func canonicalQuery(query: String, expected: String)
    { #expect(SigV4.canonicalQuery(query) == expected) }

    @Test("header values are trimmed and runs of spaces collapse; names are lowercased and sorted")
    func canonicalHeaders() {
        let (lines, signed) = SigV4.canonicalHeaders([
            ("X-Amz-Meta-B", "  two   words  "), ("Host", "h"), ("x-amz-meta-a", "1"), ("X-AMZ-META-A", "2"),
        ])
        #expect(lines == "host:h\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n")
        #expect(signed == "host;x-amz-meta-a;x-amz-meta-b")
    }

    @Test("the signer's own headers replace given ones") func ownedHeadersReplaced() {
        let signed = SigV4.sign(
            method: "GET", path: "/", query: "", headers: [("Host", "h"), ("X-Amz-Date", "19990101T000000Z")],
            payloadSHA256: Self.emptySHA256, date: SuiteVector.date, region: "us-east-1", service: "s3",
            credentials: SuiteVector.credentials, pathEncoding: .once)
        #expect(!signed.canonicalRequest.contains("19990101"))
        #expect(signed.signedHeaders == "host;x-amz-content-sha256;x-amz-date")
    }

    @Test(
        "timestamps are UTC digits whatever the machine's settings",
        arguments: [
            (0.0, "19700101T000000Z"), (951_782_400, "20000229T000000Z"), (1_709_251_199, "20240229T235959Z"),
            (1_440_938_160, "20150830T123600Z"), (4_102_444_799.9, "20991231T235959Z"), (-1, "19691231T235959Z"),
        ]) func timestamps(seconds: Double, expected: String)
    {
        let timestamp = SigV4.Timestamp(Date(timeIntervalSince1970: seconds))
        #expect(timestamp.dateTime == expected)
        #expect(timestamp.date == String(expected.prefix(8)))
    }

    @Test("Host: the port only when the URL names one, IPv6 in brackets") func hostHeader() throws {
        #expect(SigV4.hostHeader(for: try #require(URL(string: "http://127.0.0.1:5000/b/k"))) == "127.0.0.1:5000")
        #expect(
            SigV4.hostHeader(for: try #require(URL(string: "https://b.s3.eu-west-1.amazonaws.com/k")))
                == "b.s3.eu-west-1.amazonaws.com")
        #expect(SigV4.hostHeader(for: try #require(URL(string: "http://[::1]:9000/b"))) == "[::1]:9000")
    }
}

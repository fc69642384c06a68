import Foundation
import Testing

@testable import IntegrationsAPI

/// A transport that answers from a script and records what it was sent.
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    enum Step {
        case respond(Int, String = "", headers: [String: String] = [:])
        case fail(TransportFailure.Kind)
    }

    private let lock = NSLock()
    private var script: [Step]
    private(set) var sent: [HTTPRequest] = []
    private var inFlight = 0
    private(set) var maximumInFlight = 0
    let delay: Duration

    init(_ script: [Step], delay: Duration = .zero) {
        self.script = script
        self.delay = delay
    }

    var requests: [HTTPRequest] { lock.withLock { sent } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step: Step = lock.withLock {
            sent.append(request)
            inFlight += 1
            maximumInFlight = max(maximumInFlight, inFlight)
            return script.isEmpty ? .respond(200, "{}") : script.removeFirst()
        }
        if delay > .zero { try await Task.sleep(for: delay) }
        lock.withLock { inFlight -= 1 }
        switch step {
        case .respond(let status, let body, let headers):
            return HTTPResponse(status: status, headers: headers, body: Data(body.utf8))
        case .fail(let kind): throw TransportFailure(kind, "scripted \(kind)")
        }
    }
}

/// Records the waits the client asks for instead of waiting, and is the client's clock: each wait moves it on.
final class RecordedSleeps: @unchecked Sendable {
    private let lock = NSLock()
    private var waits: [Duration] = []
    private var clock = ContinuousClock.now
    var all: [Duration] { lock.withLock { waits } }
    var now: ContinuousClock.Instant { lock.withLock { clock } }
    func record(_ duration: Duration) {
        lock.withLock {
            waits.append(duration)
            clock += duration
        }
    }
}

@Suite struct ClientTests {
    static let created =
        #"{"integrationId":"int_1","organizationId":"org1","integrationType":1,"provider":"AuthorizeNet","displayName":"Main","isEnabled":true,"createdAt":"2024-01-15T10:30:00Z"}"#
    static let listWithMain =
        #"{"integrations":[{"integrationId":"int_7","organizationId":"org1","integrationType":1,"provider":"AuthorizeNet","displayName":"Main","isEnabled":true,"createdAt":"2024-01-15T10:30:00Z","updatedAt":"2024-01-15T10:30:00Z","testStatus":"NotTested"}]}"#
    static func detailOfMain(configuration: String = "{}") -> String {
        #"{"integrationId":"int_7","organizationId":"org1","integrationType":1,"provider":"AuthorizeNet","displayName":"Main","isEnabled":true,"configuration":"#
            + configuration + "}"
    }
    static let request = CreateIntegrationRequest(
        integrationType: .payment, provider: "AuthorizeNet", displayName: "Main",
        secrets: ["ApiLoginId": "canary-login-7f3a", "TransactionKey": "canary-key-91bc"])

    func client(
        _ transport: ScriptedTransport, sleeps: RecordedSleeps = RecordedSleeps(), policy: ClientPolicy = ClientPolicy()
    ) -> IntegrationsClient {
        IntegrationsClient(
            transport: transport, credentials: ["org1": .bearer("canary-token-5d2e")], policy: policy,
            sleep: { sleeps.record($0) }, random: { 0.5 }, clock: { sleeps.now })
    }

    @Test func retriesThrottlingHonouringRetryAfter() async throws {
        let transport = ScriptedTransport([
            .respond(429, "", headers: ["retry-after": "7"]), .respond(503), .fail(.connectionLost),
            .respond(200, #"{"integrations":[]}"#),
        ])
        let sleeps = RecordedSleeps()
        let list = try await client(transport, sleeps: sleeps).list(organization: "org1")
        #expect(list.isEmpty)
        #expect(transport.requests.count == 4)
        // The 429 pauses the organization for its Retry-After and cuts its rate to the floor (nothing was accepted
        // before it): 0.5 requests/s, one every 2 s from the end of the pause. The other retries wait full jitter,
        // random(0.5) × min(maxDelay, 200ms × 2^(n-1)), then for their turn, looking again every 250 ms.
        let waits = sleeps.all
        #expect(waits.first == .seconds(7))
        #expect(waits.filter { $0 == .milliseconds(200) || $0 == .milliseconds(400) }.count >= 2)
        #expect(waits.allSatisfy { $0 == .seconds(7) || $0 <= .milliseconds(400) })
        #expect(waits.reduce(.zero, +) == .seconds(11), "7 s, then turns at 9 s and 11 s: \(waits)")
        #expect(transport.requests.allSatisfy { $0.header("authorization") == "Bearer canary-token-5d2e" })
    }

    @Test func fullJitterStaysWithinTheCeiling() {
        let policy = ClientPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.backoff(afterAttempt: 1, unit: 0.999) < .milliseconds(100))
        #expect(policy.backoff(afterAttempt: 4, unit: 0.5) == .milliseconds(400))
        #expect(policy.backoff(afterAttempt: 30, unit: 0.999) < .seconds(1))
        #expect(policy.backoff(afterAttempt: 3, unit: 0) == .zero)
    }

    @Test func retryAfterAsSecondsOrDate() {
        #expect(ClientPolicy.retryAfter("3") == .seconds(3))
        #expect(ClientPolicy.retryAfter(" 0 ") == .zero)
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(ClientPolicy.retryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(ClientPolicy.retryAfter("soon") == nil)
        #expect(ClientPolicy.retryAfter(nil) == nil)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        for status in [400, 401, 403, 404, 409, 500] {
            let transport = ScriptedTransport([
                .respond(status, #"{"title":"Nope","status":\#(status),"detail":"said the server"}"#)
            ])
            let error = await #expect(throws: APIError.self) {
                try await client(transport).get(organization: "org1", id: "int_1")
            }
            #expect(error?.status == status && error?.attempts == 1)
            #expect(transport.requests.count == 1, "status \(status) is answered once")
        }
    }

    @Test func givesUpAfterMaxAttemptsAndSaysSo() async throws {
        let transport = ScriptedTransport(
            Array(repeating: .respond(503, #"{"title":"Service Unavailable","status":503}"#), count: 10))
        let error = await #expect(throws: APIError.self) {
            try await client(transport, policy: ClientPolicy(maxAttempts: 3)).list(organization: "org1")
        }
        #expect(transport.requests.count == 3)
        #expect(
            error?.description
                == "GET /api/organizations/org1/integrations (organization org1) failed with 503 Service Unavailable: Service Unavailable (after 3 attempts)"
        )
    }

    @Test func retryAfterBeyondTheLimitFailsInsteadOfWaiting() async throws {
        let transport = ScriptedTransport([.respond(429, "", headers: ["retry-after": "3600"])])
        let error = await #expect(throws: APIError.self) { try await client(transport).list(organization: "org1") }
        #expect(error?.status == 429 && transport.requests.count == 1)
    }

    @Test func ambiguousCreateIsFoundByListingNotRepeated() async throws {
        // The create's answer is lost; the listing shows it was committed; no second POST is sent.
        let transport = ScriptedTransport([
            .fail(.connectionLost), .respond(200, Self.listWithMain), .respond(200, Self.detailOfMain()),
        ])
        let outcome = try await client(transport).create(organization: "org1", Self.request)
        #expect(outcome.recovered && outcome.integration.integrationId == "int_7")
        #expect(transport.requests.map(\.method) == ["POST", "GET", "GET"])
    }

    @Test func ambiguousCreateNotCommittedIsSentAgain() async throws {
        let transport = ScriptedTransport([
            .respond(504), .respond(200, #"{"integrations":[]}"#), .respond(201, Self.created),
        ])
        let outcome = try await client(transport).create(organization: "org1", Self.request)
        #expect(!outcome.recovered && outcome.integration.integrationId == "int_1")
        #expect(transport.requests.map(\.method) == ["POST", "GET", "POST"])
    }

    @Test func throttledCreateIsRepeatedWithoutListing() async throws {
        let transport = ScriptedTransport([
            .respond(429, "", headers: ["retry-after": "1"]), .respond(201, Self.created),
        ])
        let outcome = try await client(transport).create(organization: "org1", Self.request)
        #expect(!outcome.recovered)
        #expect(transport.requests.map(\.method) == ["POST", "POST"])
    }

    @Test func conflictToAFirstAttemptIsSomeoneElsesName() async throws {
        let transport = ScriptedTransport([.respond(409, #"{"title":"Conflict","status":409}"#)])
        let error = await #expect(throws: APIError.self) {
            try await client(transport).create(organization: "org1", Self.request)
        }
        #expect(error?.status == 409)
        #expect(transport.requests.map(\.method) == ["POST"], "no listing: nothing of ours can be there")
    }

    @Test func conflictAfterALostAnswerIsOursOnlyWhenItIsWhatWasSent() async throws {
        var request = Self.request
        request.configuration = ["Environment": "sandbox"]
        let conflict = #"{"title":"Conflict","status":409}"#
        let ours = ScriptedTransport([
            .respond(504), .respond(200, #"{"integrations":[]}"#), .respond(409, conflict),
            .respond(200, Self.listWithMain),
            .respond(200, Self.detailOfMain(configuration: #"{"Environment":"sandbox","Extra":"1"}"#)),
        ])
        let outcome = try await client(ours).create(organization: "org1", request)
        #expect(outcome.recovered && outcome.integration.integrationId == "int_7")

        let theirs = ScriptedTransport([
            .respond(504), .respond(200, #"{"integrations":[]}"#), .respond(409, conflict),
            .respond(200, Self.listWithMain),
            .respond(200, Self.detailOfMain(configuration: #"{"Environment":"production"}"#)),
        ])
        let error = await #expect(throws: APIError.self) {
            try await client(theirs).create(organization: "org1", request)
        }
        #expect(error?.status == 409)
    }

    @Test func deleteWhoseAnswerWasLostCountsAsDone() async throws {
        let transport = ScriptedTransport([.fail(.connectionLost), .respond(404)])
        try await client(transport).delete(organization: "org1", id: "int_1")
        #expect(transport.requests.map(\.method) == ["DELETE", "DELETE"])
    }

    /// The first PUT changed what needs a test and its answer was lost; the repeat changes nothing, and the API
    /// answers that no test is needed. Whether the first asked for one is unknown, so the client says a test is due.
    @Test func anUpdateRepeatedAfterALostAnswerAsksForTheTest() async throws {
        for (first, expected) in [(ScriptedTransport.Step.fail(.connectionLost), true), (.respond(503), true)] {
            let transport = ScriptedTransport([first, .respond(200, #"{"testConnectionRequired":false}"#)])
            let response = try await client(transport).update(
                organization: "org1", id: "int_1", UpdateIntegrationRequest(configuration: ["IsSandbox": "false"]))
            #expect(response.testConnectionRequired == expected)
            #expect(transport.requests.map(\.method) == ["PUT", "PUT"])
        }
        // A 429 refused the first attempt before any work: the answer to the second is the whole story.
        let throttled = ScriptedTransport([
            .respond(429, "", headers: ["retry-after": "0"]), .respond(200, #"{"testConnectionRequired":false}"#),
        ])
        let response = try await client(throttled).update(
            organization: "org1", id: "int_1", UpdateIntegrationRequest(configuration: ["IsSandbox": "false"]))
        #expect(!response.testConnectionRequired)
    }

    @Test func connectionRefusedIsRetriedAndReported() async throws {
        let transport = ScriptedTransport(Array(repeating: .fail(.cannotConnect), count: 3))
        let error = await #expect(throws: APIError.self) {
            try await client(transport, policy: ClientPolicy(maxAttempts: 3)).list(organization: "org1")
        }
        #expect(
            error?.description
                == "GET /api/organizations/org1/integrations (organization org1) failed: scripted cannotConnect (after 3 attempts)"
        )
    }

    @Test func errorsNeverCarryBodiesOrTokens() async throws {
        let echo =
            #"{"title":"One or more validation errors occurred.","status":400,"errors":{"secrets.ApiLoginId":["is required"]}}"#
        let transport = ScriptedTransport([
            .respond(400, echo), .respond(502, "canary-key-91bc <html>"), .respond(502, "canary-key-91bc"),
        ])
        let error = await #expect(throws: APIError.self) {
            try await client(transport).create(organization: "org1", Self.request)
        }
        let text = try #require(error?.description)
        #expect(text.contains("secrets.ApiLoginId: is required"))
        for canary in ["canary-login-7f3a", "canary-key-91bc", "canary-token-5d2e"] {
            #expect(!text.contains(canary))
            #expect(!String(describing: error!).contains(canary))
            #expect(!String(reflecting: error!).contains(canary))
        }
        let gateway = ScriptedTransport([.respond(502, "canary-key-91bc <html>")])
        let opaque = await #expect(throws: APIError.self) {
            try await client(gateway, policy: ClientPolicy(maxAttempts: 1)).get(organization: "org1", id: "int_1")
        }
        #expect(
            opaque?.description
                == "GET /api/organizations/org1/integrations/int_1 (organization org1) failed with 502 Bad Gateway")
        #expect("\(APICredential.bearer("canary-token-5d2e"))" == "Bearer (redacted)")
    }

    @Test func apiKeyCredentialUsesItsHeader() async throws {
        let transport = ScriptedTransport([.respond(200, #"{"integrations":[]}"#)])
        let client = IntegrationsClient(transport: transport, credentials: ["org1": .apiKey("k")])
        _ = try await client.list(organization: "org1", type: .email, isEnabled: false)
        let request = try #require(transport.requests.first)
        #expect(request.header("x-api-key") == "k" && request.header("authorization") == nil)
        #expect(request.query.map { "\($0.name)=\($0.value ?? "")" } == ["integrationType=4", "isEnabled=false"])
    }

    @Test func boundsRequestsInFlight() async throws {
        let transport = ScriptedTransport([], delay: .milliseconds(20))
        let client = IntegrationsClient(
            transport: transport, credentials: ["org1": .bearer("t")], policy: ClientPolicy(maxInFlight: 3))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<12 {
                group.addTask {
                    _ = try await client.send(HTTPRequest(method: "GET", path: "/p\(index)"), organization: "org1")
                }
            }
            try await group.waitForAll()
        }
        #expect(transport.requests.count == 12)
        #expect(transport.maximumInFlight == 3)
    }

    @Test func aRetryAfterPausesTheOrganizationNotTheOthers() async throws {
        // org1's first request is throttled for 3 s; org2's request, sent after it, does not wait.
        let transport = ScriptedTransport([.respond(429, "", headers: ["retry-after": "3"])])
        let sleeps = RecordedSleeps()
        let client = IntegrationsClient(
            transport: transport, credentials: ["org1": .bearer("a"), "org2": .bearer("b")],
            sleep: { sleeps.record($0) }, random: { 0.5 }, clock: { sleeps.now })
        _ = try await client.send(HTTPRequest(method: "GET", path: "/one"), organization: "org1")
        #expect(sleeps.all == [.seconds(3)])
        _ = try await client.send(HTTPRequest(method: "GET", path: "/two"), organization: "org2")
        #expect(sleeps.all == [.seconds(3)])
        #expect(client.pacingRate("org2") == nil)
        #expect(client.pacingRate("org1") != nil)
    }

    @Test func refusesPlainHTTPBeyondLoopback() throws {
        for allowed in [
            "https://api.achievemomentum.com", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9",
            "http://127.1.2.3",
        ] { #expect(throws: Never.self) { try URLSessionTransport.checkSecure(URL(string: allowed)!) } }
        for refused in [
            "http://api.achievemomentum.com", "http://10.0.0.1", "http://127.0.0.1.evil.com", "ftp://x",
            "http://localhost.example.com",
        ] { #expect(throws: InsecureURLError.self) { try URLSessionTransport.checkSecure(URL(string: refused)!) } }
        #expect(throws: InsecureURLError.self) { try URLSessionTransport(baseURL: URL(string: "http://example.com")!) }
    }

    @Test func decodesTolerantlyAndExplainsMismatches() async throws {
        let extra =
            #"{"integrations":[{"integrationId":"i","organizationId":"o","integrationType":"Payment","provider":"P","displayName":"D","isEnabled":true,"newField":{"x":1},"testStatus":"Passed"}]}"#
        let list = try await client(ScriptedTransport([.respond(200, extra)])).list(organization: "org1")
        #expect(list.first?.integrationType == .payment && list.first?.testStatus == .passed)
        let broken = #"{"integrations":[{"integrationId":"i"}]}"#
        let error = await #expect(throws: APIError.self) {
            try await client(ScriptedTransport([.respond(200, broken)])).list(organization: "org1")
        }
        #expect(
            error?.description.hasSuffix("returned a response intops cannot read: the field organizationId is missing")
                == true)
    }
}

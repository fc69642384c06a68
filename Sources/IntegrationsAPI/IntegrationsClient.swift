import Foundation
import HTTPSupport

/// An organization's API credential. It prints as a redaction, never as the token.
public enum APICredential: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// `Authorization: Bearer TOKEN` (a login JWT or an API key, as the API reference shows).
    case bearer(String)
    /// `x-api-key: TOKEN` (the authentication guide's form).
    case apiKey(String)

    var token: String {
        switch self {
        case .bearer(let token), .apiKey(let token): token
        }
    }

    var headers: [String: String] {
        switch self {
        case .bearer(let token): ["authorization": "Bearer \(token)"]
        case .apiKey(let token): ["x-api-key": token]
        }
    }

    public var description: String {
        switch self {
        case .bearer: "Bearer (redacted)"
        case .apiKey: "x-api-key (redacted)"
        }
    }

    public var debugDescription: String { description }
}

/// What a create achieved. `recovered` is true when the answer was lost (a dropped connection, a gateway error,
/// or a 409 to the retry of such an attempt) and an integration that is exactly what was sent was then found by
/// listing: it exists, but the caller cannot be sure its secrets are the ones it sent, and should set them again.
public struct CreateOutcome: Sendable, Equatable {
    public var integration: IntegrationCreated
    public var recovered: Bool
}

/// The typed client of the Integrations API. One client serves every organization of a run; the transport is
/// the network (``URLSessionTransport``) or the in-process emulator (`sandbox:` URLs).
///
/// Every request goes through one path: the organization's adaptive send rate (``AdaptiveRate``: no limit until
/// the server throttles, then cut on each 429 and raised on success, under an optional hard ceiling), the bound on
/// requests in flight, then retries with exponential backoff and full jitter on 429, 502, 503, 504 and lost
/// connections. A `Retry-After` pauses the whole organization, not only the request that got it. Requests that are safe to repeat (reads, merge updates, tests, rotations to the same values,
/// deletes) are simply repeated; a create is never repeated blindly: after an answer that may hide a committed
/// create, the client lists the organization's integrations and looks for the one it asked for first.
public final class IntegrationsClient: Sendable {
    public let transport: any HTTPTransport
    public let policy: ClientPolicy
    private let credentials: [String: APICredential]
    private let inFlight: InFlightLimit
    private let pacing: RequestPacing
    private let sleep: @Sendable (Duration) async throws -> Void
    private let unitRandom: @Sendable () -> Double
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Every token and every secret this client has sent; text that comes back passes through it.
    public let redactor: Redactor

    /// - Parameters:
    ///   - credentials: by organization id.
    ///   - sleep: how the client waits between attempts (tests pass one that records instead of waiting).
    ///   - random: uniform in [0, 1), for the jitter.
    ///   - clock: the time the pacing goes by (tests pass one that their `sleep` advances).
    ///   - redactor: shared with whoever else holds the run's secrets, so that text from the API is cleaned of
    ///     all of them, not only of those this client sent.
    ///   - pacingChanged: told when an organization's send rate is cut or has risen (see ``PacingChange``).
    public init(
        transport: any HTTPTransport, credentials: [String: APICredential], policy: ClientPolicy = ClientPolicy(),
        redactor: Redactor = Redactor(), pacingChanged: (@Sendable (PacingChange) -> Void)? = nil,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.now = clock
        self.transport = transport
        self.credentials = credentials
        self.policy = policy
        self.inFlight = InFlightLimit(limit: policy.maxInFlight)
        self.pacing = RequestPacing(ceiling: policy.requestsPerSecond, observer: pacingChanged)
        self.sleep = sleep
        self.unitRandom = random
        self.redactor = redactor
        redactor.register(credentials.values.map(\.token))
    }

    /// The organization's current send rate in requests per second; nil while nothing but the bound in flight
    /// holds its requests back.
    public func pacingRate(_ organization: String?) -> Double? { pacing.rate(organization) }

    // MARK: - Endpoints

    /// `GET /api/integration-templates[?integrationType=N]`, with the organization's credential.
    public func templates(
        organization: String, type: IntegrationType? = nil
    ) async throws(APIError) -> [IntegrationTemplate] {
        let query = type.map { [URLQueryItem(name: "integrationType", value: String($0.rawValue))] } ?? []
        let call = Call(method: "GET", path: "/api/integration-templates", query: query, organizationId: organization)
        return try await decode(TemplatesResponse.self, perform(call), call).templates
    }

    /// `GET /api/integrations/available`.
    public func available(organization: String) async throws(APIError) -> AvailableIntegrations {
        let call = Call(method: "GET", path: "/api/integrations/available", organizationId: organization)
        return try await decode(AvailableIntegrations.self, perform(call), call)
    }

    /// `GET /api/organizations/{organizationId}/integrations[?integrationType=N&isEnabled=B]`.
    public func list(
        organization: String, type: IntegrationType? = nil, isEnabled: Bool? = nil
    ) async throws(APIError) -> [IntegrationSummary] {
        var query: [URLQueryItem] = []
        if let type { query.append(URLQueryItem(name: "integrationType", value: String(type.rawValue))) }
        if let isEnabled { query.append(URLQueryItem(name: "isEnabled", value: isEnabled ? "true" : "false")) }
        let call = Call(method: "GET", path: Self.collection(organization), query: query, organizationId: organization)
        return try await decode(IntegrationList.self, perform(call), call).integrations
    }

    /// `GET /api/organizations/{organizationId}/integrations/{integrationId}`.
    public func get(organization: String, id: String) async throws(APIError) -> IntegrationDetail {
        let call = Call(method: "GET", path: Self.member(organization, id), organizationId: organization)
        var detail = try await decode(IntegrationDetail.self, perform(call), call)
        detail.lastTestMessage = detail.lastTestMessage.map(redactor.redact)
        return detail
    }

    /// `POST /api/organizations/{organizationId}/integrations`, never duplicated (see the type's documentation).
    public func create(
        organization: String, _ request: CreateIntegrationRequest
    ) async throws(APIError) -> CreateOutcome {
        redactor.register(request.secrets.map { Array($0.values) } ?? [])
        let call = Call(
            method: "POST", path: Self.collection(organization), organizationId: organization,
            body: try encode(request, method: "POST", path: Self.collection(organization), organization: organization),
            kind: .create)
        // Only an integration that is what this create sent counts as its lost answer: same identity, same enabled
        // flag, every configuration value sent. Anything else under the name is someone else's.
        let find: Recovery = { [self] () async throws(APIError) -> IntegrationCreated? in
            let existing = try await list(organization: organization)
            let identity = LiveIdentity(request)
            guard let match = existing.first(where: identity.matches), match.isEnabled == request.isEnabled ?? true
            else { return nil }
            let detail = try await get(organization: organization, id: match.integrationId)
            guard (request.configuration ?? [:]).allSatisfy({ detail.configuration[$0.key] == $0.value }) else {
                return nil
            }
            return IntegrationCreated(
                integrationId: match.integrationId, organizationId: match.organizationId,
                integrationType: match.integrationType, provider: match.provider, displayName: match.displayName,
                isEnabled: match.isEnabled, createdAt: match.createdAt ?? "")
        }
        switch try await perform(call, recover: find) {
        case .answered(let response, _):
            return CreateOutcome(integration: try decode(IntegrationCreated.self, response, call), recovered: false)
        case .recovered(let created): return CreateOutcome(integration: created, recovered: true)
        }
    }

    /// `PUT /api/organizations/{organizationId}/integrations/{integrationId}` (configuration is merged).
    public func update(
        organization: String, id: String, _ request: UpdateIntegrationRequest
    ) async throws(APIError) -> UpdateIntegrationResponse {
        redactor.register(request.secrets.map { Array($0.values) } ?? [])
        let path = Self.member(organization, id)
        let call = Call(
            method: "PUT", path: path, organizationId: organization,
            body: try encode(request, method: "PUT", path: path, organization: organization))
        let (response, repeated) = try await performNotingRepeats(call)
        // The reference documents a body; a 204 from "some PUTs" (errors page) means no test is asked for.
        var answer =
            response.status == 204 || response.body.isEmpty
            ? UpdateIntegrationResponse(testConnectionRequired: false)
            : try decode(UpdateIntegrationResponse.self, response, call)
        // A repeat after a lost answer finds the change already made and is answered for itself: the lost answer
        // may have asked for the test (the API resets the test status when it does), so the test is owed.
        if repeated { answer.testConnectionRequired = true }
        return answer
    }

    /// `POST …/{integrationId}/test`.
    public func test(organization: String, id: String) async throws(APIError) -> TestConnectionResult {
        let call = Call(method: "POST", path: Self.member(organization, id) + "/test", organizationId: organization)
        var result = try await decode(TestConnectionResult.self, perform(call), call)
        result.message = result.message.map(redactor.redact)
        return result
    }

    /// `POST …/{integrationId}/connect` with the caller's return URL as `state`.
    public func connect(organization: String, id: String, state: String) async throws(APIError) -> ConnectResponse {
        let path = Self.member(organization, id) + "/connect"
        let call = Call(
            method: "POST", path: path, organizationId: organization,
            body: try encode(ConnectRequest(state: state), method: "POST", path: path, organization: organization))
        return try await decode(ConnectResponse.self, perform(call), call)
    }

    /// `POST …/{integrationId}/rotate-secrets`.
    public func rotateSecrets(
        organization: String, id: String, _ request: RotateSecretsRequest
    ) async throws(APIError) -> RotateSecretsResponse {
        redactor.register(request.newSecrets.values)
        let path = Self.member(organization, id) + "/rotate-secrets"
        let call = Call(
            method: "POST", path: path, organizationId: organization,
            body: try encode(request, method: "POST", path: path, organization: organization))
        var response = try await decode(RotateSecretsResponse.self, perform(call), call)
        response.message = response.message.map(redactor.redact)
        return response
    }

    /// `DELETE /api/organizations/{organizationId}/integrations/{integrationId}`. A 404 after an attempt whose
    /// answer was lost means that attempt did the work.
    public func delete(organization: String, id: String) async throws(APIError) {
        let call = Call(
            method: "DELETE", path: Self.member(organization, id), organizationId: organization, kind: .delete)
        _ = try await perform(call)
    }

    /// Any request, with the organization's credential and the client's retries (tests, and endpoints a caller
    /// reaches by URL such as the OAuth callback).
    public func send(_ request: HTTPRequest, organization: String?) async throws(APIError) -> HTTPResponse {
        let call = Call(
            method: request.method, path: request.path, query: request.query, organizationId: organization,
            body: request.body, extraHeaders: request.headers)
        return try await perform(call)
    }

    // MARK: - The request path

    struct Call: Sendable {
        enum Kind: Sendable { case repeatable, create, delete }
        var method: String
        var path: String
        var query: [URLQueryItem] = []
        var organizationId: String?
        var body: Data? = nil
        var kind: Kind = .repeatable
        var extraHeaders: [String: String] = [:]
    }

    typealias Recovery = @Sendable () async throws(APIError) -> IntegrationCreated?

    enum Outcome {
        /// `repeated`: the request was sent again after an attempt that may have been acted on unseen.
        case answered(HTTPResponse, repeated: Bool)
        case recovered(IntegrationCreated)
    }

    private func perform(_ call: Call) async throws(APIError) -> HTTPResponse { try await performNotingRepeats(call).0 }

    private func performNotingRepeats(_ call: Call) async throws(APIError) -> (HTTPResponse, repeated: Bool) {
        switch try await perform(call, recover: nil) {
        case .answered(let response, let repeated): return (response, repeated)
        case .recovered: preconditionFailure("only creates recover")
        }
    }

    private func perform(_ call: Call, recover: Recovery?) async throws(APIError) -> Outcome {
        func failure(_ reason: APIError.Reason, _ attempts: Int) -> APIError {
            APIError(
                method: call.method, path: call.path, organizationId: call.organizationId,
                reason: reason.redacted(by: redactor), attempts: attempts)
        }
        var headers = call.extraHeaders
        if let organization = call.organizationId {
            guard let credential = credentials[organization] else { throw failure(.noCredential, 0) }
            headers.merge(credential.headers) { $1 }
        }
        headers["accept"] = "application/json"
        if call.body != nil { headers["content-type"] = "application/json" }
        let request = HTTPRequest(
            method: call.method, path: call.path, query: call.query, headers: headers, body: call.body)

        /// True once an attempt may have been acted on without the client seeing the answer.
        var ambiguous = false
        var attempt = 0
        while true {
            attempt += 1
            // Its turn at the organization's rate, then a connection; a 429 that came back while it waited for the
            // connection paused the organization, and it waits for its turn again.
            while true {
                var wait = pacing.reserve(call.organizationId, now: now())
                while wait > .zero {
                    try await pause(wait, call, attempt)
                    wait = pacing.reserve(call.organizationId, now: now())
                }
                guard await inFlight.acquire() else {
                    throw failure(
                        .transport(TransportFailure(.cancelled, "cancelled while waiting for a free connection")),
                        attempt)
                }
                guard pacing.pauseRemaining(call.organizationId, now: now()) != nil else { break }
                await inFlight.release()
            }
            let sentAt = now()
            let result: Result<HTTPResponse, TransportFailure>
            do { result = .success(try await transport.send(request)) } catch let transportFailure as TransportFailure {
                result = .failure(transportFailure)
            } catch { result = .failure(TransportFailure(.connectionLost, "the request failed")) }
            await inFlight.release()
            if case .success(let response) = result, response.status != 429, response.status < 500 {
                pacing.accept(call.organizationId, now: now())
            }

            var delay: Duration
            switch result {
            case .success(let response) where response.status < 400: return .answered(response, repeated: ambiguous)
            case .success(let response):
                let status = response.status
                if status == 404, call.kind == .delete, ambiguous {
                    return .answered(HTTPResponse(status: 204), repeated: true)
                }
                // A 409 after an attempt whose answer was lost may be that attempt's create; the listing tells. A
                // 409 to a first attempt is a name someone else holds.
                if status == 409, ambiguous, let recover, let found = try await recover() { return .recovered(found) }
                let retryAfter = ClientPolicy.retryAfter(response.header("retry-after"))
                // Every 429 slows the organization down, the one that ends this request's attempts too.
                if status == 429 {
                    pacing.throttle(call.organizationId, sentAt: sentAt, retryAfter: retryAfter, now: now())
                }
                guard [429, 502, 503, 504].contains(status), attempt < policy.maxAttempts,
                    retryAfter.map({ $0 <= policy.maxRetryAfter }) ?? true
                else { throw failure(.status(status, problem: Self.problemSummary(response)), attempt) }
                delay = policy.backoff(afterAttempt: attempt, unit: unitRandom())
                if let retryAfter {
                    // A 429's Retry-After paused the whole organization, which the next turn waits out; waiting here
                    // as well would wait twice.
                    delay = status == 429 ? .zero : retryAfter
                }
                // A 429 was refused before any work; a gateway error may hide work done behind it.
                if status != 429 { ambiguous = true }
            case .failure(let transportFailure):
                guard transportFailure.isRetryable, attempt < policy.maxAttempts else {
                    throw failure(.transport(transportFailure), attempt)
                }
                if transportFailure.kind != .cannotConnect { ambiguous = true }
                delay = policy.backoff(afterAttempt: attempt, unit: unitRandom())
            }
            if delay > .zero { try await pause(delay, call, attempt) }
            if ambiguous, let recover, let found = try await recover() { return .recovered(found) }
        }
    }

    private func pause(_ delay: Duration, _ call: Call, _ attempt: Int) async throws(APIError) {
        do { try await sleep(delay) } catch {
            throw APIError(
                method: call.method, path: call.path, organizationId: call.organizationId,
                reason: .transport(TransportFailure(.cancelled, "cancelled")), attempts: attempt)
        }
    }

    // MARK: - Coding

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private func encode<T: Encodable>(
        _ value: T, method: String, path: String, organization: String
    ) throws(APIError) -> Data {
        do { return try Self.encoder.encode(value) } catch {
            throw APIError(
                method: method, path: path, organizationId: organization,
                reason: .undecodable("the request could not be encoded"), attempts: 0)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, _ call: Call) throws(APIError) -> T {
        do { return try JSONDecoder().decode(type, from: response.body) } catch let DecodingError.keyNotFound(key, _) {
            throw undecodable(call, "the field \(key.stringValue) is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw undecodable(call, "the field \(path.isEmpty ? "(top level)" : path) has an unexpected type")
        } catch { throw undecodable(call, "the body is not the expected JSON") }
    }

    private func undecodable(_ call: Call, _ detail: String) -> APIError {
        APIError(
            method: call.method, path: call.path, organizationId: call.organizationId,
            reason: .undecodable(redactor.redact(detail)))
    }

    /// The problem-details explanation only; an error body that is not problem details is not repeated.
    static func problemSummary(_ response: HTTPResponse) -> String? {
        guard let problem = try? JSONDecoder().decode(ProblemDetails.self, from: response.body),
            problem.title != nil || problem.detail != nil || problem.errors != nil
        else { return nil }
        return problem.summary
    }

    static func collection(_ organization: String) -> String { "/api/organizations/\(organization)/integrations" }
    static func member(_ organization: String, _ id: String) -> String { collection(organization) + "/\(id)" }
}

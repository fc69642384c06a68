import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// Who may call the emulator: a token, the organization it belongs to, and whether it holds the Admin role.
public struct EmulatorCredential: Sendable, Hashable {
    public var token: String
    public var organizationId: String
    public var isAdmin: Bool
    /// Recorded as `createdBy`.
    public var subject: String

    public init(token: String, organizationId: String, isAdmin: Bool = true, subject: String? = nil) {
        self.token = token
        self.organizationId = organizationId
        self.isAdmin = isAdmin
        self.subject = subject ?? "admin@\(organizationId)"
    }
}

/// The Integrations API in memory, as the API reference describes it (where it is silent, the choices the README's
/// emulator section lists): routes, status codes, problem details, write-only secrets, configuration merge, recorded
/// tests, OAuth connect and callback.
///
/// It answers ``HTTPRequest``s, so the same instance serves the in-process `sandbox:` transport and the HTTP
/// server.
public actor Emulator {
    /// An integration as the emulator keeps it. Persisted without `secrets`, which are sealed separately.
    struct StoredIntegration: Codable, Sendable {
        var integrationId: String
        var organizationId: String
        var integrationType: IntegrationType
        var provider: String
        var displayName: String
        var isEnabled: Bool
        var configuration: [String: String]
        var secrets: [String: String] = [:]
        var createdAt: String
        var updatedAt: String
        var createdBy: String
        var testStatus: TestStatus
        var lastTestedAt: String?
        var lastTestMessage: String?
        var authorized: Bool

        enum CodingKeys: String, CodingKey {
            case integrationId, organizationId, integrationType, provider, displayName, isEnabled, configuration
            case createdAt, updatedAt, createdBy, testStatus, lastTestedAt, lastTestMessage, authorized
        }
    }

    struct PendingAuthorization: Codable, Sendable {
        var organizationId: String
        var integrationId: String
        var returnURL: String
        var expires: Date
    }

    private let templates: [IntegrationTemplate]
    private var credentials: [String: EmulatorCredential]
    private let now: @Sendable () -> Date
    var integrations: [String: StoredIntegration] = [:]
    /// Creation order, so that lists are stable.
    var order: [String] = []
    var pending: [String: PendingAuthorization] = [:]
    var nextId = 100_000_000
    var lastTimestamp = Date(timeIntervalSince1970: 0)
    private(set) var requestCounts: [String: Int] = [:]
    var throttledCount = 0
    let faults: EmulatorFaults
    var random: SeededRandom
    var bucket: TokenBucket?
    /// Where every committed change is written (the `sandbox:` file or `--data`), with its at-rest key.
    let storage: EmulatorStorage?

    public init(
        credentials: [EmulatorCredential], templates: [IntegrationTemplate] = TemplateCatalog.standard,
        now: @escaping @Sendable () -> Date = { Date() }, faults: EmulatorFaults = EmulatorFaults()
    ) {
        self.init(credentials: credentials, templates: templates, now: now, faults: faults, storage: nil, snapshot: nil)
    }

    init(
        credentials: [EmulatorCredential], templates: [IntegrationTemplate], now: @escaping @Sendable () -> Date,
        faults: EmulatorFaults, storage: EmulatorStorage?, snapshot: EmulatorSnapshot?
    ) {
        self.credentials = Dictionary(credentials.map { ($0.token, $0) }, uniquingKeysWith: { $1 })
        self.templates = templates
        self.now = now
        self.faults = faults
        self.random = SeededRandom(seed: faults.seed)
        if faults.rateLimit != nil || !faults.rateLimitSchedule.isEmpty {
            // Unlimited before a schedule's first step is a rate no run reaches.
            self.bucket = TokenBucket(ratePerSecond: faults.rateLimit ?? 1e9, schedule: faults.rateLimitSchedule)
        }
        self.storage = storage
        if let snapshot {
            integrations = Dictionary(snapshot.integrations.map { ($0.integrationId, $0) }, uniquingKeysWith: { $1 })
            order = snapshot.integrations.map(\.integrationId)
            pending = snapshot.pending
            nextId = snapshot.nextId
            lastTimestamp = snapshot.lastTimestamp
        }
    }

    /// Allows another token, e.g. an organization the `sandbox:` project names.
    public func register(_ credential: EmulatorCredential) { credentials[credential.token] = credential }

    /// Requests served so far, by route (`GET /api/organizations/{organizationId}/integrations`).
    public func statistics() -> [String: Int] { requestCounts }

    public func resetStatistics() {
        requestCounts = [:]
        throttledCount = 0
    }

    /// Every stored integration of every organization, in creation order: what tests compare against desired.
    public func allIntegrations() -> [IntegrationDetail] { order.compactMap { integrations[$0] }.map(detail) }

    /// Each secret key's SHA-256 hex digest, so tests can check what was set without the emulator handing out
    /// secrets (a test double's view; intops itself never stores such digests).
    public func secretDigests(organizationId: String, integrationId: String) -> [String: String]? {
        guard let stored = integrations[integrationId], stored.organizationId == organizationId else { return nil }
        return stored.secrets.mapValues { Digest.sha256(Data($0.utf8)).hex }
    }

    // MARK: - Routing

    /// Answers one API request. Changes are persisted before the answer leaves, so a response dropped by fault
    /// injection (or a crash of the client) never loses a committed change.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let parts = count(request)
        let response = dispatch(request, parts: parts)
        let changed = request.method != "GET" ? response.status < 400 : response.status == 302
        if changed, let storage { storage.save(snapshot()) }
        return response
    }

    /// Counts a request under its route, whether it is answered or refused by an injected fault.
    @discardableResult func count(_ request: HTTPRequest) -> [String] {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        requestCounts[Self.routeName(method: request.method, parts: parts), default: 0] += 1
        return parts
    }

    private func dispatch(_ request: HTTPRequest, parts: [String]) -> HTTPResponse {

        // The OAuth callback is reached by the provider's browser redirect, without a token.
        if request.method == "GET", parts.count == 4, parts[0] == "api", parts[1] == "integrations",
            parts[3] == "callback"
        {
            return callback(provider: parts[2], request: request)
        }
        guard parts.first == "api" else {
            return problem(404, "Not Found", "no route \(request.method) \(request.path)")
        }
        guard let credential = authenticate(request) else {
            return problem(401, "Unauthorized", "a valid Authorization: Bearer or x-api-key credential is required")
        }
        guard credential.isAdmin else {
            return problem(403, "Forbidden", "the Integrations API requires the Admin role")
        }
        switch (request.method, Array(parts.dropFirst())) {
        case ("GET", ["integration-templates"]): return listTemplates(request)
        case ("GET", ["integrations", "available"]): return available(credential.organizationId)
        case (_, let rest) where rest.count >= 3 && rest[0] == "organizations" && rest[2] == "integrations":
            let organizationId = rest[1]
            // A path outside the token's organization is answered as if it did not exist.
            guard organizationId == credential.organizationId else {
                return problem(404, "Not Found", "organization \(organizationId) was not found")
            }
            return organizationRoute(
                request, organizationId: organizationId, rest: Array(rest.dropFirst(3)), credential: credential)
        default: return problem(404, "Not Found", "no route \(request.method) \(request.path)")
        }
    }

    private func organizationRoute(
        _ request: HTTPRequest, organizationId: String, rest: [String], credential: EmulatorCredential
    ) -> HTTPResponse {
        switch (request.method, rest.count) {
        case ("POST", 0): return create(request, organizationId: organizationId, credential: credential)
        case ("GET", 0): return list(request, organizationId: organizationId)
        default: break
        }
        guard let id = rest.first else {
            return problem(405, "Method Not Allowed", "\(request.method) is not allowed here")
        }
        guard var stored = integrations[id], stored.organizationId == organizationId else {
            return problem(404, "Not Found", "integration \(id) was not found")
        }
        switch (request.method, rest.dropFirst().first) {
        case ("GET", nil): return json(200, detail(stored))
        case ("PUT", nil): return update(request, &stored)
        case ("DELETE", nil):
            integrations[id] = nil
            order.removeAll { $0 == id }
            return HTTPResponse(status: 204)
        case ("POST", "test"): return json(200, runTest(&stored))
        case ("POST", "connect"): return connect(request, stored)
        case ("POST", "rotate-secrets"): return rotate(request, &stored)
        default: return problem(405, "Method Not Allowed", "\(request.method) is not allowed here")
        }
    }

    /// Routes named with their parameters, for statistics.
    static func routeName(method: String, parts: [String]) -> String {
        var named = parts
        if named.count >= 2, named[0] == "api", named[1] == "organizations" {
            if named.count >= 3 { named[2] = "{organizationId}" }
            if named.count >= 5 { named[4] = "{integrationId}" }
        }
        if named.count == 4, named[1] == "integrations", named[3] == "callback" { named[2] = "{provider}" }
        return "\(method) /" + named.joined(separator: "/")
    }

    private func authenticate(_ request: HTTPRequest) -> EmulatorCredential? {
        if let header = request.header("authorization") {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", let credential = credentials[String(parts[1])] {
                return credential
            }
        }
        if let key = request.header("x-api-key") { return credentials[key] }
        return nil
    }

    // MARK: - Endpoints

    private func listTemplates(_ request: HTTPRequest) -> HTTPResponse {
        var selected = templates
        if let text = request.queryValue("integrationType") {
            guard let type = Self.integrationType(text) else {
                return validation(["integrationType": ["'\(text)' is not an integration type (1 to 8 or a name)"]])
            }
            selected = selected.filter { $0.type == type }
        }
        return json(200, TemplatesResponse(templates: selected))
    }

    private func available(_ organizationId: String) -> HTTPResponse {
        let mine = order.compactMap { integrations[$0] }.filter { $0.organizationId == organizationId }
        var byType: [String: [AvailableIntegration]] = [:]
        for template in templates {
            let existing = mine.first { $0.provider == template.provider && $0.integrationType == template.type }
            byType[template.type.name, default: []].append(
                AvailableIntegration(
                    type: template.type, provider: template.provider, displayName: template.displayName,
                    requiresOAuth: template.requiresOAuth, isConfigured: existing != nil,
                    isEnabled: existing?.isEnabled ?? false, integrationId: existing?.integrationId,
                    testStatus: existing?.testStatus))
        }
        return json(
            200,
            AvailableIntegrations(
                organizationId: organizationId, totalAvailable: templates.count,
                configuredCount: Set(mine.map { "\($0.integrationType.rawValue)/\($0.provider)" }).count,
                enabledCount: mine.filter(\.isEnabled).count, integrationsByType: byType))
    }

    private func create(_ request: HTTPRequest, organizationId: String, credential: EmulatorCredential) -> HTTPResponse
    {
        guard let body = JSONObject(request.body) else { return validation(["body": ["a JSON object is required"]]) }
        var errors: [String: [String]] = [:]
        let type = body["integrationType"].flatMap(Self.integrationType)
        if type == nil { errors["integrationType"] = ["an integration type (1 to 8) is required"] }
        let provider = body.string("provider")
        if provider?.isEmpty ?? true { errors["provider"] = ["a provider is required"] }
        let displayName = body.string("displayName")
        if displayName?.isEmpty ?? true { errors["displayName"] = ["a display name is required"] }
        guard errors.isEmpty, let type, let provider, let displayName else { return validation(errors) }
        guard let template = templates.first(where: { $0.provider == provider }) else {
            return validation(["provider": ["'\(provider)' matches no template provider"]])
        }
        guard template.type == type else {
            return validation(["integrationType": ["\(provider) is a \(template.type.name) provider"]])
        }
        let configuration = body.strings("configuration") ?? [:]
        let secrets = body.strings("secrets") ?? [:]
        errors = fieldErrors(template: template, configuration: configuration, secrets: secrets, creating: true)
        guard errors.isEmpty else { return validation(errors) }
        if let clash = displayNameClash(displayName, organizationId: organizationId, except: nil) {
            return problem(409, "Conflict", "displayName '\(displayName)' is already used by integration \(clash)")
        }
        nextId += 1
        let stamp = timestamp()
        var merged = Dictionary(
            uniqueKeysWithValues: template.configurationFields.compactMap { field in
                field.defaultValue.map { (field.key, $0) }
            })
        merged.merge(configuration) { $1 }
        let stored = StoredIntegration(
            integrationId: "int_\(nextId)", organizationId: organizationId, integrationType: type, provider: provider,
            displayName: displayName, isEnabled: body.bool("isEnabled") ?? true, configuration: merged,
            secrets: secrets, createdAt: stamp, updatedAt: stamp, createdBy: credential.subject, testStatus: .notTested,
            lastTestedAt: nil, lastTestMessage: nil, authorized: false)
        integrations[stored.integrationId] = stored
        order.append(stored.integrationId)
        return json(
            201,
            IntegrationCreated(
                integrationId: stored.integrationId, organizationId: organizationId, integrationType: type,
                provider: provider, displayName: displayName, isEnabled: stored.isEnabled, createdAt: stamp),
            headers: ["location": "/api/organizations/\(organizationId)/integrations/\(stored.integrationId)"])
    }

    private func list(_ request: HTTPRequest, organizationId: String) -> HTTPResponse {
        var selected = order.compactMap { integrations[$0] }.filter { $0.organizationId == organizationId }
        if let text = request.queryValue("integrationType") {
            guard let type = Self.integrationType(text) else {
                return validation(["integrationType": ["'\(text)' is not an integration type (1 to 8 or a name)"]])
            }
            selected = selected.filter { $0.integrationType == type }
        }
        if let text = request.queryValue("isEnabled") {
            guard let enabled = Bool(text.lowercased()) else { return validation(["isEnabled": ["true or false"]]) }
            selected = selected.filter { $0.isEnabled == enabled }
        }
        return json(200, IntegrationList(integrations: selected.map(summary)))
    }

    private func update(_ request: HTTPRequest, _ stored: inout StoredIntegration) -> HTTPResponse {
        guard let body = JSONObject(request.body) else { return validation(["body": ["a JSON object is required"]]) }
        guard let template = template(of: stored) else {
            return problem(500, "Internal Server Error", "template missing")
        }
        let configuration = body.strings("configuration") ?? [:]
        let secrets = body.strings("secrets") ?? [:]
        let errors = fieldErrors(template: template, configuration: configuration, secrets: secrets, creating: false)
        guard errors.isEmpty else { return validation(errors) }
        if let displayName = body.string("displayName") {
            guard !displayName.isEmpty else { return validation(["displayName": ["must not be empty"]]) }
            if let clash = displayNameClash(
                displayName, organizationId: stored.organizationId, except: stored.integrationId)
            {
                return problem(409, "Conflict", "displayName '\(displayName)' is already used by integration \(clash)")
            }
            stored.displayName = displayName
        }
        if let enabled = body.bool("isEnabled") { stored.isEnabled = enabled }
        let critical = configuration.contains { key, value in
            ["IsSandbox", "Environment"].contains(key) && stored.configuration[key] != value
        }
        stored.configuration.merge(configuration) { $1 }
        stored.secrets.merge(secrets) { $1 }
        let testRequired = !secrets.isEmpty || critical
        if testRequired { stored.testStatus = .notTested }
        stored.updatedAt = timestamp()
        integrations[stored.integrationId] = stored
        return json(200, UpdateIntegrationResponse(testConnectionRequired: testRequired))
    }

    private func runTest(_ stored: inout StoredIntegration) -> TestConnectionResult {
        let (passed, message) = testOutcome(stored)
        let stamp = timestamp()
        stored.testStatus = passed ? .passed : .failed
        stored.lastTestedAt = stamp
        stored.lastTestMessage = message
        stored.updatedAt = stamp
        integrations[stored.integrationId] = stored
        return TestConnectionResult(
            integrationId: stored.integrationId, isSuccessful: passed, message: message, testedAt: stamp)
    }

    /// A test fails when the provider is OAuth and not yet authorized, when a required secret is missing, or
    /// when any secret value starts with `invalid`.
    private func testOutcome(_ stored: StoredIntegration) -> (Bool, String) {
        guard let template = template(of: stored) else { return (false, "Provider template not found") }
        if template.requiresOAuth && !stored.authorized {
            return (false, "Not connected: authorize the integration through the connect endpoint first")
        }
        for field in template.secretFields where field.required && stored.secrets[field.key] == nil {
            return (false, "Connection test failed: \(field.key) is not set")
        }
        if let key = stored.secrets.keys.sorted().first(where: { stored.secrets[$0]!.hasPrefix("invalid") }) {
            return (false, "Connection test failed: \(template.displayName) rejected the credentials (\(key))")
        }
        return (true, "Connection test successful")
    }

    private func connect(_ request: HTTPRequest, _ stored: StoredIntegration) -> HTTPResponse {
        guard let template = template(of: stored), template.requiresOAuth else {
            return validation(["provider": ["\(stored.provider) does not use OAuth"]])
        }
        guard let body = JSONObject(request.body), let state = body.string("state"), !state.isEmpty else {
            return validation(["state": ["the state (your return URL) is required"]])
        }
        let token = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        pending[token] = PendingAuthorization(
            organizationId: stored.organizationId, integrationId: stored.integrationId, returnURL: state,
            expires: now().addingTimeInterval(15 * 60))
        var components = URLComponents(string: "https://appcenter.intuit.com/connect/oauth2")!
        if stored.provider != "QuickBooks" {
            components = URLComponents(string: "https://oauth.example.com/\(stored.provider.lowercased())/authorize")!
        }
        components.queryItems = [
            URLQueryItem(name: "client_id", value: "nymble-emulator"),
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "redirect_uri", value: template.callbackUrl ?? ""),
            URLQueryItem(name: "state", value: token),
        ]
        return json(200, ConnectResponse(authorizationUrl: components.string ?? ""))
    }

    private func callback(provider: String, request: HTTPRequest) -> HTTPResponse {
        guard let token = request.queryValue("state"), let authorization = pending[token] else {
            return problem(400, "Bad Request", "unknown or already used OAuth state")
        }
        pending[token] = nil
        guard authorization.expires > now() else {
            return problem(400, "Bad Request", "the authorization URL expired; call connect again")
        }
        guard request.queryValue("code")?.isEmpty == false else {
            return problem(400, "Bad Request", "the provider returned no authorization code")
        }
        guard var stored = integrations[authorization.integrationId], stored.provider == provider else {
            return problem(404, "Not Found", "the integration being authorized no longer exists")
        }
        let stamp = timestamp()
        stored.authorized = true
        stored.testStatus = .passed
        stored.lastTestedAt = stamp
        stored.lastTestMessage = "Connected"
        stored.updatedAt = stamp
        integrations[stored.integrationId] = stored
        return HTTPResponse(status: 302, headers: ["location": authorization.returnURL])
    }

    private func rotate(_ request: HTTPRequest, _ stored: inout StoredIntegration) -> HTTPResponse {
        guard let body = JSONObject(request.body), let newSecrets = body.strings("newSecrets"), !newSecrets.isEmpty
        else { return validation(["newSecrets": ["at least one secret is required"]]) }
        guard let template = template(of: stored) else {
            return problem(500, "Internal Server Error", "template missing")
        }
        let errors = fieldErrors(template: template, configuration: [:], secrets: newSecrets, creating: false)
        guard errors.isEmpty else { return validation(errors) }
        stored.secrets.merge(newSecrets) { $1 }
        let stamp = timestamp()
        stored.updatedAt = stamp
        var tested: Bool?
        var message = "Secrets rotated successfully"
        if body.bool("testConnectionAfterRotation") ?? true {
            let (passed, testMessage) = testOutcome(stored)
            tested = passed
            stored.testStatus = passed ? .passed : .failed
            stored.lastTestedAt = stamp
            stored.lastTestMessage = testMessage
            message += passed ? " and connection test passed" : " but connection test failed"
        } else {
            stored.testStatus = .notTested
        }
        integrations[stored.integrationId] = stored
        return json(
            200,
            RotateSecretsResponse(
                integrationId: stored.integrationId, organizationId: stored.organizationId, rotationSuccessful: true,
                testConnectionSuccessful: tested ?? false, message: message, rotatedAt: stamp,
                rotatedSecretKeys: newSecrets.keys.sorted()))
    }

    // MARK: - Helpers

    private func template(of stored: StoredIntegration) -> IntegrationTemplate? {
        templates.first { $0.provider == stored.provider && $0.type == stored.integrationType }
    }

    private func fieldErrors(
        template: IntegrationTemplate, configuration: [String: String], secrets: [String: String], creating: Bool
    ) -> [String: [String]] {
        var errors: [String: [String]] = [:]
        for key in configuration.keys where template.configurationField(key) == nil {
            errors["configuration.\(key)", default: []].append("not a configuration field of \(template.provider)")
        }
        for key in secrets.keys where template.secretField(key) == nil {
            errors["secrets.\(key)", default: []].append("not a secret field of \(template.provider)")
        }
        if creating {
            for field in template.configurationFields
            where field.required && field.defaultValue == nil && configuration[field.key] == nil {
                errors["configuration.\(field.key)", default: []].append("is required")
            }
            for field in template.secretFields where field.required && secrets[field.key] == nil {
                errors["secrets.\(field.key)", default: []].append("is required")
            }
        }
        return errors
    }

    private func displayNameClash(_ name: String, organizationId: String, except: String?) -> String? {
        integrations.values.first {
            $0.organizationId == organizationId && $0.displayName == name && $0.integrationId != except
        }?.integrationId
    }

    func summary(_ stored: StoredIntegration) -> IntegrationSummary {
        IntegrationSummary(
            integrationId: stored.integrationId, organizationId: stored.organizationId,
            integrationType: stored.integrationType, provider: stored.provider, displayName: stored.displayName,
            isEnabled: stored.isEnabled, createdAt: stored.createdAt, updatedAt: stored.updatedAt,
            testStatus: stored.testStatus, lastTestedAt: stored.lastTestedAt, lastTestMessage: stored.lastTestMessage)
    }

    func detail(_ stored: StoredIntegration) -> IntegrationDetail {
        let template = template(of: stored)
        return IntegrationDetail(
            integrationId: stored.integrationId, organizationId: stored.organizationId,
            integrationType: stored.integrationType, provider: stored.provider, displayName: stored.displayName,
            isEnabled: stored.isEnabled, createdAt: stored.createdAt, updatedAt: stored.updatedAt,
            configuration: stored.configuration, createdBy: stored.createdBy,
            availableFields: template.map {
                AvailableFields(
                    configurationFields: $0.configurationFields, secretFields: $0.secretFields,
                    requiresOAuth: $0.requiresOAuth, documentationUrl: $0.documentationUrl,
                    supportedFeatures: $0.supportedFeatures)
            }, testStatus: stored.testStatus, lastTestedAt: stored.lastTestedAt, lastTestMessage: stored.lastTestMessage
        )
    }

    /// ISO 8601 with milliseconds, strictly increasing in its printed form, so that every change moves
    /// `updatedAt` as a client compares it.
    private func timestamp() -> String {
        var millis = Int64((now().timeIntervalSince1970 * 1000).rounded(.down))
        let last = Int64((lastTimestamp.timeIntervalSince1970 * 1000).rounded())
        if millis <= last { millis = last + 1 }
        lastTimestamp = Date(timeIntervalSince1970: Double(millis) / 1000)
        let seconds = Date(timeIntervalSince1970: Double(millis / 1000))
        let text = Self.formatter.string(from: seconds)  // 2026-11-27T08:40:14Z
        return String(text.dropLast()) + String(format: ".%03dZ", Int(millis % 1000))
    }

    nonisolated(unsafe) private static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }()

    static func integrationType(_ value: Any) -> IntegrationType? {
        if let number = value as? Int { return IntegrationType(rawValue: number) }
        if let text = value as? String {
            return IntegrationType(name: text) ?? Int(text).flatMap(IntegrationType.init(rawValue:))
        }
        return nil
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    func json<T: Encodable>(_ status: Int, _ value: T, headers: [String: String] = [:]) -> HTTPResponse {
        var all = headers
        all["content-type"] = "application/json; charset=utf-8"
        return HTTPResponse(status: status, headers: all, body: (try? Self.encoder.encode(value)) ?? Data())
    }

    func problem(_ status: Int, _ title: String, _ detail: String, errors: [String: [String]]? = nil) -> HTTPResponse {
        let section: String
        switch status {
        case 400: section = "15.5.1"
        case 401: section = "15.5.2"
        case 403: section = "15.5.4"
        case 404: section = "15.5.5"
        case 405: section = "15.5.6"
        case 409: section = "15.5.10"
        case 429: section = "15.5.29"
        default: section = "15.6.1"
        }
        let body = ProblemDetails(
            type: "https://tools.ietf.org/html/rfc9110#section-\(section)", title: title, status: status,
            detail: detail, errors: errors)
        var response = json(status, body)
        response.headers["content-type"] = "application/problem+json; charset=utf-8"
        return response
    }

    private func validation(_ errors: [String: [String]]) -> HTTPResponse {
        problem(400, "One or more validation errors occurred.", "the request is not valid", errors: errors)
    }
}

/// A request body read with case-insensitive property names, as the API accepts them.
struct JSONObject {
    private let fields: [String: Any]

    init?(_ data: Data?) {
        guard let data, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        fields = Dictionary(object.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
    }

    subscript(_ name: String) -> Any? {
        let value = fields[name.lowercased()]
        return value is NSNull ? nil : value
    }

    func string(_ name: String) -> String? { self[name] as? String }

    func bool(_ name: String) -> Bool? {
        switch self[name] {
        case let value as Bool: return value
        case let text as String: return Bool(text.lowercased())
        default: return nil
        }
    }

    /// A string map; JSON booleans and numbers are coerced to their string form.
    func strings(_ name: String) -> [String: String]? {
        guard let object = self[name] as? [String: Any] else { return nil }
        return object.compactMapValues { value -> String? in
            switch value {
            case let text as String: return text
            case let number as NSNumber:
                // JSON booleans arrive as NSNumbers of ObjC type "c".
                if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
                return number.stringValue
            default: return nil
            }
        }
    }
}

import Foundation
import IntegrationsAPI

/// The misbehaviour the emulator adds on request, all drawn from one seeded generator so that a failing run can be
/// repeated with the same `--seed`.
public struct EmulatorFaults: Sendable, Equatable {
    /// Added before every answer.
    public var latency: Duration
    /// The latency varies uniformly by up to this much either way.
    public var jitter: Duration
    /// The share of requests answered 502/503/504 before they reach the API (nothing is changed).
    public var faultRate: Double
    /// The share of requests answered 429 with `Retry-After` before they reach the API.
    public var throttleRate: Double
    /// A token bucket of this many requests per second (burst of one second); beyond it, 429 with `Retry-After`.
    public var rateLimit: Double?
    /// The rate limit changing while the emulator runs: each step's rate holds from `after` (since the first
    /// request) to the next step; before the first step, `rateLimit` (or none).
    public var rateLimitSchedule: [RateLimitStep]
    /// The share of requests whose change is committed and whose answer is then dropped.
    public var dropRate: Double
    /// The `Retry-After` the emulator sends with the 429s of `throttleRate`, in whole seconds.
    public var retryAfterSeconds: Int
    /// Writes (POST, PUT, DELETE) are answered 400 with the request in the problem's detail, as a careless API
    /// does: its headers, its body, both in base64, the body in hex or percent-encoded (one form per answer,
    /// drawn from the seed). Nothing is changed.
    public var echoWrites: Bool
    public var seed: UInt64

    public init(
        latency: Duration = .zero, jitter: Duration = .zero, faultRate: Double = 0, throttleRate: Double = 0,
        rateLimit: Double? = nil, rateLimitSchedule: [RateLimitStep] = [], dropRate: Double = 0,
        retryAfterSeconds: Int = 1, echoWrites: Bool = false, seed: UInt64 = 0
    ) {
        self.rateLimitSchedule = rateLimitSchedule
        self.latency = latency
        self.jitter = jitter
        self.faultRate = faultRate
        self.throttleRate = throttleRate
        self.rateLimit = rateLimit
        self.dropRate = dropRate
        self.retryAfterSeconds = retryAfterSeconds
        self.echoWrites = echoWrites
        self.seed = seed
    }

    var isQuiet: Bool {
        latency == .zero && jitter == .zero && faultRate == 0 && throttleRate == 0 && rateLimit == nil && dropRate == 0
            && !echoWrites && rateLimitSchedule.isEmpty
    }
}

/// From `after` on, the emulator allows `requestsPerSecond`.
public struct RateLimitStep: Sendable, Equatable {
    public var after: Duration
    public var requestsPerSecond: Double

    public init(after: Duration, requestsPerSecond: Double) {
        self.after = after
        self.requestsPerSecond = requestsPerSecond
    }
}

/// What becomes of a request: an answer, or a connection closed without one after the change was committed.
public enum EmulatorOutcome: Sendable, Equatable {
    case respond(HTTPResponse)
    case drop
}

/// SplitMix64: small, fast and the same on every platform, which `SystemRandomNumberGenerator` is not. The
/// emulator's faults and the benchmarks' soak and fuzzing draw from it.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in 0..<bound (0 for an empty range).
    public mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }
}

/// A token bucket holding one second of requests, at a rate that may follow a schedule.
struct TokenBucket: Sendable {
    private(set) var ratePerSecond: Double
    private let schedule: [RateLimitStep]
    /// The first request's arrival: the schedule's zero.
    private var start: ContinuousClock.Instant?
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    init(ratePerSecond: Double, schedule: [RateLimitStep] = []) {
        self.ratePerSecond = ratePerSecond
        self.schedule = schedule.sorted { $0.after < $1.after }
        tokens = max(1, ratePerSecond)
    }

    /// Takes a token, or tells how long until one is available.
    mutating func take(at now: ContinuousClock.Instant = .now) -> Duration? {
        let start = self.start ?? now
        self.start = start
        let elapsed = now - (last ?? now)
        last = now
        if let step = schedule.last(where: { start + $0.after <= now }) { ratePerSecond = step.requestsPerSecond }
        tokens = min(max(1, ratePerSecond), tokens + Emulator.seconds(elapsed) * ratePerSecond)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return .seconds((1 - tokens) / ratePerSecond)
    }
}

extension Emulator {
    /// Serves one request as the HTTP server and the `sandbox:` transport do: the test-only `/_emulator/` routes
    /// first, then fault injection around ``handle(_:)``.
    public func serve(_ request: HTTPRequest) async -> EmulatorOutcome {
        if request.path.hasPrefix("/_emulator/") { return .respond(administration(request)) }
        if faults.isQuiet { return .respond(handle(request)) }

        // Every draw happens before the first suspension, so one seed gives one sequence of decisions however
        // the requests interleave afterwards.
        let delay = drawLatency()
        let fault = random.unit() < faults.faultRate
        let faultStatus = [502, 503, 504][Int(random.next() % 3)]
        let throttle = random.unit() < faults.throttleRate
        let drop = random.unit() < faults.dropRate
        let wait = bucket?.take()
        let limit = bucket?.ratePerSecond ?? 0
        let echoForm = faults.echoWrites ? random.below(5) : 0

        if delay > .zero { try? await Task.sleep(for: delay) }
        if wait != nil || fault || throttle { count(request) }
        if wait != nil || throttle { throttledCount += 1 }
        if let wait {
            let seconds = max(1, Int(Self.seconds(wait).rounded(.up)))
            return .respond(
                throttled(retryAfter: seconds, reason: "the rate limit of \(limit) requests per second was exceeded"))
        }
        if fault { return .respond(problem(faultStatus, "Service Unavailable", "injected fault")) }
        if throttle { return .respond(throttled(retryAfter: faults.retryAfterSeconds, reason: "injected throttling")) }
        if faults.echoWrites, request.method != "GET" { return .respond(echo(request, form: echoForm)) }
        let response = handle(request)
        return drop ? .drop : .respond(response)
    }

    private func drawLatency() -> Duration {
        guard faults.latency > .zero || faults.jitter > .zero else { return .zero }
        let spread = (random.unit() * 2 - 1) * Self.seconds(faults.jitter)
        return .seconds(max(0, Self.seconds(faults.latency) + spread))
    }

    /// The request echoed in one of the forms careless APIs use, so that each answer stays short enough to be
    /// shown whole.
    private func echo(_ request: HTTPRequest, form: Int) -> HTTPResponse {
        let headers = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(
            separator: "; ")
        let body = request.body ?? Data()
        let text: String
        switch form {
        case 0: text = headers
        case 1: text = String(decoding: body, as: UTF8.self)
        case 2:
            text = "base64 " + Data((headers + "\n" + String(decoding: body, as: UTF8.self)).utf8).base64EncodedString()
        case 3: text = "hex " + body.map { String(format: "%02x", $0) }.joined()
        default:
            text =
                "form "
                + (String(decoding: body, as: UTF8.self).addingPercentEncoding(withAllowedCharacters: .alphanumerics)
                    ?? "")
        }
        return problem(400, "Bad Request", "could not process \(request.method) \(request.path): \(text)")
    }

    private func throttled(retryAfter seconds: Int, reason: String) -> HTTPResponse {
        var response = problem(429, "Too Many Requests", reason)
        response.headers["retry-after"] = String(seconds)
        return response
    }

    /// `GET /_emulator/stats`, `POST /_emulator/reset`, `GET /_emulator/secrets/{organizationId}/{integrationId}`.
    private func administration(_ request: HTTPRequest) -> HTTPResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        switch (request.method, parts.dropFirst().first, parts.count) {
        case ("GET", "stats", 2):
            let counts = statistics()
            return json(
                200, EmulatorStatistics(requests: counts, total: counts.values.reduce(0, +), throttled: throttledCount))
        case ("POST", "reset", 2):
            resetStatistics()
            return HTTPResponse(status: 204)
        case ("GET", "secrets", 4):
            guard let digests = secretDigests(organizationId: parts[2], integrationId: parts[3]) else {
                return problem(404, "Not Found", "integration \(parts[3]) was not found in \(parts[2])")
            }
            return json(200, digests)
        default: return problem(404, "Not Found", "no route \(request.method) \(request.path)")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The body of `GET /_emulator/stats`.
public struct EmulatorStatistics: Codable, Sendable, Equatable {
    public var requests: [String: Int]
    public var total: Int
    /// Requests answered 429 (the rate limit or injected throttling).
    public var throttled: Int
}

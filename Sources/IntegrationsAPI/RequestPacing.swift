import Foundation
import Synchronization

/// At most `limit` requests in flight; the rest wait their turn in arrival order. A waiter whose task is cancelled
/// is woken at once, without a slot.
actor InFlightLimit {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Bool, Never>
    }

    private var available: Int
    private var waiters: [Waiter] = []
    private var nextID: UInt64 = 0

    init(limit: Int) { available = max(1, limit) }

    /// - Returns: true with a slot held; false when the task was cancelled while it waited (no slot is held).
    func acquire() async -> Bool {
        if available > 0 {
            available -= 1
            return true
        }
        guard !Task.isCancelled else { return false }
        let id = nextID
        nextID += 1
        return await withTaskCancellationHandler {
            await withCheckedContinuation { waiters.append(Waiter(id: id, continuation: $0)) }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    func release() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().continuation.resume(returning: true) }
    }

    private func cancel(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: false)
    }
}

/// One organization's send rate, adapted to what the server accepts.
///
/// Until the server first throttles, nothing but the bound on requests in flight holds requests back. A 429 cuts
/// the rate multiplicatively to `beta` × the rate the server was accepting (answers other than 429 and 5xx in the
/// last second) and pauses the organization for the `Retry-After`; accepted answers then raise it again along the
/// cubic curve of the AWS SDKs' adaptive retry mode, which follows CUBIC congestion control (RFC 9438), timed from
/// the end of the pause: back to the rate of the cut after K = ∛(W·(1−β)/C) seconds, flat near it, then probing
/// above it faster and faster. The 429s of requests sent before a cut are that cut's: they extend the pause but do
/// not cut again. `ceiling` (`maxRequestsPerSecond`) holds the rate under a hard limit at all times.
///
/// A value with every instant passed in: the clock is the caller's, and tests drive it.
struct AdaptiveRate: Sendable {
    /// The multiplicative decrease and the cubic's scale, as the AWS SDKs and CUBIC use them.
    static let beta = 0.7
    static let scale = 0.4
    /// The slowest the rate is cut to, in requests per second.
    static let floor = 0.5
    /// How far back the accepted rate is measured.
    static let window: Duration = .seconds(1)

    let ceiling: Double?
    /// The adapted rate; nil until the first throttle.
    private(set) var adapted: Double?
    private var rateAtCut = 0.0
    private var lastCut: ContinuousClock.Instant?
    /// Where the cubic starts: the cut, or the end of its pause.
    private var curveStart: ContinuousClock.Instant?
    private(set) var pausedUntil: ContinuousClock.Instant?
    /// When the last paced request went.
    private var lastSend: ContinuousClock.Instant?
    /// A request waiting for its turn looks again this often, so that a rate that rose meanwhile lets it go sooner.
    static let recheck: Duration = .milliseconds(250)
    /// When the answers of the last `window` that the server accepted came back, oldest first.
    private var accepted: [ContinuousClock.Instant] = []
    private var acceptedStart = 0

    init(ceiling: Double?) { self.ceiling = ceiling }

    /// The rate requests are sent at; nil for no limit but the bound in flight.
    var rate: Double? {
        switch (adapted, ceiling) {
        case (let adapted?, let ceiling?): min(adapted, ceiling)
        case (let adapted?, nil): adapted
        case (nil, let ceiling): ceiling
        }
    }

    /// `.zero` when a request may go now (and it is counted as gone); otherwise how long to wait before asking
    /// again: the rest of a pause, or the time to the next turn at the current rate (at most ``recheck``).
    mutating func reserve(now: ContinuousClock.Instant) -> Duration {
        if let pausedUntil, pausedUntil > now { return pausedUntil - now }
        guard let rate else { return .zero }
        if let lastSend {
            let turn = lastSend + .seconds(1 / rate)
            if turn > now { return min(turn - now, Self.recheck) }
        }
        lastSend = now
        return .zero
    }

    /// An answer the server accepted (anything but a 429).
    mutating func accept(now: ContinuousClock.Instant) {
        accepted.append(now)
        prune(now)
        guard let curveStart, adapted != nil else { return }
        let k = Self.zeroPoint(rateAtCut)
        let elapsed = max(0, Self.seconds(now - curveStart))
        adapted = max(Self.floor, Self.scale * pow(elapsed - k, 3) + rateAtCut)
    }

    /// A 429 to a request sent at `sentAt`. - Returns: whether the rate was cut (a new throttling event).
    @discardableResult mutating func throttle(
        now: ContinuousClock.Instant, sentAt: ContinuousClock.Instant, retryAfter: Duration?
    ) -> Bool {
        let pausedUntilBefore = pausedUntil
        if let retryAfter { pausedUntil = max(pausedUntil ?? now, now + retryAfter) }
        if let lastCut, sentAt < lastCut {
            curveStart = max(curveStart ?? now, pausedUntil ?? now)
            return false
        }
        prune(now)
        // Within a second of the last cut or pause the window would count the silence: the rate paced at is then
        // the better measure of what the server took.
        let quietSince = max(lastCut ?? now - Self.window, pausedUntilBefore ?? now - Self.window)
        let acceptedRate = Double(accepted.count - acceptedStart) / Self.seconds(Self.window)
        let current = now - quietSince < Self.window ? (rate ?? acceptedRate) : min(acceptedRate, rate ?? acceptedRate)
        rateAtCut = max(Self.floor, current)
        adapted = max(Self.floor, rateAtCut * Self.beta)
        lastCut = now
        curveStart = max(now, pausedUntil ?? now)
        return true
    }

    private mutating func prune(_ now: ContinuousClock.Instant) {
        while acceptedStart < accepted.count, now - accepted[acceptedStart] > Self.window { acceptedStart += 1 }
        if acceptedStart > 1024, acceptedStart * 2 > accepted.count {
            accepted.removeFirst(acceptedStart)
            acceptedStart = 0
        }
    }

    /// K: how long after a cut the cubic is back at the rate of the cut.
    static func zeroPoint(_ rateAtCut: Double) -> Double { cbrt(rateAtCut * (1 - beta) / scale) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A change of an organization's send rate, for whoever shows it (`--verbose`).
public struct PacingChange: Sendable, Equatable {
    public enum Cause: Sendable, Equatable {
        /// The server answered 429: the rate was cut, and the organization waits `retryAfter` if it said.
        case throttled(retryAfter: Duration?)
        /// The rate has risen since it was last told.
        case raised
    }

    public var organization: String?
    /// Requests per second; nil for no limit but the bound in flight.
    public var requestsPerSecond: Double?
    public var cause: Cause

    public init(organization: String?, requestsPerSecond: Double?, cause: Cause) {
        self.organization = organization
        self.requestsPerSecond = requestsPerSecond
        self.cause = cause
    }
}

/// The ``AdaptiveRate`` of every organization of a run (the API limits each organization's token on its own), and
/// who to tell when one changes. A rise is told once it is 25% over the rate last told, so that a run's log shows
/// the curve in a few lines.
final class RequestPacing: Sendable {
    private struct Organization {
        var rate: AdaptiveRate
        var lastReported: Double?
    }

    private let ceiling: Double?
    private let organizations = Mutex<[String: Organization]>([:])
    private let observer: (@Sendable (PacingChange) -> Void)?

    init(ceiling: Double?, observer: (@Sendable (PacingChange) -> Void)?) {
        self.ceiling = ceiling
        self.observer = observer
    }

    private func withRate<T>(_ organization: String?, _ body: (inout Organization) -> T) -> T {
        organizations.withLock { all in
            let key = organization ?? ""
            var entry = all[key] ?? Organization(rate: AdaptiveRate(ceiling: ceiling), lastReported: ceiling)
            defer { all[key] = entry }
            return body(&entry)
        }
    }

    func reserve(_ organization: String?, now: ContinuousClock.Instant) -> Duration {
        withRate(organization) { $0.rate.reserve(now: now) }
    }

    func accept(_ organization: String?, now: ContinuousClock.Instant) {
        let change = withRate(organization) { entry -> PacingChange? in
            entry.rate.accept(now: now)
            guard let rate = entry.rate.rate, let reported = entry.lastReported, rate >= reported * 1.25 else {
                return nil
            }
            entry.lastReported = rate
            return PacingChange(organization: organization, requestsPerSecond: rate, cause: .raised)
        }
        if let change { observer?(change) }
    }

    func throttle(
        _ organization: String?, sentAt: ContinuousClock.Instant, retryAfter: Duration?, now: ContinuousClock.Instant
    ) {
        let change = withRate(organization) { entry -> PacingChange? in
            guard entry.rate.throttle(now: now, sentAt: sentAt, retryAfter: retryAfter) else { return nil }
            entry.lastReported = entry.rate.rate
            return PacingChange(
                organization: organization, requestsPerSecond: entry.rate.rate,
                cause: .throttled(retryAfter: retryAfter))
        }
        if let change { observer?(change) }
    }

    /// How long the organization is still paused by a `Retry-After`; nil when it is not.
    func pauseRemaining(_ organization: String?, now: ContinuousClock.Instant) -> Duration? {
        withRate(organization) { entry in entry.rate.pausedUntil.flatMap { $0 > now ? $0 - now : nil } }
    }

    /// The organization's current rate; nil for none.
    func rate(_ organization: String?) -> Double? { withRate(organization) { $0.rate.rate } }
}

/// How the client spaces, bounds and repeats requests.
public struct ClientPolicy: Sendable, Equatable {
    /// Requests in flight at once, across all organizations.
    public var maxInFlight: Int
    /// A hard ceiling on each organization's send rate, under the adaptive rate; nil for none.
    public var requestsPerSecond: Double?
    /// Attempts per request, the first included.
    public var maxAttempts: Int
    /// Backoff before attempt n+1 is a random duration in [0, min(maxDelay, baseDelay·2ⁿ⁻¹)] ("full jitter").
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// A `Retry-After` longer than this is not waited for: the request fails instead.
    public var maxRetryAfter: Duration
    /// How long one request may take.
    public var timeout: Duration

    public init(
        maxInFlight: Int = 8, requestsPerSecond: Double? = nil, maxAttempts: Int = 6,
        baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(15),
        maxRetryAfter: Duration = .seconds(120), timeout: Duration = .seconds(30)
    ) {
        self.maxInFlight = maxInFlight
        self.requestsPerSecond = requestsPerSecond
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.timeout = timeout
    }

    /// Full jitter: `unit` is uniform in [0, 1).
    func backoff(afterAttempt attempt: Int, unit: Double) -> Duration {
        let exponent = min(attempt - 1, 30)
        let ceiling = min(maxDelay, baseDelay * (1 << exponent))
        return ceiling * unit
    }

    /// `Retry-After` as delay-seconds or an HTTP-date.
    static func retryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSince(now) * 1000)))
    }
}

import Foundation

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

/// A client-side rate limit as a generic cell rate algorithm: requests are spaced `1/rate` apart on average, with a
/// burst of up to `burst` at once. ``reserve()`` books the next slot and says how long to wait for it.
actor RequestPacer {
    private let interval: Duration
    private let burstAllowance: Duration
    private var theoreticalArrival: ContinuousClock.Instant = .now

    init(requestsPerSecond: Double, burst: Int) {
        interval = .seconds(1 / requestsPerSecond)
        burstAllowance = interval * max(0, burst - 1)
    }

    func reserve(now: ContinuousClock.Instant = .now) -> Duration {
        let arrival = max(theoreticalArrival, now)
        let wait = arrival - burstAllowance - now
        theoreticalArrival = arrival + interval
        return max(.zero, wait)
    }
}

/// How the client spaces, bounds and repeats requests.
public struct ClientPolicy: Sendable, Equatable {
    /// Requests in flight at once, across all organizations.
    public var maxInFlight: Int
    /// A client-side rate limit; nil for none.
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

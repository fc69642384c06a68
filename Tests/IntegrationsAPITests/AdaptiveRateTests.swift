import Foundation
import Testing

@testable import IntegrationsAPI

/// The adaptive send rate on a clock the tests move by hand.
@Suite struct AdaptiveRateTests {
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int((seconds * 1000).rounded())) }

    @Test func nothingHoldsRequestsBackUntilTheServerThrottles() {
        var rate = AdaptiveRate(ceiling: nil)
        for index in 0..<1000 {
            let wait = rate.reserve(now: at(Double(index) / 1000))
            #expect(wait == .zero)
            rate.accept(now: at(Double(index) / 1000 + 0.02))
        }
        #expect(rate.rate == nil)
    }

    @Test func aThrottleCutsToBetaTimesTheAcceptedRateAndPauses() throws {
        var rate = AdaptiveRate(ceiling: nil)
        // 40 answers accepted within the last second, then a 429 with Retry-After: 1.
        for index in 0..<40 { rate.accept(now: at(0.5 + Double(index) / 100)) }
        let wasCut = rate.throttle(now: at(1), sentAt: at(0.98), retryAfter: .seconds(1))
        #expect(wasCut)
        let cut = try #require(rate.rate)
        #expect(abs(cut - 28) < 1e-9)
        // Nothing goes before the pause ends; then one request every 1/28 s.
        let firstWait = rate.reserve(now: at(1.2))
        #expect(firstWait == .milliseconds(800))
        let second = rate.reserve(now: at(1.2))
        #expect(abs(AdaptiveRate.seconds(second) - (0.8 + 1 / 28)) < 1e-6)
    }

    @Test func throttlesOfRequestsSentBeforeTheCutAreTheSameEvent() throws {
        var rate = AdaptiveRate(ceiling: nil)
        for index in 0..<40 { rate.accept(now: at(Double(index) / 40)) }
        let wasCut = rate.throttle(now: at(1), sentAt: at(0.98), retryAfter: .seconds(1))
        #expect(wasCut)
        let cut = rate.rate
        // Fifteen more 429s, of requests that were already out: the pause is extended, the rate not cut again.
        for index in 1...15 {
            let cutAgain = rate.throttle(now: at(1 + Double(index) / 1000), sentAt: at(0.99), retryAfter: .seconds(1))
            #expect(!cutAgain)
        }
        #expect(rate.rate == cut)
        #expect(rate.pausedUntil == at(2.015))
        // A 429 to a request sent after the cut is a new event. Half a second after the pause, the rate paced at
        // is what gets cut (the last second's count would hold the pause's silence).
        let newEvent = rate.throttle(now: at(2.5), sentAt: at(2.4), retryAfter: nil)
        #expect(newEvent)
        #expect(abs(try #require(rate.rate) - 28 * 0.7) < 1e-9)
    }

    @Test func successesRaiseTheRateAlongTheCubicBackToTheCutAndBeyond() throws {
        var rate = AdaptiveRate(ceiling: nil)
        for index in 0..<40 { rate.accept(now: at(Double(index) / 40)) }
        rate.throttle(now: at(1), sentAt: at(0.99), retryAfter: nil)
        let k = AdaptiveRate.zeroPoint(40)  // ∛(40 · 0.3 / 0.4) = ∛30 ≈ 3.1 s
        #expect(abs(k - cbrt(30)) < 1e-12)
        var seen: [Double] = []
        for step in 1...12 {
            rate.accept(now: at(1 + Double(step) / 2))
            seen.append(try #require(rate.rate))
        }
        // Rising all the way, concave up to the rate of the cut, convex after it.
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 })
        rate.accept(now: at(1 + k))
        #expect(abs(try #require(rate.rate) - 40) < 1e-3)
        rate.accept(now: at(1 + k + 2))
        #expect(abs(try #require(rate.rate) - (40 + 0.4 * 8)) < 1e-2)
    }

    @Test func theCeilingHoldsFromTheFirstRequestAndUnderTheAdaptedRate() throws {
        var rate = AdaptiveRate(ceiling: 10)
        let waits = (0..<4).map { _ in rate.reserve(now: at(0)) }
        #expect(waits == [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(300)])
        for index in 0..<10 { rate.accept(now: at(Double(index) / 10)) }
        rate.throttle(now: at(1), sentAt: at(0.95), retryAfter: nil)
        #expect(abs(try #require(rate.rate) - 7) < 1e-9)
        rate.accept(now: at(60))
        #expect(rate.rate == 10)
    }

    @Test func aThrottleWithNothingAcceptedCutsToTheFloor() {
        var rate = AdaptiveRate(ceiling: nil)
        rate.throttle(now: at(0.1), sentAt: at(0), retryAfter: nil)
        #expect(rate.rate == AdaptiveRate.floor)
        let first = rate.reserve(now: at(0.1))
        #expect(first == .zero)
        let second = rate.reserve(now: at(0.1))
        #expect(second == .seconds(2))
    }

    @Test func theObserverHearsCutsAndRisesOfAQuarter() {
        let heard = Heard()
        let pacing = RequestPacing(ceiling: nil, observer: { heard.append($0) })
        for index in 0..<40 { pacing.accept("org1", now: at(Double(index) / 40)) }
        #expect(heard.all.isEmpty)
        pacing.throttle("org1", sentAt: at(0.99), retryAfter: .seconds(1), now: at(1))
        for step in 1...40 { pacing.accept("org1", now: at(1 + Double(step) / 4)) }
        let all = heard.all
        #expect(
            all.first
                == PacingChange(organization: "org1", requestsPerSecond: 28, cause: .throttled(retryAfter: .seconds(1)))
        )
        let rises = all.dropFirst().compactMap(\.requestsPerSecond)
        #expect(!rises.isEmpty && all.dropFirst().allSatisfy { $0.cause == .raised })
        #expect(zip([28] + rises, rises).allSatisfy { $1 >= $0 * 1.25 })
    }
}

final class Heard: @unchecked Sendable {
    private let lock = NSLock()
    private var changes: [PacingChange] = []
    var all: [PacingChange] { lock.withLock { changes } }
    func append(_ change: PacingChange) { lock.withLock { changes.append(change) } }
}

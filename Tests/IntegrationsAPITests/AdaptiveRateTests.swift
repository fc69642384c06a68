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
        let atTheEnd = rate.reserve(now: at(2))
        #expect(atTheEnd == .zero)
        let next = rate.reserve(now: at(2))
        #expect(abs(AdaptiveRate.seconds(next) - 1.0 / 28) < 1e-6)
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
        // Four requests at once: one goes, the others wait for the next turn, 100 ms on.
        let waits = (0..<4).map { _ in rate.reserve(now: at(0)) }
        #expect(waits == [.zero, .milliseconds(100), .milliseconds(100), .milliseconds(100)])
        let second = rate.reserve(now: at(0.1))
        #expect(second == .zero)
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
        #expect(second == AdaptiveRate.recheck, "2 s to the next turn, looked at again after 250 ms")
    }

    @Test func theCurveStartsWhenThePauseEnds() throws {
        // Cut at 20/s with a Retry-After of 10 s (longer than K ≈ 2.5 s): the first answer after the pause finds the
        // rate at the start of the curve, not far up its convex part.
        var rate = AdaptiveRate(ceiling: nil)
        for index in 0..<20 { rate.accept(now: at(Double(index) / 20)) }
        rate.throttle(now: at(1), sentAt: at(0.99), retryAfter: .seconds(10))
        rate.accept(now: at(11.1))
        #expect(try #require(rate.rate) < 20)
        // A later 429 of the same event that extends the pause moves the start of the curve with it.
        rate.throttle(now: at(1.5), sentAt: at(0.995), retryAfter: .seconds(12))
        rate.accept(now: at(13.1))
        #expect(try #require(rate.rate) < 20)
    }

    @Test func aRateThatRoseLetsAWaitingRequestGoSooner() {
        var rate = AdaptiveRate(ceiling: nil)
        rate.throttle(now: at(0), sentAt: at(0), retryAfter: nil)
        let first = rate.reserve(now: at(0))
        #expect(first == .zero)
        // At the floor the next turn is 2 s away; the waiting request looks again every 250 ms, and an answer
        // accepted at 1.5 s has raised the rate to 0.69/s: its turn came at 1.45 s.
        let waiting = rate.reserve(now: at(0.1))
        #expect(waiting == AdaptiveRate.recheck)
        rate.accept(now: at(1.5))
        let later = rate.reserve(now: at(1.6))
        #expect(later == .zero, "the turn came before the 2 s of the floor rate")
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

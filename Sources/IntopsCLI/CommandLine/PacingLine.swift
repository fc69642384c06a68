import Reconciler

/// The `--verbose` line for a change of an organization's request rate.
enum PacingLine {
    static func text(_ change: PacingChange) -> String {
        let who = change.organization.map { "organization \($0)" } ?? "the API"
        let rate = change.requestsPerSecond.map { "\(rounded($0)) requests/s" } ?? "no limit"
        switch change.cause {
        case .throttled(let retryAfter?):
            return "\(who) answered 429: pausing \(rounded(seconds(retryAfter))) s, then pacing at \(rate)"
        case .throttled(nil): return "\(who) answered 429: pacing at \(rate)"
        case .raised: return "\(who): pacing at \(rate)"
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func rounded(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}

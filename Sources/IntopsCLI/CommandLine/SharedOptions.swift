import Reconciler

/// Options several commands share, declared once.
enum SharedOptions {
    static let org = OptionSpec.repeated("org", "ID", "Only this organization (repeatable).")
    static let target = OptionSpec.repeated("target", "NAME", "Only this integration (repeatable).")
    static let prune = OptionSpec.flag("prune", "Delete managed integrations that left the manifests.")
    static let refresh = OptionSpec.value(
        "refresh", "MODE", choices: RefreshMode.allCases.map(\.rawValue),
        "auto: a detail GET only where needed (default); full: fetch every integration.")
    static let lockTimeout = OptionSpec.value(
        "lock-timeout", "DURATION",
        "How long to wait while another run holds the state lock (default 30s); plan waits without taking it.")
    static let force = OptionSpec.flag("force", "Plan deletions beyond the safety limits.")
    static let allowReplace = OptionSpec.flag("allow-replace", "Plan replaces where a change cannot be made in place.")

    /// The options that choose what a plan covers.
    static let targeting = [target, org, prune, refresh, lockTimeout]

    /// `--lock-timeout`, when given.
    static func lockTimeoutValue(_ parsed: ParsedArguments) throws(UsageError) -> Duration? {
        guard let text = parsed.value(lockTimeout) else { return nil }
        guard let duration = ManifestDuration(text, allowingZero: true) else {
            throw UsageError(message: "--lock-timeout takes a duration like 30s, 2m or 0s, not '\(text)'")
        }
        return duration.duration
    }

    /// How plan and apply plan, from their shared options.
    static func planSettings(_ parsed: ParsedArguments) throws(UsageError) -> PlanSettings {
        PlanSettings(
            scope: Scope(organizations: parsed.all(org), targets: parsed.all(target)),
            refresh: parsed.value(refresh).flatMap(RefreshMode.init(rawValue:)) ?? .auto, prune: parsed.flag(prune),
            allowReplace: parsed.flag(allowReplace), force: parsed.flag(force),
            lockTimeout: try lockTimeoutValue(parsed))
    }
}

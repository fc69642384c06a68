import Reconciler

/// The result lines of apply and rotate: one per action, then one summary line.
enum ApplySummary {
    static let past: [ActionKind: String] = [
        .create: "created", .update: "updated", .rotate: "rotated", .test: "tested", .delete: "deleted",
        .replace: "replaced", .adopt: "adopted",
    ]

    static func print(_ report: ApplyReport, invocation: Invocation) -> Int32 {
        let console = invocation.console
        let quiet = invocation.global.quiet
        var counts: [ActionKind: Int] = [:]
        var failures = 0
        var changedThenFailed = 0
        for result in report.results {
            let verb = past[result.action] ?? result.action.rawValue
            switch result.outcome {
            case .succeeded:
                counts[result.action, default: 0] += 1
                if !quiet { console.out(Style.green("✓", console.colorOutput) + " \(result.key) \(verb)") }
            case .failed(let failure):
                if result.changedBeforeFailing { changedThenFailed += 1 } else { failures += 1 }
                console.err(
                    Style.red("✗", console.colorError) + " \(result.key): \(result.action.rawValue) failed: "
                        + TerminalText.visible(failure.description)
                        + (result.changedBeforeFailing ? " (what it changed before failing is live)" : ""))
            case .skipped(let reason):
                failures += 1
                console.err(
                    Style.yellow("-", console.colorError)
                        + " \(result.key): \(result.action.rawValue) skipped: \(reason)")
            }
            for note in result.notes where !quiet { console.out("  note: \(note)") }
        }
        if let error = report.stateError { invocation.error(error.description) }
        let order: [ActionKind] = [.create, .update, .rotate, .test, .delete, .replace, .adopt]
        var line =
            "Apply "
            + (failures == 0 && changedThenFailed == 0 && report.stateError == nil
                ? "complete" : "finished with failures") + ": "
        var parts = order.compactMap { kind in counts[kind].map { "\($0) \(past[kind] ?? kind.rawValue)" } }
        if changedThenFailed > 0 { parts.append("\(changedThenFailed) changed, then failed (the change is live)") }
        if parts.isEmpty { parts.append("nothing changed") }
        if failures > 0 { parts.append("\(failures) failed or skipped") }
        line += parts.joined(separator: ", ")
        console.out(line + ".")
        return report.failed ? ExitCode.failure : ExitCode.success
    }
}

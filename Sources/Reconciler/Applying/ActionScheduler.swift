/// Runs a plan's actions as their dependencies allow, at most `parallelism` at once. An action becomes ready when
/// its last dependency finishes; one whose dependency failed or was skipped is skipped, and so are its dependents.
/// Knows nothing of the API: `perform` does the work, so the order is tested on its own.
struct ActionScheduler {
    let actions: [PlannedAction]
    let parallelism: Int

    /// - Parameters:
    ///   - settled: results known before scheduling (actions whose pre-steps failed).
    ///   - stopReason: asked before each action starts; a reason skips it (and every action after it).
    func run(
        settled: [ActionID: ActionResult], stopReason: @escaping @Sendable () -> SkipReason?,
        perform: @escaping @Sendable (PlannedAction) async -> ActionResult
    ) async -> [ActionResult] {
        var positions: [ActionID: Int] = [:]
        for (index, action) in actions.enumerated() { positions[action.id] = index }
        var results = [ActionResult?](repeating: nil, count: actions.count)
        // Dependencies on actions not in the plan (a targeted plan) are already met.
        let dependencies = actions.map { action in Set(action.dependsOn.compactMap { positions[$0] }) }
        var remaining = dependencies
        var dependents = [[Int]](repeating: [], count: actions.count)
        for (index, depends) in dependencies.enumerated() {
            for dependency in depends { dependents[dependency].append(index) }
        }
        var ready: [Int] = []
        var cursor = 0

        func finished(_ index: Int) {
            for dependent in dependents[index] where results[dependent] == nil {
                remaining[dependent].remove(index)
                guard remaining[dependent].isEmpty else { continue }
                if let blocker = dependencies[dependent].sorted().first(where: { results[$0]?.succeeded != true }) {
                    results[dependent] = ActionResult(
                        actions[dependent], .skipped(.dependencyIncomplete(actions[blocker].id)))
                    finished(dependent)
                } else {
                    ready.append(dependent)
                }
            }
        }
        for (index, action) in actions.enumerated() { if let known = settled[action.id] { results[index] = known } }
        ready = actions.indices.filter { remaining[$0].isEmpty && results[$0] == nil }
        for index in actions.indices where results[index] != nil { finished(index) }

        await withTaskGroup(of: ScheduledResult.self) { group in
            var running = 0
            while true {
                while running < max(1, parallelism), cursor < ready.count {
                    let index = ready[cursor]
                    cursor += 1
                    guard results[index] == nil else { continue }
                    if let reason = stopReason() {
                        results[index] = ActionResult(actions[index], .skipped(reason))
                        finished(index)
                        continue
                    }
                    running += 1
                    let action = actions[index]
                    group.addTask { ScheduledResult(index: index, result: await perform(action)) }
                }
                guard running > 0, let done = await group.next() else { break }
                running -= 1
                results[done.index] = done.result
                finished(done.index)
            }
        }
        return actions.indices.map { results[$0] ?? ActionResult(actions[$0], .skipped(.notReached)) }
    }
}

/// A struct, not a tuple: Swift 6.3.1 with -O corrupts some tuple task-group results.
private struct ScheduledResult: Sendable {
    var index: Int
    var result: ActionResult
}

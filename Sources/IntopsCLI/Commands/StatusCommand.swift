import Foundation
import Reconciler

/// `intops status`: per organization and type, what the API offers and holds beside what the manifests declare.
enum StatusCommand {
    static let spec = CommandSpec(
        name: "status", summary: "Per organization and type: available, configured, enabled, tested, declared.",
        options: [SharedOptions.org], run: run)

    static func run(_ invocation: Invocation) async -> Int32 {
        let console = invocation.console
        let engine = invocation.engine
        let organizations = invocation.arguments.all(SharedOptions.org)
        guard
            let statuses = await invocation.run({ () async throws(EngineError) in
                try await engine.status(organizations: organizations, observer: invocation.observer)
            })
        else { return ExitCode.failure }
        for answer in statuses {
            guard case .success(let status) = answer else {
                if case .failure(let error) = answer { invocation.error("\(error)") }
                return ExitCode.failure
            }
            console.out(
                "\(status.organization): \(status.configured) configured, \(status.enabled) enabled, \(status.providersAvailable) providers available"
            )
            console.out("  type         available  configured  enabled  tested  declared")
            for row in status.rows {
                let counts = [row.available, row.configured, row.enabled, row.tested, row.declared]
                let name = row.type.padding(toLength: 12, withPad: " ", startingAt: 0)
                console.out(
                    "  \(name) "
                        + zip(counts, [9, 10, 7, 6, 8]).map {
                            String(repeating: " ", count: max(0, $1 - String($0).count)) + String($0)
                        }.joined(separator: "  "))
            }
        }
        return ExitCode.success
    }
}

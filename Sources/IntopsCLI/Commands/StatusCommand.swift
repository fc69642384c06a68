import Foundation
import IntegrationsAPI
import Reconciler

/// One organization's `/api/integrations/available`, or why there is none.
struct AvailabilityAnswer: Sendable {
    var organization: String
    var available: AvailableIntegrations?
    var failure: String?
}

/// `intops status`: per organization and type, what the API offers and holds beside what the manifests declare.
enum StatusCommand {
    static let spec = CommandSpec(
        name: "status", summary: "Per organization and type: available, configured, enabled, tested, declared.",
        options: [OptionSpec(name: "org", kind: .repeated(placeholder: "ID"), help: "Only this organization (repeatable).")],
        run: { invocation in
            let console = invocation.console
            guard let session = await Reconciling.open(invocation) else { return ExitCode.failure }
            // Every organization's availability at once (the client bounds the requests in flight).
            let client = session.client
            let answers = await withTaskGroup(of: AvailabilityAnswer.self) { group in
                for organization in session.organizations {
                    group.addTask {
                        do {
                            return AvailabilityAnswer(organization: organization, available: try await client.available(organization: organization), failure: nil)
                        } catch {
                            return AvailabilityAnswer(organization: organization, available: nil, failure: "\(error)")
                        }
                    }
                }
                return await group.reduce(into: [String: AvailabilityAnswer]()) { $0[$1.organization] = $1 }
            }
            for organization in session.organizations {
                guard let available = answers[organization]?.available else {
                    console.err(Style.red("error:", console.colorError) + " \(answers[organization]?.failure ?? "no answer for \(organization)")")
                    return ExitCode.failure
                }
                let live = session.live.organizations[organization] ?? []
                let declared = session.desired.filter { $0.key.organization == organization && !$0.isTombstone }
                console.out("\(organization): \(available.configuredCount) configured, \(available.enabledCount) enabled, \(available.totalAvailable) providers available")
                console.out("  type         available  configured  enabled  tested  declared")
                for type in IntegrationType.allCases {
                    let ofType = live.filter { $0.summary.integrationType == type }
                    let row = [
                        (available.integrationsByType[type.name] ?? []).count, ofType.count, ofType.filter(\.summary.isEnabled).count,
                        ofType.filter { $0.summary.testStatus == .passed }.count, declared.filter { $0.type == type }.count,
                    ]
                    guard row.contains(where: { $0 > 0 }) else { continue }
                    let name = type.name.padding(toLength: 12, withPad: " ", startingAt: 0)
                    console.out("  \(name) " + zip(row, [9, 10, 7, 6, 8]).map { String(repeating: " ", count: max(0, $1 - String($0).count)) + String($0) }.joined(separator: "  "))
                }
            }
            return ExitCode.success
        })
}

import Emulator
import Foundation
import IntegrationsAPI
import Testing

/// The client against a hostile API: 30% gateway errors, 10% 429 with Retry-After and 5% of answers dropped after
/// the change was committed. Every operation must still happen exactly once.
@Suite struct FaultTests {
    static let faults = [
        "--fault-rate", "0.3", "--throttle-rate", "0.1", "--drop-rate", "0.05", "--retry-after", "1s", "--latency",
        "1ms", "--jitter", "1ms", "--seed", "20261127",
    ]

    @Test(arguments: Backend.allCases) func everyOperationHappensExactlyOnce(_ backend: Backend) async throws {
        let harness = try await ContractHarness(backend, extraArguments: Self.faults)
        let client = harness.client(
            policy: ClientPolicy(
                maxInFlight: 16, maxAttempts: 25, baseDelay: .milliseconds(5), maxDelay: .milliseconds(80)))
        let count = 40

        let created = try await withThrowingTaskGroup(of: (Int, CreateOutcome).self) { group in
            for index in 0..<count {
                group.addTask {
                    let outcome = try await client.create(
                        organization: "org123",
                        CreateIntegrationRequest(
                            integrationType: .payment, provider: "AuthorizeNet", displayName: "gateway-\(index)",
                            configuration: ["IsSandbox": "true"],
                            secrets: ["ApiLoginId": "login-\(index)", "TransactionKey": "key-\(index)"]))
                    return (index, outcome)
                }
            }
            var ids: [Int: CreateOutcome] = [:]
            for try await (index, outcome) in group { ids[index] = outcome }
            return ids
        }
        #expect(created.count == count)

        // Updates, rotations and tests on every integration; every fourth is then deleted.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, outcome) in created {
                let id = outcome.integration.integrationId
                group.addTask {
                    _ = try await client.update(
                        organization: "org123", id: id,
                        UpdateIntegrationRequest(displayName: "renamed-\(index)", configuration: ["IsSandbox": "false"])
                    )
                    _ = try await client.rotateSecrets(
                        organization: "org123", id: id,
                        RotateSecretsRequest(
                            newSecrets: ["TransactionKey": "rotated-\(index)"], testConnectionAfterRotation: false))
                    let test = try await client.test(organization: "org123", id: id)
                    #expect(test.isSuccessful)
                    if index % 4 == 0 { try await client.delete(organization: "org123", id: id) }
                }
            }
            try await group.waitForAll()
        }

        let live = try await client.list(organization: "org123")
        let expectedNames = Set((0..<count).filter { $0 % 4 != 0 }.map { "renamed-\($0)" })
        #expect(live.count == expectedNames.count, "no duplicate and no lost delete")
        #expect(Set(live.map(\.displayName)) == expectedNames, "no lost rename")
        #expect(live.allSatisfy { $0.testStatus == .passed })
        for summary in live {
            let index = Int(summary.displayName.dropFirst("renamed-".count))!
            #expect(created[index]?.integration.integrationId == summary.integrationId)
            let detail = try await client.get(organization: "org123", id: summary.integrationId)
            #expect(detail.configuration["IsSandbox"] == "false", "no lost update")
            #expect(
                try await harness.digests("org123", summary.integrationId) == [
                    "ApiLoginId": sha256("login-\(index)"), "TransactionKey": sha256("rotated-\(index)"),
                ], "no lost rotation")
        }

        // The faults really happened: many more requests reached the emulator than operations were asked for.
        let statistics = try await harness.statistics()
        let operations = count * 4 + count / 4 + 1 + live.count * 2
        #expect(
            Double(statistics.total) > Double(operations) * 1.2,
            "\(statistics.total) requests for \(operations) operations")
        #expect(statistics.requests["POST /api/organizations/{organizationId}/integrations", default: 0] >= count)
    }
}

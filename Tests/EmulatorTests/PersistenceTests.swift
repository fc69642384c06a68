import CryptoPrimitives
import Foundation
import IntegrationsAPI
import Testing

@testable import Emulator

@Suite struct PersistenceTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("emulator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    static let canary = "canary-secret-3b9f1c"
    static let credential = EmulatorCredential(token: "t", organizationId: "o")

    func create(_ emulator: Emulator) async throws -> String {
        let client = IntegrationsClient(
            transport: SandboxTransport(emulator: emulator), credentials: ["o": .bearer("t")])
        return try await client.create(
            organization: "o",
            CreateIntegrationRequest(
                integrationType: .payment, provider: "AuthorizeNet", displayName: "Main",
                secrets: ["ApiLoginId": Self.canary, "TransactionKey": "k"])
        ).integration.integrationId
    }

    @Test func survivesARestartWithSecretsSealedAtRest() async throws {
        let url = directory.appendingPathComponent("sandbox.json")
        let id = try await create(try Emulator.open(url: url, credentials: [Self.credential]))

        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(!text.contains(Self.canary), "no secret in the data file")
        #expect(!text.contains(Digest.sha256(Data(Self.canary.utf8)).hex), "nor a plain hash of one")
        let mode = try FileManager.default.attributesOfItem(atPath: url.path + ".key")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let reopened = try Emulator.open(url: url, credentials: [Self.credential])
        #expect(
            await reopened.secretDigests(organizationId: "o", integrationId: id)?["ApiLoginId"]
                == Digest.sha256(Data(Self.canary.utf8)).hex)
        let all = await reopened.allIntegrations()
        #expect(all.map(\.integrationId) == [id])
        // Ids and timestamps continue where they stopped.
        let second = try await IntegrationsClient(
            transport: SandboxTransport(emulator: reopened), credentials: ["o": .bearer("t")]
        ).create(
            organization: "o",
            CreateIntegrationRequest(
                integrationType: .email, provider: "SendGrid", displayName: "Mail",
                configuration: ["FromAddress": "a@example.com"], secrets: ["ApiKey": "x"])
        ).integration
        #expect(second.integrationId != id && second.createdAt > all[0].createdAt!)
    }

    @Test func refusesADataFileItCannotOpen() async throws {
        let url = directory.appendingPathComponent("sandbox.json")
        _ = try await create(try Emulator.open(url: url, credentials: [Self.credential]))
        try Data(try SecureRandom.bytes(32)).write(to: url.appendingPathExtension("key"))
        #expect(throws: EmulatorStorageError.self) { try Emulator.open(url: url, credentials: [Self.credential]) }
        do { _ = try Emulator.open(url: url, credentials: [Self.credential]) } catch {
            #expect(error.description == "\(url.path): its secrets do not open with the key file beside it")
        }
        try Data("{not json".utf8).write(to: url)
        #expect(throws: EmulatorStorageError.self) { try Emulator.open(url: url, credentials: [Self.credential]) }
    }

    @Test func droppedAnswersReachTheClientAsLostConnections() async throws {
        let emulator = Emulator(credentials: [Self.credential], faults: EmulatorFaults(dropRate: 1))
        let transport = SandboxTransport(emulator: emulator)
        let request = HTTPRequest(
            method: "GET", path: "/api/integration-templates", headers: ["authorization": "Bearer t"])
        await #expect(throws: TransportFailure(.connectionLost, "the connection closed before an answer arrived")) {
            try await transport.send(request)
        }
        // The test-only routes are never faulted.
        #expect(try await transport.send(HTTPRequest(method: "GET", path: "/_emulator/stats")).status == 200)
    }

    @Test func seededFaultsRepeat() async throws {
        func statuses(seed: UInt64) async -> [Int] {
            let emulator = Emulator(
                credentials: [Self.credential], faults: EmulatorFaults(faultRate: 0.3, throttleRate: 0.2, seed: seed))
            var seen: [Int] = []
            for _ in 0..<40 {
                if case .respond(let response) = await emulator.serve(
                    HTTPRequest(
                        method: "GET", path: "/api/integration-templates", headers: ["authorization": "Bearer t"]))
                {
                    seen.append(response.status)
                }
            }
            return seen
        }
        let first = await statuses(seed: 7)
        #expect(first == (await statuses(seed: 7)))
        #expect(first != (await statuses(seed: 8)))
        #expect(first.contains(429) && first.contains(200) && first.contains { (502...504).contains($0) })
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        let emulator = Emulator(credentials: [Self.credential], faults: EmulatorFaults(rateLimit: 5))
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<8 {
            if case .respond(let response) = await emulator.serve(
                HTTPRequest(method: "GET", path: "/api/integration-templates", headers: ["authorization": "Bearer t"]))
            {
                statuses.append(response.status)
                if response.status == 429 { retryAfter = response.header("retry-after") }
            }
        }
        #expect(statuses.prefix(5).allSatisfy { $0 == 200 } && statuses.suffix(3).allSatisfy { $0 == 429 })
        #expect(retryAfter == "1")
        #expect(await emulator.statistics()["GET /api/integration-templates"] == 8, "refused requests are counted too")
    }
}

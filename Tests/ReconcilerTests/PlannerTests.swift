import CryptoPrimitives
import Emulator
import Foundation
import IntegrationsAPI
import Testing
import YAML

@testable import Reconciler

/// Builders for planner scenarios: desired entries, live integrations, state entries.
enum Fixture {
    static let templates = TemplateValidator(templates: TemplateCatalog.standard)
    static let here = SourceLocation(file: "m.yaml", line: 1, column: 1)

    static func desired(
        _ name: String, org: String = "o", type: IntegrationType = .payment, provider: String = "AuthorizeNet",
        displayName: String? = nil, enabled: Bool = true, configuration: [String: String] = [:],
        secrets: [String: String] = ["ApiLoginId": "login", "TransactionKey": "key"],
        ensure: IntegrationManifest.Ensure = .present, protect: Bool = false,
        test: IntegrationManifest.TestPolicy = .onChange
    ) -> DesiredIntegration {
        let manifest = IntegrationManifest(
            organization: org, name: name, ensure: ensure, type: type, provider: provider,
            displayName: displayName ?? name.uppercased(), enabled: enabled, configuration: [], secrets: [], test: test,
            rotationMaxAge: nil, protect: protect, location: here, fieldLocations: [:])
        return DesiredIntegration(
            manifest: manifest, configuration: KeyedValues(configuration),
            secrets: ensure == .absent ? [:] : KeyedValues(secrets.mapValues { SecretValue($0) }),
            fingerprints: ensure == .absent ? [:] : KeyedValues(secrets.mapValues(fingerprint)))
    }

    static func live(
        _ id: String, org: String = "o", type: IntegrationType = .payment, provider: String = "AuthorizeNet",
        displayName: String, enabled: Bool = true, configuration: [String: String]? = ["IsSandbox": "true"],
        testStatus: TestStatus = .passed, updatedAt: String = "2026-01-01T00:00:00.000Z"
    ) -> LiveIntegration {
        LiveIntegration(
            summary: IntegrationSummary(
                integrationId: id, organizationId: org, integrationType: type, provider: provider,
                displayName: displayName, isEnabled: enabled, createdAt: updatedAt, updatedAt: updatedAt,
                testStatus: testStatus), configuration: configuration, configurationFetched: configuration != nil)
    }

    /// A stand-in for a keyed fingerprint of `value`.
    static func fingerprint(_ value: String) -> SecretFingerprint {
        SecretFingerprint(bytes: Digest.sha256(Array("fp:\(value)".utf8)))
    }

    static func entry(
        _ name: String, id: String, org: String = "o", type: IntegrationType = .payment,
        provider: String = "AuthorizeNet", displayName: String? = nil,
        secrets: [String: String] = ["ApiLoginId": "login", "TransactionKey": "key"]
    ) -> IntopsState.Entry {
        IntopsState.Entry(
            organization: org, name: name, integrationId: id, type: type, provider: provider,
            displayName: displayName ?? name.uppercased(), updatedAt: "2026-01-01T00:00:00.000Z",
            configurationDigest: nil,
            secrets: secrets.mapValues {
                IntopsState.SecretRecord(fingerprint: fingerprint($0).hex, setAt: "2026-01-01T00:00:00Z")
            }, lastTest: nil)
    }
}

/// One planner case: inputs and the expected actions (`kind:name`, in plan order) and error fragments.
struct PlannerCase: CustomTestStringConvertible, Sendable {
    var title: String
    var desired: [DesiredIntegration]
    var live: [LiveIntegration] = []
    var state: [IntopsState.Entry] = []
    var prune = false
    var allowReplace = false
    var force = false
    var targets: Set<String> = []
    var safety = Safety(maxDeletes: 5, maxDeletePercent: 100)
    var expect: [String]
    var errors: [String] = []
    var check: (@Sendable (Plan) -> Bool)? = nil

    var testDescription: String { title }

    func run() -> Plan {
        var organizations = Set(desired.map(\.key.organization)).union(live.map(\.summary.organizationId)).union(
            state.map(\.organization))
        if organizations.isEmpty { organizations = ["o"] }
        var snapshot = LiveSnapshot(organizations: [:])
        for organization in organizations {
            snapshot.organizations[organization] = live.filter { $0.summary.organizationId == organization }
        }
        return Planner.plan(
            desired: desired, live: snapshot, state: IntopsState(lineage: "l", serial: 1, integrations: state),
            templates: Fixture.templates, organizations: organizations.sorted(),
            options: PlanOptions(
                prune: prune, allowReplace: allowReplace, force: force, targets: targets, safety: safety))
    }
}

typealias F = Fixture

let plannerCases: [PlannerCase] = [
    PlannerCase(title: "nothing declared, nothing live", desired: [], expect: []),
    PlannerCase(title: "create when absent", desired: [F.desired("a")], expect: ["create:a"]),
    PlannerCase(
        title: "create tests after create", desired: [F.desired("a")], expect: ["create:a"],
        check: { $0.actions[0].steps == [.create(temporaryName: nil), .test] }),
    PlannerCase(
        title: "create without test when policy is never", desired: [F.desired("a", test: .never)],
        expect: ["create:a"], check: { $0.actions[0].steps == [.create(temporaryName: nil)] }),
    PlannerCase(
        title: "OAuth create is not tested and asks for authorization",
        desired: [F.desired("q", type: .accounting, provider: "QuickBooks", secrets: [:])], expect: ["create:q"],
        check: { (plan: Plan) -> Bool in
            plan.actions[0].steps == [.create(temporaryName: nil)]
                && plan.actions[0].notes == [PlanNote.authorizationNeeded(name: "q")]
        }),
    PlannerCase(
        title: "in sync is empty", desired: [F.desired("a")], live: [F.live("i1", displayName: "A")],
        state: [F.entry("a", id: "i1")], expect: []),
    PlannerCase(
        title: "default configuration needs no mention", desired: [F.desired("a")],
        live: [F.live("i1", displayName: "A", configuration: ["IsSandbox": "true"])], state: [F.entry("a", id: "i1")],
        expect: []),
    PlannerCase(
        title: "configuration change updates", desired: [F.desired("a", configuration: ["IsSandbox": "false"])],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["update:a"],
        check: {
            $0.actions[0].changes.contains {
                $0.field == .configuration("IsSandbox") && $0.old == "true" && $0.new == "false"
            }
        }),
    PlannerCase(
        title: "key removed from the manifest resets to the default", desired: [F.desired("a")],
        live: [F.live("i1", displayName: "A", configuration: ["IsSandbox": "false"])], state: [F.entry("a", id: "i1")],
        expect: ["update:a"], check: { $0.actions[0].changes.contains { $0.new == "true" } }),
    PlannerCase(
        title: "key without default removed needs replace",
        desired: [F.desired("s", type: .shipping, provider: "ShipStation", secrets: ["ApiKey": "1"])],
        live: [
            F.live(
                "i1", type: .shipping, provider: "ShipStation", displayName: "S",
                configuration: ["DefaultCarrier": "ups", "WebhookUrl": "https://h.example"])
        ], state: [F.entry("s", id: "i1", type: .shipping, provider: "ShipStation", secrets: ["ApiKey": "1"])],
        expect: [],
        errors: [
            "has configuration WebhookUrl that the manifest does not", "add it to the manifest", "--allow-replace",
        ]),
    PlannerCase(
        title: "key without default removed with --allow-replace",
        desired: [F.desired("s", type: .shipping, provider: "ShipStation", secrets: ["ApiKey": "1"])],
        live: [
            F.live(
                "i1", type: .shipping, provider: "ShipStation", displayName: "S",
                configuration: ["DefaultCarrier": "ups", "WebhookUrl": "https://h.example"])
        ], state: [F.entry("s", id: "i1", type: .shipping, provider: "ShipStation", secrets: ["ApiKey": "1"])],
        allowReplace: true, expect: ["replace:s"]),
    PlannerCase(
        title: "key with a default removed resets it, selects too",
        desired: [F.desired("w", provider: "WorldPay", secrets: ["AccountId": "1"])],
        live: [
            F.live(
                "i1", provider: "WorldPay", displayName: "W",
                configuration: ["IsSandbox": "true", "MarketCode": "Retail"])
        ], state: [F.entry("w", id: "i1", provider: "WorldPay", secrets: ["AccountId": "1"])], expect: ["update:w"],
        check: {
            $0.actions[0].steps.first
                == .update(displayName: nil, enabled: nil, configuration: ["MarketCode": "ECommerce"])
        }),
    PlannerCase(
        title: "displayName change updates", desired: [F.desired("a", displayName: "New")],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["update:a"],
        check: { $0.actions[0].steps.first == .update(displayName: "New", enabled: nil, configuration: [:]) }),
    PlannerCase(
        title: "disable updates", desired: [F.desired("a", enabled: false)], live: [F.live("i1", displayName: "A")],
        state: [F.entry("a", id: "i1")], expect: ["update:a"]),
    PlannerCase(
        title: "enable updates", desired: [F.desired("a")], live: [F.live("i1", displayName: "A", enabled: false)],
        state: [F.entry("a", id: "i1")], expect: ["update:a"]),
    PlannerCase(
        title: "changed secret rotates",
        desired: [F.desired("a", secrets: ["ApiLoginId": "login", "TransactionKey": "new"])],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["rotate:a"],
        check: { $0.actions[0].steps == [.rotate(keys: ["TransactionKey"])] }),
    PlannerCase(
        title: "unknown secret rotates, labelled", desired: [F.desired("a")], live: [F.live("i1", displayName: "A")],
        state: [F.entry("a", id: "i1", secrets: [:])], expect: ["rotate:a"],
        check: { (plan: Plan) -> Bool in plan.actions[0].reason == PlanReason.unknownFingerprints }),
    PlannerCase(
        title: "update and rotation together are one update",
        desired: [F.desired("a", displayName: "B", secrets: ["ApiLoginId": "x", "TransactionKey": "key"])],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["update:a"],
        check: { $0.actions[0].steps.count == 2 }),
    PlannerCase(
        title: "secret values never appear in changes",
        desired: [F.desired("a", secrets: ["ApiLoginId": "canary-1", "TransactionKey": "canary-2"])],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["rotate:a"],
        check: { plan in
            !PlanRenderer.json(plan).contains("canary") && !PlanRenderer.text(plan, color: false).contains("canary")
        }),
    PlannerCase(
        title: "adopt the single matching live integration", desired: [F.desired("a")],
        live: [F.live("i1", displayName: "A")], expect: ["adopt:a"],
        check: { $0.actions[0].steps == [.rotate(keys: ["ApiLoginId", "TransactionKey"])] }),
    PlannerCase(
        title: "adoption with a field change", desired: [F.desired("a", configuration: ["IsSandbox": "false"])],
        live: [F.live("i1", displayName: "A")], expect: ["adopt:a"], check: { $0.actions[0].steps.count == 2 }),
    PlannerCase(
        title: "two adoption candidates is an error", desired: [F.desired("a")],
        live: [F.live("i1", displayName: "A"), F.live("i2", displayName: "A")], expect: [],
        errors: ["2 live integrations match"]),
    PlannerCase(
        title: "adoption never takes a state-managed integration",
        desired: [F.desired("a"), F.desired("b", displayName: "A")], live: [F.live("i1", displayName: "A")],
        state: [F.entry("a", id: "i1")], expect: ["create:b"],
        errors: ["displayName \"A\" is used by live integration i1"]),
    PlannerCase(
        title: "other provider with the same name is not adopted", desired: [F.desired("a")],
        live: [F.live("i1", provider: "WorldPay", displayName: "A")], expect: ["create:a"],
        errors: ["is used by live integration i1"]),
    PlannerCase(
        title: "deleted out of band is created again", desired: [F.desired("a")], state: [F.entry("a", id: "gone")],
        expect: ["create:a"],
        check: { (plan: Plan) -> Bool in plan.actions[0].reason == PlanReason.deletedOutOfBand(integrationId: "gone") }),
    PlannerCase(
        title: "tombstone deletes, disabling first", desired: [F.desired("a", ensure: .absent)],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["delete:a"],
        check: { $0.actions[0].steps == [.disable, .delete] }),
    PlannerCase(
        title: "tombstone of a disabled integration just deletes", desired: [F.desired("a", ensure: .absent)],
        live: [F.live("i1", displayName: "A", enabled: false)], state: [F.entry("a", id: "i1")], expect: ["delete:a"],
        check: { $0.actions[0].steps == [.delete] }),
    PlannerCase(
        title: "tombstone finds an unmanaged match by name", desired: [F.desired("a", ensure: .absent)],
        live: [F.live("i1", displayName: "A")], expect: ["delete:a"]),
    PlannerCase(
        title: "tombstone with nothing live is a no-op", desired: [F.desired("a", ensure: .absent)], expect: []),
    PlannerCase(
        title: "protected tombstone is refused", desired: [F.desired("a", ensure: .absent, protect: true)],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: [], errors: ["protected"]),
    PlannerCase(
        title: "left the manifests without prune warns", desired: [], live: [F.live("i1", displayName: "A")],
        state: [F.entry("a", id: "i1")], expect: [],
        check: { (plan: Plan) -> Bool in
            plan.warnings == [PlanWarning.unmanagedLeftover(IntegrationKey(organization: "o", name: "a"))]
        }),
    PlannerCase(
        title: "left the manifests with prune deletes", desired: [], live: [F.live("i1", displayName: "A")],
        state: [F.entry("a", id: "i1")], prune: true, expect: ["delete:a"]),
    PlannerCase(
        title: "prune never touches unmanaged integrations", desired: [], live: [F.live("i1", displayName: "A")],
        prune: true, expect: []),
    PlannerCase(
        title: "safety stops a large prune", desired: [], live: (1...3).map { F.live("i\($0)", displayName: "N\($0)") },
        state: (1...3).map { F.entry("n\($0)", id: "i\($0)") }, prune: true,
        safety: Safety(maxDeletes: 2, maxDeletePercent: 100), expect: ["delete:n1", "delete:n2", "delete:n3"],
        errors: ["over the safety limit"]),
    PlannerCase(
        title: "--force passes the safety limit", desired: [],
        live: (1...3).map { F.live("i\($0)", displayName: "N\($0)") },
        state: (1...3).map { F.entry("n\($0)", id: "i\($0)") }, prune: true, force: true,
        safety: Safety(maxDeletes: 2, maxDeletePercent: 100), expect: ["delete:n1", "delete:n2", "delete:n3"]),
    PlannerCase(
        title: "safety by percentage, from ten managed", desired: (1...7).map { F.desired("k\($0)") },
        live: (1...10).map { F.live("i\($0)", displayName: "K\($0)") },
        state: (1...10).map { F.entry("k\($0)", id: "i\($0)") }, prune: true,
        safety: Safety(maxDeletes: 10, maxDeletePercent: 20), expect: ["delete:k10", "delete:k8", "delete:k9"],
        errors: ["30% of the 10 managed"]),
    PlannerCase(
        title: "one prune of three is not a mass deletion", desired: [F.desired("a"), F.desired("b")],
        live: [F.live("i1", displayName: "A"), F.live("i2", displayName: "B"), F.live("i3", displayName: "C")],
        state: [F.entry("a", id: "i1"), F.entry("b", id: "i2"), F.entry("c", id: "i3")], prune: true,
        safety: Safety(maxDeletes: 5, maxDeletePercent: 25), expect: ["delete:c"]),
    PlannerCase(
        title: "a tombstone is not held back by safety",
        desired: [F.desired("a"), F.desired("b"), F.desired("c", ensure: .absent)],
        live: [F.live("i1", displayName: "A"), F.live("i2", displayName: "B"), F.live("i3", displayName: "C")],
        state: [F.entry("a", id: "i1"), F.entry("b", id: "i2"), F.entry("c", id: "i3")],
        safety: Safety(maxDeletes: 0, maxDeletePercent: 1), expect: ["delete:c"]),
    PlannerCase(
        title: "provider change needs --allow-replace",
        desired: [F.desired("a", provider: "WorldPay", secrets: ["AccountId": "1"])],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: [], errors: ["needs a replace"]
    ),
    PlannerCase(
        title: "provider change replaces under a temporary name",
        desired: [F.desired("a", provider: "WorldPay", secrets: ["AccountId": "1"])],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], allowReplace: true,
        expect: ["replace:a"],
        check: {
            $0.actions[0].steps == [
                .create(temporaryName: "A (intops: a)"), .test, .deleteReplaced(integrationId: "i1"), .rename(to: "A"),
            ]
        }),
    PlannerCase(
        title: "protected replace is refused",
        desired: [F.desired("a", provider: "WorldPay", secrets: ["AccountId": "1"], protect: true)],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], allowReplace: true, expect: [],
        errors: ["protected"]),
    PlannerCase(
        title: "policy always tests when nothing else changes", desired: [F.desired("a", test: .always)],
        live: [F.live("i1", displayName: "A")], state: [F.entry("a", id: "i1")], expect: ["test:a"],
        check: { $0.actions[0].steps == [.test] }),
    PlannerCase(
        title: "a failed last test is tested again", desired: [F.desired("a")],
        live: [F.live("i1", displayName: "A", testStatus: .failed)], state: [F.entry("a", id: "i1")], expect: ["test:a"]
    ),
    PlannerCase(
        title: "policy never does not retest a failure", desired: [F.desired("a", test: .never)],
        live: [F.live("i1", displayName: "A", testStatus: .failed)], state: [F.entry("a", id: "i1")], expect: []),
    PlannerCase(
        title: "unauthorized OAuth is not tested",
        desired: [F.desired("q", type: .accounting, provider: "QuickBooks", secrets: [:])],
        live: [
            F.live(
                "i1", type: .accounting, provider: "QuickBooks", displayName: "Q", configuration: [:],
                testStatus: .failed)
        ], state: [F.entry("q", id: "i1", type: .accounting, provider: "QuickBooks", secrets: [:])], expect: []),
    PlannerCase(
        title: "targets limit the plan", desired: [F.desired("a"), F.desired("b")], targets: ["b"], expect: ["create:b"]
    ),
    PlannerCase(
        title: "targets limit pruning", desired: [],
        live: [F.live("i1", displayName: "A"), F.live("i2", displayName: "B")],
        state: [F.entry("a", id: "i1"), F.entry("b", id: "i2")], prune: true, targets: ["a"], expect: ["delete:a"]),
    PlannerCase(
        title: "creates and updates run before deletes", desired: [F.desired("a"), F.desired("z", ensure: .absent)],
        live: [F.live("i9", displayName: "Z")], state: [F.entry("z", id: "i9")], expect: ["create:a", "delete:z"],
        check: { (plan: Plan) -> Bool in plan.actions[1].dependsOn == [plan.actions[0].id] }),
    PlannerCase(
        title: "a create taking a deleted integration's name waits for the delete",
        desired: [F.desired("new", displayName: "Gateway"), F.desired("old", displayName: "Gateway", ensure: .absent)],
        live: [F.live("i1", displayName: "Gateway")], state: [F.entry("old", id: "i1", displayName: "Gateway")],
        expect: ["create:new", "delete:old"],
        check: { (plan: Plan) -> Bool in
            plan.actions[0].dependsOn == [plan.actions[1].id] && plan.actions[1].dependsOn.isEmpty
        }),
    PlannerCase(
        title: "rename into a name being vacated waits",
        desired: [F.desired("a", displayName: "B"), F.desired("b", displayName: "C")],
        live: [F.live("i1", displayName: "A"), F.live("i2", displayName: "B")],
        state: [F.entry("a", id: "i1", displayName: "A"), F.entry("b", id: "i2", displayName: "B")],
        expect: ["update:a", "update:b"],
        check: { (plan: Plan) -> Bool in plan.actions[0].dependsOn == [plan.actions[1].id] }),
    PlannerCase(
        title: "a swap goes through a temporary name",
        desired: [F.desired("a", displayName: "B"), F.desired("b", displayName: "A")],
        live: [F.live("i1", displayName: "A"), F.live("i2", displayName: "B")],
        state: [F.entry("a", id: "i1", displayName: "A"), F.entry("b", id: "i2", displayName: "B")],
        expect: ["update:a", "update:b"],
        check: { plan in
            plan.actions.filter { !$0.preSteps.isEmpty }.count == 1
                && plan.actions.allSatisfy { $0.dependsOn.count <= 1 }
        }),
    PlannerCase(
        title: "a create colliding with an unmanaged name is an error", desired: [F.desired("a", displayName: "Taken")],
        live: [F.live("i1", provider: "WorldPay", displayName: "Taken")], expect: ["create:a"],
        errors: ["would refuse it (409)"]),
    PlannerCase(
        title: "organizations are planned independently",
        desired: [F.desired("a", org: "o1"), F.desired("a", org: "o2")],
        live: [F.live("i1", org: "o1", displayName: "A")], state: [F.entry("a", id: "i1", org: "o1")],
        expect: ["create:a"], check: { $0.actions[0].organization == "o2" }),
    PlannerCase(
        title: "several organizations sort by organization then name",
        desired: [F.desired("b", org: "o2"), F.desired("a", org: "o2"), F.desired("c", org: "o1")],
        expect: ["create:c", "create:a", "create:b"]),
]

@Suite struct PlannerTests {
    @Test(arguments: plannerCases) func plans(_ scenario: PlannerCase) {
        let plan = scenario.run()
        #expect(
            plan.actions.map { "\($0.action.rawValue):\($0.name)" } == scenario.expect,
            "\(scenario.title): \(plan.errors)")
        for fragment in scenario.errors {
            #expect(
                plan.errors.contains { $0.description.contains(fragment) },
                "\(scenario.title): expected an error with \(fragment), got \(plan.errors)")
        }
        if scenario.errors.isEmpty { #expect(plan.errors.isEmpty, "\(scenario.title): \(plan.errors)") }
        if let check = scenario.check { #expect(check(plan), "\(scenario.title)") }
    }

    @Test func thereAreAtLeastFortyCases() { #expect(plannerCases.count >= 40) }

    /// A create recorded as pending by a killed apply, for an entry removed since: pruned, or warned about.
    @Test func orphansOfInterruptedCreates() {
        let live = LiveSnapshot(organizations: ["o": [F.live("i9", displayName: "Gone")]])
        var state = IntopsState(lineage: "l", serial: 1)
        state.pendingCreates = [
            IntopsState.PendingCreate(
                organization: "o", name: "gone", displayName: "Gone", provider: "AuthorizeNet", type: .payment)
        ]
        func plan(prune: Bool) -> Plan {
            Planner.plan(
                desired: [], live: live, state: state, templates: F.templates, organizations: ["o"],
                options: PlanOptions(prune: prune, safety: Safety(maxDeletes: 5, maxDeletePercent: 100)))
        }
        #expect(plan(prune: true).actions.map { "\($0.action.rawValue):\($0.name)" } == ["delete:gone"])
        #expect(
            plan(prune: false).actions.isEmpty
                && plan(prune: false).warnings.contains {
                    $0 == .orphanLeftover(IntegrationKey(organization: "o", name: "gone"), integrationId: "i9")
                })
        // Still declared: the ordinary adoption takes it.
        let adopted = Planner.plan(
            desired: [F.desired("gone", displayName: "Gone")], live: live, state: state, templates: F.templates,
            organizations: ["o"],
            options: PlanOptions(prune: true, safety: Safety(maxDeletes: 5, maxDeletePercent: 100)))
        #expect(adopted.actions.map { "\($0.action.rawValue):\($0.name)" } == ["adopt:gone"])
        // Still declared but renamed since: found by the name the interrupted create used, adopted and renamed.
        let renamed = Planner.plan(
            desired: [F.desired("gone", displayName: "New Name")], live: live, state: state, templates: F.templates,
            organizations: ["o"],
            options: PlanOptions(prune: true, safety: Safety(maxDeletes: 5, maxDeletePercent: 100)))
        #expect(renamed.actions.map { "\($0.action.rawValue):\($0.name)" } == ["adopt:gone"])
        #expect(renamed.actions.first?.changes.contains { $0.field == .displayName && $0.new == "New Name" } == true)
    }

    @Test func summaryCountsEveryKind() {
        let plan = PlannerCase(title: "", desired: [F.desired("a"), F.desired("b")], expect: []).run()
        #expect(
            plan.summary == ["create": 2, "update": 0, "rotate": 0, "test": 0, "delete": 0, "replace": 0, "adopt": 0])
    }

    /// A create's changes are read from its desired entry when shown; they must be the same list a saved plan
    /// writes and reads back, in the order the plan shows them.
    @Test func aCreatesChangesAreItsDesiredFieldsAndSurviveASavedPlan() throws {
        let desired = F.desired("a", displayName: "Shop", configuration: ["Region": "eu", "IsSandbox": "true"])
        let plan = PlannerCase(title: "", desired: [desired], expect: []).run()
        let changes = try #require(plan.actions.first).changes
        #expect(
            changes.map(\.field.description) == [
                "displayName", "enabled", "configuration.IsSandbox", "configuration.Region", "secrets.ApiLoginId",
                "secrets.TransactionKey", "test",
            ])
        #expect(changes.filter(\.sensitive).allSatisfy { $0.old == nil && $0.new == nil })
        let decoded = try JSONDecoder().decode(Plan.self, from: JSONEncoder().encode(plan))
        #expect(decoded == plan)
        #expect(decoded.actions[0].changes.list == changes.list)
    }

    /// The actions are ordered by organization, then name, whatever order the manifests give them in: the sort moves
    /// them along cycles of a permutation, which a handful of cases would not exercise.
    @Test func actionsAreSortedByOrganizationThenName() {
        var generator = SystemRandomNumberGenerator()
        let names = (0..<300).map { (org: "o\($0 % 3)", name: "n\($0)") }.shuffled(using: &generator)
        let plan = PlannerCase(
            title: "", desired: names.map { F.desired($0.name, org: $0.org, displayName: "D \($0.name)") }, expect: []
        ).run()
        let expected = names.sorted { ($0.org, $0.name) < ($1.org, $1.name) }
        #expect(plan.actions.map { "\($0.organization)/\($0.name)" } == expected.map { "\($0.org)/\($0.name)" })
        #expect(plan.actions.allSatisfy { $0.displayName == "D \($0.name)" })
    }
}

import CryptoPrimitives
import Foundation

/// Saved plans (SPEC §6a): the guards a plan carries, and the check `apply PLANFILE` makes.
public enum SavedPlan {
    public static func guards(for plan: Plan, session: Session, targets: [String], prune: Bool) -> PlanGuards {
        var live: [String: String] = [:]
        for action in plan.actions {
            let current = action.integrationId.flatMap { session.live.integration(action.organization, id: $0) }
            live[action.key.description] = LiveSnapshot.digest(current)
        }
        var fingerprints: [String: [String: String]] = [:]
        for desired in session.desired where !desired.fingerprints.isEmpty {
            fingerprints[desired.key.description] = desired.fingerprints
        }
        return PlanGuards(
            manifestsDigest: manifestsDigest(session.loaded), stateLineage: session.state.lineage,
            stateSerial: session.state.serial, live: live, fingerprints: fingerprints,
            organizations: session.organizations, targets: targets.sorted(), prune: prune)
    }

    /// SHA-256 over intops.yaml and every manifest file, in path order.
    static func manifestsDigest(_ loaded: LoadedProject) -> String {
        var bytes: [UInt8] = []
        for path in ([loaded.project.file] + loaded.manifestFiles).sorted() {
            bytes += Array(path.utf8) + [0]
            bytes += Array(FileManager.default.contents(atPath: path) ?? Data()) + [0]
        }
        return Digest.sha256(bytes).hex
    }

    /// Why the saved plan no longer holds, or nil when nothing it saw has moved.
    public static func staleness(_ saved: PlanGuards, current: PlanGuards) -> String? {
        if saved.manifestsDigest != current.manifestsDigest {
            return "the manifests or intops.yaml changed since the plan was made"
        }
        if saved.stateLineage != current.stateLineage || saved.stateSerial != current.stateSerial {
            return "the state changed since the plan was made (serial \(saved.stateSerial) → \(current.stateSerial))"
        }
        for key in saved.live.keys.sorted() where saved.live[key] != current.live[key] {
            return "the live integration \(key) changed since the plan was made"
        }
        for key in Set(saved.fingerprints.keys).union(current.fingerprints.keys).sorted() {
            let before = saved.fingerprints[key] ?? [:], after = current.fingerprints[key] ?? [:]
            if let secret = Set(before.keys).union(after.keys).sorted().first(where: { before[$0] != after[$0] }) {
                return "the secret \(secret) of \(key) changed since the plan was made"
            }
        }
        return nil
    }

    public static func write(_ plan: Plan, to path: String) throws(AtomicFile.Failure) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(plan)) ?? Data()
        try AtomicFile.write(Array(data) + [10], to: path, mode: 0o600)
    }

    public static func read(_ path: String) -> Plan? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(Plan.self, from: data)
    }
}

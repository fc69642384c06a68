import CryptoPrimitives
import Foundation

/// Saved plans. The file is a header line naming the format, the plan as JSON, and an HMAC-SHA256 of
/// both under a key derived from the project's fingerprint key:
///
///     intops-plan 2
///     { …the plan… }
///     hmac-sha256 64-HEX
///
/// The header is read first, so a plan of an unknown format is refused before anything else; the MAC is checked
/// before the JSON is parsed, so an edited, truncated or foreign plan is refused before anything in it is used.
public enum SavedPlan {
    public static let formatVersion = Plan.currentFormat
    static let header = "intops-plan "
    static let macPrefix = "hmac-sha256 "
    /// Far larger than any real plan (2,000 actions are about 2 MB): a bound on what is read into memory.
    static let maximumSize = 256 << 20

    /// Why a saved plan is refused. `description` is one sentence naming the file.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            case unreadable, notAPlan, unknownVersion, unauthenticated, noKey, stale, notAllowed
        }

        public var kind: Kind
        public var description: String
    }

    // MARK: - Writing

    public static func guards(for plan: Plan, inputs: PlanningInputs, options: PlanOptions) -> PlanGuards {
        guards(for: plan, inputs: inputs, options: options, refresh: inputs.refresh)
    }

    static func guards(for plan: Plan, inputs: PlanningInputs, options: PlanOptions, refresh: RefreshMode) -> PlanGuards
    {
        var live: [String: String] = [:]
        for action in plan.actions {
            let current = action.integrationId.flatMap { inputs.live.integration(action.organization, id: $0) }
            live[action.key.description] = LiveSnapshot.digest(current)
        }
        var fingerprints: [String: [String: String]] = [:]
        for desired in inputs.desired where !desired.fingerprints.isEmpty {
            fingerprints[desired.key.description] = desired.fingerprints.mapValues(\.hex)
        }
        return PlanGuards(
            manifestsDigest: manifestsDigest(inputs.loaded),
            stateLineage: inputs.state.exists ? inputs.state.lineage : nil,
            stateSerial: inputs.state.exists ? inputs.state.serial : 0, stateVersions: inputs.stateVersions, live: live,
            fingerprints: fingerprints, organizations: inputs.organizations, targets: options.targets.sorted(),
            prune: options.prune, allowReplace: options.allowReplace, force: options.force, refresh: refresh.rawValue)
    }

    /// The file's bytes: header, JSON, MAC.
    public static func encode(_ plan: Plan, key: SecretValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var body = Array("\(header)\(formatVersion)\n".utf8)
        body += Array((try? encoder.encode(plan)) ?? Data()) + [10]
        let mac = key.withBytes { Digest.hmacSHA256(key: $0, data: body) }.hex
        return body + Array("\(macPrefix)\(mac)\n".utf8)
    }

    public static func write(_ plan: Plan, key: SecretValue, to path: String) throws(AtomicFile.Failure) {
        try AtomicFile.write(encode(plan, key: key), to: path, mode: 0o600)
    }

    // MARK: - Reading

    /// The plan in `bytes`, once its format and MAC hold; `name` is how messages name the file.
    public static func decode(_ bytes: [UInt8], key: SecretValue?, name: String) throws(Refusal) -> Plan {
        let again = "make a new one with intops plan --out \(name)"
        guard let firstNewline = bytes.firstIndex(of: 10),
            let headerLine = String(validating: bytes[..<firstNewline], as: UTF8.self), headerLine.hasPrefix(header)
        else { throw Refusal(kind: .notAPlan, description: "\(name) is not a saved intops plan; \(again)") }
        guard let version = Int(headerLine.dropFirst(header.count)), version == formatVersion else {
            throw Refusal(
                kind: .unknownVersion,
                description:
                    "\(name) is a saved plan of format \(headerLine.dropFirst(header.count)), and this intops reads format \(formatVersion) only; \(again) with this version"
            )
        }
        guard let key else {
            throw Refusal(
                kind: .noKey,
                description:
                    "\(name) cannot be checked: saved plans are authenticated with the project's fingerprint key, and fingerprintKey is not set (intops init writes one)"
            )
        }
        // The MAC line is the last line; anything short of a whole one is a truncated file.
        let unauthenticated = Refusal(
            kind: .unauthenticated,
            description:
                "\(name) fails its authentication: it was edited, truncated or made for another project; \(again)")
        guard bytes.last == 10 else { throw unauthenticated }
        let withoutFinalNewline = bytes.dropLast()
        guard let macLineStart = withoutFinalNewline.lastIndex(of: 10).map({ $0 + 1 }), macLineStart > firstNewline
        else { throw unauthenticated }
        let body = Array(bytes[..<macLineStart])
        let macLine = String(decoding: withoutFinalNewline[macLineStart...], as: UTF8.self)
        guard macLine.hasPrefix(macPrefix) else { throw unauthenticated }
        let expected = key.withBytes { Digest.hmacSHA256(key: $0, data: body) }.hex
        guard Digest.constantTimeEqual(Array(expected.utf8), Array(macLine.dropFirst(macPrefix.count).utf8)) else {
            throw unauthenticated
        }
        guard let plan = try? JSONDecoder().decode(Plan.self, from: Data(body[(firstNewline + 1)...])),
            plan.formatVersion == formatVersion, plan.guards != nil
        else {
            throw Refusal(
                kind: .notAPlan,
                description: "\(name) is authenticated but holds no plan this intops can read; \(again)")
        }
        return plan
    }

    public static func read(_ path: String, key: SecretValue?, name: String) throws(Refusal) -> Plan {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Refusal(
                kind: .unreadable,
                description: "cannot read the saved plan \(name): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= maximumSize else {
            throw Refusal(
                kind: .notAPlan, description: "\(name) is not a saved intops plan (not a regular file of a plan's size)"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Refusal(kind: .unreadable, description: "cannot read the saved plan \(name)")
        }
        return try decode(Array(data), key: key, name: name)
    }

    /// The plan at `path`, checked with the project's key: what `intops show` renders, without any request.
    public static func read(
        _ path: String, project: Project, environment: [String: String], name: String
    ) async throws(Refusal) -> Plan {
        let key: SecretValue?
        do throws(Diagnostic) { key = try await FingerprintKey.planKey(for: project, environment: environment) } catch {
            let location =
                error.location.map {
                    "\(ProjectPaths.display($0.file, relativeTo: project.root)):\($0.line):\($0.column): "
                } ?? ""
            throw Refusal(
                kind: .noKey,
                description:
                    "\(name) cannot be checked without the project's fingerprint key: \(location)\(error.message)")
        }
        return try read(path, key: key, name: name)
    }

    // MARK: - Checking against now

    /// SHA-256 over intops.yaml and every manifest file, in path order. Paths count relative to the project root:
    /// a plan made in one CI job's checkout is applied in another's, at another absolute path.
    static func manifestsDigest(_ loaded: LoadedProject) -> String {
        var bytes: [UInt8] = []
        let root = loaded.project.root
        for path in ([loaded.project.file] + loaded.manifestFiles).sorted() {
            bytes += Array(ProjectPaths.display(path, relativeTo: root).utf8) + [0]
            bytes += Array(FileManager.default.contents(atPath: path) ?? Data()) + [0]
        }
        return Digest.sha256(bytes).hex
    }

    /// The options the plan was made with.
    public static func options(of guards: PlanGuards, safety: Safety) -> PlanOptions {
        PlanOptions(
            prune: guards.prune, allowReplace: guards.allowReplace, force: guards.force, targets: Set(guards.targets),
            safety: safety)
    }

    /// The saved plan, once everything it saw still holds and it is still what the manifests ask for; else why not.
    ///
    /// A plan is applied as reviewed, never as stored: it is planned again from the current manifests, state and
    /// live side with the options it was made with, and must come out the same. So `protect`, the safety limits,
    /// the organizations and the identity of every integration are checked again, and a live integration that
    /// appeared since the plan is never taken for one the plan creates.
    ///
    /// What the plan was allowed to do past the defaults must be allowed again where it is applied: `granted` holds
    /// the apply command line's `--force` and `--allow-replace`, so that a plan file alone never lifts a safety limit.
    public static func verify(
        _ saved: Plan, inputs: PlanningInputs, name: String, granted: PlanOptions
    ) throws(Refusal) -> Plan {
        guard let guards = saved.guards else {
            throw Refusal(kind: .notAPlan, description: "\(name) holds no plan guards")
        }
        let again = "run intops plan again"
        for (needed, flag, given) in [
            (guards.force, "--force", granted.force), (guards.allowReplace, "--allow-replace", granted.allowReplace),
        ] where needed && !given {
            throw Refusal(
                kind: .notAllowed,
                description:
                    "the saved plan \(name) was made with \(flag); apply it with \(flag) too, to show that this is meant"
            )
        }
        guard guards.refresh == inputs.refresh.rawValue else {
            throw Refusal(
                kind: .notAllowed,
                description:
                    "the saved plan \(name) was made with --refresh \(guards.refresh); apply it with --refresh \(guards.refresh)"
            )
        }
        func stale(_ why: String) -> Refusal {
            Refusal(kind: .stale, description: "the saved plan \(name) is stale: \(why); \(again)")
        }
        if let outside = saved.actions.first(where: { !inputs.organizations.contains($0.organization) }) {
            throw Refusal(
                kind: .notAllowed,
                description:
                    "the saved plan \(name) changes \(outside.key), and \(outside.organization) is not an organization of this run; \(again)"
            )
        }
        if Set(guards.organizations) != Set(inputs.organizations) {
            throw Refusal(
                kind: .notAllowed,
                description:
                    "the saved plan \(name) was made for the organizations \(guards.organizations.sorted().joined(separator: ", ")), and this run has \(inputs.organizations.sorted().joined(separator: ", ")); apply it with the same --org options"
            )
        }
        let options = options(of: guards, safety: inputs.project.safety)
        let current = Self.guards(for: saved, inputs: inputs, options: options, refresh: inputs.refresh)
        if guards.manifestsDigest != current.manifestsDigest {
            throw stale("the manifests or intops.yaml changed since the plan was made")
        }
        switch (guards.stateLineage, current.stateLineage) {
        case (nil, nil): break
        case (nil, _?):
            throw stale(
                "there was no state when the plan was made, and now there is one (serial \(current.stateSerial))")
        case (_?, nil): throw stale("the state the plan was made with is gone")
        case (let before?, let after?) where before != after:
            throw stale("the state was replaced by another one (lineage \(before) → \(after))")
        default:
            if guards.stateSerial != current.stateSerial || guards.stateVersions != current.stateVersions {
                throw stale(
                    "the state changed since the plan was made (serial \(guards.stateSerial) → \(current.stateSerial))")
            }
        }
        for key in guards.live.keys.sorted() where guards.live[key] != current.live[key] {
            throw stale("the live integration \(key) changed since the plan was made")
        }
        for key in Set(guards.fingerprints.keys).union(current.fingerprints.keys).sorted() {
            let before = guards.fingerprints[key] ?? [:], after = current.fingerprints[key] ?? [:]
            if let secret = Set(before.keys).union(after.keys).sorted().first(where: { before[$0] != after[$0] }) {
                throw stale("the secret \(secret) of \(key) changed since the plan was made")
            }
        }
        let now = inputs.plan(options)
        if let error = now.errors.first {
            throw Refusal(kind: .notAllowed, description: "the saved plan \(name) cannot be applied: \(error)")
        }
        // The plan made now is what runs, and the saved one must be exactly it: the same actions, steps, order and
        // dependencies (a duplicated or reordered action is refused as surely as an added one).
        let planned = Dictionary(now.actions.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for action in saved.actions {
            guard let expected = planned[action.key] else {
                throw Refusal(
                    kind: .notAllowed,
                    description:
                        "the saved plan \(name) would \(action.action.rawValue) \(action.key), which a plan of the current manifests, state and live integrations does not do; \(again)"
                )
            }
            guard expected == action else {
                throw Refusal(
                    kind: .stale,
                    description:
                        "the saved plan \(name) would \(action.action.rawValue) \(action.key) differently from a plan made now (\(expected.action.rawValue)); \(again)"
                )
            }
        }
        if let missing = now.actions.first(where: { action in !saved.actions.contains { $0.key == action.key } }) {
            throw stale("a plan made now would also \(missing.action.rawValue) \(missing.key)")
        }
        guard saved.actions == now.actions else {
            throw Refusal(
                kind: .notAllowed,
                description:
                    "the saved plan \(name) orders or repeats its actions differently from a plan made now; \(again)")
        }
        return now
    }
}

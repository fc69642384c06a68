import CryptoPrimitives
import Foundation

/// What `plan` found.
public struct PlanReport: Sendable {
    public var plan: Plan
    /// Warnings about the plan itself (a state that looks lost), told after the plan is shown.
    public var warnings: [String]
    /// The plan ready to be saved, when saving was asked for and the plan has no errors: ``Engine/save(_:to:)``.
    public var draft: SavedPlanDraft?
}

/// A plan with its guards, and the key it is authenticated with (nil when the project has no fingerprint key).
public struct SavedPlanDraft: Sendable {
    var plan: Plan
    var key: SecretValue?
}

extension Engine {
    /// Plans without changing anything; waits while another run holds the state lock, without taking it.
    ///
    /// - Parameter forSaving: also prepare the plan for ``save(_:to:)`` (its guards against staleness).
    public func plan(
        _ settings: PlanSettings, forSaving: Bool = false, observer: EngineObserver
    ) async throws(EngineError) -> PlanReport {
        let options = Session.Options(
            organizations: settings.scope.organizations, refresh: settings.refresh,
            waitForUnlock: lockRequest("plan", timeout: settings.lockTimeout, observer: observer), partialLive: true,
            targets: settings.scope.targets)
        let session = try await open(options, observer: observer)
        // The crash-output canary test makes intops crash with every secret decrypted in memory.
        if environment["INTOPS_TEST_CRASH"] == "after-secrets" && !session.desired.isEmpty {
            preconditionFailure("crash requested by INTOPS_TEST_CRASH")
        }
        let planOptions = planOptions(settings, project: session.project)
        let plan = session.plan(planOptions)
        var report = PlanReport(plan: plan, warnings: session.missingStateWarning(plan).map { [$0] } ?? [])
        if forSaving && plan.errors.isEmpty {
            var guarded = plan
            guarded.guards = SavedPlan.guards(for: plan, inputs: session.inputs, options: planOptions)
            report.draft = SavedPlanDraft(plan: guarded, key: session.planKey)
        }
        // Freeing a session of 100,000 entries (manifests, secrets, the live snapshot) takes a tenth of a second:
        // it happens beside the rendering of the plan, not before it.
        Task.detached(priority: .background) { withExtendedLifetime(session) {} }
        return report
    }

    /// Whether `save` could write `path`, checked before the plan is made (and its requests sent).
    public func checkSaveTarget(_ path: String) throws(EngineError) {
        if let refusal = AtomicFile.refusal(ProjectPaths.resolve(path, from: directory)) { throw .file(refusal) }
    }

    /// Writes a planned draft for `intops apply PLANFILE`; returns the absolute path.
    ///
    /// - Parameter path: relative to the engine's directory.
    public func save(_ draft: SavedPlanDraft, to path: String) throws(EngineError) -> String {
        guard let key = draft.key else {
            throw .missingSetting(
                "a saved plan is authenticated with the project's fingerprint key, and fingerprintKey is not set; run intops init or add fingerprintKey: ref+sops://…"
            )
        }
        let resolved = ProjectPaths.resolve(path, from: directory)
        do throws(AtomicFile.Failure) { try SavedPlan.write(draft.plan, key: key, to: resolved) } catch {
            throw .file(error)
        }
        return resolved
    }
}

extension Engine {
    /// A saved plan, once its authentication holds, without contacting the API.
    public func savedPlan(_ file: String) async throws(EngineError) -> Plan {
        let project = try loadProject()
        do throws(SavedPlan.Refusal) {
            return try await SavedPlan.read(
                ProjectPaths.resolve(file, from: directory), project: project, environment: environment, name: file)
        } catch { throw .savedPlan(error) }
    }
}

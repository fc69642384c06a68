import Foundation

/// What `plan` found.
public struct PlanReport: Sendable {
    public var plan: Plan
    /// Warnings about the plan itself (a state that looks lost), told after the plan is shown.
    public var warnings: [String]
    /// Where the plan was saved, when it was asked to be and had no errors.
    public var savedTo: String?
}

extension Engine {
    /// Plans without changing anything; waits while another run holds the state lock, without taking it.
    ///
    /// - Parameter saveTo: a path for `intops apply PLANFILE` (relative to the engine's directory).
    public func plan(
        _ settings: PlanSettings,
        saveTo: String? = nil,
        observer: EngineObserver
    ) async throws(EngineError) -> PlanReport {
        let options = Session.Options(
            organizations: settings.scope.organizations,
            refresh: settings.refresh,
            waitForUnlock: lockRequest("plan", timeout: settings.lockTimeout, observer: observer)
        )
        let session = try await open(options, observer: observer)
        // The crash-output canary test makes intops crash with every secret decrypted in memory.
        if environment["INTOPS_TEST_CRASH"] == "after-secrets" && !session.desired.isEmpty {
            preconditionFailure("crash requested by INTOPS_TEST_CRASH")
        }
        let planOptions = planOptions(settings, project: session.project)
        var plan = session.plan(planOptions)
        var report = PlanReport(
            plan: plan,
            warnings: session.missingStateWarning(plan).map { [$0] } ?? [],
            savedTo: nil
        )
        guard plan.errors.isEmpty, let saveTo else { return report }
        guard let key = session.planKey else {
            throw .missingSetting(
                "a saved plan is authenticated with the project's fingerprint key, and fingerprintKey is not set; run intops init or add fingerprintKey: ref+sops://…"
            )
        }
        plan.guards = SavedPlan.guards(for: plan, inputs: session.inputs, options: planOptions)
        let path = ProjectPaths.resolve(saveTo, from: directory)
        do throws(AtomicFile.Failure) {
            try SavedPlan.write(plan, key: key, to: path)
        } catch {
            throw .file(error)
        }
        report.plan = plan
        report.savedTo = path
        return report
    }
}

extension Engine {
    /// A saved plan, once its authentication holds, without contacting the API.
    public func savedPlan(_ file: String) async throws(EngineError) -> Plan {
        let project = try loadProject()
        do throws(SavedPlan.Refusal) {
            return try await SavedPlan.read(
                ProjectPaths.resolve(file, from: directory),
                project: project,
                environment: environment,
                name: file
            )
        } catch {
            throw .savedPlan(error)
        }
    }
}

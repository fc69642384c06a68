import Foundation

/// How `apply` runs, beyond planning.
public struct ApplySettings: Sendable {
    public var plan: PlanSettings
    /// A saved plan to apply instead of planning afresh (relative to the engine's directory).
    public var planFile: String?
    /// Integrations changed at once; nil: the project's `api.parallelism`.
    public var parallelism: Int?
    /// When the test after a rotation fails, rotate back to the values of the last successful apply (from git).
    public var rollbackOnTestFailure: Bool

    public init(
        plan: PlanSettings = PlanSettings(), planFile: String? = nil, parallelism: Int? = nil,
        rollbackOnTestFailure: Bool = false
    ) {
        self.plan = plan
        self.planFile = planFile
        self.parallelism = parallelism
        self.rollbackOnTestFailure = rollbackOnTestFailure
    }
}

/// The plan an apply is about to run, for the frontend to show (and, for a fresh plan, to confirm).
public struct ApplyPreview: Sendable {
    public var plan: Plan
    /// True when the plan is a verified saved plan, already reviewed when it was made.
    public var fromSavedPlan: Bool
    public var warnings: [String]
}

/// How an apply ended.
public enum ApplyOutcome: Sendable {
    /// The plan has errors; nothing was sent.
    case refused(Plan)
    /// Nothing to do.
    case unchanged(Plan)
    /// The frontend did not confirm, or an interrupt came before the first change; nothing was sent.
    case cancelled(Plan)
    case applied(Plan, ApplyReport)
}

extension Engine {
    /// Plans (or verifies a saved plan) under the state lock, shows the plan through `preview`, asks `confirm` for a
    /// fresh plan with changes, and applies it.
    ///
    /// - Parameters:
    ///   - confirm: nil applies without asking (`--auto-approve`, or a saved plan).
    ///   - shouldStop: asked before each action and step (an interrupt); a lost state lock stops the run too.
    public func apply(
        _ settings: ApplySettings, observer: EngineObserver, preview: @Sendable (ApplyPreview) -> Void,
        confirm: (@Sendable (Plan) async -> Bool)?, shouldStop: @escaping @Sendable () -> Bool
    ) async throws(EngineError) -> ApplyOutcome {
        // A file that is not a saved plan of this format is refused before any request.
        if let planFile = settings.planFile {
            let path = ProjectPaths.resolve(planFile, from: directory)
            do throws(SavedPlan.Refusal) { _ = try SavedPlan.read(path, key: nil, name: planFile) } catch
                where error.kind != .noKey
            { throw .savedPlan(error) } catch {}
        }
        return try await withLockedSession(
            "apply", organizations: settings.plan.scope.organizations, refresh: settings.plan.refresh,
            lockTimeout: settings.plan.lockTimeout, partialLive: true,
            targets: settings.planFile == nil ? settings.plan.scope.targets : [], observer: observer
        ) { (session: Session) async throws(EngineError) -> ApplyOutcome in
            let plan = try planToApply(settings, session: session)
            let warnings = session.missingStateWarning(plan).map { [$0] } ?? []
            // An interrupt while planning or at the prompt ends the run here, before any change, with the lock
            // released on the way out.
            if shouldStop() { return .cancelled(plan) }
            preview(ApplyPreview(plan: plan, fromSavedPlan: settings.planFile != nil, warnings: warnings))
            guard plan.errors.isEmpty else { return .refused(plan) }
            guard !plan.isEmpty else { return .unchanged(plan) }
            if settings.planFile == nil, let confirm, !(await confirm(plan)) { return .cancelled(plan) }
            if shouldStop() { return .cancelled(plan) }
            let applier = Applier(
                client: session.client, desired: session.desired, templates: session.templates,
                settings: await applierSettings(settings, session: session, observer: observer), events: observer.apply,
                // A lost state lock stops new work as an interrupt does: another run may be applying now.
                shouldStop: { shouldStop() || session.store.lockLost })
            observer.changesStarting()
            let report = await applier.apply(
                plan, state: session.state, store: session.store, organizations: session.organizations)
            return .applied(plan, report)
        }
    }

    func planToApply(_ settings: ApplySettings, session: Session) throws(EngineError) -> Plan {
        let options = planOptions(settings.plan, project: session.project)
        guard let planFile = settings.planFile else { return session.plan(options) }
        let path = ProjectPaths.resolve(planFile, from: directory)
        do throws(SavedPlan.Refusal) {
            return try SavedPlan.verify(
                SavedPlan.read(path, key: session.planKey, name: planFile), inputs: session.inputs, name: planFile,
                granted: options)
        } catch { throw .savedPlan(error) }
    }

    func applierSettings(
        _ settings: ApplySettings, session: Session, observer: EngineObserver
    ) async -> Applier.Settings {
        let history = SecretHistory(root: session.project.root, environment: environment)
        let secretFiles = Set(
            session.desired.flatMap { $0.manifest.secrets }.compactMap { secret -> String? in
                if case .sops(let file, _) = secret.reference.source { return file }
                return nil
            })
        var rollback: Applier.Rollback?
        if settings.rollbackOnTestFailure {
            if let revision = session.state.revision {
                rollback = Applier.Rollback(history: history, revision: revision)
            } else {
                observer.warning(
                    "--rollback-on-test-failure: the state records no git revision of a successful apply yet, so there is nothing to roll back to"
                )
            }
        }
        // Looked up beside the apply: the working tree is read as it is now, when the apply starts.
        let revision = Task { await history.cleanRevision(of: Array(secretFiles)) }
        return Applier.Settings(
            parallelism: settings.parallelism ?? session.project.api.parallelism, rollback: rollback,
            recordRevision: { await revision.value })
    }
}

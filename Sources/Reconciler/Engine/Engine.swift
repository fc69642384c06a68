import Foundation
import IntegrationsAPI
@_exported import TextEscaping

/// The engine's one entrance. A frontend (the command line, a test) makes one for a project directory and calls an
/// operation with typed options; it gets a typed report back, or an ``EngineError`` whose description is the one
/// sentence to show. What happens along the way (warnings, lock waits, actions starting and ending) reaches the
/// frontend through an ``EngineObserver``.
public struct Engine: Sendable {
    /// The folder the project is found from (at or above it).
    public var directory: String
    public var environment: [String: String]
    /// What `sandbox:` API URLs connect to; nil refuses them.
    public var sandbox: (any SandboxProvider)?

    public init(directory: String, environment: [String: String], sandbox: (any SandboxProvider)?) {
        self.directory = directory
        self.environment = environment
        self.sandbox = sandbox
    }
}

/// A change of an organization's request rate, as the client tells it.
public typealias PacingChange = IntegrationsAPI.PacingChange

/// What an operation tells its frontend while it runs.
public struct EngineObserver: Sendable {
    /// Something the user should know that does not stop the operation.
    public var warning: @Sendable (String) -> Void
    /// Told the holder and the state's location every few seconds while the operation waits for the state lock.
    public var waitingForLock: @Sendable (LockRecord?, String) -> Void
    /// Told when an action of an apply starts and ends.
    public var apply: @Sendable (ApplyEvent) -> Void
    /// Told once, right before an apply (or rotate) sends its first change: from here an interrupt stops it
    /// between steps instead of ending the process.
    public var changesStarting: @Sendable () -> Void
    /// Told when an organization's request rate is cut by a 429 or has risen again.
    public var pacing: @Sendable (PacingChange) -> Void

    public init(
        warning: @escaping @Sendable (String) -> Void = { _ in },
        waitingForLock: @escaping @Sendable (LockRecord?, String) -> Void = { _, _ in },
        apply: @escaping @Sendable (ApplyEvent) -> Void = { _ in },
        changesStarting: @escaping @Sendable () -> Void = {},
        pacing: @escaping @Sendable (PacingChange) -> Void = { _ in }
    ) {
        self.pacing = pacing
        self.warning = warning
        self.waitingForLock = waitingForLock
        self.apply = apply
        self.changesStarting = changesStarting
    }

    public static let silent = EngineObserver()
}

/// Which part of the project an operation works on.
public struct Scope: Sendable, Equatable {
    /// Only these organizations (all when empty).
    public var organizations: [String]
    /// Only these manifest names (all when empty).
    public var targets: [String]

    public init(organizations: [String] = [], targets: [String] = []) {
        self.organizations = organizations
        self.targets = targets
    }
}

/// How a planning operation plans.
public struct PlanSettings: Sendable, Equatable {
    public var scope: Scope
    public var refresh: RefreshMode
    public var prune: Bool
    public var allowReplace: Bool
    public var force: Bool
    /// How long to wait for another run's state lock; nil: `INTOPS_LOCK_TIMEOUT`, else 30 s.
    public var lockTimeout: Duration?

    public init(
        scope: Scope = Scope(), refresh: RefreshMode = .auto, prune: Bool = false, allowReplace: Bool = false,
        force: Bool = false, lockTimeout: Duration? = nil
    ) {
        self.scope = scope
        self.refresh = refresh
        self.prune = prune
        self.allowReplace = allowReplace
        self.force = force
        self.lockTimeout = lockTimeout
    }
}

extension Engine {
    /// The lock (or the wait for one) an operation asks for.
    public func lockRequest(_ operation: String, timeout: Duration?, observer: EngineObserver) -> LockRequest {
        LockRequest(
            operation: operation, timeout: timeout ?? StateStore.defaultLockTimeout(environment),
            lease: StateStore.lease(environment), waiting: observer.waitingForLock)
    }

    /// Opens a session and tells its warnings.
    func open(_ options: Session.Options, observer: EngineObserver) async throws(EngineError) -> Session {
        var options = options
        options.pacingChanged = observer.pacing
        let session = try await Session.open(
            from: directory, environment: environment, options: options, sandbox: sandbox)
        for warning in session.warnings { observer.warning(warning) }
        return session
    }

    /// Runs `body` with a session holding the state lock, and releases the lock however `body` ends.
    func withLockedSession<Output>(
        _ operation: String, organizations: [String], refresh: RefreshMode = .auto, lockTimeout: Duration?,
        partialLive: Bool = false, entries: [String] = [], targets: [String] = [], observer: EngineObserver,
        _ body: (Session) async throws(EngineError) -> Output
    ) async throws(EngineError) -> Output {
        let options = Session.Options(
            organizations: organizations, refresh: refresh,
            lock: lockRequest(operation, timeout: lockTimeout, observer: observer), partialLive: partialLive,
            entries: entries, targets: targets)
        let session = try await open(options, observer: observer)
        do throws(EngineError) {
            let output = try await body(session)
            await session.store.unlock()
            return output
        } catch {
            await session.store.unlock()
            throw error
        }
    }

    func planOptions(_ settings: PlanSettings, project: Project) -> PlanOptions {
        PlanOptions(
            prune: settings.prune || project.prune, allowReplace: settings.allowReplace, force: settings.force,
            targets: Set(settings.scope.targets), safety: project.safety)
    }

    /// The project file found from the directory, without secrets or the API.
    public func loadProject() throws(EngineError) -> Project {
        do throws(InvalidProject) {
            return try ProjectLoader.loadProject(file: ProjectLoader.locate(from: directory))
        } catch { throw .invalid(error.diagnostics) }
    }
}

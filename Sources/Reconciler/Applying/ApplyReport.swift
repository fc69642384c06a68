import IntegrationsAPI

/// Why an action was not run.
public enum SkipReason: Sendable, Equatable, CustomStringConvertible {
    /// The state could not record the pending creates, so nothing was sent.
    case stateNotWritable
    /// An action this one depends on failed or was skipped.
    case dependencyIncomplete(ActionID)
    /// An interrupt (or a lost state lock) came before it started.
    case interrupted
    /// A state write failed earlier in the run: nothing more is changed that the state could not record.
    case stateWriteFailed
    /// The run ended before the scheduler reached it.
    case notReached

    public var description: String {
        switch self {
        case .stateNotWritable: "the state could not be written before the first request"
        case .dependencyIncomplete(let id): "\(id.organization)/\(id.name) did not complete"
        case .interrupted: "interrupted before it started"
        case .stateWriteFailed:
            "not started: the state could not be written, and intops changes nothing it cannot record"
        case .notReached: "not reached"
        }
    }
}

/// Why an action failed.
public enum ApplyFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case api(APIError)
    /// A saved plan names an entry the manifests no longer describe completely.
    case incompleteManifest
    /// Stopped between two steps; the next run finishes the action.
    case interrupted(afterStep: Int, of: Int)
    case testFailed(message: String?)
    case testFailedAfterRotation(keys: [String], message: String?, rollback: RollbackOutcome?)
    /// A create answered 409 that was not this run's lost create: someone else holds the name.
    case nameTaken(organization: String, displayName: String)

    public var description: String {
        switch self {
        case .api(let error): "\(error)"
        case .incompleteManifest: "the manifest entry is incomplete"
        case .interrupted(let done, let total): "interrupted after \(done) of \(total) steps; the next run finishes it"
        case .testFailed(let message): "the connection test failed: \(message ?? "no message")"
        case .testFailedAfterRotation(let keys, let message, let rollback):
            "the connection test after rotating \(keys.joined(separator: ", ")) failed: \(message ?? "no message")"
                + (rollback.map { "; \($0)" } ?? "")
        case .nameTaken(let organization, let displayName):
            "organization \(organization) already has an integration named '\(displayName)' that intops did not create; nothing was changed. Run intops plan to review adopting it, or give this entry another displayName"
        }
    }
}

/// What `--rollback-on-test-failure` did after a failed test.
public enum RollbackOutcome: Sendable, Equatable, CustomStringConvertible {
    case noEarlierValue(key: String, revision: String)
    case rolledBack(keys: [String], revision: String, testPassed: Bool)
    case failed(revision: String, APIError)

    public var description: String {
        switch self {
        case .noEarlierValue(let key, let revision):
            "no rollback: \(key) has no earlier value in git at \(revision.prefix(12))"
        case .rolledBack(let keys, let revision, let passed):
            "rolled \(keys.joined(separator: ", ")) back to their values at \(revision.prefix(12)); the connection test then \(passed ? "passed" : "failed too")"
        case .failed(let revision, let error): "the rollback to \(revision.prefix(12)) failed: \(error)"
        }
    }
}

/// What became of one action.
public struct ActionResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case succeeded
        case failed(ApplyFailure)
        case skipped(SkipReason)
    }

    public var id: ActionID
    public var key: IntegrationKey
    public var action: ActionKind
    public var outcome: Outcome
    public var notes: [PlanNote]
    /// A failed action that changed the live integration before it failed (a rotation whose test then failed, a
    /// create whose test did not run): its changes are live, and summaries must not say nothing changed.
    public var changedBeforeFailing: Bool

    public init(_ action: PlannedAction, _ outcome: Outcome, notes: [PlanNote] = [], changedBeforeFailing: Bool = false)
    {
        id = action.id
        key = action.key
        self.action = action.action
        self.outcome = outcome
        self.notes = notes
        self.changedBeforeFailing = changedBeforeFailing
    }

    public var succeeded: Bool { if case .succeeded = outcome { true } else { false } }
}

/// What an apply tells its frontend as it goes.
public enum ApplyEvent: Sendable {
    case started(PlannedAction)
    case finished(ActionResult)
}

public struct ApplyReport: Sendable {
    public var results: [ActionResult]
    public var state: IntopsState
    /// Set when the state could not be written: what the API holds now is ahead of what the state says.
    public var stateError: StateError?

    public var failed: Bool { stateError != nil || results.contains { !$0.succeeded } }
}

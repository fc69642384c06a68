import IntegrationsAPI

/// Why an engine operation stopped. Problems in the user's files carry their file:line:column (`invalid`); every
/// other case names its organization, integration or object, and its description is the one sentence a frontend
/// prints as it is.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    /// The engine's view of a connection failure: token problems are problems in the user's files.
    init(_ error: APIConnectionError) {
        if case .tokens(let problems) = error { self = .invalid(problems) } else { self = .connection(error) }
    }

    /// Problems found in the manifests, the project file or the secrets, before any request.
    case invalid([Diagnostic])
    /// A `--org` that the project does not declare.
    case unknownOrganization(String, project: String, declared: [String])
    /// A name that is not a manifest entry.
    case unknownIntegration(String)
    /// A `--target` that names no manifest entry and nothing the state manages.
    case unknownTarget(String)
    /// A manifest entry that has no live integration yet.
    case notLive(IntegrationKey)
    /// The project's API cannot be reached before any request (bad URL, no token, the sandbox's data file).
    case connection(APIConnectionError)
    /// The API answered with an error, or could not be reached.
    case api(APIError, while: String? = nil)
    /// The state store failed or refused.
    case state(StateError)
    /// A saved plan that is refused.
    case savedPlan(SavedPlan.Refusal)
    /// The project lacks a setting the operation needs.
    case missingSetting(String)
    /// A file the operation writes could not be written.
    case file(AtomicFile.Failure)
    /// A folder or file could not be made for another reason (YAML emission, a folder in the way).
    case write(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let diagnostics): diagnostics.map(\.description).joined(separator: "\n")
        case .unknownOrganization(let id, let project, let declared):
            "--org \(id) is not an organization of \(project); it declares \(declared.joined(separator: ", "))"
        case .unknownIntegration(let name): "no integration named \(name) in the manifests"
        case .unknownTarget(let name):
            "--target \(name) names no integration of the manifests or the state; check the name (intops state list shows the managed ones)"
        case .notLive(let key): "\(key) is not live yet; run intops apply first"
        case .connection(let error): error.description
        case .api(let error, let doing): doing.map { "\($0): \(error)" } ?? error.description
        case .state(let error): error.description
        case .savedPlan(let refusal): refusal.description
        case .missingSetting(let sentence): sentence
        case .file(let failure): failure.description
        case .write(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}

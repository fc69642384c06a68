import ConcurrencyToolkit
import Foundation

/// The store for a project's `state:` setting.
public enum StateBackends {
    public static func store(for project: Project, environment: [String: String]) async throws(StateError) -> StateStore
    { try await store(for: project.state, root: project.root, environment: environment) }

    public static func store(
        for settings: StateSettings, root: String, environment: [String: String]
    ) async throws(StateError) -> StateStore {
        switch settings {
        case .local(let path): return StateStore(path: path)
        case .s3(let bucket, let key, let region, let endpoint):
            let backend = try S3StateBackend(
                bucket: bucket, region: region, endpoint: endpoint, environment: environment)
            return StateStore(backend: backend, template: key)
        case .git(let remote, let branch, let path):
            let repository = await gitRepository(containing: root, environment: environment)
            guard remote != nil || repository != nil else {
                throw StateError(
                    .unavailable,
                    "the git state backend needs a remote: \(root) is not inside a git repository, so set state.remote to a URL"
                )
            }
            let backend = GitStateBackend(
                repository: repository, remote: remote ?? "origin", branch: branch, environment: environment)
            return StateStore(backend: backend, template: path)
        }
    }

    /// The work tree holding `directory`, or nil outside a git repository.
    static func gitRepository(containing directory: String, environment: [String: String]) async -> String? {
        let result = await ChildProcess.run(
            arguments: ["git", "-C", directory, "rev-parse", "--show-toplevel"],
            environment: GitStateBackend.childEnvironment(environment))
        guard result.status == 0 else { return nil }
        let path = String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }
}

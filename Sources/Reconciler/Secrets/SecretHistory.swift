import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import SOPS

/// Earlier values of SOPS-referenced secrets, read from git (`git show REV:PATH`), for rolling a failed rotation
/// back to what the last successful apply set.
public struct SecretHistory: Sendable {
    public let root: String
    public let environment: [String: String]

    public init(root: String, environment: [String: String]) {
        self.root = root
        self.environment = environment
    }

    /// The commit the project is at, when every file in `paths` is committed as it is (else nil: the applied
    /// values could not be found again in git).
    public func cleanRevision(of paths: [String]) async -> String? {
        guard
            let head = await git(["rev-parse", "HEAD"]).map({
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }), !head.isEmpty
        else { return nil }
        let relative = paths.map { ProjectPaths.display($0, relativeTo: root) }
        guard let status = await git(["status", "--porcelain", "--"] + relative), status.isEmpty else { return nil }
        return head
    }

    /// The value a reference had at `revision`; nil when it is not a SOPS reference or cannot be read there.
    public func value(of reference: SecretReference, at revision: String) async -> SecretValue? {
        guard case .sops(let file, let pointer) = reference.source else { return nil }
        let relative = ProjectPaths.display(file, relativeTo: root)
        guard let bytes = await git(["show", "\(revision):\(relative)"]),
            let keyring = try? SOPSKeyring.fromEnvironment(environment),
            let decrypted = try? SOPS.decrypt(
                Array(bytes), format: SOPS.Format(path: file), file: file, keyring: keyring),
            case .scalar(let scalar)? = decrypted.documents.first?.lookup(pointer)
        else { return nil }
        return SecretValue(scalar.plainText)
    }

    /// Runs git through ``ChildProcess``, never blocking a thread of the cooperative pool.
    private func git(_ arguments: [String]) async -> [UInt8]? {
        // git needs no secret: the environment without the age identity and cloud credentials, as for the state.
        let result = await ChildProcess.run(
            arguments: ["git", "-C", root] + arguments, environment: GitStateBackend.childEnvironment(environment))
        return result.succeeded ? result.stdout : nil
    }
}

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
    public func cleanRevision(of paths: [String]) -> String? {
        guard let head = git(["rev-parse", "HEAD"]).map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }),
            !head.isEmpty
        else { return nil }
        let relative = paths.map { ProjectPaths.display($0, relativeTo: root) }
        guard let status = git(["status", "--porcelain", "--"] + relative), status.isEmpty else { return nil }
        return head
    }

    /// The value a reference had at `revision`; nil when it is not a SOPS reference or cannot be read there.
    public func value(of reference: SecretReference, at revision: String) -> SecretValue? {
        guard case .sops(let file, let pointer) = reference.source,
            let relative = Optional(ProjectPaths.display(file, relativeTo: root)),
            let bytes = git(["show", "\(revision):\(relative)"]),
            let keyring = try? SOPSKeyring.fromEnvironment(environment),
            let decrypted = try? SOPS.decrypt(Array(bytes), format: SOPS.Format(path: file), file: file, keyring: keyring),
            case .scalar(let scalar)? = decrypted.documents.first?.lookup(pointer)
        else { return nil }
        return SecretValue(scalar.plainText)
    }

    private func git(_ arguments: [String]) -> Data? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", root] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? data : nil
    }
}

import Age
import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import SOPS
import Synchronization
import YAML

/// Turns secret references into ``SecretValue``s. Each SOPS file is read and decrypted once per run however many
/// references point into it; the keyring is looked up only when the first SOPS reference needs it.
public final class SecretResolver: Sendable {
    private struct Found {
        var keyring: Result<SOPSKeyring, AgeKeyError>?
        var decrypted: [String: Result<SOPSLookup, SOPSError>] = [:]
        /// Each SOPS file's place, judged once (every symbolic link resolved): thousands of references share a file.
        var problems: [String: ReferencedFile.Problem?] = [:]
        var warnings: [String] = []
    }

    private let root: String
    private let environment: [String: String]
    /// Held only to look up and record: a decrypt runs outside it, so two files decrypt at once.
    private let found = Mutex(Found())

    /// Warnings met on the way (an identity file others can read); each once.
    public var warnings: [String] { found.withLock { $0.warnings } }

    public init(root: String, environment: [String: String]) {
        self.root = root
        self.environment = environment
    }

    /// The value a reference names, or a diagnostic at the reference saying why not (never the value).
    public func resolve(_ reference: SecretReference) throws(Diagnostic) -> SecretValue {
        let display = { (path: String) in ProjectPaths.display(path, relativeTo: self.root) }
        switch reference.source {
        case .inline(let value): return SecretValue(value)
        case .env(let name):
            guard let value = environment[name] else {
                throw .error(
                    reference.location, "environment variable \(name) is not set; export it or change the reference")
            }
            return SecretValue(value)
        case .file(let path):
            if let problem = ReferencedFile.problem(path, root: root) {
                throw .error(reference.location, Self.sentence(problem, "secret file \(display(path))"))
            }
            guard var data = FileManager.default.contents(atPath: path) else {
                throw .error(reference.location, "secret file \(display(path)) cannot be read")
            }
            if data.last == 10 { data.removeLast() }
            return SecretValue(bytes: Array(data))
        case .sops(let path, let pointer):
            if let problem = sopsFileProblem(path) {
                throw .error(reference.location, Self.sentence(problem, "SOPS file \(display(path))"))
            }
            let tree: SOPSLookup
            switch decrypt(path) {
            case .success(let value): tree = value
            case .failure(.noIdentity(let problem)):
                // The identity is the problem, not this file: one message for every file it affects.
                throw .error(reference.location, "SOPS files cannot be decrypted: \(problem)")
            case .failure(let error):
                throw .error(reference.location, "SOPS file \(display(path)) \(Self.sentence(error))")
            }
            var pointerText: String { "#/" + pointer.joined(separator: "/") }
            guard let value = tree.lookup(pointer) else {
                throw .error(
                    reference.location,
                    "SOPS file \(display(path)) has no value at \(pointerText); check the key's spelling")
            }
            guard case .scalar(let scalar) = value else {
                throw .error(
                    reference.location,
                    "SOPS file \(display(path)) holds \(value.kindDescription) at \(pointerText), not a single value")
            }
            guard !scalar.plainText.hasPrefix(ExportPlaceholder.prefix) else {
                throw .error(
                    reference.location,
                    "SOPS file \(display(path)) still holds the placeholder intops export wrote at \(pointerText); fill in the value in use with intops secrets edit \(display(path))"
                )
            }
            return SecretValue(scalar.plainText)
        }
    }

    private func sopsFileProblem(_ path: String) -> ReferencedFile.Problem? {
        if let known = found.withLock({ $0.problems[path] }) { return known }
        let problem = ReferencedFile.problem(path, root: root)
        found.withLock { $0.problems[path] = .some(problem) }
        return problem
    }

    /// Lets go of the decrypted SOPS files; a later reference into one decrypts it again. Those of a large project
    /// hold tens of megabytes that nothing needs once its secrets are resolved.
    public func releaseDecryptedFiles() {
        let released = found.withLock { found in
            defer { found.decrypted = [:] }
            return found.decrypted
        }
        // Freed here, outside the lock.
        withExtendedLifetime(released) {}
    }

    /// How many SOPS files were decrypted (each once).
    public var decryptedFileCount: Int { found.withLock { $0.decrypted.count } }

    /// Decrypts the SOPS files these references name, several at once, so that `resolve` finds them done: a
    /// project with a file per organization would otherwise decrypt them one after another.
    public func prefetch(_ references: [SecretReference]) async {
        var paths = Set<String>()
        for reference in references { if case .sops(let path, _) = reference.source { paths.insert(path) } }
        let pending = found.withLock { found in paths.filter { found.decrypted[$0] == nil } }.sorted()
        guard pending.count > 1, case .success(let keyring) = keyring() else { return }
        // Decryption is CPU-bound: one child task per core at a time.
        let files = await boundedMap(pending, limit: ProcessInfo.processInfo.activeProcessorCount) {
            (path: String) -> DecryptedFile in DecryptedFile(path: path, result: Self.decrypt(path, keyring: keyring))
        }
        found.withLock { found in
            for file in files where found.decrypted[file.path] == nil { found.decrypted[file.path] = file.result }
        }
    }

    private func decrypt(_ path: String) -> Result<SOPSLookup, SOPSError> {
        if let known = found.withLock({ $0.decrypted[path] }) { return known }
        let result: Result<SOPSLookup, SOPSError>
        switch keyring() {
        case .failure(let error):
            result =
                FileManager.default.isReadableFile(atPath: path)
                ? .failure(.noIdentity(.unreadableIdentities("\(error)"))) : .failure(.format("cannot be read"))
        case .success(let keyring): result = Self.decrypt(path, keyring: keyring)
        }
        // Another resolve may have decrypted it meanwhile: the first result stays, so every reference agrees.
        return found.withLock { found in
            if let known = found.decrypted[path] { return known }
            found.decrypted[path] = result
            return result
        }
    }

    private static func decrypt(_ path: String, keyring: SOPSKeyring) -> Result<SOPSLookup, SOPSError> {
        guard let data = FileManager.default.contents(atPath: path) else { return .failure(.format("cannot be read")) }
        return Result { () throws(SOPSError) -> SOPSLookup in
            let file = try SOPS.decrypt(Array(data), format: SOPS.Format(path: path), file: path, keyring: keyring)
            return SOPSLookup(file.documents.first ?? .mapping([]))
        }
    }

    /// The identities, read once, when the first SOPS reference needs them.
    private func keyring() -> Result<SOPSKeyring, AgeKeyError> {
        found.withLock { found in
            if let keyring = found.keyring { return keyring }
            let loaded = Result { () throws(AgeKeyError) -> SOPSKeyring in try SOPSKeyring.fromEnvironment(environment)
            }
            if case .success(let keyring) = loaded { found.warnings += keyring.warnings }
            found.keyring = loaded
            return loaded
        }
    }

    /// Why a referenced file cannot be used, in the words validate uses for it.
    static func sentence(_ problem: ReferencedFile.Problem, _ file: String) -> String {
        switch problem {
        case .missing: "\(file) does not exist; create it or fix the reference"
        case .outside: "\(file) resolves outside the project root through a symbolic link"
        case .notAFile(let what): "\(file) cannot be read: it is \(what)"
        case .unreadable: "\(file) cannot be read: permission denied"
        }
    }

    /// A SOPS error as the sentence after the file's name, with what to do where intops knows it.
    static func sentence(_ error: SOPSError) -> String {
        if case .notEncrypted = error { return "\(error); encrypt it with intops secrets encrypt --in-place" }
        return error.description
    }
}

/// A SOPS file decrypted ahead of its references.
private struct DecryptedFile: Sendable {
    var path: String
    var result: Result<SOPSLookup, SOPSError>
}

/// The value `intops export` writes for each secret it cannot read (the API never returns one): never sent, so an
/// unfilled skeleton cannot replace a live credential.
public enum ExportPlaceholder {
    public static let prefix = "intops-export:"
    public static let value = prefix + "FILL-ME"
}

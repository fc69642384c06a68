import Age
import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import SOPS
import YAML

/// Turns secret references into ``SecretValue``s. Each SOPS file is read and decrypted once per run however many
/// references point into it; the keyring is looked up only when the first SOPS reference needs it.
public final class SecretResolver: @unchecked Sendable {
    private let root: String
    private let environment: [String: String]
    private let lock = NSLock()
    private var keyring: Result<SOPSKeyring, AgeKeyError>?
    private var decrypted: [String: Result<SOPSValue, SOPSError>] = [:]
    /// Warnings met on the way (an identity file others can read); each once.
    public private(set) var warnings: [String] = []

    public init(root: String, environment: [String: String]) {
        self.root = root
        self.environment = environment
    }

    /// The value a reference names, or a diagnostic at the reference saying why not (never the value).
    public func resolve(_ reference: SecretReference) throws(Diagnostic) -> SecretValue {
        let display = { (path: String) in ProjectPaths.display(path, relativeTo: self.root) }
        switch reference.source {
        case .inline(let value):
            return SecretValue(value)
        case .env(let name):
            guard let value = environment[name] else {
                throw .error(
                    reference.location,
                    "environment variable \(name) is not set; export it or change the reference"
                )
            }
            return SecretValue(value)
        case .file(let path):
            guard var data = FileManager.default.contents(atPath: path) else {
                throw .error(reference.location, "secret file \(display(path)) cannot be read")
            }
            if data.last == 10 { data.removeLast() }
            return SecretValue(bytes: Array(data))
        case .sops(let path, let pointer):
            let tree: SOPSValue
            switch decrypt(path) {
            case .success(let value): tree = value
            case .failure(.noIdentity(let reason)):
                // The identity is the problem, not this file: one message for every file it affects.
                throw .error(
                    reference.location,
                    reason.hasPrefix("cannot") ? "SOPS files \(reason)" : "SOPS files cannot be decrypted: \(reason)"
                )
            case .failure(let error):
                throw .error(reference.location, "SOPS file \(display(path)) \(Self.sentence(error))")
            }
            let pointerText = "#/" + pointer.joined(separator: "/")
            guard let value = tree.lookup(pointer) else {
                throw .error(
                    reference.location,
                    "SOPS file \(display(path)) has no value at \(pointerText); check the key's spelling"
                )
            }
            guard case .scalar(let scalar) = value else {
                throw .error(
                    reference.location,
                    "SOPS file \(display(path)) holds \(value.kindDescription) at \(pointerText), not a single value"
                )
            }
            return SecretValue(scalar.plainText)
        }
    }

    /// How many SOPS files were decrypted (each once).
    public var decryptedFileCount: Int { lock.withLock { decrypted.count } }

    /// Decrypts the SOPS files these references name, several at once, so that `resolve` finds them done: a
    /// project with a file per organization would otherwise decrypt them one after another.
    public func prefetch(_ references: [SecretReference]) async {
        let paths = Set(
            references.compactMap { reference -> String? in
                if case .sops(let path, _) = reference.source { path } else { nil }
            }
        )
        let pending = lock.withLock { paths.filter { decrypted[$0] == nil } }.sorted()
        guard pending.count > 1, case .success(let keyring) = lock.withLock({ loadKeyring() }) else { return }
        // Decryption is CPU-bound: one child task per core at a time.
        let files = await boundedMap(pending, limit: ProcessInfo.processInfo.activeProcessorCount) {
            (path: String) -> DecryptedFile in
            DecryptedFile(path: path, result: Self.decrypt(path, keyring: keyring))
        }
        lock.withLock {
            for file in files where decrypted[file.path] == nil { decrypted[file.path] = file.result }
        }
    }

    private func decrypt(_ path: String) -> Result<SOPSValue, SOPSError> {
        lock.lock()
        defer { lock.unlock() }
        if let known = decrypted[path] { return known }
        let result: Result<SOPSValue, SOPSError>
        switch loadKeyring() {
        case .failure(let error):
            result =
                FileManager.default.isReadableFile(atPath: path)
                ? .failure(.noIdentity("cannot be decrypted: the age identity \(error)"))
                : .failure(.format("cannot be read"))
        case .success(let keyring):
            result = Self.decrypt(path, keyring: keyring)
        }
        decrypted[path] = result
        return result
    }

    private static func decrypt(_ path: String, keyring: SOPSKeyring) -> Result<SOPSValue, SOPSError> {
        guard let data = FileManager.default.contents(atPath: path) else { return .failure(.format("cannot be read")) }
        return Result { () throws(SOPSError) -> SOPSValue in
            let file = try SOPS.decrypt(Array(data), format: SOPS.Format(path: path), file: path, keyring: keyring)
            return file.documents.first ?? .mapping([])
        }
    }

    private func loadKeyring() -> Result<SOPSKeyring, AgeKeyError> {
        if let keyring { return keyring }
        let loaded = Result { () throws(AgeKeyError) -> SOPSKeyring in try SOPSKeyring.fromEnvironment(environment) }
        if case .success(let found) = loaded { warnings += found.warnings }
        keyring = loaded
        return loaded
    }

    static func sentence(_ error: SOPSError) -> String {
        switch error {
        case .format(let reason): "is not a valid SOPS file: \(reason)"
        case .notEncrypted:
            "is not encrypted (it has no sops metadata); encrypt it with intops secrets encrypt --in-place"
        case .noIdentity(let reason): reason.hasPrefix("cannot") ? reason : "cannot be decrypted: \(reason)"
        case .valueTampered(let path): "was altered: the value at \(path) does not decrypt"
        case .macMismatch: "was altered: its MAC does not match its values"
        case .unsupportedKeys(let reason), .encryption(let reason): reason
        }
    }
}

/// A SOPS file decrypted ahead of its references.
private struct DecryptedFile: Sendable {
    var path: String
    var result: Result<SOPSValue, SOPSError>
}

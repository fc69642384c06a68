import ConcurrencyToolkit
import CryptoPrimitives
import Foundation
import SOPS

#if canImport(Glibc)
import Glibc
#endif

/// sops' everyday verbs on a file: `filestatus`, `decrypt --extract`, `set`, `unset`, `rotate`, `exec-env` and
/// `exec-file`, with sops' argument syntax.
extension SecretFiles {
    /// Whether the file is a SOPS file (`{"encrypted": true}`); one that does not parse is an error.
    public static func isEncrypted(file path: String, named name: String? = nil) throws(SecretFileError) -> Bool {
        let shown = name ?? path
        let bytes = try read(path, shown: shown)
        do throws(SOPSError) { return try SOPS.isEncrypted(bytes, format: SOPS.Format(path: path), file: shown) } catch
        { throw SecretFileError("\(shown) \(SecretResolver.sentence(error))") }
    }

    /// The value at `index` (sops' `["a"][0]` syntax), as `sops -d --extract` prints it.
    public static func extract(
        file path: String, named name: String? = nil, identities: SecretIdentities, index: String,
        ignoreMAC: Bool = false
    ) throws(SecretFileError) -> [UInt8] {
        let shown = name ?? path
        let indexPath = try parsedIndex(index)
        let decrypted = try decrypted(path, shown: shown, identities: identities, ignoreMAC: ignoreMAC)
        guard let value = decrypted.documents.first?.value(at: indexPath) else {
            throw SecretFileError("\(shown) has no value at \(indexPath)")
        }
        return SOPS.renderExtracted(value, format: decrypted.format, metadata: decrypted.metadata)
    }

    /// Sets the value at `index` to `json` (a JSON text), keeping the data key and metadata (`sops set`).
    public static func set(
        file path: String, named name: String? = nil, identities: SecretIdentities, index: String, json: [UInt8]
    ) throws(SecretFileError) {
        let shown = name ?? path
        let indexPath = try parsedIndex(index)
        let value: SOPSValue
        do throws(SOPSError) { value = try SOPS.parseJSONValue(json) } catch {
            throw SecretFileError("the value for \(indexPath) is not JSON (a string is written \"in quotes\")")
        }
        try rewrite(path, shown: shown, identities: identities) { document throws(SecretFileError) in
            guard let changed = document.setting(value, at: indexPath) else {
                throw SecretFileError(
                    "\(shown) has no place for \(indexPath): it runs through a value, not a mapping or list")
            }
            return changed
        }
    }

    /// Removes the value at `index` (`sops unset`); a missing one is an error, as in sops.
    public static func unset(
        file path: String, named name: String? = nil, identities: SecretIdentities, index: String
    ) throws(SecretFileError) {
        let shown = name ?? path
        let indexPath = try parsedIndex(index)
        try rewrite(path, shown: shown, identities: identities) { document throws(SecretFileError) in
            guard let changed = document.removing(indexPath) else {
                throw SecretFileError("\(shown) has no value at \(indexPath)")
            }
            return changed
        }
    }

    /// A new data key for the same values and recipients (`sops rotate`).
    public static func rotate(
        file path: String, named name: String? = nil, identities: SecretIdentities
    ) throws(SecretFileError) {
        let shown = name ?? path
        let bytes = try read(path, shown: shown)
        let rotated: [UInt8]
        do throws(SOPSError) {
            rotated = try SOPS.rotate(bytes, format: SOPS.Format(path: path), file: shown, keyring: identities.keyring)
        } catch { throw SecretFileError("\(shown) \(SecretResolver.sentence(error))") }
        try write(rotated, to: path, shown: shown)
    }

    /// The file's top-level values as environment variables (`sops exec-env`); a nested value is an error, as in
    /// sops, rather than a variable nobody asked for.
    public static func environmentVariables(
        file path: String, named name: String? = nil, identities: SecretIdentities
    ) throws(SecretFileError) -> [String: String] {
        let shown = name ?? path
        let decrypted = try decrypted(path, shown: shown, identities: identities, ignoreMAC: false)
        guard case .mapping(let entries)? = decrypted.documents.first else { return [:] }
        var variables: [String: String] = [:]
        for entry in entries where !entry.isComment {
            switch entry.value {
            case .scalar(let scalar): variables[entry.key] = scalar.plainText
            case .null, .comment: variables[entry.key] = ""
            case .mapping, .sequence:
                throw SecretFileError(
                    "\(shown) holds a nested value at \(entry.key), which cannot be an environment variable")
            }
        }
        return variables
    }

    /// Runs `command` with `sh -c`, its environment this one plus the file's values; returns its exit status.
    /// The values never enter intops' own environment.
    public static func execEnv(
        file path: String, named name: String? = nil, identities: SecretIdentities, command: String,
        environment: [String: String]
    ) async throws(SecretFileError) -> Int32 {
        let variables = try environmentVariables(file: path, named: name, identities: identities)
        return try await runShell(command, environment: environment.merging(variables) { $1 })
    }

    /// Runs `command` with `{}` replaced by the path of a 0600 copy of the decrypted file in a private directory,
    /// which is removed when the command ends, and on every signal that ends intops first (`sops exec-file`).
    public static func execFile(
        file path: String, named name: String? = nil, identities: SecretIdentities, command: String,
        environment: [String: String]
    ) async throws(SecretFileError) -> Int32 {
        let shown = name ?? path
        var plaintext = SOPS.render(try decrypted(path, shown: shown, identities: identities, ignoreMAC: false))
        defer { secureZero(&plaintext) }
        let directory = try privateDirectory("intops-exec")
        let copy = directory + "/" + (path as NSString).lastPathComponent
        EditScratch.publish(file: copy, directory: directory)
        defer {
            EditScratch.withdraw()
            unlink(copy)
            rmdir(directory)
        }
        // Written in place (no temporary sibling the signal handler would not know), readable by the owner only.
        let descriptor = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SecretFileError("cannot create the decrypted copy in \(directory)") }
        let written = plaintext.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == plaintext.count else { throw SecretFileError("cannot write the decrypted copy") }
        let quoted = "'" + copy.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return try await runShell(command.replacingOccurrences(of: "{}", with: quoted), environment: environment)
    }

    static func runShell(_ command: String, environment: [String: String]) async throws(SecretFileError) -> Int32 {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = environment
        do { try process.run() } catch { throw SecretFileError("cannot run /bin/sh: \(error)") }
        return await process.exited()
    }

    static func parsedIndex(_ text: String) throws(SecretFileError) -> SOPSIndexPath {
        do throws(SOPSIndexPath.Failure) { return try SOPSIndexPath(text) } catch {
            throw SecretFileError(error.description)
        }
    }

    static func decrypted(
        _ path: String, shown: String, identities: SecretIdentities, ignoreMAC: Bool
    ) throws(SecretFileError) -> DecryptedSOPS {
        let bytes = try read(path, shown: shown)
        do throws(SOPSError) {
            return try SOPS.decrypt(
                bytes, format: SOPS.Format(path: path), file: shown, keyring: identities.keyring, ignoreMAC: ignoreMAC)
        } catch { throw SecretFileError("\(shown) \(SecretResolver.sentence(error))") }
    }

    /// Decrypts, changes the first document, re-encrypts with the same data key and metadata, writes atomically.
    static func rewrite(
        _ path: String, shown: String, identities: SecretIdentities,
        _ change: (SOPSValue) throws(SecretFileError) -> SOPSValue
    ) throws(SecretFileError) {
        let bytes = try read(path, shown: shown)
        let format = SOPS.Format(path: path)
        let decrypted = try decrypted(path, shown: shown, identities: identities, ignoreMAC: false)
        var documents = decrypted.documents
        let changed = try change(documents.first ?? .mapping([]))
        if documents.isEmpty { documents = [changed] } else { documents[0] = changed }
        let sealed: [UInt8]
        do throws(SOPSError) {
            sealed = try SOPS.reencrypt(
                documents, replacing: bytes, format: format, file: shown, keyring: identities.keyring)
        } catch { throw SecretFileError("\(shown) \(SecretResolver.sentence(error))") }
        try write(sealed, to: path, shown: shown)
    }
}

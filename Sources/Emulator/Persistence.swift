import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// Why an emulator data file could not be used.
public struct EmulatorStorageError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// The emulator's data file and the key that seals its secrets.
///
/// The API stores secrets encrypted at rest, and so does the emulator: each value is AES-256-GCM sealed under a
/// random key kept beside the data (`PATH.key`, mode 0600), so the data file itself never holds a secret or a
/// plain hash of one. Every committed change rewrites the file atomically (temporary file, then rename).
struct EmulatorStorage: Sendable {
    let url: URL
    let key: [UInt8]

    static func open(_ url: URL) throws(EmulatorStorageError) -> (EmulatorStorage, EmulatorSnapshot?) {
        let keyURL = url.appendingPathExtension("key")
        let manager = FileManager.default
        do { try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true) } catch
        { throw EmulatorStorageError(path: url.path, reason: "cannot create its directory") }
        let key: [UInt8]
        if let existing = try? Data(contentsOf: keyURL) {
            guard existing.count == 32 else {
                throw EmulatorStorageError(
                    path: keyURL.path, reason: "the key file is not 32 bytes; delete it together with the data file")
            }
            key = Array(existing)
        } else {
            do { key = try SecureRandom.bytes(32) } catch {
                throw EmulatorStorageError(path: keyURL.path, reason: "cannot make a key: \(error)")
            }
            guard manager.createFile(atPath: keyURL.path, contents: Data(key), attributes: [.posixPermissions: 0o600])
            else { throw EmulatorStorageError(path: keyURL.path, reason: "cannot write the key file") }
        }
        let storage = EmulatorStorage(url: url, key: key)
        guard let data = try? Data(contentsOf: url), !data.isEmpty else { return (storage, nil) }
        do {
            let file = try JSONDecoder().decode(EmulatorSnapshot.File.self, from: data)
            return (storage, try file.unsealed(key: key))
        } catch let error as EmulatorStorageError {
            throw EmulatorStorageError(path: url.path, reason: error.reason)
        } catch {
            throw EmulatorStorageError(
                path: url.path, reason: "is not an emulator data file (\(error.localizedDescription))")
        }
    }

    func save(_ snapshot: EmulatorSnapshot) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let file = try? snapshot.sealed(key: key), let data = try? encoder.encode(file) else { return }
        // Foundation's atomic write goes through a temporary file and a rename.
        try? data.write(to: url, options: .atomic)
    }
}

/// Everything the emulator holds, as persisted.
struct EmulatorSnapshot: Sendable {
    var integrations: [Emulator.StoredIntegration]
    var pending: [String: Emulator.PendingAuthorization]
    var nextId: Int
    var lastTimestamp: Date

    struct File: Codable {
        var version: Int
        var integrations: [Record]
        var pending: [String: Emulator.PendingAuthorization]
        var nextId: Int
        var lastTimestamp: Date

        func unsealed(key: [UInt8]) throws -> EmulatorSnapshot {
            guard version == 2 else { throw EmulatorStorageError(path: "", reason: "has unknown version \(version)") }
            return EmulatorSnapshot(
                integrations: try integrations.map { try $0.unsealed(key: key) }, pending: pending, nextId: nextId,
                lastTimestamp: lastTimestamp)
        }
    }

    /// A stored integration with each secret as `base64(nonce ‖ ciphertext ‖ tag)`.
    struct Record: Codable {
        var integration: Emulator.StoredIntegration
        var sealedSecrets: [String: String]

        func unsealed(key: [UInt8]) throws -> Emulator.StoredIntegration {
            var stored = integration
            let id = integration.integrationId
            for (name, text) in sealedSecrets {
                guard let bytes = Data(base64Encoded: text).map(Array.init), bytes.count >= 28 else {
                    throw EmulatorStorageError(path: "", reason: "holds a malformed secret of \(id)")
                }
                let sealed = AESGCM.Sealed(
                    ciphertext: Array(bytes[12..<(bytes.count - 16)]), tag: Array(bytes.suffix(16)))
                guard
                    let plain = try? AESGCM.open(
                        sealed, key: key, nonce: Array(bytes[0..<12]), additionalData: Array(id.utf8))
                else {
                    throw EmulatorStorageError(path: "", reason: "its secrets do not open with the key file beside it")
                }
                stored.secrets[name] = String(decoding: plain, as: UTF8.self)
            }
            return stored
        }
    }

    func sealed(key: [UInt8]) throws -> File {
        var records: [Record] = []
        for stored in integrations {
            var sealedSecrets: [String: String] = [:]
            for (name, value) in stored.secrets {
                let nonce = try SecureRandom.bytes(12)
                // The id as additional data ties each sealed value to its integration.
                let sealed = try AESGCM.seal(
                    Data(value.utf8), key: key, nonce: nonce, additionalData: Array(stored.integrationId.utf8))
                sealedSecrets[name] = Data(nonce + sealed.ciphertext + sealed.tag).base64EncodedString()
            }
            records.append(Record(integration: stored, sealedSecrets: sealedSecrets))
        }
        return File(version: 2, integrations: records, pending: pending, nextId: nextId, lastTimestamp: lastTimestamp)
    }
}

extension Emulator {
    /// An emulator persisted to `url`: what the file holds is loaded, and every committed change is written back.
    public static func open(
        url: URL, credentials: [EmulatorCredential], templates: [IntegrationTemplate] = TemplateCatalog.standard,
        now: @escaping @Sendable () -> Date = { Date() }, faults: EmulatorFaults = EmulatorFaults()
    ) throws(EmulatorStorageError) -> Emulator {
        let (storage, snapshot) = try EmulatorStorage.open(url)
        return Emulator(
            credentials: credentials, templates: templates, now: now, faults: faults, storage: storage,
            snapshot: snapshot)
    }

    func snapshot() -> EmulatorSnapshot {
        EmulatorSnapshot(
            integrations: order.compactMap { integrations[$0] }, pending: pending, nextId: nextId,
            lastTimestamp: lastTimestamp)
    }
}

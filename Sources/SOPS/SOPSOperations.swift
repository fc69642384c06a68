import Age
import CryptoPrimitives
import Foundation
import YAML

/// A SOPS file decrypted: its documents in plaintext, the metadata it carried.
public struct DecryptedSOPS: Sendable {
    public var format: SOPS.Format
    public var documents: [SOPSValue]
    public var metadata: SOPSMetadata
}

extension SOPS {
    // MARK: - Reading the store

    /// Splits a file into its documents and its metadata, without decrypting.
    static func load(
        _ bytes: [UInt8], format: Format, file: String
    ) throws(SOPSError) -> (documents: [SOPSValue], metadata: SOPSValue?) {
        switch format {
        case .yaml:
            let parsed: [Document]
            // sops keeps a merge key as an entry named `<<`, and encrypts and authenticates it so.
            do { parsed = try YAMLParser.parse(bytes, file: file, comments: true, mergeKeys: false) } catch {
                throw .format("\(error)")
            }
            var documents: [SOPSValue] = []
            var metadata: SOPSValue?
            for document in parsed {
                let root = document.root
                if case .scalar(let text, .plain) = root.content, ["", "~", "null"].contains(text) { continue }
                guard case .mapping = root.content else {
                    throw .format("\(root.location): a SOPS YAML document must be a mapping")
                }
                var value = try YAMLTree.value(root, comments: document.comments)
                if case .mapping(var entries) = value {
                    if let index = entries.firstIndex(where: { $0.key == metadataKey }) {
                        if metadata == nil { metadata = entries[index].value }
                        entries.remove(at: index)
                    }
                    value = .mapping(entries)
                }
                documents.append(value)
            }
            return (documents, metadata)
        case .json, .binary:
            var value = try OrderedJSON.parse(bytes)
            guard case .mapping(var entries) = value else { throw .format("a SOPS JSON file must hold an object") }
            var metadata: SOPSValue?
            if let index = entries.firstIndex(where: { $0.key == metadataKey }) {
                metadata = entries[index].value
                entries.remove(at: index)
            }
            value = .mapping(entries)
            return ([value], metadata)
        case .dotenv:
            guard case .mapping(let entries) = try Dotenv.parse(String(decoding: bytes, as: UTF8.self)) else {
                return ([], nil)
            }
            let flat = entries.filter { !$0.isComment && $0.key.hasPrefix("sops_") }
            let data = entries.filter { $0.isComment || !$0.key.hasPrefix("sops_") }
            let metadata =
                flat.isEmpty
                ? nil
                : FlatMetadata.unflatten(flat.map { (String($0.key.dropFirst(5)), (try? scalarText($0.value)) ?? "") })
            return ([.mapping(data)], metadata)
        case .ini:
            guard case .mapping(var sections) = try INI.parse(String(decoding: bytes, as: UTF8.self)) else {
                return ([], nil)
            }
            var metadata: SOPSValue?
            // The [sops] section holds the metadata flattened as dotenv holds it, newlines as \n.
            if let index = sections.firstIndex(where: { !$0.isComment && $0.key == metadataKey }) {
                if case .mapping(let fields) = sections[index].value {
                    metadata = FlatMetadata.unflatten(
                        fields.filter { !$0.isComment }.map {
                            ($0.key, ((try? scalarText($0.value)) ?? "").replacingOccurrences(of: "\\n", with: "\n"))
                        })
                }
                sections.remove(at: index)
            }
            return ([.mapping(sections)], metadata)
        }
    }

    static func scalarText(_ value: SOPSValue) throws(SOPSError) -> String {
        guard case .scalar(let scalar) = value else { throw .format("expected a scalar") }
        return scalar.plainText
    }

    /// The file's first document as stored (keys in clear, values encrypted), without decrypting: enough to check
    /// that a reference names a key.
    public static func structure(_ bytes: [UInt8], format: Format, file: String) throws(SOPSError) -> SOPSValue? {
        try load(bytes, format: format, file: file).documents.first
    }

    /// The key structure, and whether the file carries sops metadata (a plain file has none).
    public static func inspect(
        _ bytes: [UInt8], format: Format, file: String
    ) throws(SOPSError) -> (structure: SOPSValue?, encrypted: Bool) {
        let (documents, metadata) = try load(bytes, format: format, file: file)
        return (documents.first, metadata != nil)
    }

    // MARK: - Decrypting

    /// Decrypts a SOPS file with the keyring's age identities. Files whose key groups hold no age recipient
    /// (PGP, KMS, Vault…) are handed to the real `sops -d` when it is installed.
    /// - Parameter delegate: whether a file without age recipients may be handed to the `sops` binary.
    public static func decrypt(
        _ bytes: [UInt8], format: Format, file: String, keyring: SOPSKeyring, ignoreMAC: Bool = false,
        delegate: Bool = true
    ) throws(SOPSError) -> DecryptedSOPS {
        let (documents, metadataValue) = try load(bytes, format: format, file: file)
        guard let metadataValue else { throw missingMetadata(bytes) }
        let metadata = try SOPSMetadata.parse(metadataValue)
        guard metadata.groups.contains(where: { !$0.age.isEmpty }) else {
            let kinds = Set(metadata.groups.flatMap(\.otherKinds)).sorted().joined(separator: ", ")
            guard delegate else { throw .unsupportedKeys("is encrypted only to \(kinds) keys") }
            return DecryptedSOPS(
                format: format, documents: try ExternalSOPS.decrypt(file: file, format: format, kinds: kinds),
                metadata: metadata)
        }
        var dataKey = try recoverDataKey(metadata, keyring: keyring)
        defer { secureZero(&dataKey) }
        return try decrypt(documents, format: format, metadata: metadata, dataKey: dataKey, ignoreMAC: ignoreMAC)
    }

    /// The tree walk and MAC check with a data key in hand (tests give the key of PGP-only fixtures).
    static func decrypt(
        _ documents: [SOPSValue], format: Format, metadata: SOPSMetadata, dataKey: [UInt8], ignoreMAC: Bool
    ) throws(SOPSError) -> DecryptedSOPS {
        var walker = TreeWalker(
            mode: .decrypt, key: dataKey, rule: metadata.rule, macOnlyEncrypted: metadata.macOnlyEncrypted,
            keepsBytes: format == .binary)
        var plain: [SOPSValue] = []
        for document in documents { plain.append(try walker.walk(document, path: [])) }
        if !ignoreMAC {
            guard let stored = ValueCipher.parse(metadata.mac),
                let macText = ValueCipher.decrypt(stored, key: dataKey, aad: metadata.macAAD)
            else { throw metadata.mac.isEmpty ? .macMismatch : .valueTampered(path: "sops.mac") }
            guard macText == walker.macHex else { throw .macMismatch }
        }
        return DecryptedSOPS(format: format, documents: plain, metadata: metadata)
    }

    /// A file without metadata is plaintext, unless it holds encrypted values: then its end was cut off (a
    /// truncated copy, a bad merge), and "encrypt it" would be the wrong advice.
    static func missingMetadata(_ bytes: [UInt8]) -> SOPSError {
        let marker = Array("ENC[AES256_GCM,".utf8)
        guard bytes.count >= marker.count else { return .notEncrypted }
        for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
            if Array(bytes[start..<(start + marker.count)]) == marker { return .metadataMissing }
        }
        return .notEncrypted
    }

    static func recoverDataKey(_ metadata: SOPSMetadata, keyring: SOPSKeyring) throws(SOPSError) -> [UInt8] {
        var shares: [[UInt8]] = []
        /// A damaged age file says more than "no identity matched".
        var damage: (recipient: String, error: AgeError)?
        /// A key command that failed is reported only when nothing else opened the file.
        var commandFailure: AgeKeyError?
        /// An SSH key that names a recipient but whose passphrase is not at hand, likewise.
        var unavailable: String?
        for group in metadata.groups {
            var opened = false
            // The identities at hand first; the key command, when there is one, only for what they do not open.
            for key in group.age {
                do {
                    shares.append(try Age.decrypt(Array(key.enc.utf8), identities: keyring.identities))
                    opened = true
                    break
                } catch .noMatch { continue } catch .identityUnavailable(let reason) {
                    unavailable = unavailable ?? reason
                } catch { if damage == nil { damage = (key.recipient, error) } }
            }
            if !opened, let command = keyring.keyCommand {
                for key in group.age {
                    let identities: [any AgeIdentity]
                    do throws(AgeKeyError) { identities = try command.identities(for: key.recipient) } catch {
                        commandFailure = commandFailure ?? error
                        continue
                    }
                    do {
                        shares.append(try Age.decrypt(Array(key.enc.utf8), identities: identities))
                        break
                    } catch .noMatch { continue } catch { if damage == nil { damage = (key.recipient, error) } }
                }
            }
        }
        let recipients = metadata.groups.flatMap { $0.age.map(\.recipient) }
        if shares.isEmpty, let commandFailure { throw .noIdentity(.unreadableIdentities("\(commandFailure)")) }
        if shares.isEmpty, let unavailable { throw .noIdentity(.unreadableIdentities(unavailable)) }
        if shares.isEmpty, let damage {
            throw .format("its data key for \(damage.recipient) cannot be read: \(damage.error)")
        }
        let noMatch = SOPSError.noIdentity(.noMatch(recipients: recipients, identitySources: keyring.sources))
        if metadata.groups.count == 1 {
            guard let key = shares.first else { throw noMatch }
            guard key.count == 32 else { throw .format("the data key is \(key.count) bytes, not 32") }
            return key
        }
        let threshold = metadata.shamirThreshold > 0 ? metadata.shamirThreshold : metadata.groups.count
        guard shares.count >= threshold else {
            if shares.isEmpty { throw noMatch }
            throw .noIdentity(.tooFewGroups(opened: shares.count, needed: threshold))
        }
        guard let key = Shamir.combine(shares), key.count == 32 else {
            throw .format("the key group shares do not combine to a data key")
        }
        return key
    }

    // MARK: - Encrypting

    /// Encrypts plaintext documents to age recipients, as `sops -e` would.
    public static func encrypt(
        _ documents: [SOPSValue], format: Format, recipients: [any AgeRecipient], rule: SelectionRule = .default,
        macOnlyEncrypted: Bool = false, now: Date = Date()
    ) throws(SOPSError) -> [UInt8] {
        try encrypt(
            documents, format: format, keyGroups: [recipients], usesKeyGroups: false, shamirThreshold: 0, rule: rule,
            macOnlyEncrypted: macOnlyEncrypted, now: now)
    }

    /// Encrypts to key groups, as sops does for a creation rule with `key_groups`: with more than one group the
    /// data key is split into one Shamir share per group, `shamirThreshold` of them needed (all when 0), and each
    /// share is wrapped for every recipient of its group.
    public static func encrypt(
        _ documents: [SOPSValue], format: Format, keyGroups: [[any AgeRecipient]], usesKeyGroups: Bool,
        shamirThreshold: Int, rule: SelectionRule = .default, macOnlyEncrypted: Bool = false, now: Date = Date()
    ) throws(SOPSError) -> [UInt8] {
        guard !keyGroups.isEmpty, keyGroups.allSatisfy({ !$0.isEmpty }) else {
            throw .encryption(
                keyGroups.count > 1
                    ? "a key group has no age recipient to encrypt its share to"
                    : "no age recipient to encrypt to; pass --age, add a creation rule to .sops.yaml, or list recipients in intops.yaml"
            )
        }
        var dataKey = try withCrypto { () throws(CryptoFailure) in try SecureRandom.bytes(32) }
        defer { secureZero(&dataKey) }
        let threshold = keyGroups.count > 1 ? (shamirThreshold > 0 ? shamirThreshold : keyGroups.count) : 0
        guard keyGroups.count < 256, threshold != 1 else {
            throw .encryption("a Shamir split needs a threshold of 2 or more and at most 255 key groups")
        }
        guard threshold <= keyGroups.count else {
            throw .encryption("shamir_threshold \(threshold) is more than the \(keyGroups.count) key groups")
        }
        var shares = [dataKey]
        if keyGroups.count > 1 {
            var randomFailure: CryptoFailure?
            shares = Shamir.split(dataKey, parts: keyGroups.count, threshold: threshold) { count in
                do throws(CryptoFailure) { return try SecureRandom.bytes(count) } catch {
                    randomFailure = error
                    return [UInt8](repeating: 0, count: count)
                }
            }
            if let randomFailure { throw .crypto(randomFailure) }
        }
        defer { for index in shares.indices { secureZero(&shares[index]) } }
        var groups: [SOPSMetadata.KeyGroup] = []
        for (group, share) in zip(keyGroups, shares) {
            var ageKeys: [SOPSMetadata.AgeKey] = []
            for recipient in group { ageKeys.append(try wrappedDataKey(share, for: recipient)) }
            groups.append(SOPSMetadata.KeyGroup(age: ageKeys, others: []))
        }
        var metadata = SOPSMetadata(
            groups: groups, usesKeyGroups: usesKeyGroups || keyGroups.count > 1, shamirThreshold: threshold,
            lastModified: lastModifiedText(now), mac: "", rule: format == .binary ? .default : rule,
            macOnlyEncrypted: macOnlyEncrypted, version: version)
        return try seal(documents, format: format, metadata: &metadata, dataKey: dataKey)
    }

    static func seal(
        _ documents: [SOPSValue], format: Format, metadata: inout SOPSMetadata, dataKey: [UInt8]
    ) throws(SOPSError) -> [UInt8] {
        var walker = TreeWalker(
            mode: .encrypt, key: dataKey, rule: metadata.rule, macOnlyEncrypted: metadata.macOnlyEncrypted,
            keepsBytes: format == .binary)
        var sealed: [SOPSValue] = []
        for document in documents { sealed.append(try walker.walk(document, path: [])) }
        metadata.mac = try ValueCipher.encrypt(walker.macHex, type: "str", key: dataKey, aad: metadata.macAAD)
        return write(sealed, format: format, metadata: metadata)
    }

    /// New values for an encrypted file, as `sops edit` writes them: the same data key and the same metadata (key
    /// groups, Shamir threshold, PGP/KMS entries, rules), so everyone who could open the file still can, and no one
    /// else. Only the values, the MAC and lastModified change.
    public static func reencrypt(
        _ documents: [SOPSValue], replacing original: [UInt8], format: Format, file: String, keyring: SOPSKeyring,
        now: Date = Date()
    ) throws(SOPSError) -> [UInt8] {
        let (_, metadataValue) = try load(original, format: format, file: file)
        guard let metadataValue else { throw missingMetadata(original) }
        var metadata = try SOPSMetadata.parse(metadataValue)
        guard metadata.groups.contains(where: { !$0.age.isEmpty }) else {
            let kinds = Set(metadata.groups.flatMap(\.otherKinds)).sorted().joined(separator: ", ")
            throw .unsupportedKeys(
                "is encrypted only to \(kinds) keys, whose data key intops cannot recover itself; edit it with sops edit"
            )
        }
        var dataKey = try recoverDataKey(metadata, keyring: keyring)
        defer { secureZero(&dataKey) }
        metadata.lastModified = lastModifiedText(now)
        return try seal(documents, format: format, metadata: &metadata, dataKey: dataKey)
    }

    /// Re-wraps the data key for `recipients` and keeps every value and the MAC as they are (`sops updatekeys`).
    public static func updateKeys(
        _ bytes: [UInt8], format: Format, file: String, keyring: SOPSKeyring, recipients: [any AgeRecipient]
    ) throws(SOPSError) -> [UInt8] {
        let (documents, metadataValue) = try load(bytes, format: format, file: file)
        guard let metadataValue else { throw missingMetadata(bytes) }
        var metadata = try SOPSMetadata.parse(metadataValue)
        guard !metadata.usesKeyGroups else {
            throw .encryption("files with key_groups are not re-keyed by intops; use sops updatekeys")
        }
        var dataKey = try recoverDataKey(metadata, keyring: keyring)
        defer { secureZero(&dataKey) }
        var ageKeys: [SOPSMetadata.AgeKey] = []
        for recipient in recipients {
            if let existing = metadata.groups[0].age.first(where: { $0.recipient == recipient.description }) {
                ageKeys.append(existing)
            } else {
                ageKeys.append(try wrappedDataKey(dataKey, for: recipient))
            }
        }
        metadata.groups[0].age = ageKeys
        return write(documents, format: format, metadata: metadata)
    }

    /// The data key as an armored age file to one recipient, as sops stores it.
    static func wrappedDataKey(
        _ dataKey: [UInt8], for recipient: any AgeRecipient
    ) throws(SOPSError) -> SOPSMetadata.AgeKey {
        do {
            return SOPSMetadata.AgeKey(
                recipient: recipient.description,
                enc: String(decoding: try Age.encrypt(dataKey, to: [recipient], armor: true), as: UTF8.self))
        } catch { throw .encryption("the data key cannot be encrypted to \(recipient): \(error)") }
    }

    public static let version = "3.13.2"

    static func lastModifiedText(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    // MARK: - Writing

    static func write(_ documents: [SOPSValue], format: Format, metadata: SOPSMetadata) -> [UInt8] {
        switch format {
        case .yaml:
            let nodes = documents.map { document -> SOPSValue in
                var entries: [SOPSEntry] = []
                if case .mapping(let existing) = document { entries = existing }
                entries.append(SOPSEntry(key: metadataKey, value: metadata.value))
                return SOPSValue.mapping(entries)
            }
            return Array(YAMLWriter.stream(nodes, metadata: true).utf8)
        case .json, .binary:
            var entries: [SOPSEntry] = []
            if case .mapping(let existing)? = documents.first { entries = existing }
            entries.append(SOPSEntry(key: metadataKey, value: metadata.value))
            return Array(OrderedJSON.emit(.mapping(entries)).utf8)
        case .dotenv:
            var entries: [SOPSEntry] = []
            if case .mapping(let existing)? = documents.first { entries = existing }
            for (key, value) in FlatMetadata.flatten(metadata.value, prefix: "") {
                entries.append(SOPSEntry(key: "sops_" + key, value: .scalar(.string(value))))
            }
            return Array(Dotenv.emit(.mapping(entries)).utf8)
        case .ini:
            var sections: [SOPSEntry] = []
            if case .mapping(let existing)? = documents.first { sections = existing }
            let fields = FlatMetadata.flatten(metadata.value, prefix: "").map {
                SOPSEntry(key: $0.0, value: .scalar(.string($0.1.replacingOccurrences(of: "\n", with: "\\n"))))
            }
            sections.append(SOPSEntry(key: metadataKey, value: .mapping(fields)))
            return Array(INI.emit(.mapping(sections)).utf8)
        }
    }

    /// Plaintext output, as `sops -d` prints it.
    public static func render(_ decrypted: DecryptedSOPS) -> [UInt8] {
        switch decrypted.format {
        case .yaml: return Array(YAMLWriter.stream(decrypted.documents, metadata: false).utf8)
        case .json: return Array(OrderedJSON.emit(decrypted.documents.first ?? .mapping([])).utf8)
        case .dotenv: return Array(Dotenv.emit(decrypted.documents.first ?? .mapping([])).utf8)
        case .ini: return Array(INI.emit(decrypted.documents.first ?? .mapping([])).utf8)
        case .binary:
            if case .scalar(let data)? = decrypted.documents.first?["data"] { return data.canonicalBytes }
            return []
        }
    }

    /// Reads plaintext to encrypt.
    public static func parsePlaintext(_ bytes: [UInt8], format: Format, file: String) throws(SOPSError) -> [SOPSValue] {
        if format == .binary {
            // Kept byte for byte: text as a string, anything else as the bytes themselves (never U+FFFD).
            let data: SOPSScalar = String(validating: bytes, as: UTF8.self).map { .string($0) } ?? .bytes(bytes)
            return [.mapping([SOPSEntry(key: "data", value: .scalar(data))])]
        }
        let loaded = try load(bytes, format: format, file: file)
        // Encrypting again would seal the ENC[…] strings under a new data key and lose the one they need.
        guard loaded.metadata == nil else { throw .alreadyEncrypted }
        return loaded.documents
    }
}

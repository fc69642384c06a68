import Age
import CryptoPrimitives
import Foundation

/// What sops' everyday verbs do to a file: `filestatus`, `--extract`, `set`, `unset` and `rotate`.
extension SOPS {
    /// Whether the file carries sops metadata (`sops filestatus`); a file that does not parse is an error.
    public static func isEncrypted(_ bytes: [UInt8], format: Format, file: String) throws(SOPSError) -> Bool {
        if format == .binary {
            // A binary file is encrypted when it is a SOPS JSON document; anything else is plain bytes.
            return (try? load(bytes, format: .json, file: file))?.metadata != nil
        }
        return try load(bytes, format: format, file: file).metadata != nil
    }

    /// A value as `sops -d --extract` prints it: a string as it is, with no newline; anything else in the file's
    /// format.
    public static func renderExtracted(_ value: SOPSValue, format: Format, metadata: SOPSMetadata) -> [UInt8] {
        if case .scalar(.string(let text)) = value { return Array(text.utf8) }
        if case .scalar(.bytes(let bytes)) = value { return bytes }
        let shown: Format = format == .dotenv || format == .ini || format == .binary ? .yaml : format
        return render(DecryptedSOPS(format: shown, documents: [value], metadata: metadata))
    }

    /// A JSON text as a document value (`sops set`'s VALUE).
    public static func parseJSONValue(_ bytes: [UInt8]) throws(SOPSError) -> SOPSValue { try OrderedJSON.parse(bytes) }

    /// The same values under a new data key, wrapped for the same recipients and key groups (`sops rotate`).
    public static func rotate(
        _ bytes: [UInt8], format: Format, file: String, keyring: SOPSKeyring, now: Date = Date()
    ) throws(SOPSError) -> [UInt8] {
        let decrypted = try decrypt(bytes, format: format, file: file, keyring: keyring, delegate: false)
        let metadata = decrypted.metadata
        var groups: [[any AgeRecipient]] = []
        for group in metadata.groups {
            guard group.otherKinds.isEmpty else {
                throw .unsupportedKeys(
                    "is also encrypted to \(group.otherKinds.joined(separator: ", ")) keys, for which intops cannot wrap a new data key; rotate it with sops rotate"
                )
            }
            var recipients: [any AgeRecipient] = []
            for key in group.age {
                guard case .success(let recipient) = AgeRecipients.parse(key.recipient) else {
                    throw .unsupportedKeys(
                        "is encrypted to \(key.recipient), which is not an age recipient intops can wrap for; rotate it with sops rotate"
                    )
                }
                recipients.append(recipient)
            }
            groups.append(recipients)
        }
        return try encrypt(
            decrypted.documents, format: format, keyGroups: groups, usesKeyGroups: metadata.usesKeyGroups,
            shamirThreshold: metadata.shamirThreshold, rule: metadata.rule, macOnlyEncrypted: metadata.macOnlyEncrypted,
            now: now)
    }
}

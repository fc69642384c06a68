/// Why a SOPS file could not be read, decrypted or written. Messages never carry a value.
public enum SOPSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is not valid YAML/JSON/dotenv or not shaped as a SOPS file.
    case format(String)
    /// The file has no `sops` metadata: it is not encrypted.
    case notEncrypted
    /// No identity could recover the data key.
    case noIdentity(String)
    /// A value does not decrypt: altered, or moved to another key.
    case valueTampered(path: String)
    /// The MAC does not match: values were added, removed, reordered or edited.
    case macMismatch
    /// Only non-age master keys (PGP, KMS, Vault…) and no `sops` binary to delegate to.
    case unsupportedKeys(String)
    case encryption(String)

    public var description: String {
        switch self {
        case .format(let reason): reason
        case .notEncrypted: "has no sops metadata; it is not a SOPS-encrypted file"
        case .noIdentity(let reason): reason
        case .valueTampered(let path): "the value at \(path) does not decrypt: the file was altered or the key renamed"
        case .macMismatch:
            "the MAC does not match: values were changed after encryption (sops --ignore-mac exists for recovery)"
        case .unsupportedKeys(let reason): reason
        case .encryption(let reason): reason
        }
    }
}

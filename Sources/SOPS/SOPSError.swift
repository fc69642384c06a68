import CryptoPrimitives

/// Why a SOPS file could not be read, decrypted or written. Messages never carry a value.
public enum SOPSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is not valid YAML/JSON/dotenv or not shaped as a SOPS file.
    case format(String)
    /// The file has no `sops` metadata: it is not encrypted.
    case notEncrypted
    /// The file holds encrypted values but no `sops` metadata: it was cut short or damaged.
    case metadataMissing
    /// A file to encrypt already has `sops` metadata: encrypting it again would lose its data key.
    case alreadyEncrypted
    /// No identity could recover the data key.
    case noIdentity(IdentityProblem)
    /// A value does not decrypt: altered, or moved to another key.
    case valueTampered(path: String)
    /// The MAC does not match: values were added, removed, reordered or edited.
    case macMismatch
    /// Only non-age master keys (PGP, KMS, Vault…) and no `sops` binary to delegate to.
    case unsupportedKeys(String)
    case encryption(String)
    /// libcrypto failed; nothing about the file is known to be wrong.
    case crypto(CryptoFailure)

    /// What is wrong with the file, worded to follow its name ("secrets/a.yaml is not a valid SOPS file: …").
    public var description: String {
        switch self {
        case .format(let reason): "is not a valid SOPS file: \(reason)"
        case .notEncrypted: "is not encrypted (it has no sops metadata)"
        case .metadataMissing:
            "holds ENC[…] values but no sops metadata: it was cut short or damaged; restore it from version control"
        case .alreadyEncrypted:
            "is already encrypted (it holds sops metadata); change it with intops secrets edit, or re-encrypt it to other recipients with intops secrets updatekeys"
        case .noIdentity(let problem): "cannot be decrypted: \(problem)"
        case .valueTampered(let path): "was altered: the value at \(path) does not decrypt"
        case .macMismatch: "was altered: its MAC does not match its values"
        case .unsupportedKeys(let reason), .encryption(let reason): reason
        case .crypto(let failure): "cannot be processed: \(failure)"
        }
    }
}

/// Why no identity recovered a file's data key.
public enum IdentityProblem: Sendable, Equatable, CustomStringConvertible {
    /// None of the identities opens any of the file's recipients.
    case noMatch(recipients: [String], identitySources: [String])
    /// Shamir key groups: fewer opened than the threshold needs.
    case tooFewGroups(opened: Int, needed: Int)
    /// The identities themselves could not be read (a damaged or missing key file).
    case unreadableIdentities(String)

    public var description: String {
        switch self {
        case .noMatch(let recipients, let sources):
            "no age identity opens its data key (it is encrypted to \(recipients.joined(separator: ", "))); "
                + (sources.isEmpty
                    ? "set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, or create ~/.config/sops/age/keys.txt"
                    : "tried identities from \(sources.joined(separator: ", "))")
        case .tooFewGroups(let opened, let needed): "only \(opened) of the \(needed) key groups needed could be opened"
        case .unreadableIdentities(let reason): "the age identity \(reason)"
        }
    }
}

/// Runs a libcrypto primitive inside a SOPS operation, reporting its failure as a ``SOPSError``.
func withCrypto<Result>(_ body: () throws(CryptoFailure) -> Result) throws(SOPSError) -> Result {
    do { return try body() } catch { throw .crypto(error) }
}

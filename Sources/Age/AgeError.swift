import CryptoPrimitives

/// Why an age file could not be decrypted, in the classes the age specification's test vectors use.
public enum AgeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The ASCII armor is malformed.
    case armor(String)
    /// The header is malformed or uses something this implementation refuses.
    case header(String)
    /// No identity could open any recipient stanza.
    case noMatch
    /// The file key was recovered but the header's MAC does not match: the header was altered.
    case headerMAC
    /// The encrypted payload is truncated, reordered, altered or has trailing data.
    case payload(String)
    /// libcrypto failed; nothing about the file is known to be wrong.
    case crypto(CryptoFailure)
    /// An identity names this file's recipient but cannot be used: its passphrase is not at hand or is wrong.
    case identityUnavailable(String)

    public var description: String {
        switch self {
        case .armor(let reason): "the age armor is malformed: \(reason)"
        case .header(let reason): "the age header is malformed: \(reason)"
        case .noMatch: "no identity matched any recipient of the age file"
        case .headerMAC: "the age header's MAC does not verify: the file was altered"
        case .payload(let reason): "the age payload is damaged: \(reason)"
        case .crypto(let failure): failure.description
        case .identityUnavailable(let reason): reason
        }
    }
}

/// Runs a libcrypto primitive inside an age operation, reporting its failure as an ``AgeError``.
func withCrypto<Result>(_ body: () throws(CryptoFailure) -> Result) throws(AgeError) -> Result {
    do { return try body() } catch { throw .crypto(error) }
}

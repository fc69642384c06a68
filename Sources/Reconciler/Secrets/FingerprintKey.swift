import CryptoPrimitives
import Foundation

/// The project's fingerprint key: 32 random bytes written as 64 hexadecimal characters, kept behind a
/// secret reference. Fingerprints and saved-plan authentication are both keyed by it.
public enum FingerprintKey {
    public static func resolve(
        _ reference: SecretReference, with resolver: SecretResolver
    ) throws(Diagnostic) -> SecretValue {
        let text = try resolver.resolve(reference).exposedString()
        guard text.utf8.count == 64,
            text.utf8.allSatisfy({
                UInt8(ascii: "0") <= $0 && $0 <= UInt8(ascii: "9")
                    || UInt8(ascii: "a") <= ($0 | 0x20) && ($0 | 0x20) <= UInt8(ascii: "f")
            })
        else {
            throw .error(
                reference.location,
                "the fingerprint key must be 64 hexadecimal characters (32 random bytes); intops init writes one")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return SecretValue(bytes: bytes)
    }

    /// The key saved plans are authenticated with, for a project found at or above `directory`: resolving it reads
    /// only the fingerprint key's secret, never the API.
    public static func planKey(
        for project: Project, environment: [String: String]
    ) async throws(Diagnostic) -> SecretValue? {
        guard let reference = project.fingerprintKey else { return nil }
        let resolver = SecretResolver(root: project.root, environment: environment)
        await resolver.prefetch([reference])
        return planKey(fingerprintKey: try resolve(reference, with: resolver))
    }

    /// The label of the plan key's derivation: the plan key and the fingerprints are both keyed by the fingerprint
    /// key, under different labels, so neither reveals the other.
    static let planKeyLabel = "intops-saved-plan-v1"

    /// The key saved plans are authenticated with, derived from the fingerprint key.
    public static func planKey(fingerprintKey: SecretValue) -> SecretValue {
        fingerprintKey.withBytes { SecretValue(bytes: Digest.hmacSHA256(key: $0, data: Array(planKeyLabel.utf8))) }
    }
}

internal import CCrypto
import Foundation

/// HMAC-SHA-256 under one key, set up once: the one-shot `HMAC()` of OpenSSL 3 looks the algorithm up in the
/// provider on every call, which cost a plan of 200,000 secret fingerprints most of a second. Each message starts
/// from a copy of the keyed context, so one key serves many threads at once.
public final class HMACKey: @unchecked Sendable {
    // Never changed after init; copies are taken from it concurrently, which only reads it.
    private let keyed: OpaquePointer

    public init(_ key: some ContiguousBytes) throws(CryptoFailure) {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { throw .fromQueue("HMAC-SHA-256") }
        defer { EVP_MAC_free(mac) }
        guard let context = EVP_MAC_CTX_new(mac) else { throw .fromQueue("HMAC-SHA-256") }
        let digest = ParamName.sha256
        let ok = key.withUnsafeBytes { keyBuffer in
            var params: [OSSL_PARAM] = [
                OSSL_PARAM_construct_utf8_string(ParamName.digest, digest, 0), OSSL_PARAM_construct_end(),
            ]
            return EVP_MAC_init(
                context, keyBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), keyBuffer.count, &params)
        }
        guard ok == 1 else {
            EVP_MAC_CTX_free(context)
            throw .fromQueue("HMAC-SHA-256")
        }
        keyed = context
    }

    deinit { EVP_MAC_CTX_free(keyed) }

    /// The MAC of the concatenation of `parts`, which need not be copied into one buffer first.
    public func authenticate(_ parts: [UnsafeRawBufferPointer]) -> [UInt8] {
        do { return try authenticateChecked(parts) } catch {
            preconditionFailure("\(error) after LibcryptoCheck passed")
        }
    }

    public func authenticate(_ data: some ContiguousBytes) -> [UInt8] { data.withUnsafeBytes { authenticate([$0]) } }

    func authenticateChecked(_ parts: [UnsafeRawBufferPointer]) throws(CryptoFailure) -> [UInt8] {
        guard let context = EVP_MAC_CTX_dup(keyed) else { throw .fromQueue("HMAC-SHA-256") }
        defer { EVP_MAC_CTX_free(context) }
        for part in parts where part.count > 0 {
            guard EVP_MAC_update(context, part.baseAddress?.assumingMemoryBound(to: UInt8.self), part.count) == 1 else {
                throw .fromQueue("HMAC-SHA-256")
            }
        }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        guard EVP_MAC_final(context, &output, &length, 32) == 1, length == 32 else { throw .fromQueue("HMAC-SHA-256") }
        return output
    }
}

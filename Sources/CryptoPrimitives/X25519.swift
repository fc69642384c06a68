internal import CCrypto
import Foundation

/// X25519 (RFC 7748) over OpenSSL.
public enum X25519 {
    public enum Failure: Error, Equatable {
        /// The shared secret is all zeros: the peer share is a low-order point.
        case lowOrderPoint
        case invalidKey
    }

    /// `scalar · basepoint`.
    public static func publicKey(privateKey: [UInt8]) throws(Failure) -> [UInt8] {
        guard privateKey.count == 32, let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, privateKey, 32)
        else { throw .invalidKey }
        defer { EVP_PKEY_free(key) }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &output, &length) == 1, length == 32 else { throw .invalidKey }
        return output
    }

    /// `scalar · point`; OpenSSL refuses an all-zero result, reported as ``Failure/lowOrderPoint``.
    public static func sharedSecret(privateKey: [UInt8], publicKey: [UInt8]) throws(Failure) -> [UInt8] {
        guard privateKey.count == 32, publicKey.count == 32,
            let own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, privateKey, 32)
        else { throw .invalidKey }
        defer { EVP_PKEY_free(own) }
        guard let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, publicKey, 32) else { throw .invalidKey }
        defer { EVP_PKEY_free(peer) }
        guard let context = EVP_PKEY_CTX_new(own, nil) else { throw .invalidKey }
        defer { EVP_PKEY_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_derive_init(context) == 1, EVP_PKEY_derive_set_peer(context, peer) == 1,
            EVP_PKEY_derive(context, &output, &length) == 1, length == 32
        else {
            ERR_clear_error()
            throw .lowOrderPoint
        }
        guard output.contains(where: { $0 != 0 }) else { throw .lowOrderPoint }
        return output
    }
}

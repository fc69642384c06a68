internal import CCrypto
import Foundation

/// The implementation, fetched once and immutable after (OpenSSL 3 lets every thread use it at once): given the
/// legacy `EVP_aes_256_gcm()`, OpenSSL 3 would look it up again on every
/// initialisation (a few percent of decrypting a SOPS file).
nonisolated(unsafe) private let aes256GCM: OpaquePointer? =
    EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) ?? EVP_aes_256_gcm()

/// AES-256-GCM with a 128-bit tag. The nonce length is the caller's: 12 bytes is the norm, SOPS uses 32.
public enum AESGCM {
    public struct Sealed: Sendable, Equatable {
        public var ciphertext: [UInt8]
        public var tag: [UInt8]
        public init(ciphertext: [UInt8], tag: [UInt8]) {
            self.ciphertext = ciphertext
            self.tag = tag
        }
    }

    public enum Failure: Error, Equatable {
        /// The tag did not verify: wrong key, wrong additional data, or altered bytes.
        case authenticationFailed
        case invalidParameters
    }

    public static func seal(
        _ plaintext: some ContiguousBytes, key: [UInt8], nonce: [UInt8], additionalData: [UInt8] = []
    ) throws(Failure) -> Sealed {
        guard key.count == 32, !nonce.isEmpty else { throw .invalidParameters }
        guard let context = EVP_CIPHER_CTX_new() else { throw .invalidParameters }
        defer { EVP_CIPHER_CTX_free(context) }
        var ciphertext = [UInt8]()
        var tag = [UInt8](repeating: 0, count: 16)
        let ok: Bool = plaintext.withUnsafeBytes { input in
            ciphertext = [UInt8](repeating: 0, count: input.count + 16)
            var length: Int32 = 0
            var final: Int32 = 0
            guard EVP_EncryptInit_ex(context, aes256GCM, nil, nil, nil) == 1,
                EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
                EVP_EncryptInit_ex(context, nil, nil, key, nonce) == 1
            else { return false }
            if !additionalData.isEmpty {
                guard EVP_EncryptUpdate(context, nil, &length, additionalData, Int32(additionalData.count)) == 1 else {
                    return false
                }
            }
            guard
                EVP_EncryptUpdate(
                    context, &ciphertext, &length, input.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    Int32(input.count)) == 1
            else { return false }
            let written = Int(length)
            guard
                ciphertext.withUnsafeMutableBufferPointer({
                    EVP_EncryptFinal_ex(context, $0.baseAddress! + written, &final)
                }) == 1
            else { return false }
            ciphertext.removeLast(ciphertext.count - written - Int(final))
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1
        }
        guard ok else { throw .invalidParameters }
        return Sealed(ciphertext: ciphertext, tag: tag)
    }

    public static func open(
        _ sealed: Sealed, key: [UInt8], nonce: [UInt8], additionalData: [UInt8] = []
    ) throws(Failure) -> [UInt8] {
        guard key.count == 32, !nonce.isEmpty, sealed.tag.count == 16 else { throw .invalidParameters }
        guard let context = EVP_CIPHER_CTX_new() else { throw .invalidParameters }
        defer { EVP_CIPHER_CTX_free(context) }
        var plaintext = [UInt8](repeating: 0, count: sealed.ciphertext.count + 16)
        var tag = sealed.tag
        var length: Int32 = 0
        var final: Int32 = 0
        guard EVP_DecryptInit_ex(context, aes256GCM, nil, nil, nil) == 1,
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
            EVP_DecryptInit_ex(context, nil, nil, key, nonce) == 1
        else { throw .invalidParameters }
        if !additionalData.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &length, additionalData, Int32(additionalData.count)) == 1 else {
                throw .invalidParameters
            }
        }
        guard EVP_DecryptUpdate(context, &plaintext, &length, sealed.ciphertext, Int32(sealed.ciphertext.count)) == 1
        else { throw .authenticationFailed }
        let written = Int(length)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, 16, &tag) == 1 else { throw .invalidParameters }
        let verified = plaintext.withUnsafeMutableBufferPointer {
            EVP_DecryptFinal_ex(context, $0.baseAddress! + written, &final)
        }
        guard verified == 1 else {
            plaintext.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            throw .authenticationFailed
        }
        plaintext.removeLast(plaintext.count - written - Int(final))
        return plaintext
    }
}

/// Cryptographically secure random bytes.
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(CryptoFailure) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&output, Int32(count)) == 1 else { throw .fromQueue("random generation") }
        return output
    }
}

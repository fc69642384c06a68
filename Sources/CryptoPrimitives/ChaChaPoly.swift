internal import CCrypto
import Foundation

/// ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce, no additional data, the tag appended.
public enum ChaChaPoly {
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8]) throws(CryptoFailure) -> [UInt8] {
        precondition(key.count == 32 && nonce.count == 12)
        guard let context = EVP_CIPHER_CTX_new() else { throw .fromQueue("ChaCha20-Poly1305 encryption") }
        defer { EVP_CIPHER_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length: Int32 = 0
        var final: Int32 = 0
        var tag = [UInt8](repeating: 0, count: 16)
        let ok =
            EVP_EncryptInit_ex(context, EVP_chacha20_poly1305(), nil, key, nonce) == 1
            && (plaintext.isEmpty
                || EVP_EncryptUpdate(context, &output, &length, plaintext, Int32(plaintext.count)) == 1)
            && output.withUnsafeMutableBufferPointer {
                EVP_EncryptFinal_ex(context, $0.baseAddress! + Int(length), &final)
            } == 1 && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, 16, &tag) == 1
        guard ok else { throw .fromQueue("ChaCha20-Poly1305 encryption") }
        let count = Int(length + final)
        output.replaceSubrange(count..<(count + 16), with: tag)
        output.removeLast(output.count - count - 16)
        return output
    }

    /// Nil when the tag does not verify; nothing of the plaintext is released then.
    public static func open(_ sealed: ArraySlice<UInt8>, key: [UInt8], nonce: [UInt8]) -> [UInt8]? {
        precondition(key.count == 32 && nonce.count == 12)
        guard sealed.count >= 16, let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        let ciphertext = Array(sealed.dropLast(16))
        var tag = Array(sealed.suffix(16))
        var output = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        var final: Int32 = 0
        guard EVP_DecryptInit_ex(context, EVP_chacha20_poly1305(), nil, key, nonce) == 1,
            ciphertext.isEmpty
                || EVP_DecryptUpdate(context, &output, &length, ciphertext, Int32(ciphertext.count)) == 1,
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, 16, &tag) == 1
        else { return nil }
        let verified = output.withUnsafeMutableBufferPointer {
            EVP_DecryptFinal_ex(context, $0.baseAddress! + Int(length), &final)
        }
        guard verified == 1 else {
            output.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            return nil
        }
        output.removeLast(output.count - Int(length + final))
        return output
    }
}

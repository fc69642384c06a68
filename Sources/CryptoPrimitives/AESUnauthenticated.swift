internal import CCrypto
import Foundation

/// AES-256 in CTR or CBC mode without padding: the ciphers OpenSSH protects private key files with. There is no
/// authentication; the caller checks the plaintext (OpenSSH keys carry two equal check words).
public enum AESUnauthenticated {
    public enum Mode: Sendable {
        case ctr
        case cbc

        var name: String {
            switch self {
            case .ctr: "AES-256-CTR"
            case .cbc: "AES-256-CBC"
            }
        }
    }

    /// Decrypts `ciphertext`; nil when the key is not 32 bytes, the IV not 16, or a CBC input not whole blocks.
    public static func decrypt(_ ciphertext: [UInt8], mode: Mode, key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard key.count == 32, iv.count == 16, mode == .ctr || ciphertext.count % 16 == 0,
            ciphertext.count < Int(Int32.max) - 16
        else { return nil }
        guard let cipher = EVP_CIPHER_fetch(nil, mode.name, nil) else {
            ERR_clear_error()
            return nil
        }
        defer { EVP_CIPHER_free(cipher) }
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        var final: Int32 = 0
        guard EVP_DecryptInit_ex(context, cipher, nil, key, iv) == 1, EVP_CIPHER_CTX_set_padding(context, 0) == 1,
            EVP_DecryptUpdate(context, &output, &length, ciphertext, Int32(ciphertext.count)) == 1
        else {
            ERR_clear_error()
            return nil
        }
        let written = Int(length)
        guard
            output.withUnsafeMutableBufferPointer({ EVP_DecryptFinal_ex(context, $0.baseAddress! + written, &final) })
                == 1
        else {
            ERR_clear_error()
            return nil
        }
        return Array(output.prefix(written + Int(final)))
    }
}

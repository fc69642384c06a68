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
        guard privateKey.count == 32,
            let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, privateKey, 32)
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

/// OSSL_PARAM keeps the pointer to its key's name, so the names must outlive every call: C strings made once.
private enum ParamName {
    nonisolated(unsafe) static let digest = strdup("digest")!
    nonisolated(unsafe) static let key = strdup("key")!
    nonisolated(unsafe) static let salt = strdup("salt")!
    nonisolated(unsafe) static let info = strdup("info")!
    nonisolated(unsafe) static let pass = strdup("pass")!
    nonisolated(unsafe) static let n = strdup("n")!
    nonisolated(unsafe) static let r = strdup("r")!
    nonisolated(unsafe) static let p = strdup("p")!
    nonisolated(unsafe) static let maxMemory = strdup("maxmem_bytes")!
    nonisolated(unsafe) static let sha256 = strdup("SHA256")!
}

/// Key derivation functions.
public enum KDF {
    /// HKDF-SHA-256 (RFC 5869), extract then expand.
    public static func hkdfSHA256(key: [UInt8], salt: [UInt8], info: [UInt8], length: Int = 32) -> [UInt8] {
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { preconditionFailure("OpenSSL lacks HKDF") }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { preconditionFailure("OpenSSL HKDF context") }
        defer { EVP_KDF_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: length)
        var key = key, salt = salt, info = info
        let digest = ParamName.sha256
        let ok = key.withUnsafeMutableBytes { keyBuffer in
            salt.withUnsafeMutableBytes { saltBuffer in
                info.withUnsafeMutableBytes { infoBuffer in
                    var params: [OSSL_PARAM] = [
                        OSSL_PARAM_construct_utf8_string(ParamName.digest, digest, 0),
                        OSSL_PARAM_construct_octet_string(ParamName.key, keyBuffer.baseAddress, keyBuffer.count),
                        OSSL_PARAM_construct_octet_string(ParamName.salt, saltBuffer.baseAddress ?? UnsafeMutableRawPointer(digest), saltBuffer.count),
                        OSSL_PARAM_construct_octet_string(ParamName.info, infoBuffer.baseAddress ?? UnsafeMutableRawPointer(digest), infoBuffer.count),
                        OSSL_PARAM_construct_end(),
                    ]
                    return EVP_KDF_derive(context, &output, length, &params)
                }
            }
        }
        precondition(ok == 1, "OpenSSL HKDF failed")
        return output
    }

    /// scrypt (RFC 7914) with r = 8, p = 1, a 32-byte output, and enough memory allowed for `logN`.
    public static func scrypt(password: [UInt8], salt: [UInt8], logN: Int) -> [UInt8]? {
        guard (1...30).contains(logN), let kdf = EVP_KDF_fetch(nil, "SCRYPT", nil) else { return nil }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { return nil }
        defer { EVP_KDF_CTX_free(context) }
        var n = UInt64(1) << UInt64(logN)
        var r: UInt64 = 8
        var p: UInt64 = 1
        var maxMemory: UInt64 = 128 * r * (n + 2) + 128 * r * p + 1024 * 1024
        var output = [UInt8](repeating: 0, count: 32)
        var password = password, salt = salt
        let placeholder = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        defer { placeholder.deallocate() }
        let ok = password.withUnsafeMutableBytes { passwordBuffer in
            salt.withUnsafeMutableBytes { saltBuffer in
                var params: [OSSL_PARAM] = [
                    OSSL_PARAM_construct_octet_string(ParamName.pass, passwordBuffer.baseAddress ?? placeholder, passwordBuffer.count),
                    OSSL_PARAM_construct_octet_string(ParamName.salt, saltBuffer.baseAddress ?? placeholder, saltBuffer.count),
                    OSSL_PARAM_construct_uint64(ParamName.n, &n),
                    OSSL_PARAM_construct_uint64(ParamName.r, &r),
                    OSSL_PARAM_construct_uint64(ParamName.p, &p),
                    OSSL_PARAM_construct_uint64(ParamName.maxMemory, &maxMemory),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_KDF_derive(context, &output, 32, &params)
            }
        }
        return ok == 1 ? output : nil
    }
}

/// ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce, no additional data, the tag appended.
public enum ChaChaPoly {
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8]) -> [UInt8] {
        precondition(key.count == 32 && nonce.count == 12)
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length: Int32 = 0
        var final: Int32 = 0
        var tag = [UInt8](repeating: 0, count: 16)
        let ok = EVP_EncryptInit_ex(context, EVP_chacha20_poly1305(), nil, key, nonce) == 1
            && (plaintext.isEmpty || EVP_EncryptUpdate(context, &output, &length, plaintext, Int32(plaintext.count)) == 1)
            && output.withUnsafeMutableBufferPointer { EVP_EncryptFinal_ex(context, $0.baseAddress! + Int(length), &final) } == 1
            && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, 16, &tag) == 1
        precondition(ok, "OpenSSL ChaCha20-Poly1305 failed")
        let count = Int(length + final)
        output.replaceSubrange(count..<(count + 16), with: tag)
        output.removeLast(output.count - count - 16)
        return output
    }

    /// Nil when the tag does not verify; nothing of the plaintext is released then.
    public static func open(_ sealed: ArraySlice<UInt8>, key: [UInt8], nonce: [UInt8]) -> [UInt8]? {
        precondition(key.count == 32 && nonce.count == 12)
        guard sealed.count >= 16 else { return nil }
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        let ciphertext = Array(sealed.dropLast(16))
        var tag = Array(sealed.suffix(16))
        var output = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        var final: Int32 = 0
        guard EVP_DecryptInit_ex(context, EVP_chacha20_poly1305(), nil, key, nonce) == 1,
            ciphertext.isEmpty || EVP_DecryptUpdate(context, &output, &length, ciphertext, Int32(ciphertext.count)) == 1,
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, 16, &tag) == 1
        else { return nil }
        let verified = output.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(context, $0.baseAddress! + Int(length), &final) }
        guard verified == 1 else {
            output.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            return nil
        }
        output.removeLast(output.count - Int(length + final))
        return output
    }
}

extension Digest {
    public static func sha512(_ data: some ContiguousBytes) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &output, &length, EVP_sha512(), nil)
        }
        precondition(ok == 1 && length == 64, "OpenSSL SHA-512 failed")
        return output
    }

    /// Compares in time independent of where the inputs differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && CRYPTO_memcmp(a, b, a.count) == 0
    }
}

/// An incremental SHA-512, for the SOPS MAC.
public final class SHA512Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        precondition(EVP_DigestInit_ex(context, EVP_sha512(), nil) == 1)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { buffer in
            if buffer.count > 0 { _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) }
        }
    }

    public func finalize() -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &output, &length) == 1)
        return output
    }
}

/// Zeroes memory in a way the optimizer keeps.
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
}

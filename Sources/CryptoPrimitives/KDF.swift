internal import CCrypto
import Foundation

/// Key derivation functions.
public enum KDF {
    /// HKDF-SHA-256 (RFC 5869), extract then expand.
    public static func hkdfSHA256(
        key: [UInt8], salt: [UInt8], info: [UInt8], length: Int = 32
    ) throws(CryptoFailure) -> [UInt8] {
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw .fromQueue("HKDF-SHA-256") }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { throw .fromQueue("HKDF-SHA-256") }
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
                        OSSL_PARAM_construct_octet_string(
                            ParamName.salt, saltBuffer.baseAddress ?? UnsafeMutableRawPointer(digest), saltBuffer.count),
                        OSSL_PARAM_construct_octet_string(
                            ParamName.info, infoBuffer.baseAddress ?? UnsafeMutableRawPointer(digest), infoBuffer.count),
                        OSSL_PARAM_construct_end(),
                    ]
                    return EVP_KDF_derive(context, &output, length, &params)
                }
            }
        }
        guard ok == 1 else { throw .fromQueue("HKDF-SHA-256") }
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
                    OSSL_PARAM_construct_octet_string(
                        ParamName.pass, passwordBuffer.baseAddress ?? placeholder, passwordBuffer.count),
                    OSSL_PARAM_construct_octet_string(
                        ParamName.salt, saltBuffer.baseAddress ?? placeholder, saltBuffer.count),
                    OSSL_PARAM_construct_uint64(ParamName.n, &n), OSSL_PARAM_construct_uint64(ParamName.r, &r),
                    OSSL_PARAM_construct_uint64(ParamName.p, &p),
                    OSSL_PARAM_construct_uint64(ParamName.maxMemory, &maxMemory), OSSL_PARAM_construct_end(),
                ]
                return EVP_KDF_derive(context, &output, 32, &params)
            }
        }
        return ok == 1 ? output : nil
    }
}

/// OSSL_PARAM keeps the pointer to its key's name, so the names must outlive every call: string literals, which live
/// in the binary for as long as the process (OpenSSL only reads them).
enum ParamName {
    static var digest: UnsafeMutablePointer<CChar> { pointer("digest") }
    static var key: UnsafeMutablePointer<CChar> { pointer("key") }
    static var salt: UnsafeMutablePointer<CChar> { pointer("salt") }
    static var info: UnsafeMutablePointer<CChar> { pointer("info") }
    static var pass: UnsafeMutablePointer<CChar> { pointer("pass") }
    static var n: UnsafeMutablePointer<CChar> { pointer("n") }
    static var r: UnsafeMutablePointer<CChar> { pointer("r") }
    static var p: UnsafeMutablePointer<CChar> { pointer("p") }
    static var maxMemory: UnsafeMutablePointer<CChar> { pointer("maxmem_bytes") }
    static var sha256: UnsafeMutablePointer<CChar> { pointer("SHA256") }
    static var rsaN: UnsafeMutablePointer<CChar> { pointer("n") }
    static var rsaE: UnsafeMutablePointer<CChar> { pointer("e") }
    static var rsaD: UnsafeMutablePointer<CChar> { pointer("d") }
    static var rsaFactor1: UnsafeMutablePointer<CChar> { pointer("rsa-factor1") }
    static var rsaFactor2: UnsafeMutablePointer<CChar> { pointer("rsa-factor2") }
    static var rsaExponent1: UnsafeMutablePointer<CChar> { pointer("rsa-exponent1") }
    static var rsaExponent2: UnsafeMutablePointer<CChar> { pointer("rsa-exponent2") }
    static var rsaCoefficient1: UnsafeMutablePointer<CChar> { pointer("rsa-coefficient1") }

    private static func pointer(_ name: StaticString) -> UnsafeMutablePointer<CChar> {
        UnsafeMutableRawPointer(mutating: name.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

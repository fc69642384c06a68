internal import CCrypto
import Foundation

/// An RSA key over libcrypto, for age's `ssh-rsa` recipient type: RSA-OAEP with SHA-256 (for the hash and MGF1)
/// and a label.
public final class RSAKey: @unchecked Sendable {
    // An EVP_PKEY is immutable once built; every operation makes its own context, so sharing it across threads is
    // what libcrypto documents as safe.
    private let key: OpaquePointer
    /// Big-endian, without leading zeros.
    public let modulus: [UInt8]
    public let publicExponent: [UInt8]
    public let hasPrivateKey: Bool

    private init(key: OpaquePointer, modulus: [UInt8], publicExponent: [UInt8], hasPrivateKey: Bool) {
        self.key = key
        self.modulus = modulus
        self.publicExponent = publicExponent
        self.hasPrivateKey = hasPrivateKey
    }

    deinit { EVP_PKEY_free(key) }

    /// The size of the modulus in bits.
    public var bits: Int {
        guard let first = modulus.first else { return 0 }
        return modulus.count * 8 - first.leadingZeroBitCount
    }

    /// A public key from its modulus and exponent (big-endian).
    public static func publicKey(modulus: [UInt8], exponent: [UInt8]) throws(CryptoFailure) -> RSAKey {
        try build(
            [(ParamName.rsaN, modulus), (ParamName.rsaE, exponent)], selection: CCrypto_select_public_key,
            operation: "RSA public key import")
    }

    /// A private key from the parts an OpenSSH key file holds; the CRT exponents are derived.
    public static func privateKey(
        modulus: [UInt8], publicExponent: [UInt8], privateExponent: [UInt8], prime1: [UInt8], prime2: [UInt8],
        coefficient: [UInt8]
    ) throws(CryptoFailure) -> RSAKey {
        guard let exponent1 = reduce(privateExponent, moduloOneLessThan: prime1),
            let exponent2 = reduce(privateExponent, moduloOneLessThan: prime2)
        else { throw .fromQueue("RSA private key import") }
        return try build(
            [
                (ParamName.rsaN, modulus), (ParamName.rsaE, publicExponent), (ParamName.rsaD, privateExponent),
                (ParamName.rsaFactor1, prime1), (ParamName.rsaFactor2, prime2), (ParamName.rsaExponent1, exponent1),
                (ParamName.rsaExponent2, exponent2), (ParamName.rsaCoefficient1, coefficient),
            ], selection: CCrypto_select_key_pair, operation: "RSA private key import")
    }

    /// An unencrypted PEM private key, PKCS #1 (`RSA PRIVATE KEY`) or PKCS #8 (`PRIVATE KEY`); nil when it is not
    /// one, or not RSA.
    public static func privateKey(pem: [UInt8]) -> RSAKey? {
        guard pem.count < Int(Int32.max), let bio = BIO_new_mem_buf(pem, Int32(pem.count)) else { return nil }
        defer { BIO_free(bio) }
        // A nil callback would make libcrypto prompt on the terminal for an encrypted key; this one refuses.
        guard let key = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil) else {
            ERR_clear_error()
            return nil
        }
        guard EVP_PKEY_is_a(key, "RSA") == 1, let n = bigNumber(key, ParamName.rsaN),
            let e = bigNumber(key, ParamName.rsaE)
        else {
            EVP_PKEY_free(key)
            return nil
        }
        return RSAKey(key: key, modulus: n, publicExponent: e, hasPrivateKey: true)
    }

    public func encryptOAEP(_ message: [UInt8], label: [UInt8]) throws(CryptoFailure) -> [UInt8] {
        let operation = "RSA-OAEP encryption"
        guard let context = EVP_PKEY_CTX_new(key, nil) else { throw .fromQueue(operation) }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_encrypt_init(context) == 1, Self.configureOAEP(context, label: label) else {
            throw .fromQueue(operation)
        }
        var length = 0
        guard EVP_PKEY_encrypt(context, nil, &length, message, message.count) == 1 else { throw .fromQueue(operation) }
        var output = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_encrypt(context, &output, &length, message, message.count) == 1 else {
            throw .fromQueue(operation)
        }
        return Array(output.prefix(length))
    }

    /// The message, or nil when the ciphertext is not one this key and label made.
    public func decryptOAEP(_ ciphertext: [UInt8], label: [UInt8]) -> [UInt8]? {
        guard hasPrivateKey, let context = EVP_PKEY_CTX_new(key, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_decrypt_init(context) == 1, Self.configureOAEP(context, label: label) else {
            ERR_clear_error()
            return nil
        }
        var length = modulus.count
        var output = [UInt8](repeating: 0, count: max(length, 1))
        guard EVP_PKEY_decrypt(context, &output, &length, ciphertext, ciphertext.count) == 1 else {
            ERR_clear_error()
            return nil
        }
        return Array(output.prefix(length))
    }

    private static func configureOAEP(_ context: OpaquePointer, label: [UInt8]) -> Bool {
        EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_oaep_md(context, EVP_sha256()) == 1
            && EVP_PKEY_CTX_set_rsa_mgf1_md(context, EVP_sha256()) == 1
            && CCrypto_set_oaep_label(context, label, Int32(label.count)) == 1
    }

    private static func build(
        _ parts: [(UnsafeMutablePointer<CChar>, [UInt8])], selection: Int32, operation: String
    ) throws(CryptoFailure) -> RSAKey {
        guard let builder = OSSL_PARAM_BLD_new() else { throw .fromQueue(operation) }
        defer { OSSL_PARAM_BLD_free(builder) }
        var numbers: [OpaquePointer] = []
        defer { numbers.forEach { BN_clear_free($0) } }
        for (name, bytes) in parts {
            guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw .fromQueue(operation) }
            numbers.append(number)
            guard OSSL_PARAM_BLD_push_BN(builder, name, number) == 1 else { throw .fromQueue(operation) }
        }
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw .fromQueue(operation) }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else { throw .fromQueue(operation) }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context) == 1, EVP_PKEY_fromdata(context, &key, selection, params) == 1, let key
        else { throw .fromQueue(operation) }
        guard let n = bigNumber(key, ParamName.rsaN), let e = bigNumber(key, ParamName.rsaE) else {
            EVP_PKEY_free(key)
            throw .fromQueue(operation)
        }
        return RSAKey(key: key, modulus: n, publicExponent: e, hasPrivateKey: selection == CCrypto_select_key_pair)
    }

    private static func bigNumber(_ key: OpaquePointer, _ name: UnsafeMutablePointer<CChar>) -> [UInt8]? {
        var number: OpaquePointer?
        guard EVP_PKEY_get_bn_param(key, name, &number) == 1, let number else { return nil }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
        _ = BN_bn2bin(number, &bytes)
        return bytes
    }

    /// `d mod (prime − 1)`.
    private static func reduce(_ exponent: [UInt8], moduloOneLessThan prime: [UInt8]) -> [UInt8]? {
        guard let context = BN_CTX_new() else { return nil }
        defer { BN_CTX_free(context) }
        guard let d = BN_bin2bn(exponent, Int32(exponent.count), nil) else { return nil }
        defer { BN_clear_free(d) }
        guard let modulus = BN_bin2bn(prime, Int32(prime.count), nil) else { return nil }
        defer { BN_clear_free(modulus) }
        guard let result = BN_new() else { return nil }
        defer { BN_clear_free(result) }
        guard BN_sub_word(modulus, 1) == 1, BN_div(nil, result, d, modulus, context) == 1 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(result) + 7) / 8))
        _ = BN_bn2bin(result, &bytes)
        return bytes
    }
}

internal import CCrypto
import Foundation

extension Digest {
    /// Compares in time independent of where the inputs differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in constantTimeEqual(a, b) } }
    }

    public static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0)
    }
}

/// An incremental SHA-512, for the SOPS MAC. Like ``Digest``, it relies on ``LibcryptoCheck`` having passed.
public final class SHA512Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        precondition(EVP_DigestInit_ex(context, EVP_sha512(), nil) == 1, "SHA-512 after LibcryptoCheck passed")
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
        precondition(EVP_DigestFinal_ex(context, &output, &length) == 1, "SHA-512 after LibcryptoCheck passed")
        return output
    }
}

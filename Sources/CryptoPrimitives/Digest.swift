internal import CCrypto
import Foundation

/// One-way functions over OpenSSL libcrypto.
public enum Digest {
    public static func sha256(_ data: some ContiguousBytes) -> [UInt8] { digest(data, EVP_sha256(), size: 32) }

    public static func sha512(_ data: some ContiguousBytes) -> [UInt8] { digest(data, EVP_sha512(), size: 64) }

    private static func digest(_ data: some ContiguousBytes, _ algorithm: OpaquePointer?, size: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &output, &length, algorithm, nil)
        }
        precondition(ok == 1 && Int(length) == size, "OpenSSL digest failed")
        return output
    }

    public static func hmacSHA256(key: some ContiguousBytes, data: some ContiguousBytes) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBuffer in
            data.withUnsafeBytes { dataBuffer in
                HMAC(
                    EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count),
                    dataBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), dataBuffer.count, &output, &length)
            }
        }
        precondition(result != nil && length == 32, "OpenSSL HMAC-SHA256 failed")
        return output
    }
}

extension Sequence<UInt8> {
    /// Lowercase hexadecimal.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

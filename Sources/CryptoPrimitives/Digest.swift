internal import CCrypto
import Foundation

/// One-way functions over OpenSSL libcrypto.
///
/// They do not throw: every program checks at start that libcrypto has these algorithms (``LibcryptoCheck``), and
/// after that a digest of bytes in memory can fail only when memory runs out, which stops a Swift program anyway.
public enum Digest {
    public static func sha256(_ data: some ContiguousBytes) -> [UInt8] {
        checked { () throws(CryptoFailure) in try sha256Checked(data) }
    }

    public static func sha512(_ data: some ContiguousBytes) -> [UInt8] {
        checked { () throws(CryptoFailure) in try sha512Checked(data) }
    }

    public static func hmacSHA256(key: some ContiguousBytes, data: some ContiguousBytes) -> [UInt8] {
        checked { () throws(CryptoFailure) in try hmacSHA256Checked(key: key, data: data) }
    }

    private static func checked(_ body: () throws(CryptoFailure) -> [UInt8]) -> [UInt8] {
        do { return try body() } catch { preconditionFailure("\(error) after LibcryptoCheck passed") }
    }

    static func sha256Checked(_ data: some ContiguousBytes) throws(CryptoFailure) -> [UInt8] {
        try digest(data, EVP_sha256(), size: 32, name: "SHA-256")
    }

    static func sha512Checked(_ data: some ContiguousBytes) throws(CryptoFailure) -> [UInt8] {
        try digest(data, EVP_sha512(), size: 64, name: "SHA-512")
    }

    private static func digest(
        _ data: some ContiguousBytes, _ algorithm: OpaquePointer?, size: Int, name: String
    ) throws(CryptoFailure) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &output, &length, algorithm, nil)
        }
        guard ok == 1, Int(length) == size else { throw .fromQueue(name) }
        return output
    }

    static func hmacSHA256Checked(
        key: some ContiguousBytes, data: some ContiguousBytes
    ) throws(CryptoFailure) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBuffer in
            data.withUnsafeBytes { dataBuffer in
                HMAC(
                    EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count),
                    dataBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), dataBuffer.count, &output, &length)
            }
        }
        guard result != nil, length == 32 else { throw .fromQueue("HMAC-SHA-256") }
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

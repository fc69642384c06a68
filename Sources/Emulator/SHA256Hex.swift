internal import CCrypto
import Foundation

/// SHA-256 as lowercase hex, for the emulator's test-only view of secrets.
enum SHA256Hex {
    static func digest(_ data: Data) -> String {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &output, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "OpenSSL SHA-256 failed")
        return output.map { String(format: "%02x", $0) }.joined()
    }
}

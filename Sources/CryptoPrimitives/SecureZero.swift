internal import CCrypto
import Foundation

/// Zeroes memory in a way the optimizer keeps.
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
}

/// Zeroes memory in a way the optimizer keeps.
public func secureZero(_ bytes: UnsafeMutableRawBufferPointer) { OPENSSL_cleanse(bytes.baseAddress, bytes.count) }

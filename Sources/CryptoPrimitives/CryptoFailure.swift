internal import CCrypto
import Foundation

/// libcrypto refused an operation that well-formed input never makes it refuse: a provider that lacks the algorithm
/// (a FIPS-only configuration has no ChaCha20-Poly1305), an exhausted entropy source, memory. It carries
/// libcrypto's packed error code so the person reading it can look the reason up (`openssl errstr CODE`).
public struct CryptoFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done, for example "HKDF-SHA-256".
    public let operation: String
    /// The first code on libcrypto's error queue for this thread, or 0 when it left none.
    public let code: UInt
    /// libcrypto's own text for ``code``; it never holds key material.
    public let reason: String

    public init(operation: String, code: UInt, reason: String) {
        self.operation = operation
        self.code = code
        self.reason = reason
    }

    /// Takes the thread's error queue (and clears it, so a later failure does not report a stale code).
    static func fromQueue(_ operation: String) -> CryptoFailure {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return CryptoFailure(operation: operation, code: 0, reason: "no reason given") }
        let parts = [ERR_lib_error_string(code), ERR_reason_error_string(code)].compactMap {
            $0.map(String.init(cString:))
        }
        return CryptoFailure(
            operation: operation, code: UInt(code),
            reason: parts.isEmpty ? "no reason given" : parts.joined(separator: ": "))
    }

    public var description: String {
        let hex = String(code, radix: 16)
        return "libcrypto could not perform \(operation) (error 0x\(hex): \(reason)); check the OpenSSL installation"
            + " and its configuration (OPENSSL_CONF)"
    }
}

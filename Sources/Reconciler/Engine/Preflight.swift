import CryptoPrimitives

/// Checks made once before any command does work.
public enum Preflight {
    /// Whether libcrypto has every algorithm intops uses and computes each right; see ``LibcryptoCheck``.
    public static func verifyLibcrypto() throws(CryptoFailure) { try LibcryptoCheck.verify() }
}

internal import CCrypto
import Foundation

/// The birational map from Ed25519 keys to X25519 keys (RFC 7748, section 4.1), which lets an SSH Ed25519 key
/// take part in an X25519 exchange, as age's `ssh-ed25519` recipient type does.
public enum Ed25519Conversion {
    /// The X25519 private scalar of an Ed25519 seed: the first half of SHA-512(seed), as Ed25519 itself derives its
    /// scalar (X25519 clamps it).
    public static func x25519Scalar(seed: [UInt8]) -> [UInt8]? {
        guard seed.count == 32 else { return nil }
        var digest = Digest.sha512(seed)
        defer { secureZero(&digest) }
        return Array(digest[0..<32])
    }

    /// The Montgomery u-coordinate `(1 + y) / (1 − y)` of an encoded Edwards point; nil when the encoding is not a
    /// point of the curve. As the Go implementation age uses, y is taken modulo p (non-canonical encodings of valid
    /// points are accepted) and the identity maps to 0, which X25519 then refuses.
    public static func montgomeryPublicKey(edwards encoded: [UInt8]) -> [UInt8]? {
        guard encoded.count == 32, let context = BN_CTX_new() else { return nil }
        defer { BN_CTX_free(context) }
        var littleEndian = encoded
        littleEndian[31] &= 0x7f
        guard let p = BN_new(), let y = BN_new(), let one = BN_new(), let d = BN_new(), let scratch = BN_new(),
            let numerator = BN_new(), let denominator = BN_new(), let exponent = BN_new()
        else { return nil }
        defer { for number in [p, y, one, d, scratch, numerator, denominator, exponent] { BN_free(number) } }
        // p = 2^255 − 19
        guard BN_set_word(p, 1) == 1, BN_lshift(p, p, 255) == 1, BN_sub_word(p, 19) == 1, BN_set_word(one, 1) == 1,
            BN_lebin2bn(littleEndian, 32, y) != nil, BN_nnmod(y, y, p, context) == 1
        else { return nil }
        // d = −121665 / 121666
        guard BN_set_word(scratch, 121_666) == 1, BN_mod_inverse(d, scratch, p, context) != nil,
            BN_set_word(scratch, 121_665) == 1, BN_mod_mul(d, d, scratch, p, context) == 1,
            BN_mod_sub(d, p, d, p, context) == 1
        else { return nil }
        // A point: x² = (y² − 1) / (d·y² + 1) has a root, so its Legendre symbol is 0 or 1.
        guard BN_mod_sqr(scratch, y, p, context) == 1, BN_mod_sub(numerator, scratch, one, p, context) == 1,
            BN_mod_mul(denominator, d, scratch, p, context) == 1,
            BN_mod_add(denominator, denominator, one, p, context) == 1,
            BN_mod_inverse(denominator, denominator, p, context) != nil,
            BN_mod_mul(numerator, numerator, denominator, p, context) == 1, BN_sub(exponent, p, one) == 1,
            BN_rshift1(exponent, exponent) == 1, BN_mod_exp(scratch, numerator, exponent, p, context) == 1
        else { return nil }
        guard BN_is_zero(scratch) == 1 || BN_is_one(scratch) == 1 else { return nil }
        // u = (1 + y) / (1 − y); the identity (y = 1) has no inverse and maps to 0.
        guard BN_mod_add(numerator, one, y, p, context) == 1, BN_mod_sub(denominator, one, y, p, context) == 1 else {
            return nil
        }
        if BN_is_zero(denominator) == 1 {
            BN_zero_ex(scratch)
        } else {
            guard BN_mod_inverse(denominator, denominator, p, context) != nil,
                BN_mod_mul(scratch, numerator, denominator, p, context) == 1
            else { return nil }
        }
        var output = [UInt8](repeating: 0, count: 32)
        guard BN_bn2lebinpad(scratch, &output, 32) == 32 else { return nil }
        return output
    }
}

/// Shamir's secret sharing over GF(2⁸) with the AES polynomial, as sops splits a data key across key groups.
/// A share is the y-bytes followed by one x-byte.
enum Shamir {
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a, b = b, product: UInt8 = 0
        while b != 0 {
            if b & 1 != 0 { product ^= a }
            let carry = a & 0x80
            a <<= 1
            if carry != 0 { a ^= 0x1b }
            b >>= 1
        }
        return product
    }

    static func inverse(_ a: UInt8) -> UInt8 {
        // a^254 = a^-1 in GF(2^8).
        var result: UInt8 = 1, base = a, exponent = 254
        while exponent > 0 {
            if exponent & 1 == 1 { result = multiply(result, base) }
            base = multiply(base, base)
            exponent >>= 1
        }
        return result
    }

    static func split(_ secret: [UInt8], parts: Int, threshold: Int, random: (Int) -> [UInt8]) -> [[UInt8]] {
        var shares = (1...parts).map { [UInt8](repeating: 0, count: secret.count) + [UInt8($0)] }
        for (index, byte) in secret.enumerated() {
            let coefficients = [byte] + random(threshold - 1)
            for share in 0..<parts {
                let x = UInt8(share + 1)
                var y: UInt8 = 0
                for coefficient in coefficients.reversed() { y = multiply(y, x) ^ coefficient }
                shares[share][index] = y
            }
        }
        return shares
    }

    static func combine(_ shares: [[UInt8]]) -> [UInt8]? {
        guard let length = shares.first?.count, length >= 2, shares.allSatisfy({ $0.count == length }),
            Set(shares.map { $0.last! }).count == shares.count
        else { return nil }
        let xs = shares.map { $0.last! }
        var secret = [UInt8](repeating: 0, count: length - 1)
        for index in 0..<(length - 1) {
            var value: UInt8 = 0
            for (i, share) in shares.enumerated() {
                // Lagrange basis at x = 0: Π x_j / (x_j - x_i); subtraction is xor.
                var basis: UInt8 = 1
                for (j, x) in xs.enumerated() where j != i { basis = multiply(basis, multiply(x, inverse(x ^ xs[i]))) }
                value ^= multiply(share[index], basis)
            }
            secret[index] = value
        }
        return secret
    }
}

/// Strict standard-alphabet base64, as age requires it: canonical (unused bits zero), with or without `=`
/// padding as the caller says, and nothing but alphabet characters.
public enum StrictBase64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = Int8(index) }
        return table
    }()

    public static func encode(_ bytes: some Collection<UInt8>, padded: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let block = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(block >> 18 & 63)])
            out.append(alphabet[Int(block >> 12 & 63)])
            if second != nil { out.append(alphabet[Int(block >> 6 & 63)]) } else if padded { out.append(61) }
            if third != nil { out.append(alphabet[Int(block & 63)]) } else if padded { out.append(61) }
            if third == nil { break }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for anything not canonical in the requested form.
    public static func decode(_ text: some Collection<UInt8>, padded: Bool) -> [UInt8]? {
        var characters = Array(text)
        if padded {
            guard characters.count % 4 == 0 else { return nil }
            var padding = 0
            while padding < 2, characters.last == 61 {
                characters.removeLast()
                padding += 1
            }
            if padding > 0, characters.count % 4 == 0 { return nil }
        }
        guard characters.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(characters.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in characters {
            let value = values[Int(character)]
            guard value >= 0 else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Canonical: the bits left over must be zero.
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}

/// Bech32 (BIP 173, without its length limit), for age recipients and identities.
public enum Bech32 {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    static let generator: [UInt32] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

    static func polymod(_ values: [UInt8]) -> UInt32 {
        var check: UInt32 = 1
        for value in values {
            let top = check >> 25
            check = (check & 0x1ffffff) << 5 ^ UInt32(value)
            for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 { check ^= generator[index] }
        }
        return check
    }

    static func expand(_ hrp: [UInt8]) -> [UInt8] { hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 } }

    static func convert(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        var out = [UInt8]()
        let mask = (1 << to) - 1
        for value in data {
            accumulator = accumulator << from | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8(accumulator >> bits & mask))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8(accumulator << (to - bits) & mask)) }
        } else if bits >= from || accumulator << (to - bits) & mask != 0 {
            return nil
        }
        return out
    }

    /// Encodes with the HRP's case; the data part follows it (upper-case HRP, upper-case data).
    public static func encode(hrp: String, data: [UInt8]) -> String {
        let lowerHRP = Array(hrp.lowercased().utf8)
        let values = convert(data, from: 8, to: 5, pad: true)!
        let checksum = polymod(expand(lowerHRP) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let check = (0..<6).map { UInt8(checksum >> UInt32(5 * (5 - $0)) & 31) }
        let text = hrp.lowercased() + "1" + String(decoding: (values + check).map { charset[Int($0)] }, as: UTF8.self)
        return hrp == hrp.uppercased() && hrp != hrp.lowercased() ? text.uppercased() : text
    }

    /// The HRP in its original case and the data, or nil when anything is off.
    public static func decode(_ text: String) -> (hrp: String, data: [UInt8])? {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ (0x21...0x7e).contains($0) }) else { return nil }
        let lower = text.lowercased(), upper = text.uppercased()
        guard text == lower || text == upper else { return nil }
        guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")), separator >= 1, bytes.count - separator - 1 >= 6
        else { return nil }
        let hrp = String(decoding: bytes[..<separator], as: UTF8.self)
        var values = [UInt8]()
        for character in Array(lower.utf8)[(separator + 1)...] {
            guard let index = charset.firstIndex(of: character) else { return nil }
            values.append(UInt8(index))
        }
        guard polymod(expand(Array(hrp.lowercased().utf8)) + values) == 1 else { return nil }
        guard let data = convert(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { return nil }
        return (hrp, data)
    }
}

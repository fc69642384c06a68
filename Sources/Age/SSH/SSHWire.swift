/// The SSH wire encoding (RFC 4251, section 5): big-endian lengths, length-prefixed strings, mpints.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }
    var rest: ArraySlice<UInt8> { bytes[position...] }

    mutating func uint32() -> UInt32? {
        guard bytes.count - position >= 4 else { return nil }
        defer { position += 4 }
        return bytes[position..<(position + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32().map(Int.init), bytes.count - position >= length else { return nil }
        defer { position += length }
        return Array(bytes[position..<(position + length)])
    }

    /// A non-negative mpint as its big-endian magnitude without leading zeros; nil for a negative one.
    mutating func unsignedMPInt() -> [UInt8]? {
        guard let raw = string() else { return nil }
        if let first = raw.first, first & 0x80 != 0 { return nil }
        return Array(raw.drop { $0 == 0 })
    }
}

enum SSHWire {
    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func string(_ bytes: some Collection<UInt8>) -> [UInt8] { uint32(UInt32(bytes.count)) + bytes }

    /// A non-negative mpint from a big-endian magnitude: no leading zeros, one zero byte when the top bit is set.
    static func mpint(_ magnitude: [UInt8]) -> [UInt8] {
        let trimmed = Array(magnitude.drop { $0 == 0 })
        guard let first = trimmed.first else { return string([]) }
        return string(first & 0x80 != 0 ? [0] + trimmed : trimmed)
    }
}

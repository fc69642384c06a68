import CryptoPrimitives

/// A keyed fingerprint of a secret (see ``Fingerprinter``): the 32 bytes of its HMAC-SHA256, held inline. A project
/// of 100,000 entries holds 200,000 of them at once; as hexadecimal strings each would be an allocation of its own.
/// The state and saved plans record the ``hex`` form.
public struct SecretFingerprint: Sendable, Hashable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// - Precondition: `bytes` holds 32 bytes (an HMAC-SHA256 output).
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a fingerprint is an HMAC-SHA256 output")
        func word(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        words = (word(0), word(8), word(16), word(24))
    }

    /// The fingerprint a state or saved plan recorded; nil for any text that is not 64 hexadecimal digits.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            guard let high = Self.nibble(digits[2 * index]), let low = Self.nibble(digits[2 * index + 1]) else {
                return nil
            }
            bytes[index] = high << 4 | low
        }
        self.init(bytes: bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Lowercase hexadecimal, as the state records it.
    public var hex: String { bytes.hex }

    public var description: String { hex }

    public var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in
            (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
        }
    }

    /// Whether a recorded fingerprint is this one.
    public func matches(_ recorded: String?) -> Bool { recorded.flatMap(Self.init(hex:)) == self }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2
            && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

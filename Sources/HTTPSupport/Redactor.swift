import Foundation
import Synchronization

/// The values a run must never print (secrets it sends, tokens it holds), and the one place that removes them from
/// text that came back from the network. A server may echo a request, whole or encoded, into an error body, a
/// test message or a header, so each value is looked for in every form it could come back in: as sent, JSON
/// escaped, percent-encoded, hex and base64 (also at the three byte alignments a longer encoded text can put it).
///
/// A value too short to be told from ordinary text (fewer than ``minimumReplaced`` characters) is replaced only
/// where it stands alone, between characters that are not letters or digits: `"a"` in an echoed body, not the
/// `a` of every word.
public final class Redactor: Sendable {
    public static let replacement = "(redacted)"
    /// Shorter values are replaced only as whole words.
    public static let minimumReplaced = 4
    /// Derived forms shorter than this (the inner part of a short value's base64) match too much to be useful.
    static let minimumForm = 6

    private struct Index {
        /// Forms by their first four bytes, longest first in each bucket, so a scan looks at few candidates.
        var forms: [UInt32: [[UInt8]]] = [:]
        /// Every form in `forms`, so that registering many values with a common prefix stays linear.
        var known: Set<[UInt8]> = []
        var short: Set<String> = []
        var registered: Set<String> = []
        /// Values registered since the last redaction: their forms are computed when text is first redacted, so a
        /// run that registers every secret it holds and never needs to redact pays almost nothing.
        var pending: [String] = []
        /// Values not even listed yet (``registerLater(_:)``).
        var deferred: [@Sendable () -> [String]] = []

        mutating func register(_ value: String) {
            guard !value.isEmpty, registered.insert(value).inserted else { return }
            if value.count < Redactor.minimumReplaced { short.insert(value) } else { pending.append(value) }
        }

        mutating func listDeferred() {
            let sources = deferred
            deferred = []
            for source in sources { for value in source() { register(value) } }
        }

        mutating func indexPending() {
            for value in pending {
                for form in Redactor.forms(of: value) where known.insert(form).inserted {
                    let key = Redactor.key(form, at: 0)
                    var bucket = forms.removeValue(forKey: key) ?? []
                    let position = bucket.firstIndex { $0.count < form.count } ?? bucket.endIndex
                    bucket.insert(form, at: position)
                    forms[key] = bucket
                }
            }
            pending = []
        }
    }

    private let index = Mutex(Index())

    public init() {}

    public var isEmpty: Bool {
        index.withLock { index in
            index.listDeferred()
            return index.registered.isEmpty
        }
    }

    /// Remembers a value; registering it again costs nothing.
    public func register(_ value: String) { index.withLock { $0.register(value) } }

    public func register<Values: Sequence<String>>(_ values: Values) {
        index.withLock { index in for value in values { index.register(value) } }
    }

    /// Remembers the values `source` lists, listed only when text is first redacted: a plan of 100,000 entries
    /// holds 200,000 secrets, and a run that never reads text from the network need not copy them all.
    public func registerLater(_ source: @escaping @Sendable () -> [String]) {
        index.withLock { $0.deferred.append(source) }
    }

    /// The text with every registered value, in any of its forms, replaced by ``replacement``.
    public func redact(_ text: String) -> String {
        let (forms, short) = index.withLock { index in
            index.listDeferred()
            if !index.pending.isEmpty { index.indexPending() }
            return (index.forms, index.short)
        }
        guard !forms.isEmpty || !short.isEmpty else { return text }
        let bytes = Self.replacingWords(short, in: Array(text.utf8))
        guard bytes.count >= 4 else { return String(decoding: bytes, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var position = 0
        var changed = false
        while position < bytes.count {
            if position + 4 <= bytes.count, let bucket = forms[Self.key(bytes, at: position)],
                let match = bucket.first(where: { Self.matches($0, bytes, at: position) })
            {
                output.append(contentsOf: Self.replacement.utf8)
                position += match.count
                changed = true
            } else {
                output.append(bytes[position])
                position += 1
            }
        }
        guard changed else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Short values, wherever neither neighbour is a letter or a digit.
    static func replacingWords(_ words: Set<String>, in bytes: [UInt8]) -> [UInt8] {
        guard !words.isEmpty else { return bytes }
        func isWordByte(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte >= 0x80
        }
        let candidates = words.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var position = 0
        while position < bytes.count {
            let standsAlone = position == 0 || !isWordByte(bytes[position - 1])
            if standsAlone,
                let word = candidates.first(where: { word in
                    matches(word, bytes, at: position)
                        && (position + word.count == bytes.count || !isWordByte(bytes[position + word.count]))
                })
            {
                output.append(contentsOf: replacement.utf8)
                position += word.count
            } else {
                output.append(bytes[position])
                position += 1
            }
        }
        return output
    }

    // MARK: - Forms

    static func forms(of value: String) -> [[UInt8]] {
        let bytes = Array(value.utf8)
        var texts: Set<String> = [value, hex(bytes, uppercase: false), hex(bytes, uppercase: true)]
        texts.insert(jsonEscaped(value, slashes: true))
        texts.insert(jsonEscaped(value, slashes: false))
        texts.insert(jsonEscaped(value, slashes: false).replacingOccurrences(of: "/", with: "\\/"))
        for form in percentEncodings(value) { texts.insert(form) }
        for form in base64Forms(bytes) { texts.insert(form) }
        return texts.filter { $0.utf8.count >= minimumForm || $0 == value }.map { Array($0.utf8) }
    }

    static func hex(_ bytes: [UInt8], uppercase: Bool) -> String {
        let digits = Array((uppercase ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func jsonEscaped(_ value: String, slashes: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = slashes ? [] : [.withoutEscapingSlashes]
        guard let data = try? encoder.encode(value), data.count >= 2 else { return value }
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    /// RFC 3986 strict encoding, with `%20` and with `+` for a space (forms), in upper- and lowercase hex.
    static func percentEncodings(_ value: String) -> [String] {
        var unreserved = CharacterSet.alphanumerics.intersection(
            CharacterSet(charactersIn: Unicode.Scalar(0)..<"\u{80}"))
        unreserved.insert(charactersIn: "-._~")
        guard let strict = value.addingPercentEncoding(withAllowedCharacters: unreserved) else { return [] }
        let plus = strict.replacingOccurrences(of: "%20", with: "+")
        return [strict, plus, lowercasedEscapes(strict), lowercasedEscapes(plus)]
    }

    private static func lowercasedEscapes(_ text: String) -> String {
        var out = ""
        var remaining = 0
        for character in text {
            if character == "%" {
                remaining = 2
                out.append(character)
            } else if remaining > 0 {
                remaining -= 1
                out.append(contentsOf: character.lowercased())
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// The value's base64, standalone (padded or not) and as it reads inside a longer encoded text, in the
    /// standard and the URL-safe alphabets.
    static func base64Forms(_ bytes: [UInt8]) -> [String] {
        let standalone = Data(bytes).base64EncodedString()
        var forms = [standalone, standalone.trimmingCharacters(in: CharacterSet(charactersIn: "="))]
        for offset in 0..<3 { forms.append(base64Core(bytes, offset: offset)) }
        return forms + forms.map(urlSafe)
    }

    /// The base64 characters that depend only on the value when it starts `offset` bytes into a longer encoded
    /// text: the characters that mix in neighbouring bytes are left out, so the form is found wherever the value
    /// sits.
    static func base64Core(_ bytes: [UInt8], offset: Int) -> String {
        let padded = [UInt8](repeating: 0, count: offset) + bytes
        let whole = padded.count - padded.count % 3
        guard whole > offset else { return "" }
        // One leading pad byte fills a character and mixes into the next; two fill two and mix into the third.
        let mixed = [0, 2, 3][offset]
        return String(Data(padded[0..<whole]).base64EncodedString().dropFirst(mixed))
    }

    private static func urlSafe(_ base64: String) -> String {
        base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    // MARK: - Matching

    fileprivate static func key(_ bytes: [UInt8], at position: Int) -> UInt32 {
        guard position + 4 <= bytes.count else { return 0 }
        return UInt32(bytes[position]) << 24 | UInt32(bytes[position + 1]) << 16 | UInt32(bytes[position + 2]) << 8
            | UInt32(bytes[position + 3])
    }

    private static func matches(_ form: [UInt8], _ bytes: [UInt8], at position: Int) -> Bool {
        guard position + form.count <= bytes.count else { return false }
        for offset in 0..<form.count where bytes[position + offset] != form[offset] { return false }
        return true
    }
}

import Foundation

/// Pretty-printed JSON put together from values encoded one at a time, byte for byte what ``encoder()`` writes for
/// the whole document: a state or a plan of 100,000 entries is then never one encoding in memory, and an entry
/// that did not change keeps its bytes from one save to the next.
enum SplicedJSON {
    /// The encoder of state files and of `plan --format json`.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `document`, whose top-level `key` holds an empty array, cut where that array's elements go: the caller
    /// writes `head`, the elements separated by ``separator``, then `tail`. Nil when `key` holds no empty array.
    static func split(
        _ document: [UInt8], atEmptyArray key: String
    ) -> (head: ArraySlice<UInt8>, tail: ArraySlice<UInt8>)? {
        let opening = Array("\"\(key)\" : [\n".utf8)
        guard let range = document.firstRange(of: opening + Array("\n  ]".utf8)) else { return nil }
        let cut = range.lowerBound + opening.count
        return (document[..<cut], document[cut...])
    }

    static let separator = Array(",\n".utf8)

    /// One value of a top-level array, encoded on its own, indented as it stands in the document. A line left empty
    /// (the inside of an empty collection) stays empty, as the encoder writes it; a newline only ever separates
    /// lines, since JSON escapes it inside strings.
    static func element(_ value: some Encodable, _ encoder: JSONEncoder) throws -> [UInt8] {
        let plain = try encoder.encode(value)
        let indent: [UInt8] = [32, 32, 32, 32]
        var json: [UInt8] = []
        json.reserveCapacity(plain.count + plain.count / 4)
        var previous: UInt8 = 10
        for byte in plain {
            if previous == 10, byte != 10 { json += indent }
            json.append(byte)
            previous = byte
        }
        return json
    }
}

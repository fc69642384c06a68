/// A recipient stanza: `-> TYPE ARG…` and its body.
public struct Stanza: Sendable, Equatable {
    public var type: String
    public var arguments: [String]
    public var body: [UInt8]

    public init(type: String, arguments: [String], body: [UInt8]) {
        self.type = type
        self.arguments = arguments
        self.body = body
    }
}

/// The age v1 header, parsed strictly (every rule of the reference parser, age v1).
struct Header {
    var stanzas: [Stanza]
    var mac: [UInt8]
    /// The bytes the MAC covers: from the version line through `---`.
    var macInput: ArraySlice<UInt8>
    /// Where the payload starts.
    var payloadOffset: Int

    static let version = Array("age-encryption.org/v1\n".utf8)

    static func parse(_ file: [UInt8]) throws(AgeError) -> Header {
        guard let firstLF = file.firstIndex(of: 10) else { throw .header("no version line") }
        guard file[0...firstLF].elementsEqual(version) else {
            if file.starts(with: Array("age-encryption.org/".utf8)) { throw .header("unsupported version") }
            throw .header("not an age file")
        }
        var position = firstLF + 1
        var stanzas: [Stanza] = []

        func line() throws(AgeError) -> ArraySlice<UInt8> {
            guard position < file.count, let end = file[position...].firstIndex(of: 10) else {
                throw .header("the header ends early")
            }
            let text = file[position..<end]
            position = end + 1
            return text
        }

        while true {
            let start = position
            let text = try line()
            if text.starts(with: Array("---".utf8)) {
                let fields = text.split(separator: 32, omittingEmptySubsequences: false)
                guard fields.count == 2, fields[0].elementsEqual(Array("---".utf8)),
                    let mac = StrictBase64.decode(fields[1], padded: false), mac.count == 32
                else { throw .header("malformed MAC line") }
                return Header(stanzas: stanzas, mac: mac, macInput: file[0..<(start + 3)], payloadOffset: position)
            }
            let fields = text.split(separator: 32, omittingEmptySubsequences: false)
            guard fields.count >= 2, fields[0].elementsEqual(Array("->".utf8)) else {
                throw .header("malformed stanza line")
            }
            for field in fields.dropFirst() {
                guard !field.isEmpty, field.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                    throw .header("a stanza argument is empty or not printable ASCII")
                }
            }
            var body: [UInt8] = []
            while true {
                let bodyLine = try line()
                guard bodyLine.count <= 64, let chunk = StrictBase64.decode(bodyLine, padded: false) else {
                    throw .header("a stanza body line is not canonical base64 of at most 64 characters")
                }
                body += chunk
                if chunk.count < 48 { break }
            }
            let strings = fields.dropFirst().map { String(decoding: $0, as: UTF8.self) }
            stanzas.append(Stanza(type: strings[0], arguments: Array(strings.dropFirst()), body: body))
        }
    }

    /// The header without its MAC, ending in `---`, as the MAC covers it.
    static func serialize(_ stanzas: [Stanza]) -> [UInt8] {
        var out = version
        for stanza in stanzas {
            out += Array("->".utf8)
            for field in [stanza.type] + stanza.arguments { out += [32] + Array(field.utf8) }
            out.append(10)
            let encoded = Array(StrictBase64.encode(stanza.body, padded: false).utf8)
            var index = 0
            while index < encoded.count {
                let end = min(index + 64, encoded.count)
                out += encoded[index..<end] + [10]
                index = end
            }
            if encoded.count % 64 == 0 { out.append(10) }
        }
        return out + Array("---".utf8)
    }
}

/// The ASCII armor of age files (strict reader, byte-exact writer).
public enum AgeArmor {
    static let begin = Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)
    static let end = Array("-----END AGE ENCRYPTED FILE-----".utf8)

    /// A binary age file starts with `age-encryption.org/`; anything else is read as armor, so that a damaged
    /// armor is reported as such rather than as a bad binary header.
    public static func isArmored(_ data: [UInt8]) -> Bool {
        guard !data.starts(with: Array("age-encryption.org/".utf8)) else { return false }
        return data.prefix(1100).firstRange(of: Array("-----".utf8)) != nil
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 11 || byte == 12
    }

    public static func encode(_ file: [UInt8]) -> [UInt8] {
        var out = begin + [10]
        let text = Array(StrictBase64.encode(file, padded: true).utf8)
        var index = 0
        while index < text.count {
            let stop = min(index + 64, text.count)
            out += text[index..<stop] + [10]
            index = stop
        }
        return out + end + [10]
    }

    public static func decode(_ data: [UInt8]) throws(AgeError) -> [UInt8] {
        // Split into lines; a CR before LF is dropped.
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (index, byte) in data.enumerated() where byte == 10 {
            var line = data[start..<index]
            if line.last == 13 { line = line.dropLast() }
            lines.append(line)
            start = index + 1
        }
        let trailing = data[start...]
        var cursor = 0
        var leading = 0
        while cursor < lines.count, lines[cursor].allSatisfy(isWhitespace) {
            leading += lines[cursor].count + 1
            cursor += 1
        }
        guard leading <= 1024 else { throw .armor("too much whitespace before the armor") }
        guard cursor < lines.count || !trailing.isEmpty else { throw .armor("no armor header") }
        guard cursor < lines.count, lines[cursor].elementsEqual(begin) else {
            throw .armor("the first line is not -----BEGIN AGE ENCRYPTED FILE-----")
        }
        cursor += 1
        var decoded: [UInt8] = []
        var sawShort = false
        var footerFound = false
        var afterFooter: ArraySlice<UInt8> = []
        // The footer may be the last line without its LF.
        var allLines = lines
        var footerWithoutLF = false
        if !trailing.isEmpty {
            var last = trailing
            if last.last == 13 { last = last.dropLast() }
            allLines.append(last)
            footerWithoutLF = true
        }
        while cursor < allLines.count {
            let line = allLines[cursor]
            cursor += 1
            if line.elementsEqual(end) {
                footerFound = true
                break
            }
            guard !sawShort else { throw .armor("a short line is not the last line") }
            guard !line.isEmpty else { throw .armor("an empty line inside the armor") }
            guard line.count <= 64 else { throw .armor("a line longer than 64 characters") }
            guard let chunk = StrictBase64.decode(line, padded: true) else {
                throw .armor("a line is not canonical padded base64")
            }
            if chunk.count < 48 { sawShort = true }
            decoded += chunk
        }
        guard footerFound else { throw .armor("no -----END AGE ENCRYPTED FILE----- line") }
        // Only a little whitespace may follow.
        if !footerWithoutLF {
            var rest: [UInt8] = []
            for line in allLines[cursor...] { rest += line + [10] }
            if !trailing.isEmpty { rest += trailing }
            afterFooter = rest[...]
        }
        guard afterFooter.allSatisfy(isWhitespace), afterFooter.count < 1024 else {
            throw .armor("data follows the armor")
        }
        return decoded
    }
}

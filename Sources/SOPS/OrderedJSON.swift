import Foundation

/// JSON with key order kept, as sops needs it for the MAC, and numbers typed as sops ≥ 3.13.2 types them.
enum OrderedJSON {
    /// A float as Go's encoding/json writes it: plain digits, except an exponent below 1e-6 and from 1e21 on
    /// (`1.2345678901234568e+22`, `1e-7`).
    static func goJSONFloat(_ value: Double) -> String {
        let magnitude = abs(value)
        guard magnitude != 0, magnitude < 1e-6 || magnitude >= 1e21 else { return SOPSScalar.goFloat(value) }
        // The shortest digits that read back as the value, from Swift's own shortest form.
        let plain = SOPSScalar.goFloat(magnitude)
        var digits = plain.filter { $0 != "." }
        let point = plain.firstIndex(of: ".").map { plain.distance(from: plain.startIndex, to: $0) } ?? plain.count
        var exponent = point - 1
        while digits.first == "0" {
            digits.removeFirst()
            exponent -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let mantissa = digits.count > 1 ? "\(digits.first!).\(digits.dropFirst())" : digits
        return (value < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+") + String(abs(exponent))
    }

    static func parse(_ data: [UInt8]) throws(SOPSError) -> SOPSValue {
        var parser = Parser(bytes: data)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == data.count else { throw parser.failure("unexpected data after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0

        func failure(_ reason: String) -> SOPSError {
            var line = 1, column = 1
            for byte in bytes[0..<min(index, bytes.count)] {
                if byte == 10 {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            return .format("\(line):\(column): \(reason)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [32, 9, 10, 13].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws(SOPSError) -> SOPSValue {
            guard depth < 128 else { throw failure("nesting deeper than 128") }
            guard index < bytes.count else { throw failure("unexpected end of JSON") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var entries: [SOPSEntry] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .mapping(entries)
                }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw failure("expected a key")
                    }
                    let key = try string()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                    index += 1
                    skipWhitespace()
                    entries.append(SOPSEntry(key: key, value: try value(depth: depth + 1)))
                    skipWhitespace()
                    guard index < bytes.count else { throw failure("unexpected end of JSON") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "}") {
                        index += 1
                        return .mapping(entries)
                    }
                    throw failure("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [SOPSValue] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .sequence(items)
                }
                while true {
                    skipWhitespace()
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw failure("unexpected end of JSON") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "]") {
                        index += 1
                        return .sequence(items)
                    }
                    throw failure("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .scalar(.string(try string()))
            case UInt8(ascii: "t"):
                try literal("true")
                return .scalar(.bool(true))
            case UInt8(ascii: "f"):
                try literal("false")
                return .scalar(.bool(false))
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default: return try number()
            }
        }

        mutating func literal(_ word: String) throws(SOPSError) {
            let expected = Array(word.utf8)
            guard bytes.count - index >= expected.count, Array(bytes[index..<(index + expected.count)]) == expected
            else { throw failure("unexpected character") }
            index += expected.count
        }

        mutating func number() throws(SOPSError) -> SOPSValue {
            let start = index
            while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard !text.isEmpty else { throw failure("unexpected character") }
            // An integer that fits 64 bits stays exact, as sops 3.13 keeps it (beyond 2^53 too, where a float64
            // would change its last digits); anything else is a float64, as in Go.
            if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let integer = Int64(text) {
                return .scalar(.int(integer))
            }
            guard let double = Double(text) else { throw failure("malformed number") }
            return .scalar(.float(double))
        }

        mutating func string() throws(SOPSError) -> String {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { break }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count,
                            bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                        {
                            index += 2
                            let low = try hex4()
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                    default: out.append(escape)
                    }
                default:
                    guard byte >= 0x20 else { throw failure("a control character inside a string") }
                    out.append(byte)
                }
            }
            throw failure("an unterminated string")
        }

        mutating func hex4() throws(SOPSError) -> UInt32 {
            guard bytes.count - index >= 4,
                let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
            else { throw failure("a malformed \\u escape") }
            index += 4
            return value
        }
    }

    /// JSON as sops writes it: a tab per level, key order kept, a final newline.
    static func emit(_ value: SOPSValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out)
        return out + "\n"
    }

    static func write(_ value: SOPSValue, indent: Int, into out: inout String) {
        let pad = String(repeating: "\t", count: indent + 1)
        let closing = String(repeating: "\t", count: indent)
        switch value {
        // JSON has no comments; a YAML file's are left out, as sops leaves them out.
        case .null, .comment: out += "null"
        case .scalar(let scalar):
            switch scalar {
            case .string(let text), .time(let text): out += quote(text)
            // Only a binary file holds bytes, and it is written as itself, never through JSON.
            case .bytes(let bytes): out += quote(String(decoding: bytes, as: UTF8.self))
            case .int(let number): out += String(number)
            case .float(let number):
                out += number.isFinite ? Self.goJSONFloat(number) : quote(SOPSScalar.goFloat(number))
            case .bool(let flag): out += flag ? "true" : "false"
            }
        case .sequence(let all):
            let items = all.filter { if case .comment = $0 { false } else { true } }
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (offset, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 1, into: &out)
                out += offset == items.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case .mapping(let all):
            let entries = all.filter { !$0.isComment }
            guard !entries.isEmpty else {
                out += "{}"
                return
            }
            out += "{\n"
            for (offset, entry) in entries.enumerated() {
                out += pad + quote(entry.key) + ": "
                write(entry.value, indent: indent + 1, into: &out)
                out += offset == entries.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

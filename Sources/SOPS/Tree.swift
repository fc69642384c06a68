import Foundation
import YAML

/// A SOPS document as sops models it: ordered mappings with string keys, lists, typed scalars and nulls.
public enum SOPSValue: Sendable, Equatable {
    case mapping([SOPSEntry])
    case sequence([SOPSValue])
    case scalar(SOPSScalar)
    case null
    /// A comment item of a YAML list, where sops keeps comments among the items (in a mapping a comment is an
    /// entry, ``SOPSEntry/isComment``). Not in the MAC.
    case comment(String)

    public var isComment: Bool { if case .comment = self { true } else { false } }

    public subscript(key: String) -> SOPSValue? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { !$0.isComment && $0.key == key }?.value
    }
}

public struct SOPSEntry: Sendable, Equatable {
    public var key: String
    public var value: SOPSValue
    /// A comment item (dotenv `#…` lines): `value` holds its text; it has no key and is not in the MAC.
    public var isComment: Bool

    public init(key: String, value: SOPSValue, isComment: Bool = false) {
        self.key = key
        self.value = value
        self.isComment = isComment
    }

    static func comment(_ text: String) -> SOPSEntry {
        SOPSEntry(key: "", value: .scalar(.string(text)), isComment: true)
    }
}

/// A typed leaf, with sops' type tags (`str`, `int`, `float`, `bool`, `time`).
public enum SOPSScalar: Sendable, Equatable {
    case string(String)
    case int(Int64)
    /// The float and the text it was written as (for re-emitting the same way).
    case float(Double)
    case bool(Bool)
    /// RFC 3339 text, normalized as Go's `time.MarshalText` writes it.
    case time(String)
    /// A binary file's content that is not UTF-8 text, kept byte for byte (sops' `str` type holds any bytes).
    case bytes([UInt8])

    /// The `type:` values sops writes into ENC[…] strings.
    static let knownTypes: Set<String> = ["str", "int", "float", "bool", "time", "bytes", "comment"]

    public var typeName: String {
        switch self {
        case .string, .bytes: "str"
        case .int: "int"
        case .float: "float"
        case .bool: "bool"
        case .time: "time"
        }
    }

    /// The bytes sops encrypts and hashes (format spec B.2).
    public var canonicalText: String {
        switch self {
        case .string(let text): text
        case .int(let value): String(value)
        case .float(let value): Self.goFloat(value)
        case .bool(let value): value ? "True" : "False"
        case .time(let text): text
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
        }
    }

    /// What sops encrypts and hashes, as bytes: the canonical text, or a binary file's bytes as they are.
    public var canonicalBytes: [UInt8] {
        if case .bytes(let bytes) = self { return bytes }
        return Array(canonicalText.utf8)
    }

    /// The value as a person reads it, e.g. in a secret reference (`true`, not `True`).
    public var plainText: String {
        switch self {
        case .bool(let value): value ? "true" : "false"
        default: canonicalText
        }
    }

    /// Go's `FormatFloat(v, 'f', -1, 64)`: the shortest digits that round-trip, never an exponent.
    static func goFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        // Swift's description is the shortest round-trip form, sometimes with an exponent ("1e+21").
        var text = "\(value)"
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: marker)...]) ?? 0
            text = String(text[..<marker])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        var point = parts[0].count + exponent
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let sign = negative ? "-" : ""
        if digits == "0" { return sign + "0" }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
        return sign + String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
    }

    /// Parses decrypted plaintext by its type tag, as sops does.
    static func parse(_ text: String, type: String) -> SOPSScalar? {
        switch type {
        case "str", "comment", "bytes": return .string(text)
        case "int":
            guard let value = Int64(text) else { return nil }
            return .int(value)
        case "float":
            switch text.lowercased() {
            case "nan": return .float(.nan)
            case "+inf", "inf", "infinity", "+infinity": return .float(.infinity)
            case "-inf", "-infinity": return .float(-.infinity)
            default: return Double(text).map { .float($0) }
            }
        case "bool":
            switch text {
            case "1", "t", "T", "TRUE", "true", "True": return .bool(true)
            case "0", "f", "F", "FALSE", "false", "False": return .bool(false)
            default: return nil
            }
        case "time": return .time(text)
        default: return nil
        }
    }
}

// MARK: - YAML with go-yaml v3's typing

enum YAMLTree {
    /// Converts a parsed YAML document to the tree sops sees, its comments where sops puts them.
    static func value(_ node: Node, comments: [YAMLComment] = []) throws(SOPSError) -> SOPSValue {
        let placement = comments.isEmpty ? nil : CommentPlacement(root: node, comments: comments)
        var containers = 0
        return try value(node, placement: placement, containers: &containers)
    }

    private static func value(
        _ node: Node, placement: CommentPlacement?, containers: inout Int
    ) throws(SOPSError) -> SOPSValue {
        var id = -1
        if !node.isScalar {
            id = containers
            containers += 1
        }
        func comments(before index: Int?) -> [String] {
            placement?.slots[CommentPlacement.Slot(container: id, index: index)] ?? []
        }
        switch node.content {
        case .mapping(let pairs):
            var entries: [SOPSEntry] = []
            for (index, pair) in pairs.enumerated() {
                guard case .scalar(let key, let style) = pair.key.content,
                    case .string = resolve(key, style: style, tag: pair.key.tag)
                else { throw .format("\(pair.key.location): a mapping key is not a string; SOPS needs string keys") }
                for comment in comments(before: index) { entries.append(.comment(comment)) }
                entries.append(
                    SOPSEntry(key: key, value: try value(pair.value, placement: placement, containers: &containers)))
            }
            for comment in comments(before: nil) { entries.append(.comment(comment)) }
            return .mapping(entries)
        case .sequence(let items):
            var values: [SOPSValue] = []
            for (index, item) in items.enumerated() {
                for comment in comments(before: index) { values.append(.comment(comment)) }
                values.append(try value(item, placement: placement, containers: &containers))
            }
            for comment in comments(before: nil) { values.append(.comment(comment)) }
            return .sequence(values)
        case .scalar(let text, let style):
            switch resolve(text, style: style, tag: node.tag) {
            case .string(let string): return .scalar(.string(string))
            case .null: return .null
            case .scalar(let scalar): return .scalar(scalar)
            }
        }
    }

    enum Resolved {
        case string(String)
        case null
        case scalar(SOPSScalar)
    }

    static func resolve(_ text: String, style: ScalarStyle, tag: String?) -> Resolved {
        if style != .plain || tag == Tag.string
            || (tag != nil && tag != Tag.nonSpecific && !(tag?.hasPrefix("tag:yaml.org,2002:") ?? false))
        {
            return .string(text)
        }
        switch tag {
        case Tag.int: if let value = goInt(text) { return .scalar(.int(value)) }
        case Tag.float: if let value = goFloat(text) { return .scalar(.float(value)) }
        case Tag.bool: if let value = goBool(text) { return .scalar(.bool(value)) }
        case Tag.null: return .null
        default: break
        }
        if let value = goBool(text) { return .scalar(.bool(value)) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case ".nan", ".NaN", ".NAN": return .scalar(.float(.nan))
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .scalar(.float(.infinity))
        case "-.inf", "-.Inf", "-.INF": return .scalar(.float(-.infinity))
        default: break
        }
        guard let first = text.first else { return .string(text) }
        if first.isASCII && (first.isNumber || first == "+" || first == "-") {
            if let time = timestamp(text) { return .scalar(.time(time)) }
            if let value = goInt(text) { return .scalar(.int(value)) }
            if isFloatShape(text.replacingOccurrences(of: "_", with: "")), let value = goFloat(text) {
                return .scalar(.float(value))
            }
        } else if first == ".", let value = Double(text) {
            return .scalar(.float(value))
        }
        return .string(text)
    }

    static func goBool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE": true
        case "false", "False", "FALSE": false
        default: nil
        }
    }

    /// Go's base-0 integer syntax after removing underscores: decimal, 0x, 0o, 0b, and a leading 0 for octal.
    static func goInt(_ raw: String) -> Int64? {
        var text = raw.replacingOccurrences(of: "_", with: "")
        var negative = false
        if text.hasPrefix("+") || text.hasPrefix("-") {
            negative = text.hasPrefix("-")
            text.removeFirst()
        }
        guard !text.isEmpty else { return nil }
        var radix = 10
        let lower = text.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            text.removeFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            text.removeFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            text.removeFirst(2)
        } else if text.count > 1, text.hasPrefix("0") {
            radix = 8
            text.removeFirst()
        }
        guard !text.isEmpty, let magnitude = UInt64(text, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static func goFloat(_ text: String) -> Double? { Double(text.replacingOccurrences(of: "_", with: "")) }

    /// Optional sign, then `.digits` or `digits[.digits]`, then an optional exponent.
    static func isFloatShape(_ text: String) -> Bool {
        var characters = Substring(text)
        if characters.first == "+" || characters.first == "-" { characters.removeFirst() }
        let mantissaEnd = characters.firstIndex { $0 == "e" || $0 == "E" } ?? characters.endIndex
        let mantissa = characters[..<mantissaEnd]
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        let mantissaOK =
            parts.count == 1
            ? digits(parts[0])
            : (parts[0].isEmpty ? digits(parts[1]) : digits(parts[0]) && (parts[1].isEmpty || digits(parts[1])))
        guard mantissaOK else { return false }
        guard mantissaEnd != characters.endIndex else { return true }
        var exponent = characters[characters.index(after: mantissaEnd)...]
        if exponent.first == "+" || exponent.first == "-" { exponent.removeFirst() }
        return digits(exponent)
    }

    /// go-yaml's timestamp forms, normalized as Go's `time.MarshalText` (RFC 3339, trailing fraction zeros
    /// dropped, `Z` for UTC).
    static func timestamp(_ text: String) -> String? {
        let pattern =
            #"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{1,2}(?::?\d{2})?)?)?$"#
        guard let regex = try? NSRegularExpression(pattern: pattern),
            let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
        else { return nil }
        func group(_ index: Int) -> String? { Range(match.range(at: index), in: text).map { String(text[$0]) } }
        let year = group(1)!, month = Int(group(2)!)!, day = Int(group(3)!)!
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let date = "\(year)-\(String(format: "%02d", month))-\(String(format: "%02d", day))"
        guard let hour = group(4).flatMap(Int.init) else { return date + "T00:00:00Z" }
        var fraction = group(7) ?? ""
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if fraction == "." { fraction = "" }
        var zone = group(8) ?? "Z"
        if zone != "Z" {
            let sign = zone.prefix(1)
            let digits = zone.dropFirst().replacingOccurrences(of: ":", with: "")
            let hours = Int(digits.prefix(digits.count > 2 ? digits.count - 2 : digits.count)) ?? 0
            let minutes = digits.count > 2 ? Int(digits.suffix(2)) ?? 0 : 0
            zone = hours == 0 && minutes == 0 ? "Z" : "\(sign)\(String(format: "%02d:%02d", hours, minutes))"
        }
        return "\(date)T\(String(format: "%02d", hour)):\(group(5)!):\(group(6)!)\(fraction)\(zone)"
    }
}

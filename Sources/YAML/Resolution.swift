/// A scalar's value under the YAML 1.2 core schema, taking its tag and style into account.
public enum ResolvedScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

extension Node {
    /// The scalar's typed value. A quoted or block scalar, or one tagged `!!str` or `!`, is always a string;
    /// a plain scalar resolves as the core schema says (`true`, `42`, `1.5`, `null`). Collections resolve to
    /// `.string("")`; ask `isScalar` first.
    public var resolved: ResolvedScalar {
        guard case .scalar(let text, let style) = content else { return .string("") }
        if let tag {
            switch tag {
            case Tag.string, Tag.nonSpecific: return .string(text)
            case Tag.null: return .null
            case Tag.bool: return Self.resolveBool(text).map(ResolvedScalar.bool) ?? .string(text)
            case Tag.int: return Self.resolveInt(text).map(ResolvedScalar.int) ?? .string(text)
            case Tag.float:
                if let value = Self.resolveFloat(text) ?? Self.resolveInt(text).map(Double.init) {
                    return .float(value)
                }
                return .string(text)
            default: return .string(text)
            }
        }
        guard style == .plain else { return .string(text) }
        return Self.resolvePlain(text)
    }

    /// Resolves the text of an untagged plain scalar.
    public static func resolvePlain(_ text: String) -> ResolvedScalar {
        guard let first = text.utf8.first else { return .null }
        // Fast path: most scalars in manifests are words, which cannot be numbers, booleans or null.
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
            UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"),
            UInt8(ascii: "f"), UInt8(ascii: "F"):
            break
        default: return .string(text)
        }
        switch text {
        case "~", "null", "Null", "NULL": return .null
        default: break
        }
        if let bool = resolveBool(text) { return .bool(bool) }
        if let int = resolveInt(text) { return .int(int) }
        if let float = resolveFloat(text) { return .float(float) }
        return .string(text)
    }

    static func resolveBool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    static func resolveInt(_ text: String) -> Int? {
        var utf8 = Substring(text)
        var negative = false
        if utf8.first == "-" || utf8.first == "+" {
            negative = utf8.first == "-"
            utf8 = utf8.dropFirst()
        }
        guard !utf8.isEmpty else { return nil }
        var radix = 10
        if utf8.hasPrefix("0x") {
            radix = 16
            utf8 = utf8.dropFirst(2)
        } else if utf8.hasPrefix("0o") {
            radix = 8
            utf8 = utf8.dropFirst(2)
        }
        guard !utf8.isEmpty, utf8.allSatisfy({ $0.isHexDigit }) else { return nil }
        guard let magnitude = Int(utf8, radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    static func resolveFloat(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        let bytes = Array(text.utf8)
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
        let integerDigits = digits()
        var fractionDigits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fractionDigits = digits()
        }
        guard integerDigits > 0 || fractionDigits > 0 else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                index += 1
            }
            guard digits() > 0 else { return nil }
        }
        guard index == bytes.count else { return nil }
        return Double(text)
    }
}

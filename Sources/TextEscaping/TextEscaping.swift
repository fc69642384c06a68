/// One escaping rule per consumer of intops's output. Display names, configuration values and messages come from
/// manifests and from the API, where anyone in an organization can set them: each renderer passes every such text
/// through the escaper of its format, so no value can move a cursor, forge a line, break a document or inject
/// markup.

/// Text for a terminal or a log: control characters (C0, DEL, C1) and the bidirectional overrides that reorder
/// what a reader sees become visible escapes (`\n`, `\t`, `\u{1B}`); everything else is kept.
public enum TerminalText {
    public static func visible(_ text: String) -> String {
        // Most text is printable ASCII, checked a byte at a time before any scalar is decoded.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) { out += escape(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        // Bidirectional embeddings, overrides and isolates; line and paragraph separators.
        case 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0x200E, 0x200F, 0x061C: true
        default: false
        }
    }

    static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        default: "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }
}

/// XML 1.0 character data and attribute values. Characters XML 1.0 cannot carry at all (most C0 controls, the
/// non-characters U+FFFE and U+FFFF) become visible escapes; in attributes, tab and line breaks become character
/// references so that attribute normalization keeps them.
public enum XMLText {
    public static func content(_ text: String) -> String { escape(text, attribute: false) }
    public static func attribute(_ text: String) -> String { escape(text, attribute: true) }

    static func escape(_ text: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x26: out += "&amp;"
            case 0x3C: out += "&lt;"
            case 0x3E: out += "&gt;"
            case 0x22: out += attribute ? "&quot;" : "\""
            case 0x27: out += attribute ? "&apos;" : "'"
            case 0x09, 0x0A, 0x0D:
                out += attribute ? "&#\(scalar.value);" : (scalar.value == 0x0D ? "&#13;" : String(Character(scalar)))
            case 0x00...0x1F, 0xFFFE, 0xFFFF: out += TerminalText.escape(scalar)
            // Allowed by XML 1.0 but invisible or reordering in a report viewer.
            case _ where TerminalText.needsEscape(scalar): out += TerminalText.escape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// GitHub-flavoured Markdown, as a pull-request comment renders it. Values are literal text: markup characters are
/// backslash-escaped, HTML is escaped as entities (a comment renders raw HTML), and a value never ends a line,
/// a table cell or a code span.
public enum MarkdownText {
    /// What can start markup inside a line: emphasis, code, links, tables, strikethrough, mentions.
    static let punctuation = Set("\\`*_[]|~@".unicodeScalars)

    /// Inline text (a table cell, a list item, a quote): one line, no markup.
    public static func inline(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\n", "\r": out += " "
            case _ where punctuation.contains(scalar): out += "\\" + String(Character(scalar))
            case _ where TerminalText.needsEscape(scalar): out += TerminalText.escape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A code span: the content as it is, fenced by more backticks than it contains in a row. Inside a table a
    /// `|` still ends the cell, so it becomes an entity-free `\|` GitHub honours in spans too.
    public static func code(_ text: String, inTable: Bool = true) -> String {
        var content = ""
        for scalar in TerminalText.visible(text).unicodeScalars {
            if inTable && scalar == "|" { content += "\\|" } else { content.unicodeScalars.append(scalar) }
        }
        var longest = 0, run = 0
        for character in content {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = content.hasPrefix("`") || content.hasSuffix("`") || content.hasPrefix(" ") ? " " : ""
        return fence + pad + content + pad + fence
    }

    /// Text inside an HTML element of the comment (`<summary>`).
    public static func html(_ text: String) -> String {
        var out = ""
        for scalar in XMLText.content(text).unicodeScalars {
            if scalar == "\n" { out += " " } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}

/// GitHub Actions workflow commands (`::warning file=…,title=…::message`): the escaping of the runner's
/// command parser, for the message and for property values.
public enum WorkflowCommand {
    public static func data(_ text: String) -> String { escape(text, property: false) }
    public static func property(_ text: String) -> String { escape(text, property: true) }

    /// By scalar: `\r\n` is one Character, and must still become `%0D%0A`.
    static func escape(_ text: String, property: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            case ":" where property: out += "%3A"
            case "," where property: out += "%2C"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

import Foundation

/// INI as sops reads and writes it (through go-ini, with sections allowed to repeat): each section is a mapping of
/// string values, the unnamed section before the first header is `DEFAULT`, `;` and `#` lines are comments that
/// belong to the key or section after them, and output is aligned as go-ini aligns it.
enum INI {
    struct Section {
        var name: String
        var comment = ""
        var keys: [(name: String, value: String, comment: String)] = []
    }

    static let defaultSection = "DEFAULT"

    /// The sections as a tree: one mapping per section (DEFAULT first, empty or not, as sops loads it), comments as
    /// comment items (a section's first, a key's right after it).
    static func parse(_ text: String) throws(SOPSError) -> SOPSValue {
        let sections = try readSections(text)
        return .mapping(
            sections.map { section in
                var entries: [SOPSEntry] = []
                if !section.comment.isEmpty { entries.append(.comment(stripCommentCharacter(section.comment))) }
                for key in section.keys {
                    entries.append(SOPSEntry(key: key.name, value: .scalar(.string(key.value))))
                    if !key.comment.isEmpty { entries.append(.comment(stripCommentCharacter(key.comment))) }
                }
                return SOPSEntry(key: section.name, value: .mapping(entries))
            })
    }

    /// sops keeps a comment without its leading `;`/`#` and the spaces after it.
    static func stripCommentCharacter(_ comment: String) -> String {
        guard let first = comment.first, first == ";" || first == "#" else { return comment }
        return String(comment.drop { $0 == first || $0 == " " })
    }

    static func readSections(_ text: String) throws(SOPSError) -> [Section] {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        // Lines keep their "\n", as go-ini's reader does: a multi-line value is glued back from them.
        var lines: [Substring] = []
        var start = body.startIndex
        while start < body.endIndex {
            let end = body[start...].firstIndex(of: "\n").map { body.index(after: $0) } ?? body.endIndex
            lines.append(body[start..<end])
            start = end
        }
        var sections = [Section(name: defaultSection)]
        var comment = ""
        var index = 0
        // Where the current item starts; a value spanning lines is reported at its first.
        var lineNumber = 0
        func fail(_ reason: String) -> SOPSError { .format("line \(lineNumber): \(reason)") }
        while index < lines.count {
            let raw = lines[index]
            index += 1
            lineNumber = index
            let line = raw.drop(while: \.isWhitespace)
            guard let first = line.first else { continue }
            if first == "#" || first == ";" {
                comment += line
                continue
            }
            if first == "[" {
                guard let close = line.lastIndex(of: "]") else { throw fail("the section header has no closing ]") }
                var section = Section(name: String(line[line.index(after: line.startIndex)..<close]))
                let after = line[line.index(after: close)...]
                if let mark = after.firstIndex(where: { $0 == "#" || $0 == ";" }) { comment += after[mark...] }
                section.comment = comment.trimmingCharacters(in: .whitespacesAndNewlines)
                comment = ""
                sections.append(section)
                continue
            }
            let (name, rest) = try keyName(line, fail: fail)
            let value = try readValue(rest, lines: lines, index: &index, comment: &comment, fail: fail)
            let keyComment = comment.trimmingCharacters(in: .whitespacesAndNewlines)
            comment = ""
            // A repeated key keeps its place and takes the later value, as go-ini does without shadows.
            if let existing = sections[sections.count - 1].keys.firstIndex(where: { $0.name == name }) {
                sections[sections.count - 1].keys[existing].value = value
                sections[sections.count - 1].keys[existing].comment = keyComment
            } else {
                sections[sections.count - 1].keys.append((name, value, keyComment))
            }
        }
        return sections
    }

    /// go-ini's key reading: `=` or `:` ends the name, which may be quoted with `"`, `"""` or a backtick.
    static func keyName(_ line: Substring, fail: (String) -> SOPSError) throws(SOPSError) -> (String, Substring) {
        let delimiters: Set<Character> = ["=", ":"]
        var quote = ""
        if line.hasPrefix("\"") {
            quote = line.count > 6 && line.hasPrefix("\"\"\"") ? "\"\"\"" : "\""
        } else if line.hasPrefix("`") {
            quote = "`"
        }
        if !quote.isEmpty {
            let inner = line.dropFirst(quote.count)
            guard let close = inner.range(of: quote) else { throw fail("the key's closing quote is missing") }
            guard let delimiter = line[close.upperBound...].firstIndex(where: delimiters.contains) else {
                throw fail("the key has no = or : after it")
            }
            return (
                inner[..<close.lowerBound].trimmingCharacters(in: .whitespaces), line[line.index(after: delimiter)...]
            )
        }
        guard let delimiter = line.firstIndex(where: delimiters.contains) else {
            throw fail("is not a key = value line, a [section] or a comment")
        }
        guard delimiter != line.startIndex else { throw fail("the key name is empty") }
        return (line[..<delimiter].trimmingCharacters(in: .whitespaces), line[line.index(after: delimiter)...])
    }

    /// go-ini's value reading: `"""…"""` and backticks quote (and may span lines), a trailing `\` continues the
    /// value on the next line, `;`/`#` starts an inline comment, and one pair of surrounding quotes is removed.
    static func readValue(
        _ rest: Substring, lines: [Substring], index: inout Int, comment: inout String, fail: (String) -> SOPSError
    ) throws(SOPSError) -> String {
        let line = rest.drop(while: \.isWhitespace)
        guard !line.isEmpty else { return "" }
        var quote = ""
        if line.count > 3 && line.hasPrefix("\"\"\"") { quote = "\"\"\"" } else if line.hasPrefix("`") { quote = "`" }
        if !quote.isEmpty {
            let inner = line.dropFirst(quote.count)
            if let close = inner.range(of: quote, options: .backwards) { return String(inner[..<close.lowerBound]) }
            var value = String(inner)
            while true {
                guard index < lines.count else { throw fail("the quoted value has no closing \(quote)") }
                let next = lines[index]
                index += 1
                if let close = next.range(of: quote, options: .backwards) {
                    value += next[..<close.lowerBound]
                    let after = next[close.lowerBound...]
                    if let mark = after.firstIndex(where: { $0 == "#" || $0 == ";" }) {
                        comment += after[mark...].trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                    return value
                }
                value += next
            }
        }
        var value = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if value.hasSuffix("\\") {
            value.removeLast()
            while index < lines.count {
                let next = lines[index].trimmingCharacters(in: .whitespacesAndNewlines)
                index += 1
                if next.isEmpty { break }
                value += next
                guard value.hasSuffix("\\") else { break }
                value.removeLast()
            }
            return value
        }
        if let mark = value.firstIndex(where: { $0 == "#" || $0 == ";" }) {
            comment += value[mark...]
            value = value[..<mark].trimmingCharacters(in: .whitespaces)
        }
        for mark in ["'", "\""] as [Character] where value.count >= 2 && value.first == mark && value.last == mark {
            if value.filter({ $0 == mark }).count == 2 { return String(value.dropFirst().dropLast()) }
        }
        return value
    }

    /// The tree as sops writes it through go-ini: an empty DEFAULT section left out, `[name]` headers, keys padded
    /// to the longest in their section, ` = `, comments as `; …` lines above what they belong to, a blank line
    /// between sections.
    static func emit(_ value: SOPSValue) -> String {
        guard case .mapping(let items) = value else { return "" }
        var sections: [Section] = []
        for item in items where !item.isComment {
            // Only sections can be at the top of an INI file; parsing never makes anything else.
            guard case .mapping(let entries) = item.value else { continue }
            var section = Section(name: item.key)
            var first = true
            for entry in entries {
                defer { first = false }
                if entry.isComment {
                    let text = scalarText(entry.value)
                    if first {
                        section.comment = text
                    } else if !section.keys.isEmpty {
                        section.keys[section.keys.count - 1].comment = text
                    }
                    continue
                }
                let text = scalarText(entry.value)
                if let existing = section.keys.firstIndex(where: { $0.name == entry.key }) {
                    section.keys[existing].value = text
                } else {
                    section.keys.append((entry.key, text, ""))
                }
            }
            sections.append(section)
        }
        var out = ""
        for (position, section) in sections.enumerated() {
            writeComment(section.comment, trimming: false, to: &out)
            if position > 0 || section.name.uppercased() != defaultSection {
                out += "[\(section.name)]\n"
            } else if section.keys.isEmpty {
                continue
            }
            let shownNames = section.keys.map { quotedKey($0.name) }
            // go-ini pads by bytes, not characters.
            let width =
                section.keys.map { key in
                    key.name.utf8.count
                        + (key.name.contains("\"") || key.name.contains(where: { $0 == "=" || $0 == ":" })
                            ? 2 : key.name.contains("`") ? 6 : 0)
                }.max() ?? 0
            for (key, shown) in zip(section.keys, shownNames) {
                writeComment(key.comment, trimming: true, to: &out)
                out +=
                    shown + String(repeating: " ", count: max(0, width - shown.utf8.count)) + " = "
                    + quotedValue(key.value) + "\n"
            }
            if position < sections.count - 1 { out += "\n" }
        }
        return out
    }

    private static func scalarText(_ value: SOPSValue) -> String {
        if case .scalar(let scalar) = value { return scalar.plainText }
        return ""
    }

    private static func writeComment(_ comment: String, trimming: Bool, to out: inout String) {
        guard !comment.isEmpty else { return }
        for line in comment.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first == "#" || first == ";" {
                out += "\(first) " + line.dropFirst().trimmingCharacters(in: .whitespaces) + "\n"
            } else {
                out += "; " + (trimming ? line.trimmingCharacters(in: .whitespaces) : String(line)) + "\n"
            }
        }
    }

    private static func quotedKey(_ name: String) -> String {
        if name.contains("\"") || name.contains(where: { $0 == "=" || $0 == ":" }) { return "`\(name)`" }
        if name.contains("`") { return "\"\"\"\(name)\"\"\"" }
        return name
    }

    private static func quotedValue(_ value: String) -> String {
        if value.contains(where: { $0 == "\n" || $0 == "`" }) { return "\"\"\"\(value)\"\"\"" }
        if value.contains(where: { $0 == "#" || $0 == ";" }) { return "`\(value)`" }
        if value.trimmingCharacters(in: .whitespaces) != value { return "\"\(value)\"" }
        return value
    }
}

import YAML

/// Writes SOPS documents as sops writes YAML (go-yaml v3 with an indent of 4): lists indented under their key,
/// a list item's mapping beside its dash, comments on lines of their own at their entry's indentation.
///
/// libyaml's emitter has no comments and writes lists flush with their key, so the layout is written here and
/// each scalar's text by libyaml, whose choice of quoting go-yaml shares.
enum YAMLWriter {
    static let indent = 4

    static func stream(_ documents: [SOPSValue], metadata: Bool) -> String {
        var out = ""
        for (index, document) in documents.enumerated() {
            if index > 0 { out += "---\n" }
            var lines: [String] = []
            write(document, metadata: metadata, into: &lines)
            for line in lines { out += line + "\n" }
        }
        return out
    }

    /// One value as a document (a mapping, or what `--extract` picked).
    static func write(_ value: SOPSValue, metadata: Bool, into lines: inout [String]) {
        let writer = Writer(metadata: metadata)
        switch value {
        case .mapping(let entries) where entries.contains(where: { !$0.isComment }):
            writer.mapping(entries, keyColumn: 0, childColumn: indent, into: &lines)
        case .sequence(let items) where items.contains(where: { !$0.isComment }):
            writer.sequence(items, dashColumn: 0, into: &lines)
        default: lines.append(contentsOf: writer.scalarLines(value, key: nil, column: 0, childColumn: indent))
        }
    }

    private struct Writer {
        let metadata: Bool

        func mapping(_ entries: [SOPSEntry], keyColumn: Int, childColumn: Int, into lines: inout [String]) {
            let pad = String(repeating: " ", count: keyColumn)
            for entry in entries {
                if entry.isComment {
                    lines.append(pad + "#" + Self.commentText(entry.value))
                    continue
                }
                let key = pad + Self.key(entry.key)
                switch entry.value {
                case .mapping(let children) where children.contains(where: { !$0.isComment }):
                    lines.append(key + ":")
                    mapping(
                        children, keyColumn: childColumn, childColumn: childColumn + YAMLWriter.indent, into: &lines)
                case .sequence(let items) where items.contains(where: { !$0.isComment }):
                    lines.append(key + ":")
                    sequence(items, dashColumn: childColumn, into: &lines)
                default:
                    lines.append(
                        contentsOf: scalarLines(
                            entry.value, key: entry.key, column: keyColumn, childColumn: childColumn))
                }
            }
        }

        func sequence(_ items: [SOPSValue], dashColumn: Int, into lines: inout [String]) {
            let pad = String(repeating: " ", count: dashColumn)
            for item in items {
                // A comment ahead of a nested collection's first entry is written before the dash, where
                // go-yaml reads it back into this list.
                var item = item
                for comment in Self.leadingComments(&item) { lines.append(pad + "#" + comment) }
                var child: [String] = []
                switch item {
                case .comment(let text):
                    lines.append(pad + "#" + text)
                    continue
                case .mapping(let entries) where entries.contains(where: { !$0.isComment }):
                    mapping(
                        entries, keyColumn: dashColumn + 2, childColumn: dashColumn + YAMLWriter.indent, into: &child)
                case .sequence(let nested) where nested.contains(where: { !$0.isComment }):
                    sequence(nested, dashColumn: dashColumn + 2, into: &child)
                default:
                    // go-yaml indents a block scalar's lines under a dash by the dash and its space only. A header
                    // with an indentation digit (text that starts with a space) counts from the dash, so those
                    // lines go where the digit says, or the scalar would not read back.
                    child = scalarLines(
                        item, key: nil, column: dashColumn + 2, childColumn: dashColumn + 2,
                        indicatedColumn: dashColumn + YAMLWriter.indent)
                }
                guard let first = child.first else { continue }
                lines.append(pad + "- " + first.dropFirst(dashColumn + 2))
                lines.append(contentsOf: child.dropFirst())
            }
        }

        /// Removes and returns the comments a mapping or list starts with.
        static func leadingComments(_ value: inout SOPSValue) -> [String] {
            switch value {
            case .mapping(var entries):
                var comments: [String] = []
                while let first = entries.first, first.isComment {
                    comments.append(commentText(first.value))
                    entries.removeFirst()
                }
                value = .mapping(entries)
                return comments
            case .sequence(var items):
                var comments: [String] = []
                while case .comment(let text)? = items.first {
                    comments.append(text)
                    items.removeFirst()
                }
                value = .sequence(items)
                return comments
            default: return []
            }
        }

        static func commentText(_ value: SOPSValue) -> String {
            if case .scalar(let scalar) = value { return scalar.plainText }
            return ""
        }

        static func key(_ text: String) -> String {
            // A merge key, kept as a key: go-yaml writes its tag, which says what it is to every reader.
            if text == "<<" { return "!!merge <<" }
            if let fast = plainWithoutQuoting(text) { return fast }
            if let simple = try? YAMLEmitter.keyText(text) { return simple }
            // Too long for libyaml's simple keys, which YAML readers still take up to 1024 characters.
            if case .inline(let quoted)? = try? YAMLEmitter.scalarText(
                text, style: .doubleQuoted, indent: YAMLWriter.indent)
            {
                return quoted
            }
            // JSON's escaping is valid in a YAML double-quoted scalar.
            return OrderedJSON.quote(text)
        }

        /// A scalar, an empty collection or null, after `key:` or `- ` (or alone): one line, or a block scalar's
        /// header and its lines at the child column.
        func scalarLines(
            _ value: SOPSValue, key: String?, column: Int, childColumn: Int, indicatedColumn: Int? = nil
        ) -> [String] {
            let indentation = String(repeating: " ", count: column)
            let prefix = indentation + (key.map { Self.key($0) + ": " } ?? "")
            let text: YAMLEmitter.ScalarText
            // A collection that holds only comments (`tags: [] # none yet`) is written empty, its comments after
            // it, as sops writes a list's.
            var after: [String] = []
            switch value {
            case .mapping(let entries):
                text = .inline("{}")
                after = entries.filter(\.isComment).map { indentation + "#" + Self.commentText($0.value) }
            case .sequence(let items):
                text = .inline("[]")
                after = items.compactMap { if case .comment(let text) = $0 { indentation + "#" + text } else { nil } }
            case .null, .comment: text = .inline("null")
            case .scalar(let scalar):
                switch scalar {
                case .string(let string): text = Self.render(string, style: style(for: string, key: key))
                // Only a binary file holds bytes, and it is written as itself, never through YAML.
                case .bytes(let bytes):
                    let string = String(decoding: bytes, as: UTF8.self)
                    text = Self.render(string, style: style(for: string, key: key))
                case .time(let time): text = .inline(time)
                case .int, .float, .bool: text = .inline(scalar.yamlText)
                }
            }
            switch text {
            case .inline(let inline): return [prefix + inline] + after
            case .block(let header, let body):
                let indicated = header.contains { $0.isNumber }
                let margin = String(repeating: " ", count: indicated ? indicatedColumn ?? childColumn : childColumn)
                return [prefix + header] + body.map { $0.isEmpty ? $0 : margin + $0 }
            }
        }

        /// sops writes its metadata's armored keys as literal blocks and its timestamp quoted.
        func style(for text: String, key: String?) -> ScalarStyle {
            if metadata, key == "lastmodified" { return .doubleQuoted }
            if text.contains("\n") { return .literal }
            if case .string(let same) = YAMLTree.resolve(text, style: .plain, tag: nil), same == text,
                !YAMLEmitter.yaml11Booleans.contains(text)
            {
                return .any
            }
            return .doubleQuoted
        }

        static func render(_ text: String, style: ScalarStyle) -> YAMLEmitter.ScalarText {
            if style == .any, let fast = plainWithoutQuoting(text) { return .inline(fast) }
            return (try? YAMLEmitter.scalarText(text, style: style, indent: YAMLWriter.indent)) ?? .inline("\"\"")
        }

        /// Text libyaml writes plain whatever the context (letters, digits and a few marks, no spaces, no
        /// indicator first or `:` last), recognized without running the emitter; ENC[…] values are such text.
        static func plainWithoutQuoting(_ text: String) -> String? {
            guard let first = text.utf8.first, text.utf8.count <= 128, Self.isAlphanumeric(first),
                text.utf8.last != UInt8(ascii: ":"),
                text.utf8.allSatisfy({ Self.isAlphanumeric($0) || Self.plainMarks.contains($0) }),
                case .string(let same) = YAMLTree.resolve(text, style: .plain, tag: nil), same == text,
                !YAMLEmitter.yaml11Booleans.contains(text)
            else { return nil }
            return text
        }

        static let plainMarks: Set<UInt8> = Set("_-./+=,:[]@".utf8)

        static func isAlphanumeric(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
    }
}

extension SOPSScalar {
    var yamlText: String {
        switch self {
        case .bool(let value): value ? "true" : "false"
        case .float(let value):
            if value.isNaN {
                ".nan"
            } else if value.isInfinite {
                value > 0 ? ".inf" : "-.inf"
            } else {
                SOPSScalar.goFloat(value).contains(".") ? SOPSScalar.goFloat(value) : SOPSScalar.goFloat(value) + ".0"
            }
        default: canonicalText
        }
    }
}

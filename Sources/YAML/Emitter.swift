internal import CYAML

/// Writes nodes back as YAML text through libyaml's emitter, keeping each scalar's style and tag.
public enum YAMLEmitter {
    /// Renders documents as one YAML stream.
    ///
    /// - Parameters:
    ///   - documents: one root node per document; several are separated by `---`.
    ///   - header: comment lines written before the first document (each gets a `# ` prefix).
    /// - Returns: the text, ending in a newline.
    public static func emit(_ documents: [Node], header: [String] = []) throws(YAMLError) -> String {
        let comments = header.map { $0.isEmpty ? "#\n" : "# \($0)\n" }.joined()
        return comments + (try emit(documents, indent: 2))
    }

    /// How one scalar is written as a block mapping's value: on the key's line, or as a block scalar's header
    /// and its lines (without their indentation).
    public enum ScalarText: Sendable, Equatable {
        case inline(String)
        case block(header: String, lines: [String])
    }

    /// Writes a scalar as libyaml (and go-yaml, its port) writes it as a block mapping's value, with the style
    /// libyaml falls back to when the one asked for cannot hold the text.
    public static func scalarText(_ text: String, style: ScalarStyle, indent: Int) throws(YAMLError) -> ScalarText {
        let output = try emit([.mapping([("k", Node(.scalar(text, style)))])], indent: indent)
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let first = lines.first.map { String($0.dropFirst(3)) } ?? ""
        guard lines.count > 1 else { return .inline(first) }
        let margin = String(repeating: " ", count: indent)
        let body = lines.dropFirst().map { $0.hasPrefix(margin) ? String($0.dropFirst(indent)) : $0 }
        return .block(header: first, lines: body)
    }

    /// Writes a string as a block mapping's key, or nil when libyaml would make it a complex `? ` key (over 128
    /// characters).
    public static func keyText(_ text: String) throws(YAMLError) -> String? {
        let output = try emit([.mapping([(text, Node(.scalar("", .plain)))])], indent: 2)
        guard output.hasSuffix(":\n") || output.hasSuffix(": \n"), !output.hasPrefix("? ") else { return nil }
        let line = output.prefix { $0 != "\n" }
        guard let colon = line.lastIndex(of: ":") else { return nil }
        return String(line[..<colon])
    }

    /// Strings a YAML 1.1 reader takes for booleans: go-yaml (and so sops) quotes them, and so does this emitter,
    /// so that a file reads the same in both and sops writes it back unchanged.
    public static let yaml11Booleans: Set<String> = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ]

    static func emit(_ documents: [Node], indent: Int) throws(YAMLError) -> String {
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        var emitter = yaml_emitter_t()
        guard yaml_emitter_initialize(&emitter) == 1 else {
            throw YAMLError(
                .emitter, at: SourceLocation(file: "", line: 0, column: 0), "could not start the YAML emitter")
        }
        defer { yaml_emitter_delete(&emitter) }
        yaml_emitter_set_output(
            &emitter,
            { context, buffer, size in
                guard let context, let buffer else { return 1 }
                let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                return 1
            }, Unmanaged.passUnretained(sink).toOpaque())
        yaml_emitter_set_unicode(&emitter, 1)
        yaml_emitter_set_indent(&emitter, Int32(indent))
        yaml_emitter_set_width(&emitter, -1)

        let writer = EventWriter(emitter: withUnsafeMutablePointer(to: &emitter) { $0 })
        try withExtendedLifetime(sink) { () throws(YAMLError) in
            try writer.emit { event in yaml_stream_start_event_initialize(event, YAML_UTF8_ENCODING) }
            for (index, document) in documents.enumerated() {
                let implicit: Int32 = index == 0 ? 1 : 0
                try writer.emit { event in yaml_document_start_event_initialize(event, nil, nil, nil, implicit) }
                try writer.write(document)
                try writer.emit { event in yaml_document_end_event_initialize(event, 1) }
            }
            try writer.emit { event in yaml_stream_end_event_initialize(event) }
            _ = yaml_emitter_flush(&emitter)
        }
        return String(decoding: sink.bytes, as: UTF8.self)
    }
}

private struct EventWriter {
    let emitter: UnsafeMutablePointer<yaml_emitter_t>

    func emit(_ initialize: (UnsafeMutablePointer<yaml_event_t>) -> Int32) throws(YAMLError) {
        var event = yaml_event_t()
        guard initialize(&event) == 1, yaml_emitter_emit(emitter, &event) == 1 else {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "invalid event"
            throw YAMLError(.emitter, at: SourceLocation(file: "", line: 0, column: 0), "cannot write YAML: \(problem)")
        }
    }

    func write(_ node: Node) throws(YAMLError) {
        try withOptionalCString(node.tag) { tag throws(YAMLError) in
            switch node.content {
            case .scalar(let text, let style):
                var bytes = Array(text.utf8)
                let (cStyle, implicitPlain, implicitQuoted) = Self.scalarStyle(text, style, tag: node.tag)
                try bytes.withUnsafeMutableBufferPointer { buffer throws(YAMLError) in
                    var empty: UInt8 = 0
                    try withUnsafeMutablePointer(to: &empty) { emptyPointer throws(YAMLError) in
                        let value = buffer.baseAddress ?? emptyPointer
                        try emit { event in
                            yaml_scalar_event_initialize(
                                event, nil, tag, value, Int32(buffer.count), implicitPlain, implicitQuoted, cStyle)
                        }
                    }
                }
            case .sequence(let items):
                let style = node.flowStyle ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE
                try emit { event in yaml_sequence_start_event_initialize(event, nil, tag, tag == nil ? 1 : 0, style) }
                for item in items { try write(item) }
                try emit { event in yaml_sequence_end_event_initialize(event) }
            case .mapping(let pairs):
                let style = node.flowStyle ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE
                try emit { event in yaml_mapping_start_event_initialize(event, nil, tag, tag == nil ? 1 : 0, style) }
                for pair in pairs {
                    try write(pair.key)
                    try write(pair.value)
                }
                try emit { event in yaml_mapping_end_event_initialize(event) }
            }
        }
    }

    /// Picks a style that reads back as the same value: a string that would resolve to something else when
    /// plain (`"true"`, `"42"`, `""`) is quoted; multi-line text becomes a literal block.
    private static func scalarStyle(
        _ text: String, _ style: ScalarStyle, tag: String?
    ) -> (yaml_scalar_style_t, Int32, Int32) {
        let implicitQuoted: Int32 = (tag == nil || tag == Tag.string) ? 1 : 0
        switch style {
        case .plain: return (YAML_PLAIN_SCALAR_STYLE, tag == nil ? 1 : 0, implicitQuoted)
        case .singleQuoted: return (YAML_SINGLE_QUOTED_SCALAR_STYLE, 0, implicitQuoted)
        case .doubleQuoted: return (YAML_DOUBLE_QUOTED_SCALAR_STYLE, 0, implicitQuoted)
        case .literal: return (YAML_LITERAL_SCALAR_STYLE, 0, implicitQuoted)
        case .folded: return (YAML_FOLDED_SCALAR_STYLE, 0, implicitQuoted)
        case .any:
            if text.contains("\n") { return (YAML_LITERAL_SCALAR_STYLE, 0, implicitQuoted) }
            if Node.resolvePlain(text) != .string(text) || YAMLEmitter.yaml11Booleans.contains(text) {
                return (YAML_DOUBLE_QUOTED_SCALAR_STYLE, 0, implicitQuoted)
            }
            // libyaml still quotes when plain text would not parse (leading "- ", ": ", "#"…).
            return (YAML_ANY_SCALAR_STYLE, tag == nil ? 1 : 0, implicitQuoted)
        }
    }

    private func withOptionalCString(
        _ string: String?, _ body: (UnsafeMutablePointer<yaml_char_t>?) throws(YAMLError) -> Void
    ) throws(YAMLError) {
        guard let string else { return try body(nil) }
        var bytes = Array(string.utf8) + [0]
        try bytes.withUnsafeMutableBufferPointer { buffer throws(YAMLError) in try body(buffer.baseAddress) }
    }
}

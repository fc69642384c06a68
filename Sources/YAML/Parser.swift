internal import CYAML

/// One document of a YAML stream.
public struct Document: Sendable {
    public var root: Node
    /// Where the document starts (its `---`, or its first node).
    public var location: SourceLocation
    /// The document's comments in the order written, when the parse was asked for them.
    public var comments: [YAMLComment] = []
}

/// One `#` comment line, as written.
public struct YAMLComment: Sendable, Equatable {
    /// The text after the `#`, up to the end of the line.
    public var text: String
    /// Where the `#` is.
    public var location: SourceLocation
    /// What comes before it on its line.
    public var line: LinePosition

    public enum LinePosition: Sendable, Equatable {
        /// Nothing but spaces.
        case alone
        /// Only `-` sequence indicators (and `---`).
        case afterIndicators
        /// Content: a key, a value, a bracket.
        case afterContent
    }

    /// Whether a blank line follows it.
    public var blankLineAfter: Bool
    /// Whether a blank line comes just before it.
    public var blankLineBefore: Bool

    public init(
        text: String, location: SourceLocation, line: LinePosition, blankLineAfter: Bool = false,
        blankLineBefore: Bool = false
    ) {
        self.text = text
        self.location = location
        self.line = line
        self.blankLineAfter = blankLineAfter
        self.blankLineBefore = blankLineBefore
    }
}

/// Reads YAML text into nodes that remember where they came from.
///
/// Built on libyaml's event parser with an explicit stack, so no input can exhaust the call stack, and with
/// ``ParseLimits`` so no input can exhaust memory or time. Mapping keys must be scalars and unique; `<<` merge
/// keys are supported.
public enum YAMLParser {
    /// Parses every document of a stream.
    ///
    /// - Parameters:
    ///   - bytes: the file's content (UTF-8, or UTF-16 with a byte order mark).
    ///   - file: the name every ``SourceLocation`` carries.
    ///   - limits: bounds on size, depth and alias expansion.
    ///   - comments: whether to collect each document's comments (libyaml reports none: they are read from
    ///     the text between its events, where nothing but indicators, spaces and comments can be).
    ///   - mergeKeys: whether `<<: *base` merges `base` into its mapping; when false, `<<` is a key like any
    ///     other, holding a copy of `base` (as go-yaml's nodes, and so sops, keep it).
    /// - Throws: ``YAMLError`` naming the position of the first problem.
    public static func parse(
        _ bytes: [UInt8], file: String, limits: ParseLimits = .default, comments: Bool = false, mergeKeys: Bool = true
    ) throws(YAMLError) -> [Document] {
        try parse(bytes, file: file, limits: limits, comments: comments, mergeKeys: mergeKeys, streamedKey: nil)
    }

    private static func parse(
        _ bytes: [UInt8], file: String, limits: ParseLimits, comments: Bool = false, mergeKeys: Bool = true,
        streamedKey: String?, streamedItem: ((Int, Node) -> Void)? = nil
    ) throws(YAMLError) -> [Document] {
        guard bytes.count <= limits.maxBytes else {
            throw YAMLError(
                .sizeLimit, at: SourceLocation(file: file, line: 1, column: 1),
                "file is \(bytes.count) bytes, over the limit of \(limits.maxBytes); split it into smaller files")
        }
        var builder = TreeBuilder(file: file, bytes: bytes, limits: limits)
        builder.mergeKeys = mergeKeys
        builder.streamedKey = streamedKey
        builder.streamedItem = streamedItem
        // A UTF-16 text's marks do not count its bytes; its comments are not collected. A text without a `#`
        // (most encrypted files) has none to look for.
        if comments, bytes.contains(UInt8(ascii: "#")),
            !(bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]))
        {
            builder.comments = CommentScanner(bytes: bytes, file: file)
        }
        let result: Result<[Document], YAMLError> = bytes.withUnsafeBufferPointer { buffer in
            // libyaml asserts on a null input pointer, which an empty array may give.
            var empty: UInt8 = 0
            return withUnsafeMutablePointer(to: &empty) { emptyPointer in
                builder.run(input: buffer.baseAddress ?? UnsafePointer(emptyPointer), count: buffer.count)
            }
        }
        return try result.get()
    }

    /// Parses every document of a stream, handing each item of the list under the root mapping's key `key` to
    /// `item` as soon as it is complete instead of keeping it there: that list stays in the tree, empty. A manifest
    /// of 10,000 entries is then never held as one tree, only one entry at a time. A list with an anchor is kept
    /// whole, since an alias may repeat it.
    ///
    /// - Parameter item: called with the index of the item's document and the item, in the order written.
    public static func parse(
        _ bytes: [UInt8], file: String, limits: ParseLimits = .default, streaming key: String,
        item: (_ document: Int, _ item: Node) -> Void
    ) throws(YAMLError) -> [Document] {
        let result: Result<[Document], YAMLError> = withoutActuallyEscaping(item) { item in
            do throws(YAMLError) {
                return .success(try parse(bytes, file: file, limits: limits, streamedKey: key, streamedItem: item))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses a string; convenient for tests and generated text.
    public static func parse(
        _ text: String, file: String = "<string>", limits: ParseLimits = .default, comments: Bool = false
    ) throws(YAMLError) -> [Document] { try parse(Array(text.utf8), file: file, limits: limits, comments: comments) }
}

/// Turns libyaml's event stream into a node tree.
private struct TreeBuilder {
    let file: String
    let bytes: [UInt8]
    let limits: ParseLimits
    var mergeKeys = true
    /// The root mapping's key whose list items go to `streamedItem` instead of into the tree.
    var streamedKey: String?
    var streamedItem: ((Int, Node) -> Void)?

    private struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var tag: String?
        var anchor: String?
        var flow: Bool
        /// For a mapping: key, value, key, value…
        var children: [Node] = []
        /// Expanded node count of the subtree so far, aliases counted in full.
        var weight = 1
        /// The keys so far and where each was written; indexed once a mapping grows past a few keys, since most
        /// mappings have only a handful and a dictionary for each would cost more than scanning them.
        var keys: [KeyIdentity] = []
        var keyLocations: [SourceLocation] = []
        var keyIndex: [KeyIdentity: Int] = [:]
        var hasMergeKey = false
        /// Whether finished children go to the streamed-item handler instead of into `children`.
        var streams = false

        func location(of key: KeyIdentity) -> SourceLocation? {
            if keys.count > Self.scanLimit { return keyIndex[key].map { keyLocations[$0] } }
            return keys.firstIndex(of: key).map { keyLocations[$0] }
        }

        mutating func register(_ key: KeyIdentity, at location: SourceLocation) {
            keys.append(key)
            keyLocations.append(location)
            if keys.count == Self.scanLimit + 1 {
                for (index, key) in keys.enumerated() { keyIndex[key] = index }
            } else if keys.count > Self.scanLimit {
                keyIndex[key] = keys.count - 1
            }
        }

        static let scanLimit = 12
    }

    /// Keys compare by value: `1` and `0x1` are the same integer key, `"1"` is a different (string) key.
    enum KeyIdentity: Hashable {
        case null
        case bool(Bool)
        case int(Int)
        case float(String)
        case string(String)

        init(_ key: Node) {
            switch key.resolved {
            case .null: self = .null
            case .bool(let value): self = .bool(value)
            case .int(let value): self = .int(value)
            case .float(let value): self = .float("\(value)")
            case .string(let value): self = .string(value)
            }
        }
    }

    private var stack: [Frame] = []
    private var anchors: [String: (node: Node, weight: Int)] = [:]
    private var documents: [Document] = []
    private var documentLocation = SourceLocation(file: "", line: 1, column: 1)
    private var root: Node?
    var comments: CommentScanner?
    private var documentComments: [YAMLComment] = []

    init(file: String, bytes: [UInt8], limits: ParseLimits) {
        self.file = file
        self.bytes = bytes
        self.limits = limits
    }

    mutating func run(input: UnsafePointer<UInt8>, count: Int) -> Result<[Document], YAMLError> {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return .failure(YAMLError(.syntax, at: location(line: 0, column: 0), "could not start the YAML parser"))
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, input, count)

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { return .failure(parserError(parser)) }
            defer { yaml_event_delete(&event) }
            collectComments(before: event)
            if event.type == YAML_STREAM_END_EVENT {
                if !documents.isEmpty { documents[documents.count - 1].comments += documentComments }
                break
            }
            do { try handle(event) } catch { return .failure(error) }
        }
        return .success(documents)
    }

    /// Comments go to the document they are in; those between an explicit `...` and the next `---` to the one
    /// that ended.
    private mutating func collectComments(before event: yaml_event_t) {
        guard var scanner = comments else { return }
        defer { comments = scanner }
        let found = scanner.comments(upTo: event.start_mark)
        if event.type == YAML_DOCUMENT_START_EVENT, !documents.isEmpty {
            documents[documents.count - 1].comments += found
        } else {
            documentComments += found
        }
        if event.type == YAML_SCALAR_EVENT,
            event.data.scalar.style == YAML_LITERAL_SCALAR_STYLE || event.data.scalar.style == YAML_FOLDED_SCALAR_STYLE
        {
            documentComments += scanner.blockScalarHeaderComment(at: event.start_mark)
        }
        scanner.skip(to: event.end_mark)
    }

    private func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line + 1, column: column + 1)
    }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        location(line: Int(mark.line), column: Int(mark.column))
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private mutating func handle(_ event: yaml_event_t) throws(YAMLError) {
        let here = location(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documentLocation = here
            anchors.removeAll(keepingCapacity: true)
            root = nil
        case YAML_DOCUMENT_END_EVENT:
            documents.append(
                Document(
                    root: root ?? Node(.scalar("", .plain), location: documentLocation), location: documentLocation,
                    comments: documentComments))
            documentComments = []
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
            let style: ScalarStyle
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let node = Node(.scalar(text, style), tag: Self.string(scalar.tag), location: here)
            try checkTaggedScalar(node)
            try add(node, weight: 1, anchor: Self.string(scalar.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let (node, weight) = anchors[name] else {
                throw YAMLError(.unknownAlias, at: here, "alias *\(name) refers to no anchor defined before it")
            }
            // The copy stands where the alias is: errors about it, and comments around it, point there.
            var copy = node
            copy.location = here
            try add(copy, weight: weight, anchor: nil)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            guard stack.count < limits.maxDepth else {
                throw YAMLError(
                    .depthLimit, at: here,
                    "collections nest deeper than \(limits.maxDepth) levels; flatten the document")
            }
            let anchor: String?
            let tag: String?
            let flow: Bool
            if isMapping {
                anchor = Self.string(event.data.mapping_start.anchor)
                tag = Self.string(event.data.mapping_start.tag)
                flow = event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
            } else {
                anchor = Self.string(event.data.sequence_start.anchor)
                tag = Self.string(event.data.sequence_start.tag)
                flow = event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
            }
            var frame = Frame(isMapping: isMapping, location: here, tag: tag, anchor: anchor, flow: flow)
            // An anchored list is kept whole: an alias to it must hold its items.
            if !isMapping, anchor == nil, let streamedKey, stack.count == 1, stack[0].isMapping,
                stack[0].children.count % 2 == 1, stack[0].children.last?.scalarText == streamedKey
            {
                frame.streams = true
            }
            stack.append(frame)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let node: Node
            if frame.isMapping {
                node = Node(
                    .mapping(try mergedPairs(frame)), tag: frame.tag, location: frame.location, flowStyle: frame.flow)
            } else {
                node = Node(.sequence(frame.children), tag: frame.tag, location: frame.location, flowStyle: frame.flow)
            }
            try add(node, weight: frame.weight, anchor: frame.anchor)
        default: break
        }
    }

    /// Attaches a finished node to its parent (or makes it the document's root).
    private mutating func add(_ node: Node, weight: Int, anchor: String?) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, weight) }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let index = stack.count - 1
        if stack[index].isMapping && stack[index].children.count % 2 == 0 {
            try registerKey(node, at: node.location, in: index)
        }
        if !stack[index].streams { stack[index].children.append(node) }
        stack[index].weight += weight
        if stack[index].weight > limits.maxExpandedNodes {
            throw YAMLError(
                .aliasExpansionLimit, at: node.location,
                "document expands to more than \(limits.maxExpandedNodes) nodes through aliases; "
                    + "this looks like an alias bomb, remove the nested aliases")
        }
        if stack[index].streams { streamedItem?(documents.count, node) }
    }

    private mutating func registerKey(_ key: Node, at location: SourceLocation, in index: Int) throws(YAMLError) {
        guard case .scalar(let text, let style) = key.content else {
            throw YAMLError(.complexKey, at: location, "mapping keys must be plain values, not \(key.kindDescription)")
        }
        if mergeKeys, text == "<<", style == .plain, key.tag == nil || key.tag == "tag:yaml.org,2002:merge" {
            if stack[index].hasMergeKey {
                throw YAMLError(.duplicateKey(previous: location), at: location, "a mapping may hold one << merge key")
            }
            stack[index].hasMergeKey = true
            return
        }
        let identity = KeyIdentity(key)
        if let previous = stack[index].location(of: identity) {
            throw YAMLError(
                .duplicateKey(previous: previous), at: location,
                "duplicate key \"\(text)\" (first defined at line \(previous.line), column \(previous.column)); "
                    + "remove one of them")
        }
        stack[index].register(identity, at: location)
    }

    /// Resolves `<<` merge keys: explicit keys win, then merged mappings in the order given.
    private func mergedPairs(_ frame: Frame) throws(YAMLError) -> [Node.Pair] {
        var pairs: [Node.Pair] = []
        pairs.reserveCapacity(frame.children.count / 2)
        var seen = frame.hasMergeKey ? Set(frame.keys) : []
        var index = 0
        while index + 1 < frame.children.count {
            let key = frame.children[index]
            let value = frame.children[index + 1]
            index += 2
            guard frame.hasMergeKey, key.scalarText == "<<", case .scalar(_, .plain) = key.content else {
                pairs.append(Node.Pair(key: key, value: value))
                continue
            }
            let sources: [Node]
            switch value.content {
            case .mapping: sources = [value]
            case .sequence(let items) where items.allSatisfy(\.isMapping): sources = items
            default:
                throw YAMLError(.syntax, at: value.location, "a << merge key takes a mapping or a list of mappings")
            }
            for source in sources {
                for pair in source.pairs ?? [] where seen.insert(KeyIdentity(pair.key)).inserted { pairs.append(pair) }
            }
        }
        return pairs
    }

    private func checkTaggedScalar(_ node: Node) throws(YAMLError) {
        guard let tag = node.tag, case .scalar(let text, _) = node.content else { return }
        let valid: Bool
        switch tag {
        case Tag.int: valid = Node.resolveInt(text) != nil
        case Tag.float: valid = Node.resolveFloat(text) != nil || Node.resolveInt(text) != nil
        case Tag.bool: valid = Node.resolveBool(text) != nil
        case Tag.null: valid = Node.resolvePlain(text) == .null
        default: valid = true
        }
        guard valid else {
            let prefix = "tag:yaml.org,2002:"
            let short = tag.hasPrefix(prefix) ? "!!" + tag.dropFirst(prefix.count) : tag
            throw YAMLError(
                .invalidTaggedValue, at: node.location,
                "value does not match its tag \(short); fix the value or drop the tag")
        }
    }

    // MARK: - libyaml errors

    private func parserError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if parser.error == YAML_READER_ERROR {
            let offset = min(Int(parser.problem_offset), bytes.count)
            let (line, column) = Self.lineAndColumn(in: bytes, offset: offset)
            let byte = offset < bytes.count ? " (byte 0x\(String(bytes[offset], radix: 16, uppercase: true)))" : ""
            return YAMLError(
                .invalidEncoding, at: location(line: line, column: column),
                "\(problem)\(byte): the file is not valid UTF-8 text; save it as UTF-8")
        }
        let mark = parser.problem_mark
        let at = location(mark)
        if let tabColumn = Self.tabInIndentation(bytes, line: Int(mark.line)) {
            return YAMLError(
                .tabIndentation, at: location(line: Int(mark.line), column: tabColumn),
                "tab character in indentation; YAML indents with spaces only, replace the tab with spaces")
        }
        var message = "YAML syntax error: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            message += " (\(context) at line \(parser.context_mark.line + 1), column \(parser.context_mark.column + 1))"
        }
        message += "; check the indentation, quoting and brackets here"
        return YAMLError(.syntax, at: at, message)
    }

    /// The 0-based column of a tab in the leading whitespace of a 0-based line, if there is one.
    private static func tabInIndentation(_ bytes: [UInt8], line: Int) -> Int? {
        var currentLine = 0
        var index = 0
        while currentLine < line, index < bytes.count {
            if bytes[index] == 0x0A { currentLine += 1 }
            index += 1
        }
        guard currentLine == line else { return nil }
        var column = 0
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x2D:  // spaces and "- " sequence indicators may precede the tab
                break
            case 0x09: return column
            default: return nil
            }
            index += 1
            column += 1
        }
        return nil
    }

    /// 0-based line and character column of a byte offset.
    static func lineAndColumn(in bytes: [UInt8], offset: Int) -> (Int, Int) {
        var line = 0
        var column = 0
        for byte in bytes[..<offset] {
            if byte == 0x0A {
                line += 1
                column = 0
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

/// A position in a source file, 1-based, as people and editors count.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file as the caller named it when parsing (often a path relative to the project root).
    public var file: String
    // 32 bits each: a location is kept for every node and every field of 100,000 entries, and no file that
    // ``ParseLimits`` admits has 2^31 lines.
    private var storedLine: Int32
    private var storedColumn: Int32

    public var line: Int {
        get { Int(storedLine) }
        set { storedLine = Int32(clamping: newValue) }
    }

    public var column: Int {
        get { Int(storedColumn) }
        set { storedColumn = Int32(clamping: newValue) }
    }

    public init(file: String, line: Int, column: Int) {
        self.file = file
        storedLine = Int32(clamping: line)
        storedColumn = Int32(clamping: column)
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// How a scalar was written. The style matters for typing: a quoted `"true"` is a string.
public enum ScalarStyle: Sendable, Hashable {
    /// Let the emitter choose: plain when that reads back as the same string, quoted otherwise.
    case any
    case plain
    case singleQuoted
    case doubleQuoted
    case literal
    case folded
}

/// Well-known tags of the YAML core schema.
public enum Tag {
    public static let string = "tag:yaml.org,2002:str"
    public static let int = "tag:yaml.org,2002:int"
    public static let float = "tag:yaml.org,2002:float"
    public static let bool = "tag:yaml.org,2002:bool"
    public static let null = "tag:yaml.org,2002:null"
    public static let sequence = "tag:yaml.org,2002:seq"
    public static let mapping = "tag:yaml.org,2002:map"
    /// The non-specific tag `!`, which forces a scalar to be a string.
    public static let nonSpecific = "!"
}

/// One YAML node with its position, tag and style.
///
/// Nodes are values; an alias shares its anchored node's storage, so a document full of aliases costs
/// no more memory than its text.
public struct Node: Sendable {
    public enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case sequence([Node])
        case mapping([Pair])
    }

    public struct Pair: Sendable {
        public var key: Node
        public var value: Node
        public init(key: Node, value: Node) {
            self.key = key
            self.value = value
        }
    }

    public var content: Content
    /// The explicit tag, expanded (`!!str` becomes `tag:yaml.org,2002:str`); nil when none was written.
    public var tag: String?
    public var location: SourceLocation
    /// When set, the emitter writes a flow collection (`[a, b]`, `{a: 1}`).
    public var flowStyle: Bool

    public init(
        _ content: Content, tag: String? = nil, location: SourceLocation = SourceLocation(file: "", line: 0, column: 0),
        flowStyle: Bool = false
    ) {
        self.content = content
        self.tag = tag
        self.location = location
        self.flowStyle = flowStyle
    }

    /// A string scalar that reads back as a string whatever its text.
    public static func string(_ value: String, style: ScalarStyle = .any) -> Node { Node(.scalar(value, style)) }

    public static func sequence(_ items: [Node]) -> Node { Node(.sequence(items)) }

    public static func mapping(_ pairs: [(String, Node)]) -> Node {
        Node(.mapping(pairs.map { Pair(key: .string($0.0), value: $0.1) }))
    }

    /// A plain scalar whose text the core schema resolves (numbers, booleans, null).
    public static func plain(_ text: String) -> Node { Node(.scalar(text, .plain)) }
}

extension Node {
    public var isScalar: Bool { if case .scalar = content { true } else { false } }
    public var isMapping: Bool { if case .mapping = content { true } else { false } }
    public var isSequence: Bool { if case .sequence = content { true } else { false } }

    /// The scalar's text, or nil for a collection.
    public var scalarText: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    public var pairs: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    public var items: [Node]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The value for a string key in a mapping; nil when absent or when this is not a mapping.
    public subscript(key: String) -> Node? {
        guard case .mapping(let pairs) = content else { return nil }
        for pair in pairs where pair.key.scalarText == key { return pair.value }
        return nil
    }

    /// What kind of node this is, in words a person reads in an error message.
    public var kindDescription: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch resolved {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float(let value): return value.isFinite ? "a decimal number" : "an infinite or undefined number"
            case .string: return "a string"
            }
        }
    }
}

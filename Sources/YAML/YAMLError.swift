/// Why a YAML text could not be read, with where, in one sentence a person can act on.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case syntax
        case tabIndentation
        case invalidEncoding
        case duplicateKey(previous: SourceLocation)
        case unknownAlias
        case aliasExpansionLimit
        case depthLimit
        case sizeLimit
        case complexKey
        case invalidTaggedValue
        case emitter
    }

    public var kind: Kind
    public var location: SourceLocation
    public var message: String

    public init(_ kind: Kind, at location: SourceLocation, _ message: String) {
        self.kind = kind
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// Bounds that keep a hostile or broken file from exhausting time or memory.
public struct ParseLimits: Sendable {
    /// Largest file accepted, in bytes.
    public var maxBytes: Int
    /// Deepest nesting of collections accepted.
    public var maxDepth: Int
    /// Most nodes a document may hold once every alias is counted as the subtree it stands for.
    /// This is what makes "billion laughs" documents fail fast: aliases are shared, never copied, but their
    /// expanded size is counted.
    public var maxExpandedNodes: Int

    public init(maxBytes: Int = 16 << 20, maxDepth: Int = 64, maxExpandedNodes: Int = 4_000_000) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxExpandedNodes = maxExpandedNodes
    }

    public static let `default` = ParseLimits()
}

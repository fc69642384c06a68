extension SOPSValue {
    /// The value at an RFC 6901 pointer's (already unescaped) tokens; list indices are decimal.
    public func lookup(_ pointer: [String]) -> SOPSValue? {
        var current = self
        for token in pointer {
            switch current {
            case .mapping:
                guard let next = current[token] else { return nil }
                current = next
            case .sequence(let items):
                guard let index = Int(token), items.indices.contains(index), String(index) == token else { return nil }
                current = items[index]
            default: return nil
            }
        }
        return current
    }

    public var kindDescription: String {
        switch self {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar: "a value"
        case .null: "null"
        case .comment: "a comment"
        }
    }
}

/// A document prepared for many pointer lookups: every mapping of more than a few keys is indexed by key, so that
/// resolving each of a project's references into a secrets file of thousands of entries does not scan the file.
/// Looks up what ``SOPSValue/lookup(_:)`` does: the first entry of a key wins.
public struct SOPSLookup: Sendable {
    public let root: SOPSValue
    /// By the pointer of a mapping: its keys' values.
    private let tables: [[String]: [String: SOPSValue]]
    static let indexedFrom = 16

    public init(_ root: SOPSValue) {
        self.root = root
        var tables: [[String]: [String: SOPSValue]] = [:]
        func walk(_ value: SOPSValue, _ path: [String]) {
            switch value {
            case .mapping(let entries):
                // A repeated key (JSON and dotenv allow one) is its first entry, below as at this level.
                var seen: Set<String> = []
                let keyed = entries.filter { !$0.isComment && seen.insert($0.key).inserted }
                if keyed.count >= Self.indexedFrom {
                    tables[path] = Dictionary(uniqueKeysWithValues: keyed.map { ($0.key, $0.value) })
                }
                for entry in keyed { walk(entry.value, path + [entry.key]) }
            case .sequence(let items): for (index, item) in items.enumerated() { walk(item, path + [String(index)]) }
            case .scalar, .null, .comment: break
            }
        }
        walk(root, [])
        self.tables = tables
    }

    public func lookup(_ pointer: [String]) -> SOPSValue? {
        var current = root
        for (depth, token) in pointer.enumerated() {
            if case .mapping = current, let table = tables[Array(pointer[..<depth])] {
                guard let next = table[token] else { return nil }
                current = next
            } else {
                guard let next = current.lookup([token]) else { return nil }
                current = next
            }
        }
        return current
    }
}

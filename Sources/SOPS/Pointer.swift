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
        }
    }
}

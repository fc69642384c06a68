import Foundation

/// A place in a document in sops' index syntax, as `--extract`, `set` and `unset` take it: `["a"]["b"][0]`.
public struct SOPSIndexPath: Sendable, Equatable, CustomStringConvertible {
    public enum Component: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]
    public var text: String

    public var description: String { text }

    public struct Failure: Error, Sendable, CustomStringConvertible { public var description: String }

    /// Components in brackets: a quoted key (double or single quotes, `\"` and `\\` escaped) or a list index.
    public init(_ text: String) throws(Failure) {
        self.text = text
        func fail(_ why: String) -> Failure {
            Failure(description: "\(text) is not an index like [\"key\"][0]: \(why)")
        }
        let characters = Array(text)
        var components: [Component] = []
        var index = 0
        while index < characters.count {
            guard characters[index] == "[" else { throw fail("expected [ at character \(index + 1)") }
            index += 1
            guard index < characters.count else { throw fail("it ends after [") }
            if characters[index] == "\"" || characters[index] == "'" {
                let quote = characters[index]
                index += 1
                var key = ""
                var closed = false
                while index < characters.count {
                    let character = characters[index]
                    if character == "\\", index + 1 < characters.count {
                        key.append(characters[index + 1])
                        index += 2
                        continue
                    }
                    index += 1
                    if character == quote {
                        closed = true
                        break
                    }
                    key.append(character)
                }
                guard closed else { throw fail("a quoted key is not closed") }
                components.append(.key(key))
            } else {
                var digits = ""
                while index < characters.count, characters[index] != "]" {
                    digits.append(characters[index])
                    index += 1
                }
                guard let number = Int(digits.trimmingCharacters(in: .whitespaces)), number >= 0 else {
                    throw fail("\(digits) is neither a quoted key nor a list index")
                }
                components.append(.index(number))
            }
            guard index < characters.count, characters[index] == "]" else { throw fail("a ] is missing") }
            index += 1
        }
        guard !components.isEmpty else { throw fail("it is empty") }
        self.components = components
    }
}

extension SOPSValue {
    /// The value at `path`, or nil when a component is missing.
    public func value(at path: SOPSIndexPath) -> SOPSValue? {
        var current = self
        for component in path.components {
            switch (component, current) {
            case (.key(let key), .mapping):
                guard let next = current[key] else { return nil }
                current = next
            case (.index(let index), .sequence(let items)) where items.indices.contains(index): current = items[index]
            default: return nil
            }
        }
        return current
    }

    /// Sets the value at `path`, creating the mappings on the way as `sops set` does; a list index may replace an
    /// item or append one just past the end. Nil when the path runs through a value that is not a collection.
    public func setting(_ new: SOPSValue, at path: SOPSIndexPath) -> SOPSValue? {
        Self.set(new, in: self, at: path.components[...])
    }

    private static func set(
        _ new: SOPSValue, in value: SOPSValue, at path: ArraySlice<SOPSIndexPath.Component>
    ) -> SOPSValue? {
        guard let first = path.first else { return new }
        let rest = path.dropFirst()
        switch (first, value) {
        case (.key(let key), .mapping(var entries)):
            if let position = entries.firstIndex(where: { !$0.isComment && $0.key == key }) {
                guard let changed = set(new, in: entries[position].value, at: rest) else { return nil }
                entries[position].value = changed
            } else {
                guard let created = set(new, in: .mapping([]), at: rest) else { return nil }
                entries.append(SOPSEntry(key: key, value: created))
            }
            return .mapping(entries)
        case (.key(let key), .null): return set(new, in: .mapping([]), at: [.key(key)] + rest)
        case (.index(let index), .sequence(var items)) where index <= items.count:
            if index == items.count {
                guard let created = set(new, in: .mapping([]), at: rest) else { return nil }
                items.append(created)
            } else {
                guard let changed = set(new, in: items[index], at: rest) else { return nil }
                items[index] = changed
            }
            return .sequence(items)
        default: return nil
        }
    }

    /// The document without the value at `path`; nil when there is none, as `sops unset` fails then.
    public func removing(_ path: SOPSIndexPath) -> SOPSValue? { Self.remove(from: self, at: path.components[...]) }

    private static func remove(from value: SOPSValue, at path: ArraySlice<SOPSIndexPath.Component>) -> SOPSValue? {
        guard let first = path.first else { return nil }
        let rest = path.dropFirst()
        switch (first, value) {
        case (.key(let key), .mapping(var entries)):
            guard let position = entries.firstIndex(where: { !$0.isComment && $0.key == key }) else { return nil }
            if rest.isEmpty {
                entries.remove(at: position)
            } else {
                guard let changed = remove(from: entries[position].value, at: rest) else { return nil }
                entries[position].value = changed
            }
            return .mapping(entries)
        case (.index(let index), .sequence(var items)) where items.indices.contains(index):
            if rest.isEmpty {
                items.remove(at: index)
            } else {
                guard let changed = remove(from: items[index], at: rest) else { return nil }
                items[index] = changed
            }
            return .sequence(items)
        default: return nil
        }
    }
}

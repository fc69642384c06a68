/// A few values by key, sorted by key, in one array: what a dictionary is used for in an entry's secrets and
/// fingerprints, at a fraction of a dictionary's storage. A project of 100,000 entries holds 200,000 of these.
public struct KeyedValues<Value>: Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: Value)

    private var elements: [Element]

    public init() { elements = [] }

    /// The values of `dictionary`; a key given twice keeps its last value.
    public init(_ dictionary: [String: Value]) { elements = dictionary.sorted { $0.key < $1.key } }

    public init(dictionaryLiteral pairs: (String, Value)...) { self.init(Dictionary(pairs, uniquingKeysWith: { $1 })) }

    public var isEmpty: Bool { elements.isEmpty }
    public var count: Int { elements.count }
    /// In sorted order.
    public var keys: [String] { elements.map(\.key) }
    public var values: [Value] { elements.map(\.value) }

    public subscript(key: String) -> Value? {
        get {
            let (index, found) = position(of: key)
            return found ? elements[index].value : nil
        }
        set {
            let (index, found) = position(of: key)
            switch (found, newValue) {
            case (true, let value?): elements[index].value = value
            case (true, nil): elements.remove(at: index)
            case (false, let value?): elements.insert((key, value), at: index)
            case (false, nil): break
            }
        }
    }

    /// Reserves room for `count` values, so that an entry filled one key at a time allocates once.
    public mutating func reserveCapacity(_ count: Int) { elements.reserveCapacity(count) }

    public func mapValues<T>(_ transform: (Value) throws -> T) rethrows -> [String: T] {
        var result: [String: T] = [:]
        result.reserveCapacity(elements.count)
        for element in elements { result[element.key] = try transform(element.value) }
        return result
    }

    public func makeIterator() -> IndexingIterator<[Element]> { elements.makeIterator() }

    private func position(of key: String) -> (index: Int, found: Bool) {
        var low = 0, high = elements.count
        while low < high {
            let middle = (low + high) / 2
            if elements[middle].key < key { low = middle + 1 } else { high = middle }
        }
        return (low, low < elements.count && elements[low].key == key)
    }
}

extension KeyedValues: Sendable where Value: Sendable {}
extension KeyedValues: Equatable where Value: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.elements.count == rhs.elements.count
            && zip(lhs.elements, rhs.elements).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

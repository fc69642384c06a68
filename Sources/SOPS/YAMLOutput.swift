import Age
import CryptoPrimitives
import Foundation
import YAML

/// YAML nodes for output, with scalars quoted wherever go-yaml would otherwise read another type.
enum YAMLOutput {
    static func node(_ value: SOPSValue, metadata: Bool) -> Node {
        switch value {
        case .null: return Node(.scalar("null", .plain))
        case .sequence(let items): return Node(.sequence(items.map { node($0, metadata: metadata) }))
        case .mapping(let entries):
            return Node(
                .mapping(
                    entries.filter { !$0.isComment }.map { entry in
                        let isArmor = entry.key == "enc"
                        var child = node(entry.value, metadata: metadata)
                        if isArmor, case .scalar(let text, _) = child.content, text.contains("\n") {
                            child.content = .scalar(text, .literal)
                        }
                        if entry.key == "lastmodified", case .scalar(let text, _) = child.content {
                            child.content = .scalar(text, .doubleQuoted)
                        }
                        return Node.Pair(key: string(entry.key), value: child)
                    }))
        case .scalar(let scalar):
            switch scalar {
            case .string(let text): return string(text)
            // Only a binary file holds bytes, and it is written as itself, never through YAML.
            case .bytes(let bytes): return string(String(decoding: bytes, as: UTF8.self))
            case .time(let text): return Node(.scalar(text, .plain))
            case .int, .float, .bool: return Node(.scalar(scalar.yamlText, .plain))
            }
        }
    }

    static func string(_ text: String) -> Node {
        if text.contains("\n") { return Node(.scalar(text, .literal)) }
        if case .string(let same) = YAMLTree.resolve(text, style: .plain, tag: nil), same == text {
            return Node(.scalar(text, .any))
        }
        return Node(.scalar(text, .doubleQuoted))
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

import YAML

/// Reads typed fields out of YAML mappings, collecting a diagnostic for every problem instead of stopping at
/// the first, so that one run reports all of a file's mistakes.
///
/// Messages never repeat a scalar's value: a wrongly typed field might be a secret.
struct NodeReader {
    var diagnostics: [Diagnostic] = []
    /// Secret file paths resolved in this file, by the text written (see ``SecretReference/parse(_:at:root:paths:)``).
    var resolvedPaths: [String: String] = [:]

    mutating func fail(_ location: SourceLocation, _ message: String) { diagnostics.append(.error(location, message)) }

    /// The node as a mapping whose keys are all among `allowed`, or nil (with a diagnostic).
    mutating func mapping(_ node: Node, _ what: String, allowed: [String]? = nil) -> Node? {
        guard let pairs = node.pairs else {
            fail(node.location, "\(what) must be a mapping of key: value lines, not \(node.kindDescription)")
            return nil
        }
        guard let allowed else { return node }
        for pair in pairs {
            guard let key = pair.key.scalarText, case .string = pair.key.resolved else {
                fail(pair.key.location, "\(what) takes string keys only, not \(pair.key.kindDescription)")
                continue
            }
            guard allowed.contains(key) else {
                let hint =
                    Spelling.suggestion(for: key, among: allowed).map { "did you mean '\($0)'?" }
                    ?? "allowed fields are \(Spelling.list(allowed))"
                fail(pair.key.location, "unknown field '\(key)' in \(what); \(hint)")
                continue
            }
        }
        return node
    }

    /// A required field's node, or nil with a diagnostic at the mapping.
    mutating func required(_ mapping: Node, _ key: String, in what: String) -> Node? {
        guard let value = mapping[key] else {
            fail(mapping.location, "\(what) is missing the required field '\(key)'")
            return nil
        }
        return value
    }

    /// A string scalar (quoted or plain, but not a number, boolean or null).
    mutating func string(_ node: Node, _ what: String) -> String? {
        guard node.isScalar else {
            fail(node.location, "\(what) must be a string, not \(node.kindDescription)")
            return nil
        }
        guard case .string(let text) = node.resolved else {
            fail(node.location, "\(what) must be a string, not \(node.kindDescription); put the value in quotes")
            return nil
        }
        return text
    }

    mutating func bool(_ node: Node, _ what: String) -> Bool? {
        guard case .bool(let value) = node.resolved, node.isScalar else {
            fail(node.location, "\(what) must be true or false, not \(node.kindDescription)")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard case .int(let value) = node.resolved, node.isScalar else {
            fail(node.location, "\(what) must be a whole number, not \(node.kindDescription)")
            return nil
        }
        return inRange(value, range, node, what)
    }

    mutating func number(_ node: Node, _ what: String, range: ClosedRange<Double>) -> Double? {
        let value: Double
        switch node.resolved {
        case .int(let int) where node.isScalar: value = Double(int)
        case .float(let float) where node.isScalar && float.isFinite: value = float
        default:
            fail(node.location, "\(what) must be a number, not \(node.kindDescription)")
            return nil
        }
        return inRange(value, range, node, what)
    }

    private mutating func inRange<Value: Comparable>(
        _ value: Value, _ range: ClosedRange<Value>, _ node: Node, _ what: String
    ) -> Value? {
        guard range.contains(value) else {
            fail(node.location, "\(what) must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, _ what: String) -> ManifestDuration? {
        guard let text = string(node, what) else { return nil }
        guard let duration = ManifestDuration(text) else {
            fail(
                node.location,
                "\(what) '\(text)' is not a duration; write a number and a unit, as in 30s, 15m, 12h or 90d")
            return nil
        }
        return duration
    }

    /// One of a fixed set of words.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, as: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue)
            fail(
                node.location,
                "\(what) '\(text)' is not one of \(Spelling.list(allowed))\(Spelling.hint(for: text, among: allowed))")
            return nil
        }
        return value
    }

    mutating func list(_ node: Node, _ what: String) -> [Node]? {
        guard let items = node.items else {
            fail(node.location, "\(what) must be a list (lines starting with '- '), not \(node.kindDescription)")
            return nil
        }
        return items
    }

    /// Checks `apiVersion` and `kind` of a document.
    mutating func header(_ document: Node, kind: String) -> Bool {
        var ok = true
        if let version = required(document, "apiVersion", in: "a \(kind) document") {
            if let text = string(version, "apiVersion"), text != Project.apiVersion {
                fail(version.location, "apiVersion '\(text)' is not supported; this intops reads \(Project.apiVersion)")
                ok = false
            }
        } else {
            ok = false
        }
        if let kindNode = required(document, "kind", in: "a \(kind) document") {
            if let text = string(kindNode, "kind"), text != kind {
                let hint: String
                switch text {
                case "Project": hint = "a Project document belongs in intops.yaml, not among the manifests"
                case "IntegrationSet":
                    hint = "intops.yaml holds the Project document; put IntegrationSet documents in a manifests folder"
                default: hint = "expected kind \(kind)"
                }
                fail(kindNode.location, "kind '\(text)' is wrong here: \(hint)")
                ok = false
            }
        } else {
            ok = false
        }
        return ok
    }
}

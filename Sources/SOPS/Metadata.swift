/// The `sops` section (format spec B.7).
public struct SOPSMetadata: Sendable, Equatable {
    public struct AgeKey: Sendable, Equatable {
        public var recipient: String
        /// The armored age file holding the data key (or this group's Shamir share).
        public var enc: String
    }

    public struct KeyGroup: Sendable, Equatable {
        public var age: [AgeKey]
        /// Master keys of other kinds (pgp, kms, gcp_kms, azure_kv, hc_vault, hckms), kept as they were.
        public var others: [SOPSEntry]

        public var otherKinds: [String] { others.filter { entryIsNonEmptyList($0.value) }.map(\.key) }
    }

    public var groups: [KeyGroup]
    /// True when the file used `key_groups` rather than top-level key lists.
    public var usesKeyGroups: Bool
    public var shamirThreshold: Int
    public var lastModified: String
    public var mac: String
    public var rule: SelectionRule
    public var macOnlyEncrypted: Bool
    public var version: String

    static let masterKeyKinds = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"]

    static func parse(_ value: SOPSValue) throws(SOPSError) -> SOPSMetadata {
        guard case .mapping(let entries) = value else { throw .format("the sops metadata is not a mapping") }
        func text(_ key: String) -> String? {
            guard let value = value[key] else { return nil }
            switch value {
            case .scalar(let scalar): return scalar.plainText
            default: return nil
            }
        }
        func group(from mapping: SOPSValue) throws(SOPSError) -> KeyGroup {
            var age: [AgeKey] = []
            if case .sequence(let items)? = mapping["age"] {
                for item in items {
                    guard case .scalar(let recipient)? = item["recipient"], case .scalar(let enc)? = item["enc"] else {
                        throw .format("an age entry of the sops metadata lacks recipient or enc")
                    }
                    age.append(AgeKey(recipient: recipient.plainText, enc: enc.plainText))
                }
            }
            var others: [SOPSEntry] = []
            if case .mapping(let groupEntries) = mapping {
                others = groupEntries.filter { masterKeyKinds.contains($0.key) }
            }
            return KeyGroup(age: age, others: others)
        }
        let topLevel = try group(from: value)
        var groups = [topLevel]
        var usesKeyGroups = false
        if topLevel.age.isEmpty && topLevel.otherKinds.isEmpty, case .sequence(let items)? = value["key_groups"] {
            groups = []
            for item in items { groups.append(try group(from: item)) }
            usesKeyGroups = true
        }
        guard groups.contains(where: { !$0.age.isEmpty || !$0.otherKinds.isEmpty }) else {
            throw .format("the sops metadata names no master key")
        }
        var rules: [SelectionRule] = []
        for entry in entries {
            if case .scalar(let scalar) = entry.value,
                let rule = SelectionRule.from(key: entry.key, value: scalar.plainText), !rule.value.isEmpty
            {
                rules.append(rule)
            }
        }
        guard rules.count <= 1 else { throw .format("the sops metadata sets more than one encryption rule") }
        guard let lastModified = text("lastmodified"), !lastModified.isEmpty else {
            throw .format("the sops metadata has no lastmodified")
        }
        return SOPSMetadata(
            groups: groups, usesKeyGroups: usesKeyGroups,
            shamirThreshold: text("shamir_threshold").flatMap { Int($0) } ?? 0, lastModified: lastModified,
            mac: text("mac") ?? "", rule: rules.first ?? .default,
            macOnlyEncrypted: text("mac_only_encrypted").map { ["true", "True", "TRUE", "1"].contains($0) } ?? false,
            version: text("version") ?? "")
    }

    /// The section as sops ≥ 3.13 writes it: keys sorted.
    var value: SOPSValue {
        func groupEntries(_ group: KeyGroup) -> [SOPSEntry] {
            var entries = group.others
            if !group.age.isEmpty {
                entries.append(
                    SOPSEntry(
                        key: "age",
                        value: .sequence(
                            group.age.map {
                                .mapping([
                                    SOPSEntry(key: "enc", value: .scalar(.string($0.enc))),
                                    SOPSEntry(key: "recipient", value: .scalar(.string($0.recipient))),
                                ])
                            })))
            }
            return entries.sorted { $0.key < $1.key }
        }
        var entries: [SOPSEntry] =
            usesKeyGroups
            ? [SOPSEntry(key: "key_groups", value: .sequence(groups.map { .mapping(groupEntries($0)) }))]
            : groupEntries(groups[0])
        entries.append(SOPSEntry(key: "lastmodified", value: .scalar(.string(lastModified))))
        entries.append(SOPSEntry(key: "mac", value: .scalar(.string(mac))))
        if macOnlyEncrypted { entries.append(SOPSEntry(key: "mac_only_encrypted", value: .scalar(.bool(true)))) }
        entries.append(SOPSEntry(key: rule.metadataKey, value: .scalar(.string(rule.value))))
        if shamirThreshold > 0 {
            entries.append(SOPSEntry(key: "shamir_threshold", value: .scalar(.int(Int64(shamirThreshold)))))
        }
        entries.append(SOPSEntry(key: "version", value: .scalar(.string(version))))
        return .mapping(entries.sorted { $0.key < $1.key })
    }

    /// `lastmodified` as the MAC's additional data: RFC 3339 re-formatted without fractions, `Z` for UTC.
    var macAAD: String {
        var text = lastModified
        if let dot = text.firstIndex(of: "."),
            let zoneStart = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" })
        {
            text.removeSubrange(dot..<zoneStart)
        }
        if text.hasSuffix("+00:00") || text.hasSuffix("-00:00") { text = String(text.dropLast(6)) + "Z" }
        if text.hasSuffix("z") { text = String(text.dropLast()) + "Z" }
        return text
    }
}

func entryIsNonEmptyList(_ value: SOPSValue) -> Bool {
    if case .sequence(let items) = value { return !items.isEmpty }
    return false
}

/// dotenv keeps the metadata as `sops_`-prefixed keys: `__map_` joins mapping keys, `__list_N` list indices.
enum FlatMetadata {
    indirect enum Tree {
        case map([(String, Tree)])
        case list([Int: Tree])
        case leaf(String)
    }

    static func unflatten(_ pairs: [(String, String)]) -> SOPSValue {
        var root = Tree.map([])
        for (key, value) in pairs { insert(&root, components: components(key), value: value) }
        return convert(root)
    }

    enum Component {
        case key(String)
        case index(Int)
    }

    /// `age__list_0__map_enc` → age, 0, enc.
    static func components(_ key: String) -> [Component] {
        var result: [Component] = []
        var rest = Substring(key)
        var current = ""
        var currentIsIndex = false
        func finish() {
            result.append(currentIsIndex ? .index(Int(current) ?? 0) : .key(current))
            current = ""
        }
        while !rest.isEmpty {
            if rest.hasPrefix("__map_") {
                finish()
                currentIsIndex = false
                rest = rest.dropFirst(6)
            } else if rest.hasPrefix("__list_") {
                finish()
                currentIsIndex = true
                rest = rest.dropFirst(7)
            } else {
                current.append(rest.removeFirst())
            }
        }
        finish()
        return result
    }

    static func insert(_ tree: inout Tree, components: [Component], value: String) {
        guard let first = components.first else {
            tree = .leaf(value)
            return
        }
        let rest = Array(components.dropFirst())
        let empty: Tree = {
            guard let next = rest.first else { return .leaf(value) }
            if case .index = next { return .list([:]) }
            return .map([])
        }()
        switch (first, tree) {
        case (.key(let name), .map(var entries)):
            if let index = entries.firstIndex(where: { $0.0 == name }) {
                insert(&entries[index].1, components: rest, value: value)
            } else {
                var child = empty
                insert(&child, components: rest, value: value)
                entries.append((name, child))
            }
            tree = .map(entries)
        case (.index(let position), .list(var items)):
            var child = items[position] ?? empty
            insert(&child, components: rest, value: value)
            items[position] = child
            tree = .list(items)
        default: break
        }
    }

    static func convert(_ tree: Tree) -> SOPSValue {
        switch tree {
        case .leaf(let text): .scalar(.string(text))
        case .map(let entries): .mapping(entries.map { SOPSEntry(key: $0.0, value: convert($0.1)) })
        case .list(let items): .sequence(items.keys.sorted().map { convert(items[$0]!) })
        }
    }

    static func flatten(_ value: SOPSValue, prefix: String) -> [(String, String)] {
        switch value {
        case .mapping(let entries):
            return entries.flatMap { flatten($0.value, prefix: prefix.isEmpty ? $0.key : prefix + "__map_" + $0.key) }
        case .sequence(let items):
            return items.enumerated().flatMap { flatten($0.element, prefix: prefix + "__list_\($0.offset)") }
        case .scalar(let scalar): return [(prefix, scalar.plainText)]
        case .null: return [(prefix, "")]
        case .comment: return []
        }
    }
}

import Age
import Foundation
import YAML

/// A `.sops.yaml`, read as sops reads it: its `creation_rules`, tried in order, the first whose `path_regex`
/// matches the file (or that has none) deciding whom a new file is encrypted to and which of its values are.
public struct SOPSCreationRules: Sendable {
    public static let fileName = ".sops.yaml"
    /// sops ignores a `.sops.yml` and says so; so does intops.
    static let alternateName = ".sops.yml"

    /// The `.sops.yaml` this was read from.
    public var path: String
    public var rules: [Rule]

    public struct Rule: Sendable {
        /// 1-based, in the file's order, for messages.
        public var number: Int
        public var location: SourceLocation
        public var pathRegex: GoRegex?
        /// The age recipients of each key group; one group when the rule lists keys without `key_groups`.
        public var groups: [[any AgeRecipient]]
        /// Key kinds intops cannot wrap a data key for itself (pgp, kms, …), by name.
        public var otherKeyKinds: [String]
        public var shamirThreshold: Int
        public var selection: SelectionRule?
        public var macOnlyEncrypted: Bool
        public var usesKeyGroups: Bool
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var location: SourceLocation
        public var message: String
        public var description: String { "\(location): \(message)" }
    }

    /// The `.sops.yaml` nearest to `file`, searched from its folder upward as sops searches from where it starts
    /// (at most 100 levels), and a warning when a `.sops.yml` was passed over.
    public static func locate(for file: String) -> (path: String?, warning: String?) {
        var directory = (file as NSString).deletingLastPathComponent
        if directory.isEmpty { directory = FileManager.default.currentDirectoryPath }
        var passedOver: String?
        for _ in 0..<100 {
            let candidate = (directory as NSString).appendingPathComponent(fileName)
            if FileManager.default.fileExists(atPath: candidate) {
                return (
                    candidate, passedOver.map { "ignoring \($0): the sops configuration must be called \(fileName)" }
                )
            }
            let alternate = (directory as NSString).appendingPathComponent(alternateName)
            if passedOver == nil, FileManager.default.fileExists(atPath: alternate) { passedOver = alternate }
            let parent = (directory as NSString).deletingLastPathComponent
            if parent == directory || parent.isEmpty { break }
            directory = parent
        }
        return (nil, passedOver.map { "ignoring \($0): the sops configuration must be called \(fileName)" })
    }

    public static func load(_ path: String) throws(Failure) -> SOPSCreationRules {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(location: start, message: "cannot be read")
        }
        let documents: [Document]
        do { documents = try YAMLParser.parse(Array(data), file: path) } catch {
            throw Failure(location: error.location, message: error.message)
        }
        guard let root = documents.first?.root, root.isMapping || root.scalarText == "" else {
            throw Failure(location: start, message: "is not a mapping with creation_rules")
        }
        var rules: [Rule] = []
        if let list = root["creation_rules"] {
            guard let items = list.items else {
                throw Failure(location: list.location, message: "creation_rules is not a list of rules")
            }
            for (offset, item) in items.enumerated() { rules.append(try rule(item, number: offset + 1)) }
        }
        return SOPSCreationRules(path: path, rules: rules)
    }

    /// The first rule for `file`: its path relative to the folder of the `.sops.yaml` when it lies inside it, as
    /// sops compares it.
    public func rule(for file: String) throws(Failure) -> Rule {
        let folder = (path as NSString).deletingLastPathComponent
        let relative = file.hasPrefix(folder + "/") ? String(file.dropFirst(folder.count + 1)) : file
        guard !rules.isEmpty else {
            throw Failure(
                location: SourceLocation(file: path, line: 1, column: 1),
                message: "has no creation_rules; add one whose path_regex matches \(relative)")
        }
        if let rule = rules.first(where: { $0.pathRegex?.matches(relative) ?? true }) { return rule }
        throw Failure(
            location: SourceLocation(file: path, line: 1, column: 1),
            message:
                "has no creation rule whose path_regex matches \(relative); add one, or a last rule without path_regex")
    }

    static let ruleFields: Set<String> = [
        "path_regex", "age", "pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms", "aws_profile",
        "key_groups", "shamir_threshold", "encrypted_regex", "unencrypted_regex", "encrypted_suffix",
        "unencrypted_suffix", "encrypted_comment_regex", "unencrypted_comment_regex", "mac_only_encrypted", "timeout",
        "plugins",
    ]
    static let groupFields: Set<String> = [
        "age", "pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault", "hckms", "merge", "plugins",
    ]

    private static func rule(_ node: Node, number: Int) throws(Failure) -> Rule {
        func fail(_ at: Node, _ message: String) -> Failure {
            Failure(location: at.location, message: "creation rule \(number): \(message)")
        }
        guard let pairs = node.pairs else { throw fail(node, "is not a mapping") }
        for pair in pairs {
            let key = pair.key.scalarText ?? ""
            if key == "filename_regex" {
                // Old sops matched it; sops 3 ignores it, so the rule would apply to every file there.
                throw fail(
                    pair.key,
                    "filename_regex is not read by sops 3, which would apply this rule to every file; use path_regex")
            }
            guard ruleFields.contains(key) else { throw fail(pair.key, "has the unknown field \(key)") }
        }
        func text(_ key: String) throws(Failure) -> String? {
            guard let value = node[key] else { return nil }
            guard let text = value.scalarText, value.isScalar else { throw fail(value, "\(key) is not a single value") }
            return text
        }
        func regex(_ key: String) throws(Failure) -> GoRegex? {
            guard let pattern = try text(key), !pattern.isEmpty else { return nil }
            do { return try GoRegex(pattern) } catch { throw fail(node[key]!, "\(key): \(error)") }
        }
        /// A comma-separated string or a list, as sops takes `age` and the other key lists.
        func keyList(_ value: Node?, _ key: String) throws(Failure) -> [String] {
            guard let value else { return [] }
            if let items = value.items {
                var keys: [String] = []
                for item in items {
                    guard let text = item.scalarText, item.isScalar else {
                        throw fail(item, "\(key) lists something that is not a key")
                    }
                    keys.append(text.trimmingCharacters(in: .whitespaces))
                }
                return keys.filter { !$0.isEmpty }
            }
            guard let text = value.scalarText else { throw fail(value, "\(key) is neither a string nor a list") }
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        func recipients(_ texts: [String], at node: Node) throws(Failure) -> [any AgeRecipient] {
            var recipients: [any AgeRecipient] = []
            for text in texts {
                let recipient: any AgeRecipient
                switch AgeRecipients.parse(text) {
                case .success(let parsed): recipient = parsed
                case .failure(.malformed) where text.hasPrefix("age1pq"):
                    throw fail(
                        node,
                        "the recipient \(text) is a post-quantum age recipient, which intops does not encrypt to yet; encrypt this file with sops"
                    )
                case .failure(let refusal): throw fail(node, refusal.description)
                }
                recipients.append(recipient)
            }
            return recipients
        }

        let selections: [(String, (String) -> SelectionRule)] = [
            ("unencrypted_suffix", SelectionRule.unencryptedSuffix),
            ("encrypted_suffix", SelectionRule.encryptedSuffix), ("unencrypted_regex", SelectionRule.unencryptedRegex),
            ("encrypted_regex", SelectionRule.encryptedRegex),
            ("unencrypted_comment_regex", SelectionRule.unencryptedCommentRegex),
            ("encrypted_comment_regex", SelectionRule.encryptedCommentRegex),
        ]
        var selection: SelectionRule?
        for (key, make) in selections {
            guard let value = try text(key), !value.isEmpty else { continue }
            guard selection == nil else {
                throw fail(
                    node[key]!,
                    "uses more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex and unencrypted_comment_regex; keep one"
                )
            }
            if key.hasSuffix("_regex") { _ = try regex(key) }
            selection = make(value)
        }

        let others = ["pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms"]
        var groups: [[any AgeRecipient]] = []
        var otherKinds: [String] = []
        let usesKeyGroups = node["key_groups"] != nil
        if let keyGroups = node["key_groups"] {
            guard let items = keyGroups.items, !items.isEmpty else {
                throw fail(keyGroups, "key_groups is not a list of groups")
            }
            for group in items {
                guard let fields = group.pairs else { throw fail(group, "a key group is not a mapping") }
                for pair in fields where !groupFields.contains(pair.key.scalarText ?? "") {
                    throw fail(pair.key, "a key group has the unknown field \(pair.key.scalarText ?? "")")
                }
                if group["merge"] != nil { throw fail(group, "merge in key groups is not supported; list the keys") }
                groups.append(try recipients(try keyList(group["age"], "age"), at: group["age"] ?? group))
                for kind in ["pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault", "hckms", "plugins"]
                where group[kind]?.items?.isEmpty == false { otherKinds.append(kind) }
            }
        } else {
            groups = [try recipients(try keyList(node["age"], "age"), at: node["age"] ?? node)]
            for kind in others where !(try keyList(node[kind], kind)).isEmpty { otherKinds.append(kind) }
        }
        var threshold = 0
        if let value = node["shamir_threshold"] {
            guard case .int(let number) = value.resolved, number >= 0 else {
                throw fail(value, "shamir_threshold is not a whole number")
            }
            threshold = number
            if groups.count > 1 && number == 1 {
                throw fail(
                    value,
                    "shamir_threshold 1 would let any one group open the file, and sops refuses it; use 2 or more, or one group"
                )
            }
            if number > groups.count {
                throw fail(value, "shamir_threshold \(number) is more than its \(groups.count) key groups")
            }
        }
        var macOnly = false
        if let value = node["mac_only_encrypted"] {
            guard case .bool(let flag) = value.resolved else {
                throw fail(value, "mac_only_encrypted is not true or false")
            }
            macOnly = flag
        }
        return Rule(
            number: number, location: node.location, pathRegex: try regex("path_regex"), groups: groups,
            otherKeyKinds: otherKinds, shamirThreshold: threshold, selection: selection, macOnlyEncrypted: macOnly,
            usesKeyGroups: usesKeyGroups)
    }
}

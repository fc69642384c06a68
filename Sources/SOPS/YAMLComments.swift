import YAML

/// Where go-yaml v3, and so sops, puts each comment of a YAML document in the tree: before an entry or a list
/// item, or at the end of a mapping or list. The place decides the path a comment is encrypted with, so it has
/// to be the one sops chooses. go-yaml decides it in its scanner and parser; this replays those decisions on the
/// nodes' positions:
///
/// - a comment after content on its line goes before the entry or item of the last node that starts on that
///   line (`- a: 1 # c` before `a`, in the item's mapping);
/// - a comment on a line holding only `-` indicators goes before the innermost node that follows them;
/// - the comments on lines of their own between two nodes (a gap) are split as go-yaml's scanner splits them:
///   the first run of them, when no blank line comes before it, a blank line (or the end) comes after it, and it
///   does not follow a bare `key:` (or when it is indented less than the innermost open block), is a foot of what
///   came before; a comment indented less than that block,
///   at another column than the one before it, starts a new foot; the rest is the head of what comes next;
/// - a foot of the node before the gap (not indented less than its block) goes after that node's entry or item;
/// - each block that ends in the gap ends at its gap's first comment at its own column (or before the gap when
///   none is), and a mapping that ends takes the feet that come before its end; the head and any feet left go
///   with the next node: a head before it, a foot after the entry before it (go-yaml moves a key's foot to the
///   key before it), or after the next node when it is a list item.
///
/// These were established against sops 3.11 on generated files with comments at every indentation, and on
/// go-yaml's scanner (`yaml_parser_scan_comments`, `yaml_parser_unroll_indent`) and parser.
struct CommentPlacement {
    /// A place in the tree: before child `index` of a container, or at its end (`index == nil`).
    struct Slot: Hashable {
        var container: Int
        var index: Int?
    }

    private struct Container {
        var parent: Int?
        var column: Int
        var isMapping: Bool
        var count: Int
        /// A list flush with its key (`key:` then `- item` at the key's column), which go-yaml's scanner opens
        /// no block for.
        var indentless: Bool
        /// `[…]` or `{…}`: no block, and one closing token that takes the comments after it.
        var flow: Bool
        /// The index of the container's own start (none inside an alias copy).
        var start: Int?
        /// An alias's copy of its anchor (`key: *base`): one token to go-yaml's scanner, like a scalar.
        var aliased = false
    }

    private enum Role { case root, key, value, item }

    /// A position in the text, ordered as go-yaml compares its marks.
    private struct Mark: Comparable {
        var line: Int
        var column: Int
        static func < (a: Mark, b: Mark) -> Bool { (a.line, a.column) < (b.line, b.column) }
    }

    /// Where a node starts, and where it sits.
    private struct Start {
        var line: Int
        var column: Int
        var role: Role
        /// The container the node is a child of (`-1` for the root).
        var container: Int
        var index: Int
        /// The node's own container, when it is a mapping or list.
        var own: Int?
    }

    private var containers: [Container] = []
    private var starts: [Start] = []
    private(set) var slots: [Slot: [String]] = [:]
    /// Keys that took a foot of their own: go-yaml then leaves their flow value's foot inside the value.
    private var keysWithFoot: Set<Int> = []

    init(root: Node, comments: [YAMLComment]) {
        visit(root, role: .root, container: -1, index: 0)
        // A scalar document has nowhere to keep a comment (SOPS refuses one anyway).
        guard !containers.isEmpty else { return }
        var index = 0
        while index < comments.count {
            let next = firstStart(after: comments[index])
            guard comments[index].line == .alone, next > 0 else {
                place(comments[index], next: next)
                index += 1
                continue
            }
            var end = index + 1
            while end < comments.count, comments[end].line == .alone, firstStart(after: comments[end]) == next {
                end += 1
            }
            placeGap(Array(comments[index..<end]), next: next)
            index = end
        }
    }

    /// Records containers in pre-order, as the tree is converted. An alias's copy stands at the alias, but what it
    /// copies (and what a merge key brings in) keeps its anchor's position and is left out of the starts, which
    /// stay in document order.
    private mutating func visit(_ node: Node, role: Role, container: Int, index: Int) {
        var own: Int?
        let children: [(Node, Role)]
        switch node.content {
        case .scalar: children = []
        case .mapping(let pairs): children = pairs.flatMap { [($0.key, Role.key), ($0.value, Role.value)] }
        case .sequence(let items): children = items.map { ($0, Role.item) }
        }
        if !node.isScalar { own = appendContainer(node, parent: container >= 0 ? container : nil) }
        let start = Start(
            line: node.location.line, column: node.location.column, role: role, container: container, index: index,
            own: own)
        if let last = starts.last, (last.line, last.column) > (start.line, start.column) {
            // A copy from an anchor, inside an alias's copy (which stands where the alias is): its children are
            // copies too.
            if container >= 0 { containers[container].aliased = true }
            if let own { skipContainers(of: node, own: own) }
            return
        }
        starts.append(start)
        guard let own else { return }
        containers[own].start = starts.count - 1
        for (offset, (child, childRole)) in children.enumerated() {
            let childIndex = node.isMapping ? offset / 2 : offset
            visit(child, role: childRole, container: own, index: childIndex)
        }
    }

    /// Numbers a copied subtree's containers as the conversion will meet them.
    private mutating func skipContainers(of node: Node, own: Int) {
        let nested: [Node]
        switch node.content {
        case .scalar: return
        case .mapping(let pairs): nested = pairs.flatMap { [$0.key, $0.value] }
        case .sequence(let items): nested = items
        }
        for child in nested where !child.isScalar {
            skipContainers(of: child, own: appendContainer(child, parent: own))
        }
    }

    private mutating func appendContainer(_ node: Node, parent: Int?) -> Int {
        let column = node.location.column
        let count: Int
        switch node.content {
        case .scalar: count = 0
        case .mapping(let pairs): count = pairs.count
        case .sequence(let items): count = items.count
        }
        let indentless =
            !node.isMapping && parent.map { containers[$0].isMapping && containers[$0].column == column } == true
        containers.append(
            Container(
                parent: parent, column: column, isMapping: node.isMapping, count: count,
                indentless: indentless && !node.flowStyle, flow: node.flowStyle))
        return containers.count - 1
    }

    /// The column a node's line starts at: a list item's dash, a key.
    private func column(of start: Start) -> Int {
        start.role == .item && start.container >= 0 ? containers[start.container].column : start.column
    }

    private func headSlot(_ start: Start) -> Slot {
        switch start.role {
        case .root: return slot(start.own ?? 0, before: 0)
        case .key, .item: return Slot(container: start.container, index: start.index)
        case .value:
            if let own = start.own { return Slot(container: own, index: 0) }
            return Slot(container: start.container, index: start.index)
        }
    }

    private func contains(_ container: Int, _ start: Start) -> Bool {
        var current: Int? = start.own ?? (start.container >= 0 ? start.container : nil)
        while let candidate = current {
            if candidate == container { return true }
            current = containers[candidate].parent
        }
        return false
    }

    /// The index of the first start after a comment; no node starts where a comment is.
    private func firstStart(after comment: YAMLComment) -> Int {
        let position = (comment.location.line, comment.location.column)
        var low = 0
        var high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if (starts[middle].line, starts[middle].column) < position { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The outermost flow collection around the node before `low` that has ended by then.
    private func closedFlow(before low: Int) -> Int? {
        let next = low < starts.count ? starts[low] : nil
        var found: Int?
        var current: Int? = starts[low - 1].own ?? (starts[low - 1].container >= 0 ? starts[low - 1].container : nil)
        while let candidate = current, containers[candidate].flow {
            if let next, contains(candidate, next) { break }
            found = candidate
            current = containers[candidate].parent
        }
        return found
    }

    /// Before child `index` of a container, or at its end when it has no such child.
    private func slot(_ container: Int, before index: Int) -> Slot {
        Slot(container: container, index: index < containers[container].count ? index : nil)
    }

    /// A comment after content or after `-` indicators, or one before the first node.
    private mutating func place(_ comment: YAMLComment, next low: Int) {
        let next = low < starts.count ? starts[low] : nil
        var slot = headSlot(next)
        if comment.line == .afterContent, low > 0, starts[low - 1].line == comment.location.line {
            // After a closing bracket the line comment is the flow collection's: sops writes it first in the
            // collection when that is a mapping's value, and before the item when it is a list's.
            if let flow = closedFlow(before: low), let start = containers[flow].start {
                let owner = starts[start]
                if owner.role == .item {
                    slot = headSlot(owner)
                } else if containers[flow].isMapping && containers[flow].count == 0 {
                    // sops writes it inside the braces, where neither reads it back; after the entry it stays
                    // readable by both.
                    slot = self.slot(owner.container, before: owner.index + 1)
                } else {
                    slot = self.slot(flow, before: 0)
                }
            } else {
                slot = headSlot(starts[low - 1])
            }
        } else if comment.line == .afterIndicators, next != nil {
            var innermost = low
            while innermost + 1 < starts.count, starts[innermost + 1].line == starts[low].line,
                starts[innermost + 1].column == starts[low].column
            { innermost += 1 }
            slot = headSlot(starts[innermost])
        }
        slots[slot, default: []].append(comment.text)
    }

    /// The comments on lines of their own between the node before `low` and the node at `low` (or the end).
    private mutating func placeGap(_ gap: [YAMLComment], next low: Int) {
        // The scanner's last token is a closing bracket when the node before is in a flow collection.
        let flow = closedFlow(before: low)
        let previousIndex = flow.flatMap { containers[$0].start } ?? low - 1
        let previous = starts[previousIndex]
        let next = low < starts.count ? starts[low] : nil
        // The blocks that end before what comes next, deepest first.
        var ending: [Int] = []
        var current: Int? = previous.container >= 0 ? previous.container : previous.own
        while let candidate = current {
            if let next, contains(candidate, next) { break }
            ending.append(candidate)
            current = containers[candidate].parent
        }
        let openBlock = ending.first ?? max(previous.container, 0)
        let indent = containers[openBlock].column
        // After a bare `key:` the scanner's last token is the `:`, and a comment under it heads the value.
        let afterKey = previous.role == .key

        // The scanner's split of the gap into feet and a final head, each with the mark it is attached at.
        struct Record {
            var comments: Range<Int>
            var isHead: Bool
            var attachedAt: Mark
            var start: Mark
        }
        func mark(_ comment: YAMLComment) -> Mark { Mark(line: comment.location.line, column: comment.location.column) }
        let priorToken = Mark(line: previous.line, column: previous.column)
        let gapStart = Mark(line: previous.line, column: previous.column + 1)
        var records: [Record] = []
        var first: Int?
        var attachedAt = priorToken
        // Until the first blank line (or the end), a run that starts right after the content can be its foot.
        var firstRun = !gap[0].blankLineBefore
        // A line indented less than the block, at another column than the comments before it, makes them a foot.
        func split(at offset: Int, line: Mark) {
            guard let textStart = first, line.column < indent, line.column != mark(gap[textStart]).column else {
                return
            }
            records.append(
                Record(comments: textStart..<offset, isHead: false, attachedAt: attachedAt, start: mark(gap[textStart]))
            )
            attachedAt = line
            first = nil
        }
        for (offset, comment) in gap.enumerated() {
            split(at: offset, line: mark(comment))
            if first == nil { first = offset }
            // go-yaml's scanner looks at the line after each comment line: a blank line (or the end of the text)
            // closes the run.
            let endsRun = comment.blankLineAfter || (next == nil && offset == gap.count - 1)
            guard endsRun, let textStart = first else { continue }
            let start = mark(gap[textStart])
            if firstRun, (textStart == 0 && !afterKey) || start.column < indent {
                records.append(
                    Record(
                        comments: textStart..<(offset + 1), isHead: false,
                        attachedAt: start.column < indent ? start : attachedAt, start: start))
                attachedAt = Mark(line: comment.location.line, column: Int.max)
                first = nil
            }
            firstRun = false
        }
        if let next { split(at: gap.count, line: Mark(line: next.line, column: column(of: next))) }
        if let first {
            records.append(
                Record(comments: first..<gap.count, isHead: true, attachedAt: mark(gap[first]), start: mark(gap[first]))
            )
        }

        // Each ending block's end token, placed as go-yaml's unroll_indent places it; a flush list has none.
        var record = 0
        // An end token takes the feet attached up to it; a head waits for the next node.
        func unfold(upTo position: Mark) -> [Record] {
            var unfolded: [Record] = []
            while record < records.count, records[record].attachedAt <= position {
                if records[record].isHead { break }
                unfolded.append(records[record])
                record += 1
            }
            return unfolded
        }
        // go-yaml's scanner stays two tokens ahead of its parser, so a foot attached at the node before the gap
        // reaches that node's own event: a scalar (or a flow collection's end) keeps it as its foot, which sops
        // writes after its entry or item.
        var pending: [Record] = []
        while record < records.count, records[record].attachedAt == priorToken {
            let slot: Slot
            if let flow, previous.role == .value, keysWithFoot.contains(previousIndex - 1) {
                slot = Slot(container: flow, index: nil)
            } else if previous.own.map({ containers[$0].flow || containers[$0].aliased }) ?? true,
                previous.role == .value || previous.role == .item
            {
                slot = self.slot(previous.container, before: previous.index + 1)
            } else {
                slot = footSlotAndKey(before: low).slot
            }
            assign(records[record].comments, of: gap, to: slot)
            record += 1
        }
        for block in ending where !containers[block].indentless && !containers[block].flow {
            var end = gapStart
            for candidate in records.reversed() where candidate.start.column == containers[block].column {
                end = candidate.start
            }
            pending += unfold(upTo: end)
            if containers[block].isMapping {
                for taken in pending { assign(taken.comments, of: gap, to: Slot(container: block, index: nil)) }
                pending = []
            }
        }
        pending += records[record...]
        for taken in pending {
            if taken.isHead {
                assign(taken.comments, of: gap, to: headSlot(next))
            } else {
                let (slot, key) = footSlotAndKey(before: low)
                if let key { keysWithFoot.insert(key) }
                assign(taken.comments, of: gap, to: slot)
            }
        }
    }

    private mutating func assign(_ range: Range<Int>, of gap: [YAMLComment], to slot: Slot) {
        slots[slot, default: []] += gap[range].map(\.text)
    }

    private func headSlot(_ start: Start?) -> Slot {
        guard let start else { return Slot(container: 0, index: nil) }
        return headSlot(start)
    }

    /// Where a foot goes that no ending mapping took: go-yaml hands it to the next scalar's event, the first
    /// entry of the next node's innermost first entries (block collections' start events take no comments). Also
    /// the key that keeps the foot as its own, when one does.
    private func footSlotAndKey(before low: Int) -> (slot: Slot, key: Int?) {
        guard low < starts.count else { return (Slot(container: 0, index: nil), nil) }
        var innermost = low
        while let own = starts[innermost].own, innermost + 1 < starts.count, starts[innermost + 1].container == own {
            innermost += 1
        }
        let scalar = starts[innermost]
        switch scalar.role {
        case .root: return (headSlot(scalar), nil)
        case .key where scalar.index > 0:
            // go-yaml moves a key's foot to the key before it, whose feet sops writes after its entry.
            return (headSlot(scalar), nil)
        case .key: return (slot(scalar.container, before: 1), innermost)
        case .value, .item: return (slot(scalar.container, before: scalar.index + 1), nil)
        }
    }
}

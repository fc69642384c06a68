import YAML

/// Where go-yaml v3, and so sops, puts each comment of a YAML document in the tree: before an entry or a list
/// item, or at the end of a mapping or list. The place decides the path a comment is encrypted with, so it has
/// to be the one sops chooses; the rules below are go-yaml's, observed on the files sops writes and reads:
///
/// - a comment after content on its line goes before the entry or item of the last node that starts on that
///   line (`- a: 1 # c` before `a`, in the item's mapping);
/// - a comment on a line of its own, in the gap after nested blocks have ended, goes before what comes next when
///   it is indented as far as that (or is the gap's first, indented less than the key that comes next, with a
///   blank line after it); otherwise
///   the gap's first comment ends the deepest of those blocks, whatever its indentation, and each later one ends
///   the block it is indented as far as (or stays with the one before);
/// - any other comment on a line of its own goes before whatever starts next, at the outermost level that starts
///   there (before a list item, not inside it);
/// - a comment on a line holding only `-` indicators goes before the innermost node that follows them.
///
/// These were established against sops 3.11 on generated files with comments at every indentation.
struct CommentPlacement {
    /// A place in the tree: before child `index` of a container, or at its end (`index == nil`).
    struct Slot: Hashable {
        var container: Int
        var index: Int?
    }

    private struct Container {
        var parent: Int?
        var depth: Int
        var column: Int
    }

    private enum Role { case root, key, value, item }

    /// The column a node's line starts at: a list item's dash, a key.
    private func column(of start: Start) -> Int {
        start.role == .item && start.container >= 0 ? containers[start.container].column : start.column
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

    init(root: Node, comments: [YAMLComment]) {
        visit(root, role: .root, container: -1, index: 0)
        var gapSlot: (gap: Int, slot: Slot)?
        for comment in comments {
            let slot = place(comment, after: &gapSlot)
            slots[slot, default: []].append(comment.text)
        }
    }

    /// Records containers in pre-order, as the tree is converted; alias and merge copies keep their anchor's
    /// position and are left out of the starts, which stay in document order.
    private mutating func visit(_ node: Node, role: Role, container: Int, index: Int) {
        var own: Int?
        let children: [(Node, Role)]
        switch node.content {
        case .scalar: children = []
        case .mapping(let pairs): children = pairs.flatMap { [($0.key, Role.key), ($0.value, Role.value)] }
        case .sequence(let items): children = items.map { ($0, Role.item) }
        }
        if !node.isScalar {
            let depth = container >= 0 ? containers[container].depth + 1 : 0
            containers.append(
                Container(parent: container >= 0 ? container : nil, depth: depth, column: node.location.column))
            own = containers.count - 1
        }
        let start = Start(
            line: node.location.line, column: node.location.column, role: role, container: container, index: index,
            own: own)
        if let last = starts.last, (last.line, last.column) > (start.line, start.column) {
            // A copy from an anchor: its children are copies too.
            if let own { skipContainers(of: node, own: own) }
            return
        }
        starts.append(start)
        guard let own else { return }
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
            containers.append(Container(parent: own, depth: containers[own].depth + 1, column: child.location.column))
            skipContainers(of: child, own: containers.count - 1)
        }
    }

    private func headSlot(_ start: Start) -> Slot {
        switch start.role {
        case .root: return Slot(container: start.own ?? 0, index: 0)
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

    private func place(_ comment: YAMLComment, after gapSlot: inout (gap: Int, slot: Slot)?) -> Slot {
        let position = (comment.location.line, comment.location.column)
        // The first start after the comment; no node starts where a comment is.
        var low = 0
        var high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if (starts[middle].line, starts[middle].column) < position { low = middle + 1 } else { high = middle }
        }
        let next = low < starts.count ? starts[low] : nil
        if comment.line == .afterContent, low > 0, starts[low - 1].line == comment.location.line {
            return headSlot(starts[low - 1])
        }
        if comment.line == .afterIndicators, let next {
            var innermost = low
            while innermost + 1 < starts.count, starts[innermost + 1].line == next.line,
                starts[innermost + 1].column == next.column
            { innermost += 1 }
            return headSlot(starts[innermost])
        }
        let head = next.map(headSlot) ?? Slot(container: 0, index: nil)
        guard low > 0 else { return head }
        // The blocks that end before what comes next, deepest first.
        let previous = starts[low - 1]
        var ending: [Int] = []
        var current: Int? = previous.container >= 0 ? previous.container : previous.own
        while let candidate = current {
            if let next, contains(candidate, next) { break }
            ending.append(candidate)
            current = containers[candidate].parent
        }
        let column = comment.location.column
        var slot: Slot
        let firstOfGap = gapSlot?.gap != low
        if ending.isEmpty || next.map({ column == self.column(of: $0) }) == true
            || (firstOfGap && comment.blankLineAfter
                && next.map { $0.role == .key && column < self.column(of: $0) } == true)
        {
            slot = head
        } else if firstOfGap {
            slot = Slot(container: ending[0], index: nil)
        } else if let match = ending.first(where: { containers[$0].column == column }) {
            slot = Slot(container: match, index: nil)
        } else {
            slot = gapSlot?.slot ?? head
        }
        // Later comments of one gap never go deeper than earlier ones: the text's order is kept.
        if let previous = gapSlot, previous.gap == low,
            containers[slot.container].depth > containers[previous.slot.container].depth
        {
            slot = previous.slot
        }
        gapSlot = (low, slot)
        return slot
    }
}

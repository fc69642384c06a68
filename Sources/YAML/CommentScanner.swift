internal import CYAML

/// Finds `#` comments in the text between libyaml's events, which holds only indicators, spaces, line breaks
/// and comments (every scalar, tag and anchor lies inside an event's span).
struct CommentScanner {
    let bytes: [UInt8]
    let file: String
    /// The byte offset where each line starts, with line breaks counted as libyaml counts them.
    private let lineStarts: [Int]
    private var cursor = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        var starts = [0]
        var index = 0
        while index < bytes.count {
            let width = Self.lineBreakWidth(bytes, at: index)
            if width > 0 {
                index += width
                starts.append(index)
            } else {
                index += 1
            }
        }
        lineStarts = starts
    }

    /// `\r\n`, `\r`, `\n`, NEL, LS and PS end a line.
    private static func lineBreakWidth(_ bytes: [UInt8], at index: Int) -> Int {
        switch bytes[index] {
        case 0x0A: return 1
        case 0x0D: return index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
        case 0xC2: return index + 1 < bytes.count && bytes[index + 1] == 0x85 ? 2 : 0
        case 0xE2:
            guard index + 2 < bytes.count, bytes[index + 1] == 0x80 else { return 0 }
            return bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9 ? 3 : 0
        default: return 0
        }
    }

    /// The byte offset of a mark, whose column counts characters.
    private func offset(of mark: yaml_mark_t) -> Int {
        let line = Int(mark.line)
        guard line < lineStarts.count else { return bytes.count }
        var index = lineStarts[line]
        var characters = 0
        while index < bytes.count, characters < Int(mark.column) {
            index += 1
            while index < bytes.count, bytes[index] & 0xC0 == 0x80 { index += 1 }
            characters += 1
        }
        return min(index, bytes.count)
    }

    mutating func skip(to mark: yaml_mark_t) { cursor = max(cursor, offset(of: mark)) }

    /// The comments from where the last event ended up to a mark.
    mutating func comments(upTo mark: yaml_mark_t) -> [YAMLComment] {
        let end = offset(of: mark)
        var found: [YAMLComment] = []
        var index = cursor
        while index < end {
            if bytes[index] == UInt8(ascii: "#") {
                let comment = self.comment(at: index)
                found.append(comment.comment)
                index = comment.end
            } else {
                index += 1
            }
        }
        cursor = max(cursor, end)
        return found
    }

    /// A comment on a block scalar's header line (`key: | # note`), which lies inside the scalar's event.
    mutating func blockScalarHeaderComment(at mark: yaml_mark_t) -> [YAMLComment] {
        var index = offset(of: mark)
        while index < bytes.count, Self.lineBreakWidth(bytes, at: index) == 0 {
            if bytes[index] == UInt8(ascii: "#"), index > 0, bytes[index - 1] == 0x20 || bytes[index - 1] == 0x09 {
                return [comment(at: index).comment]
            }
            index += 1
        }
        return []
    }

    private func comment(at index: Int) -> (comment: YAMLComment, end: Int) {
        var end = index + 1
        while end < bytes.count, Self.lineBreakWidth(bytes, at: end) == 0 { end += 1 }
        let line = lineIndex(of: index)
        let lineStart = lineStarts[line]
        var column = 0
        var position = lineStart
        while position < index {
            position += 1
            while position < index, bytes[position] & 0xC0 == 0x80 { position += 1 }
            column += 1
        }
        let before = bytes[lineStart..<index]
        let linePosition: YAMLComment.LinePosition
        if before.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != UInt8(ascii: "-") }) {
            linePosition = .afterContent
        } else {
            linePosition = before.contains(UInt8(ascii: "-")) ? .afterIndicators : .alone
        }
        let text = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
        func isBlank(_ line: Int) -> Bool {
            guard line >= 0, line + 1 < lineStarts.count else { return false }
            return bytes[lineStarts[line]..<lineStarts[line + 1]].allSatisfy {
                $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D
            }
        }

        return (
            YAMLComment(
                text: text, location: SourceLocation(file: file, line: line + 1, column: column + 1),
                line: linePosition, blankLineAfter: isBlank(line + 1), blankLineBefore: isBlank(line - 1)), end
        )
    }

    private func lineIndex(of offset: Int) -> Int {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }
}

import Foundation

/// dotenv as sops reads and writes it: `KEY=value` lines, `#` comments, `\n` escapes, no quoting.
enum Dotenv {
    static func parse(_ text: String) throws(SOPSError) -> SOPSValue {
        var entries: [SOPSEntry] = []
        var number = 0
        for line in Array(text.utf8).split(separator: 10, omittingEmptySubsequences: false) {
            number += 1
            let string = String(decoding: line, as: UTF8.self)
            if string.isEmpty { continue }
            if string.hasPrefix("#") {
                entries.append(.comment(String(string.dropFirst())))
                continue
            }
            guard let equals = string.firstIndex(of: "=") else {
                throw .format("line \(number) has no '=' (dotenv lines are KEY=value)")
            }
            let value = String(string[string.index(after: equals)...]).replacingOccurrences(of: "\\n", with: "\n")
            entries.append(SOPSEntry(key: String(string[..<equals]), value: .scalar(.string(value))))
        }
        return .mapping(entries)
    }

    static func emit(_ value: SOPSValue) -> String {
        guard case .mapping(let entries) = value else { return "" }
        var out = ""
        for entry in entries {
            if entry.isComment, case .scalar(let comment) = entry.value {
                out += "#\(comment.plainText)\n"
                continue
            }
            let text: String
            switch entry.value {
            case .scalar(let scalar): text = scalar.plainText
            case .null: text = ""
            default: text = ""
            }
            out += "\(entry.key)=\(text.replacingOccurrences(of: "\n", with: "\\n"))\n"
        }
        return out
    }
}

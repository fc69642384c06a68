import Foundation

/// Regular expressions as sops writes them: Go's RE2 syntax, compiled for ICU (NSRegularExpression).
///
/// The two agree on most of it; where they differ this either translates (`(?P<name>…)` is `(?<name>…)` in ICU,
/// and Go's `$` outside multi-line mode matches only at the end of the text, which is `\z` in ICU) or refuses:
/// the constructs RE2 does not have (look-around, backreferences, atomic groups, possessive quantifiers, `\Z`) and
/// the ungreedy flag `U`, which ICU does not have, are errors that name the construct, never a silently different
/// match. One-letter Unicode classes (`\pL`) gain the braces ICU needs, octal escapes (`\12`, `\012`) become the code
/// points Go reads them as, and named groups become plain ones, since ICU refuses some names Go takes (`_id`, `1st`).
public struct GoRegex: Sendable {
    public let pattern: String
    private let regex: NSRegularExpression

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var pattern: String
        public var problem: String
        public var description: String { "the regular expression \(pattern) \(problem)" }
    }

    public init(_ pattern: String) throws(Failure) {
        self.pattern = pattern
        let translated = try Self.translate(pattern)
        do { regex = try NSRegularExpression(pattern: translated) } catch {
            throw Failure(pattern: pattern, problem: "is not valid (Go RE2 syntax, as sops reads it)")
        }
    }

    /// Whether the expression matches anywhere in `text` (Go's `MatchString`).
    public func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Go's POSIX classes, which are ASCII only, as ICU ranges.
    static let posixClasses: [String: String] = [
        "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x{00}-\\x{7F}", "blank": "\\t ",
        "cntrl": "\\x{00}-\\x{1F}\\x{7F}", "digit": "0-9", "graph": "\\x{21}-\\x{7E}", "lower": "a-z",
        "print": "\\x{20}-\\x{7E}", "punct": "\\x{21}-\\x{2F}\\x{3A}-\\x{40}\\x{5B}-\\x{60}\\x{7B}-\\x{7E}",
        "space": "\\t\\n\\x{0B}\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
    ]

    static func translate(_ pattern: String) throws(Failure) -> String {
        func refuse(_ what: String) -> Failure {
            Failure(pattern: pattern, problem: "uses \(what), which Go's RE2 (and so sops) does not have")
        }
        let characters = Array(pattern)
        var out = ""
        var index = 0
        var inClass = false
        // Go's `$` is the end of the text unless a (?m) flag is in force; the flags are followed in their order.
        var multiline = false
        /// The multi-line flag outside each open group, restored when it closes.
        var groups: [Bool] = []
        /// A named group whose name starts at `start`: Go takes names of ASCII letters, digits and `_`, and ICU
        /// only some of them. A name cannot change what matches (RE2 has no backreferences), so the group is
        /// written as a plain one. Returns where its content starts.
        func namedGroup(from start: Int) throws(Failure) -> Int {
            guard let close = characters[start...].firstIndex(of: ">") else {
                throw Failure(pattern: pattern, problem: "has a named group without its closing >")
            }
            let name = characters[start..<close]
            guard !name.isEmpty, name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw Failure(
                    pattern: pattern,
                    problem: "has the group name \(String(name).debugDescription); Go takes letters, digits and _")
            }
            out += "("
            groups.append(multiline)
            return close + 1
        }
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            if character == "\\", let next {
                if next == "Q" {
                    // \Q…\E is literal text in both.
                    let rest = characters[(index + 2)...]
                    var end = characters.count
                    if let found = rest.indices.first(where: {
                        characters[$0] == "\\" && $0 + 1 < characters.count && characters[$0 + 1] == "E"
                    }) {
                        end = found
                    }
                    out += "\\Q" + String(characters[(index + 2)..<end]) + "\\E"
                    index = min(end + 2, characters.count)
                    continue
                }
                // Go's \d, \w and \s are ASCII; ICU's are Unicode.
                let ascii: [Character: (outside: String, inside: String?)] = [
                    "d": ("[0-9]", "0-9"), "D": ("[^0-9]", nil), "w": ("[0-9A-Za-z_]", "0-9A-Za-z_"),
                    "W": ("[^0-9A-Za-z_]", nil), "s": ("[\\t\\n\\f\\r ]", "\\t\\n\\f\\r "),
                    "S": ("[^\\t\\n\\f\\r ]", nil),
                ]
                if let forms = ascii[next] {
                    if inClass {
                        guard let inside = forms.inside else { throw refuse("\\\(next) inside a character class here") }
                        out += inside
                    } else {
                        out += forms.outside
                    }
                    index += 2
                    continue
                }
                if "ehRXNcuv".contains(next) { throw refuse("the escape \\\(next)") }
                // Go's octal escapes: \0 and up to two more octal digits, or \1 to \7 and one or two more. ICU reads
                // \0 with up to three and \1… as backreferences, so each becomes the code point it stands for.
                if next.isASCII, let first = next.wholeNumberValue, first < 8 {
                    var value = first, end = index + 2
                    let followed = end < characters.count && ("0"..."7").contains(characters[end])
                    if first != 0 && !followed {
                        throw refuse(inClass ? "the escape \\\(next)" : "a backreference (\\\(next))")
                    }
                    while end < index + 4, end < characters.count, characters[end].isASCII,
                        let digit = characters[end].wholeNumberValue, digit < 8
                    {
                        value = value * 8 + digit
                        end += 1
                    }
                    out += "\\x{" + String(value, radix: 16) + "}"
                    index = end
                    continue
                }
                // Go takes an escaped ASCII punctuation mark as itself, and of letters and digits only its own
                // escapes; ICU would read any other escape as a literal or as something else.
                let goEscapes = inClass ? "afntrvxdDsSwWpP" : "afntrvxAbBzdDsSwWpPkZG"
                if !next.isASCII || ((next.isLetter || next.isNumber) && !goEscapes.contains(next)) {
                    throw refuse("the escape \\\(next)")
                }
                if !inClass {
                    if next == "k" { throw refuse("a named backreference (\\k)") }
                    if next == "Z" { throw refuse("\\Z (Go writes \\z)") }
                    if next == "G" { throw refuse("\\G") }
                }
                // Go writes a one-letter Unicode class without braces (\pL); ICU needs them.
                if next == "p" || next == "P", index + 2 < characters.count, characters[index + 2] != "{" {
                    out += "\\\(next){\(characters[index + 2])}"
                    index += 3
                    continue
                }
                out.append(character)
                out.append(next)
                index += 2
                continue
            }
            if inClass {
                if character == "]" { inClass = false }
                if character == "[", next == ":" {
                    // A POSIX class such as [:alpha:]: ASCII in Go, Unicode properties in ICU, so spelled out.
                    if let close = (index + 2..<characters.count).first(where: {
                        characters[$0] == ":" && $0 + 1 < characters.count && characters[$0 + 1] == "]"
                    }) {
                        var name = String(characters[(index + 2)..<close])
                        let negated = name.hasPrefix("^")
                        if negated { name.removeFirst() }
                        guard let ranges = Self.posixClasses[name] else {
                            throw Failure(pattern: pattern, problem: "has the unknown character class [:\(name):]")
                        }
                        out += negated ? "[^\(ranges)]" : ranges
                        index = close + 2
                        continue
                    }
                }
                // Go reads these literally inside a class; ICU reads a nested set, an intersection, a difference.
                if character == "[" || (character == "&" && next == "&") || (character == "-" && next == "-") {
                    out += "\\\(character)"
                    index += 1
                    continue
                }
                out.append(character)
                index += 1
                continue
            }
            switch character {
            case "[":
                inClass = true
                out.append(character)
                index += 1
                // A `]` or `^]` right after the opening bracket is literal.
                if index < characters.count, characters[index] == "^" {
                    out.append("^")
                    index += 1
                }
                if index < characters.count, characters[index] == "]" {
                    out += "\\]"
                    index += 1
                }
            case "(" where next == "?":
                let after = index + 2 < characters.count ? characters[index + 2] : nil
                switch after {
                case "=", "!": throw refuse("a look-ahead (?\(after!)…)")
                case ">": throw refuse("an atomic group (?>…)")
                case "#": throw refuse("a comment group (?#…)")
                case "<":
                    let third = index + 3 < characters.count ? characters[index + 3] : nil
                    if third == "=" || third == "!" { throw refuse("a look-behind (?<\(third!)…)") }
                    index = try namedGroup(from: index + 3)
                case "P":
                    guard index + 3 < characters.count, characters[index + 3] == "<" else {
                        throw Failure(pattern: pattern, problem: "has a (?P…) group that is not (?P<name>…)")
                    }
                    index = try namedGroup(from: index + 4)
                default:
                    // Flags: (?flags) or (?flags:…), from imsU with an optional -.
                    var end = index + 2
                    var flags = ""
                    while end < characters.count, characters[end] != ")" && characters[end] != ":" {
                        flags.append(characters[end])
                        end += 1
                    }
                    let closesHere = end < characters.count && characters[end] == ")"
                    guard flags.allSatisfy({ "imsU-".contains($0) }), !(flags.isEmpty && closesHere) else {
                        throw Failure(pattern: pattern, problem: "has an unknown group (?\(flags)…)")
                    }
                    if flags.contains("U") { throw refuse("the ungreedy flag U, which ICU lacks,") }
                    // (?flags) changes the group it stands in; (?flags:…) only its own, restored at its ")".
                    if !closesHere { groups.append(multiline) }
                    let parts = flags.split(separator: "-", omittingEmptySubsequences: false)
                    if parts[0].contains("m") { multiline = true }
                    if parts.count > 1, parts[1].contains("m") { multiline = false }
                    out += "(?" + flags + (closesHere ? ")" : ":")
                    index = end + 1
                }
            case "*", "+", "?", "}":
                out.append(character)
                index += 1
                if index < characters.count, characters[index] == "+" {
                    throw refuse("a possessive quantifier (\(character)+)")
                }
            case "$":
                out += multiline ? "$" : "\\z"
                index += 1
            case "(":
                groups.append(multiline)
                out.append(character)
                index += 1
            case ")":
                if let outer = groups.popLast() { multiline = outer }
                out.append(character)
                index += 1
            default:
                out.append(character)
                index += 1
            }
        }
        return out
    }
}

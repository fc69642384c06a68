/// The man page intops(1), in roff (man macros), rendered from the command table that the help and the completion
/// scripts come from, so that the three never disagree: each command's usage line is the one its help prints, and
/// the description, exit codes and environment are taken from the help's own text. `make man` writes it to
/// man/intops.1; it holds no date, so that the same table always renders the same page.
enum ManPage {
    /// Files the page describes; each is named in the table's text (a test checks it), so none outlives its mention.
    static let files: [(path: String, description: String)] = [
        ("intops.yaml", "The project, looked up from the working directory (or from --chdir DIR) upward."),
        (
            ".intops/templates.json",
            "The provider templates that intops templates --refresh saves; intops validate --offline reads them."
        ),
        (
            ".intops/state.json",
            "The state of the local backend, the default; intops state migrate copies it into the backend intops.yaml configures."
        ),
        (
            "~/.config/sops/age/keys.txt",
            "Age identities, read besides SOPS_AGE_KEY and SOPS_AGE_KEY_FILE, as sops reads them ($XDG_CONFIG_HOME/sops/age/keys.txt when XDG_CONFIG_HOME is set)."
        ),
    ]

    static let seeAlso = ["sops(1)", "age(1)", "age-keygen(1)", "git(1)"]

    static func render(
        commands: [CommandSpec] = HelpTable.commands, global: [OptionSpec] = IntopsCommandLine.globalOptions,
        version: String = IntopsCommandLine.version
    ) -> String {
        let rootHelp = ArgumentParser.help(for: nil, commands: commands, global: global).split(
            separator: "\n", omittingEmptySubsequences: false)
        let usage = rootHelp.first.map { usageLine(String($0)) } ?? "intops COMMAND [OPTIONS]"
        let description =
            rootHelp.dropFirst().first { !$0.isEmpty && !$0.hasSuffix(":") }.map(String.init)
            ?? "Reconcile integrations with the files kept in git."
        let globalOptions = global + [HelpTable.helpOption]

        var page: [String] = []
        page.append(
            #".\" intops(1), generated from the command table by `intops man`; do not edit: `make man` regenerates it."#
        )
        page.append(".TH INTOPS 1 \"\" \"intops \(escape(version))\" \"User Commands\"")
        // No hyphenation: paths and option names break at a hyphen of their own, never at one roff adds.
        page.append(".nh")
        page.append(".SH NAME")
        page.append(
            "intops \\- "
                + escape(lowercasingFirst(description.hasSuffix(".") ? String(description.dropLast()) : description)))
        page.append(".SH SYNOPSIS")
        page.append(formatUsage(usage))
        page.append(".br")
        page.append(formatUsage("intops COMMAND --help"))
        page.append(".SH DESCRIPTION")
        page.append(escape(description))
        page.append(".PP")
        page.append(
            escape("Options may come before or after a command's arguments, and global options anywhere on the line."))
        page.append(
            escape(
                "intops COMMAND --help prints the entry of COMMAND below, from the same command table as this page and the shell completions of intops completion."
            ))

        page.append(".SH COMMANDS")
        for command in commands {
            page.append(".SS \(escape(command.name))")
            let help = ArgumentParser.help(for: command, commands: commands, global: global)
            let commandUsage =
                help.split(separator: "\n").first.map { usageLine(String($0)) } ?? "intops \(command.name)"
            page.append(formatUsage(commandUsage))
            page.append(".PP")
            page.append(escape(command.summary))
            page += paragraphs(command.discussion)
            if !command.options.isEmpty {
                page.append(".PP")
                page.append("Options:")
                page += command.options.flatMap(optionItem)
            }
        }

        page.append(".SH \"GLOBAL OPTIONS\"")
        page += globalOptions.flatMap(optionItem)

        page.append(".SH \"EXIT STATUS\"")
        for (code, meaning) in exitCodes(rootHelp.map(String.init)) {
            page.append(".TP")
            page.append(".B \(escape(code))")
            page.append(escape(meaning))
        }

        let environment = environmentMentions(commands: commands, global: global)
        if !environment.isEmpty {
            page.append(".SH ENVIRONMENT")
            for (variable, mentions) in environment {
                page.append(".TP")
                page.append(".B \(escape(variable))")
                for (offset, mention) in mentions.enumerated() {
                    if offset > 0 { page.append(".br") }
                    page.append("\(formatUsage(mention.source)): \(escape(mention.sentence))")
                }
            }
        }

        page.append(".SH FILES")
        for file in files {
            page.append(".TP")
            page.append("\\fI\(escape(file.path))\\fR")
            page.append(escape(file.description))
        }

        page.append(".SH \"SEE ALSO\"")
        page.append(
            seeAlso.enumerated().map { offset, reference in
                let name = reference.prefix { $0 != "(" }
                let section = reference.dropFirst(name.count)
                return ".BR \(escape(String(name), hyphens: true)) \(section)" + (offset < seeAlso.count - 1 ? "," : "")
            }.joined(separator: "\n"))
        page.append(".PP")
        page.append(
            escape("README.md and docs/ in the intops sources explain the concepts, secrets, CI and troubleshooting."))
        return page.joined(separator: "\n") + "\n"
    }

    // MARK: - What the help says

    /// "USAGE: intops plan [--out FILE]" → "intops plan [--out FILE]".
    static func usageLine(_ line: String) -> String {
        line.hasPrefix("USAGE: ") ? String(line.dropFirst("USAGE: ".count)) : line
    }

    /// The exit codes of the root help's "Exit codes: 0 success, 1 error, …" line, meanings capitalized.
    static func exitCodes(_ rootHelp: [String]) -> [(code: String, meaning: String)] {
        let prefix = "Exit codes: "
        guard let line = rootHelp.first(where: { $0.hasPrefix(prefix) }) else {
            return [
                ("\(ExitCode.success)", "Success."), ("\(ExitCode.failure)", "Error."),
                ("\(ExitCode.usage)", "Usage error."),
            ]
        }
        var list = line.dropFirst(prefix.count)
        if list.hasSuffix(".") { list = list.dropLast() }
        return list.split(separator: ",").compactMap { item in
            let words = item.split(separator: " ", maxSplits: 1)
            guard words.count == 2, words[0].allSatisfy(\.isNumber) else { return nil }
            let meaning = String(words[1])
            return (String(words[0]), meaning.prefix(1).uppercased() + meaning.dropFirst() + ".")
        }
    }

    /// The environment variables the table's text names (NO_COLOR, SOPS_AGE_KEY, $EDITOR), each with the
    /// sentences that name it and where they are: "intops secrets", "--no-color", "intops plan --out".
    static func environmentMentions(
        commands: [CommandSpec], global: [OptionSpec]
    ) -> [(variable: String, mentions: [(source: String, sentence: String)])] {
        var texts: [(source: String, text: String)] = global.map { ("--\($0.name)", $0.help) }
        for command in commands {
            texts.append(("intops \(command.name)", command.summary))
            texts.append(("intops \(command.name)", command.discussion))
            texts += command.options.map { ("intops \(command.name) --\($0.name)", $0.help) }
        }
        var order: [String] = []
        var mentions: [String: [(source: String, sentence: String)]] = [:]
        for (source, text) in texts {
            for sentence in sentences(text) {
                for variable in environmentVariables(in: sentence) {
                    if mentions[variable] == nil { order.append(variable) }
                    if !(mentions[variable] ?? []).contains(where: { $0.source == source && $0.sentence == sentence }) {
                        mentions[variable, default: []].append((source, sentence))
                    }
                }
            }
        }
        return order.map { ($0, mentions[$0] ?? []) }
    }

    /// Words that name environment variables: `$NAME`, or an upper-case NAME_WITH_UNDERSCORES; without the `$`.
    static func environmentVariables(in text: String) -> [String] {
        let upper = { (character: Character) in
            character.isASCII && (character.isUppercase || character.isNumber || character == "_")
        }
        var found: [String] = []
        for word in text.split(whereSeparator: { !(upper($0) || $0 == "$" || $0.isLetter) }) {
            let dollar = word.hasPrefix("$")
            let name = dollar ? word.dropFirst() : word[...]
            guard let first = name.first, first.isASCII, first.isUppercase, name.allSatisfy(upper),
                dollar ? name.count > 1 : (name.contains("_") && !name.hasSuffix("_"))
            else { continue }
            if !found.contains(String(name)) { found.append(String(name)) }
        }
        return found
    }

    /// Text split into sentences, its line breaks joined: a sentence ends at a full stop before a space.
    static func sentences(_ text: String) -> [String] {
        let joined = text.split(separator: "\n").map { $0.trimmingSpaces }.joined(separator: " ")
        var sentences: [String] = []
        var current = ""
        var previous: Character?
        for character in joined {
            if character == " ", previous == "." {
                sentences.append(current)
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        if !current.isEmpty { sentences.append(current) }
        return sentences
    }

    // MARK: - roff

    /// The discussion as paragraphs: its lines as they are (roff fills them), a blank line between paragraphs.
    static func paragraphs(_ text: String) -> [String] {
        var lines: [String] = []
        var startParagraph = true
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty {
                startParagraph = true
                continue
            }
            if startParagraph { lines.append(".PP") }
            startParagraph = false
            lines.append(escape(trimmed))
        }
        return lines
    }

    /// An option as a tagged paragraph: "-i, --in-place" or "--format text|json" (as the help shows it), then its help.
    static func optionItem(_ option: OptionSpec) -> [String] {
        [".TP", formatUsage((option.short.map { "-\($0), " } ?? "") + option.usageFragment), escape(option.help)]
    }

    /// A usage line in the man page's fonts: options, the command and literal words in bold, placeholders (upper
    /// case) in italics, brackets, bars and commas in roman.
    static func formatUsage(_ usage: String) -> String {
        var output = ""
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            let isPlaceholder =
                word.contains { $0.isUppercase } && !word.contains { $0.isLowercase } && !word.hasPrefix("-")
            output += (isPlaceholder ? "\\fI" : "\\fB") + escape(word, hyphens: true) + "\\fR"
            word = ""
        }
        for character in usage {
            if character.isLetter || character.isNumber || "-_./{}~$".contains(character) {
                word.append(character)
            } else {
                flush()
                output += escape(String(character))
            }
        }
        flush()
        return protectLineStart(output)
    }

    /// Text for a roff text line: backslashes printed, the hyphens of options (words that begin with one) as
    /// minus signs, characters beyond ASCII as \[uXXXX], and a line that would start with . or ' guarded by \&.
    static func escape(_ text: String, hyphens allHyphens: Bool = false) -> String {
        var output = ""
        var inOption = allHyphens
        var previous: Character? = nil
        for scalar in text.unicodeScalars {
            let character = Character(scalar)
            if character == "-" && (previous == nil || previous == "-" || " ([\"'`/|,=".contains(previous!)) {
                inOption = true
            }
            if character == " " || character == "\t" { inOption = allHyphens }
            switch character {
            case "\\": output += "\\e"
            case "-": output += inOption ? "\\-" : "-"
            default:
                if scalar.isASCII {
                    output.append(character)
                } else {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    output += "\\[u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "]"
                }
            }
            previous = character
        }
        return protectLineStart(output)
    }

    /// A text line starting with . or ' would be a roff request; \& in front keeps it text.
    static func protectLineStart(_ line: String) -> String {
        line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : line
    }

    static func lowercasingFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        // An acronym (SOPS, API) keeps its case.
        if let second = text.dropFirst().first, second.isUppercase { return text }
        return first.lowercased() + text.dropFirst()
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

/// A small, table-driven command-line parser: each command is a row of data (``CommandSpec``), and one
/// function parses any of them. Options may come before or after positionals; global options anywhere.

/// One option of a command.
struct OptionSpec: Sendable {
    enum Kind: Sendable, Equatable {
        case flag
        /// Takes one value; given twice, the last wins.
        case value(placeholder: String)
        /// Takes one value each time it is given.
        case repeated(placeholder: String)
    }

    var name: String
    var short: Character? = nil
    var kind: Kind = .flag
    var choices: [String]? = nil
    var help: String

    var usageFragment: String {
        switch kind {
        case .flag: "--\(name)"
        case .value(let placeholder): "--\(name) \(choices?.joined(separator: "|") ?? placeholder)"
        case .repeated(let placeholder): "--\(name) \(placeholder)…"
        }
    }
}

extension OptionSpec {
    static func flag(_ name: String, short: Character? = nil, _ help: String) -> OptionSpec {
        OptionSpec(name: name, short: short, help: help)
    }

    static func value(_ name: String, _ placeholder: String, choices: [String]? = nil, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .value(placeholder: placeholder), choices: choices, help: help)
    }

    static func repeated(_ name: String, _ placeholder: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .repeated(placeholder: placeholder), help: help)
    }
}

/// One command: its name, what it takes, and what runs it.
struct CommandSpec: Sendable {
    var name: String
    var summary: String
    /// Positionals as shown in the usage line, e.g. "[NAME…]".
    var arguments: String = ""
    var positionalCount: ClosedRange<Int> = 0...0
    var options: [OptionSpec] = []
    var discussion: String = ""
    var run: @Sendable (Invocation) async -> Int32
}

/// What the parser found on the command line.
struct ParsedArguments: Sendable {
    var command: CommandSpec?
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var positionals: [String] = []
    var helpRequested = false

    /// Options are looked up by their spec, never by a string: a misspelt option is a compile error.
    func value(_ option: OptionSpec) -> String? { values[option.name]?.last }
    func all(_ option: OptionSpec) -> [String] { values[option.name] ?? [] }
    func flag(_ option: OptionSpec) -> Bool { flags.contains(option.name) }

    /// The value of an option the command cannot do without.
    func required(_ option: OptionSpec) throws(UsageError) -> String {
        guard let value = value(option) else {
            let shown = command.map { "intops \($0.name)" } ?? "intops"
            throw UsageError(message: "\(shown) needs \(option.usageFragment)", command: command)
        }
        return value
    }
}

/// A mistake on the command line; exits 64 with the usage on stderr.
struct UsageError: Error, Sendable {
    var message: String
    var command: CommandSpec?

    init(message: String, command: CommandSpec? = nil) {
        self.message = message
        self.command = command
    }
}

enum ArgumentParser {
    static func parse(
        _ arguments: [String], commands: [CommandSpec], global: [OptionSpec]
    ) throws(UsageError) -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0

        func lookup(_ name: String) -> OptionSpec? {
            global.first { $0.name == name } ?? parsed.command?.options.first { $0.name == name }
        }
        func lookup(short: Character) -> OptionSpec? {
            global.first { $0.short == short } ?? parsed.command?.options.first { $0.short == short }
        }
        func record(_ option: OptionSpec, inline: String?) throws(UsageError) {
            switch option.kind {
            case .flag:
                guard inline == nil else {
                    throw UsageError(message: "--\(option.name) takes no value", command: parsed.command)
                }
                parsed.flags.insert(option.name)
            case .value, .repeated:
                let value: String
                if let inline {
                    value = inline
                } else {
                    index += 1
                    guard index < arguments.count else {
                        throw UsageError(message: "--\(option.name) needs a value", command: parsed.command)
                    }
                    value = arguments[index]
                }
                if let choices = option.choices, !choices.contains(value) {
                    throw UsageError(
                        message: "--\(option.name) takes \(choices.joined(separator: ", ")), not '\(value)'",
                        command: parsed.command)
                }
                parsed.values[option.name, default: []].append(value)
            }
        }

        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                parsed.positionals += arguments[(index + 1)...]
                break
            }
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let name = String(body.prefix { $0 != "=" })
                let inline = body.contains("=") ? String(body.drop { $0 != "=" }.dropFirst()) : nil
                if name == "help" {
                    parsed.helpRequested = true
                } else if let option = lookup(name) {
                    try record(option, inline: inline)
                } else {
                    let where_ = parsed.command.map { " for intops \($0.name)" } ?? ""
                    throw UsageError(message: "unknown option '--\(name)'\(where_)", command: parsed.command)
                }
            } else if argument.hasPrefix("-"), argument.count > 1 {
                for character in argument.dropFirst() {
                    if character == "h" {
                        parsed.helpRequested = true
                    } else if let option = lookup(short: character) {
                        try record(option, inline: nil)
                    } else {
                        throw UsageError(message: "unknown option '-\(character)'", command: parsed.command)
                    }
                }
            } else if parsed.command == nil {
                guard let command = commands.first(where: { $0.name == argument }) else {
                    let names = commands.map(\.name)
                    let hint = closest(argument, names).map { "; did you mean '\($0)'?" } ?? ""
                    throw UsageError(message: "unknown command '\(argument)'\(hint)", command: nil)
                }
                parsed.command = command
            } else {
                parsed.positionals.append(argument)
            }
            index += 1
        }

        if let command = parsed.command, !parsed.helpRequested,
            !command.positionalCount.contains(parsed.positionals.count)
        {
            let message: String
            if command.positionalCount.upperBound == 0 {
                message = "intops \(command.name) takes no arguments, but got '\(parsed.positionals[0])'"
            } else if parsed.positionals.count < command.positionalCount.lowerBound {
                message = "intops \(command.name) needs \(command.arguments)"
            } else {
                message = "intops \(command.name) takes at most \(command.positionalCount.upperBound) arguments"
            }
            throw UsageError(message: message, command: command)
        }
        return parsed
    }

    private static func closest(_ word: String, _ candidates: [String]) -> String? {
        candidates.first { $0.hasPrefix(word) || word.hasPrefix($0) }
    }

    /// The help text of a command, or of the whole tool when `command` is nil.
    static func help(for command: CommandSpec?, commands: [CommandSpec], global: [OptionSpec]) -> String {
        var lines: [String] = []
        func optionLines(_ options: [OptionSpec]) {
            let rows = options.map { option -> (String, String) in
                var left = option.short.map { "-\($0), " } ?? ""
                left += option.usageFragment
                return (left, option.help)
            }
            let width = min(34, (rows.map(\.0.count).max() ?? 0) + 2)
            for (left, help) in rows {
                let pad = left.count < width ? String(repeating: " ", count: width - left.count) : "  "
                lines.append("  \(left)\(pad)\(help)")
            }
        }
        if let command {
            let options = command.options.map { "[\($0.usageFragment)]" }
            let usage = ["intops", command.name, command.arguments].filter { !$0.isEmpty } + options
            lines.append("USAGE: " + usage.joined(separator: " "))
            lines.append("")
            lines.append(command.summary)
            if !command.discussion.isEmpty {
                lines.append("")
                lines.append(command.discussion)
            }
            if !command.options.isEmpty {
                lines.append("")
                lines.append("OPTIONS:")
                optionLines(command.options)
            }
            lines.append("")
            lines.append("GLOBAL OPTIONS:")
            optionLines(global + [OptionSpec.flag("help", short: "h", "Show this help.")])
        } else {
            lines.append("USAGE: intops [--chdir DIR] [--no-color] [--verbose|--quiet] COMMAND [OPTIONS]")
            lines.append("")
            lines.append("Reconcile Nymble Commerce integrations with the YAML and SOPS files kept in git.")
            lines.append("")
            lines.append("COMMANDS:")
            let width = (commands.map(\.name.count).max() ?? 0) + 4
            for command in commands {
                lines.append(
                    "  \(command.name)\(String(repeating: " ", count: width - command.name.count))\(command.summary)")
            }
            lines.append("")
            lines.append("GLOBAL OPTIONS:")
            optionLines(
                global + [OptionSpec.flag("help", short: "h", "Show help; intops COMMAND --help for a command.")])
            lines.append("")
            lines.append("Exit codes: 0 success, 1 error, 2 changes or drift found, 64 usage error, 130 interrupted.")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

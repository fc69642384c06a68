/// What the help, the completion scripts and the man page all read: the one command table of
/// ``IntopsCommandLine``, and what its rows imply for the words after a command.
enum HelpTable {
    /// `--help`/`-h`, which the parser answers itself for every command, so it is in no row of the table; it is
    /// listed last among the global options, as the root help lists it.
    static let helpOption = OptionSpec.flag("help", short: "h", "Show help; intops COMMAND --help for a command.")

    static var commands: [CommandSpec] { IntopsCommandLine.commands }

    /// What a shell offers for a word.
    enum Words: Equatable, Sendable {
        case nothing
        case files
        case directories
        case commands
        case words([String])
    }
}

extension CommandSpec {
    /// The sub-verbs of a command whose first positional is one of a list, read from its usage arguments: the
    /// first word of `arguments` when it lists alternatives ("list|show|rm… [ARG]" of state, "bash|zsh|fish").
    var subcommands: [String] {
        guard let first = arguments.split(separator: " ").first, first.contains("|") else { return [] }
        return first.filter { $0 != "[" && $0 != "]" }.split(separator: "|").map(String.init)
    }

    /// What is completed for the positional at `index` (0 is the first word after the command).
    func positionalWords(at index: Int) -> HelpTable.Words {
        guard index < positionalCount.upperBound else { return .nothing }
        if index == 0 {
            if !subcommands.isEmpty { return .words(subcommands) }
            if arguments.split(separator: " ").first?.contains("COMMAND") == true { return .commands }
        }
        return .files
    }

    /// The positional indexes from which on every positional completes the same, and what: at most the first
    /// two differ (a sub-verb, then its arguments).
    var positionalShape: [(from: Int, words: HelpTable.Words)] {
        let first = positionalWords(at: 0)
        let rest = positionalWords(at: 1)
        if first == rest { return first == .nothing ? [] : [(0, first)] }
        return [(0, first)] + (rest == .nothing ? [] : [(1, rest)])
    }
}

extension OptionSpec {
    var takesValue: Bool { kind != .flag }
    var isRepeatable: Bool {
        if case .repeated = kind { return true }
        return false
    }

    var placeholder: String? {
        switch kind {
        case .flag: nil
        case .value(let placeholder), .repeated(let placeholder): placeholder
        }
    }

    /// What is completed for the option's value.
    var valueWords: HelpTable.Words {
        guard takesValue else { return .nothing }
        if let choices { return .words(choices) }
        return placeholder == "DIR" ? .directories : .files
    }

    /// "--name", and "-s" before it when there is a short form.
    var spellings: [String] { (short.map { ["-\($0)"] } ?? []) + ["--\(name)"] }
}

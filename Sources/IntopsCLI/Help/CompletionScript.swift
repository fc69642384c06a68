/// Shell completion scripts for bash, zsh and fish, generated from the command table that the help and the
/// man page are rendered from, so that the three never disagree: the commands, the sub-verbs of a command whose
/// first positional is one (state, secrets), each command's long and short options, the values of options that
/// have choices, and the global options (anywhere on the line). Other option values and positionals complete
/// as files.
enum CompletionScript {
    enum Shell: String, CaseIterable, Sendable { case bash, zsh, fish }

    static func render(
        _ shell: Shell, commands: [CommandSpec] = HelpTable.commands,
        global: [OptionSpec] = IntopsCommandLine.globalOptions, version: String = IntopsCommandLine.version
    ) -> String {
        let global = global + [HelpTable.helpOption]
        return switch shell {
        case .bash: bash(commands: commands, global: global, version: version)
        case .zsh: zsh(commands: commands, global: global, version: version)
        case .fish: fish(commands: commands, global: global, version: version)
        }
    }

    // MARK: - bash

    static func bash(commands: [CommandSpec], global: [OptionSpec], version: String) -> String {
        func list(_ words: [String]) -> String { shellQuote(words.joined(separator: " ")) }
        func valueOptions(_ options: [OptionSpec]) -> [String] { options.filter(\.takesValue).flatMap(\.spellings) }
        /// A completion as `_intops_reply` takes it: a word list, or @files, @dirs or @commands.
        func protocolWords(_ words: HelpTable.Words) -> String? {
            switch words {
            case .nothing: nil
            case .files: "@files"
            case .directories: "@dirs"
            case .commands: "@commands"
            case .words(let words): words.joined(separator: " ")
            }
        }

        var lines: [String] = []
        lines.append(
            "# bash completion for intops \(version), generated from its command table by `intops completion bash`.")
        lines.append("# Install: intops completion bash > /etc/bash_completion.d/intops (or source it from ~/.bashrc).")
        lines.append("")
        lines.append("_intops_commands=\(list(commands.map(\.name)))")
        lines.append("_intops_global_options=\(list(global.flatMap(\.spellings)))")
        lines.append("")
        lines.append("# The options of command $1.")
        lines.append("_intops_options() {")
        lines.append("    case \"$1\" in")
        for command in commands where !command.options.isEmpty {
            lines.append("        \(shellQuote(command.name))) echo \(list(command.options.flatMap(\.spellings))) ;;")
        }
        lines.append("    esac")
        lines.append("}")
        lines.append("")
        lines.append("# Whether option $2 of command $1 (or a global option) takes a value.")
        lines.append("_intops_takes_value() {")
        lines.append("    local options")
        lines.append("    case \"$1\" in")
        for command in commands where command.options.contains(where: \.takesValue) {
            lines.append("        \(shellQuote(command.name))) options=\(list(valueOptions(command.options))) ;;")
        }
        lines.append("        *) options='' ;;")
        lines.append("    esac")
        lines.append("    options=\"$options \"\(list(valueOptions(global)))")
        lines.append("    case \" $options \" in")
        lines.append("        *\" $2 \"*) return 0 ;;")
        lines.append("    esac")
        lines.append("    return 1")
        lines.append("}")
        lines.append("")
        lines.append("# The values of option $2 of command $1: its choices, @dirs or @files.")
        lines.append("_intops_values() {")
        lines.append("    case \"$1 $2\" in")
        for command in commands {
            for option in command.options where option.takesValue {
                guard let words = protocolWords(option.valueWords), words != "@files" else { continue }
                let keys = option.spellings.map { shellQuote("\(command.name) \($0)") }
                lines.append("        \(keys.joined(separator: "|"))) echo \(shellQuote(words)) ;;")
            }
        }
        for option in global where option.takesValue {
            guard let words = protocolWords(option.valueWords), words != "@files" else { continue }
            let keys = option.spellings.map { "*" + shellQuote(" \($0)") }
            lines.append("        \(keys.joined(separator: "|"))) echo \(shellQuote(words)) ;;")
        }
        lines.append("        *) echo @files ;;")
        lines.append("    esac")
        lines.append("}")
        lines.append("")
        lines.append("# What the positional at index $2 (from 0) of command $1 takes: sub-verbs, @commands or @files.")
        lines.append("_intops_positional() {")
        lines.append("    case \"$1\" in")
        for command in commands {
            let shape = command.positionalShape.compactMap { part in protocolWords(part.words).map { (part.from, $0) } }
            guard !shape.isEmpty else { continue }
            // Beyond the last positional nothing; then, from the last part of the shape back to the first, its words.
            lines.append("        \(shellQuote(command.name)))")
            lines.append("            if [ \"$2\" -ge \(command.positionalCount.upperBound) ]; then :")
            for (from, words) in shape.reversed() {
                lines.append("            elif [ \"$2\" -ge \(from) ]; then echo \(shellQuote(words))")
            }
            lines.append("            fi ;;")
        }
        lines.append("    esac")
        lines.append("}")
        lines.append("")
        lines.append(
            #"""
            # Sets COMPREPLY from a word list, or from @files, @dirs or @commands, for the word $cur.
            _intops_reply() {
                case "$1" in
                    @files) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
                    @dirs) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
                    @commands) COMPREPLY=($(compgen -W "$_intops_commands" -- "$cur")) ;;
                    *) COMPREPLY=($(compgen -W "$1" -- "$cur")) ;;
                esac
            }

            _intops() {
                local cur="${COMP_WORDS[COMP_CWORD]}" prev="" command="" positional=0 dashdash="" inline="" i word
                COMPREPLY=()
                if [ "$COMP_CWORD" -gt 1 ]; then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi
                # --name=value: bash splits the word at the = (COMP_WORDBREAKS).
                if [ "$cur" = "=" ]; then
                    cur=""; inline=1
                elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 2 ]; then
                    prev="${COMP_WORDS[COMP_CWORD-2]}"; inline=1
                fi
                for ((i = 1; i < COMP_CWORD; i++)); do
                    word="${COMP_WORDS[i]}"
                    if [ -z "$dashdash" ]; then
                        case "$word" in
                            --) dashdash=1; continue ;;
                            -*)
                                if [ "${COMP_WORDS[i+1]}" = "=" ]; then
                                    i=$((i + 2))
                                elif _intops_takes_value "$command" "$word"; then
                                    i=$((i + 1))
                                fi
                                continue ;;
                        esac
                    fi
                    if [ -z "$command" ]; then command="$word"; else positional=$((positional + 1)); fi
                done
                if [ -z "$dashdash" ]; then
                    case "$prev" in
                        -*)
                            if [ -n "$inline" ] || _intops_takes_value "$command" "$prev"; then
                                _intops_reply "$(_intops_values "$command" "$prev")"
                                return 0
                            fi ;;
                    esac
                    case "$cur" in
                        -*)
                            COMPREPLY=($(compgen -W "$(_intops_options "$command") $_intops_global_options" -- "$cur"))
                            return 0 ;;
                    esac
                fi
                if [ -z "$command" ]; then
                    _intops_reply @commands
                    return 0
                fi
                local words
                words="$(_intops_positional "$command" "$positional")"
                if [ -n "$words" ]; then _intops_reply "$words"; fi
                return 0
            }

            complete -F _intops intops
            """#)
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - zsh

    static func zsh(commands: [CommandSpec], global: [OptionSpec], version: String) -> String {
        func action(_ words: HelpTable.Words) -> String {
            switch words {
            case .nothing: " "
            case .files: "_files"
            case .directories: "_directories"
            case .commands: "(\(commands.map(\.name).joined(separator: " ")))"
            case .words(let words): "(\(words.map(zshEscapeWord).joined(separator: " ")))"
            }
        }
        /// One `_arguments` spec per spelling of an option: `--name=[help]:PLACEHOLDER:action`.
        func specs(_ option: OptionSpec) -> [String] {
            option.spellings.map { spelling in
                var spec = option.isRepeatable ? "*" : ""
                spec += spelling
                if option.takesValue && spelling.hasPrefix("--") { spec += "=" }
                spec += "[\(zshEscapeExplanation(option.help))]"
                if option.takesValue {
                    spec += ":\(zshEscapeMessage(option.placeholder ?? "VALUE")):\(action(option.valueWords))"
                }
                return shellQuote(spec)
            }
        }
        /// `N:message:action` for a positional at one index, `*:message:action` for it and every later one; the
        /// message is the placeholder of the usage arguments at that index (PLANFILE, NAME), or "subcommand".
        func positionalSpecs(_ command: CommandSpec) -> [String] {
            let shape = command.positionalShape
            let placeholders = command.arguments.split(separator: " ").map { word in
                String(word.filter { !"[]…".contains($0) })
            }
            func message(_ index: Int, _ words: HelpTable.Words) -> String {
                if index == 0, !command.subcommands.isEmpty { return "subcommand" }
                if words == .commands { return "command" }
                guard let last = placeholders.last else { return "argument" }
                return zshEscapeMessage(index < placeholders.count ? placeholders[index] : last)
            }
            return shape.enumerated().flatMap { offset, part in
                // Up to a few positionals one spec each, so that no more are offered than the command takes.
                let end = offset < shape.count - 1 ? shape[offset + 1].from : command.positionalCount.upperBound
                let indexes = end - part.from <= 4 ? Array(part.from..<end) : [part.from]
                return indexes.map { index in
                    let position = end - part.from <= 4 ? "\(index + 1)" : "*"
                    return shellQuote("\(position):\(message(index, part.words)):\(action(part.words))")
                }
            }
        }

        var lines: [String] = []
        lines.append("#compdef intops")
        lines.append(
            "# zsh completion for intops \(version), generated from its command table by `intops completion zsh`.")
        lines.append(
            "# Install: intops completion zsh > \"${fpath[1]}/_intops\" (a new shell picks it up), or source it after compinit."
        )
        lines.append("")
        lines.append("_intops() {")
        lines.append("    local curcontext=\"$curcontext\" state state_descr line ret=1")
        lines.append("    typeset -A opt_args")
        lines.append("    local -a global_options commands")
        lines.append("    global_options=(")
        for option in global { for spec in specs(option) { lines.append("        \(spec)") } }
        lines.append("    )")
        lines.append("    commands=(")
        for command in commands {
            lines.append("        \(shellQuote("\(zshEscapeDescribeName(command.name)):\(command.summary)"))")
        }
        lines.append("    )")
        lines.append(
            "    _arguments -C -s \"${global_options[@]}\" '1:command:->command' '*::argument:->argument' && ret=0")
        lines.append("    case $state in")
        lines.append("        (command)")
        lines.append("            _describe -t commands 'intops command' commands && ret=0")
        lines.append("            ;;")
        lines.append("        (argument)")
        lines.append("            curcontext=\"${curcontext%:*:*}:intops-${words[1]}:\"")
        lines.append("            case ${words[1]} in")
        for command in commands {
            let arguments = command.options.flatMap(specs) + positionalSpecs(command)
            lines.append("                (\(zshEscapeWord(command.name)))")
            lines.append(
                "                    _arguments -s \"${global_options[@]}\"" + (arguments.isEmpty ? " && ret=0" : " \\")
            )
            for (offset, argument) in arguments.enumerated() {
                lines.append(
                    "                        \(argument)" + (offset == arguments.count - 1 ? " && ret=0" : " \\"))
            }
            lines.append("                    ;;")
        }
        lines.append("            esac")
        lines.append("            ;;")
        lines.append("    esac")
        lines.append("    return ret")
        lines.append("}")
        lines.append("")
        lines.append(
            "# Autoloaded from fpath, the file is the completion function's body; sourced, it registers the function.")
        lines.append("if [ \"$funcstack[1]\" = \"_intops\" ]; then")
        lines.append("    _intops \"$@\"")
        lines.append("else")
        lines.append("    compdef _intops intops")
        lines.append("fi")
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - fish

    static func fish(commands: [CommandSpec], global: [OptionSpec], version: String) -> String {
        func valueKeys(_ command: String, _ options: [OptionSpec]) -> [String] {
            options.filter(\.takesValue).flatMap(\.spellings).map { fishQuote("\(command) \($0)") }
        }
        /// `complete` arguments for an option: -l/-s, whether it takes a value, and its choices.
        func optionArguments(_ option: OptionSpec) -> String {
            var parts = ["-l", fishQuote(option.name)]
            if let short = option.short { parts += ["-s", fishQuote(String(short))] }
            switch option.valueWords {
            case .nothing: break
            case .files, .commands: parts += ["-r", "-F"]
            case .directories: parts += ["-x", "-a", fishQuote("(__fish_complete_directories)")]
            case .words(let words): parts += ["-x", "-a", fishQuote(words.joined(separator: " "))]
            }
            parts += ["-d", fishQuote(option.help)]
            return parts.joined(separator: " ")
        }

        var lines: [String] = []
        lines.append(
            "# fish completion for intops \(version), generated from its command table by `intops completion fish`.")
        lines.append("# Install: intops completion fish > ~/.config/fish/completions/intops.fish")
        lines.append("")
        lines.append("# Whether option $argv[2] of command $argv[1] (or a global option) takes a value.")
        lines.append("function __intops_takes_value")
        lines.append("    switch \"$argv[1] $argv[2]\"")
        var keys: [String] = []
        for command in commands { keys += valueKeys(command.name, command.options) }
        keys += global.filter(\.takesValue).flatMap(\.spellings).map { fishQuote("* \($0)") }
        if !keys.isEmpty {
            lines.append("        case \(keys.joined(separator: " "))")
            lines.append("            return 0")
        }
        lines.append("    end")
        lines.append("    return 1")
        lines.append("end")
        lines.append("")
        lines.append(
            #"""
            # The command given so far and how many positionals follow it: the words that are neither options nor
            # the values of options.
            function __intops_words
                set -l tokens (commandline -opc)
                set -e tokens[1]
                set -l command ''
                set -l count 0
                set -l skip 0
                set -l dashdash 0
                for token in $tokens
                    if test $skip -eq 1
                        set skip 0
                        continue
                    end
                    if test $dashdash -eq 0
                        if test "$token" = --
                            set dashdash 1
                            continue
                        end
                        if string match -q -- '-*' $token
                            if __intops_takes_value "$command" $token
                                set skip 1
                            end
                            continue
                        end
                    end
                    if test -z "$command"
                        set command $token
                    else
                        set count (math $count + 1)
                    end
                end
                echo $command
                echo $count
            end

            function __intops_needs_command
                set -l words (__intops_words)
                test -z "$words[1]"
            end

            function __intops_using --argument-names name
                set -l words (__intops_words)
                test "$words[1]" = "$name"
            end

            # Whether the word being completed is positional $argv[2] (from 0) or later of command $argv[1],
            # and before positional $argv[3].
            function __intops_positional --argument-names name from before
                set -l words (__intops_words)
                test "$words[1]" = "$name"; or return 1
                test $words[2] -ge $from; and test $words[2] -lt $before
            end

            complete -c intops -f
            """#)
        for command in commands {
            lines.append(
                "complete -c intops -n __intops_needs_command -a \(fishQuote(command.name)) -d \(fishQuote(command.summary))"
            )
        }
        lines.append("")
        lines.append("# Global options, anywhere on the line.")
        for option in global { lines.append("complete -c intops \(optionArguments(option))") }
        for command in commands {
            lines.append("")
            lines.append("# intops \(command.name)")
            let condition = fishQuote("__intops_using \(command.name)")
            for option in command.options {
                lines.append("complete -c intops -n \(condition) \(optionArguments(option))")
            }
            let shape = command.positionalShape
            for (offset, part) in shape.enumerated() {
                let before =
                    " \(offset + 1 < shape.count ? shape[offset + 1].from : command.positionalCount.upperBound)"
                let position = fishQuote("__intops_positional \(command.name) \(part.from)\(before)")
                switch part.words {
                case .nothing: break
                case .files: lines.append("complete -c intops -n \(position) -F")
                case .directories:
                    lines.append("complete -c intops -n \(position) -x -a '(__fish_complete_directories)'")
                case .commands:
                    lines.append(
                        "complete -c intops -n \(position) -x -a \(fishQuote(commands.map(\.name).joined(separator: " ")))"
                    )
                case .words(let words):
                    lines.append("complete -c intops -n \(position) -x -a \(fishQuote(words.joined(separator: " ")))")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Quoting

    /// A POSIX shell (bash, zsh) single-quoted word.
    static func shellQuote(_ text: String) -> String { "'" + text.replacing("'", with: #"'\''"#) + "'" }

    /// A fish single-quoted word: backslash and quote are escaped with a backslash.
    static func fishQuote(_ text: String) -> String {
        "'" + text.replacing("\\", with: "\\\\").replacing("'", with: "\\'") + "'"
    }

    /// The explanation of an `_arguments` spec, inside its brackets.
    static func zshEscapeExplanation(_ text: String) -> String { backslashing(text) { "\\[]:".contains($0) } }

    /// The message of an `_arguments` spec, between colons.
    static func zshEscapeMessage(_ text: String) -> String { backslashing(text) { "\\:".contains($0) } }

    /// A word in an `_arguments` action list or a `case` pattern.
    static func zshEscapeWord(_ text: String) -> String {
        backslashing(text) { !($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// `text` with a backslash before every character `special` picks.
    private static func backslashing(_ text: String, _ special: (Character) -> Bool) -> String {
        var escaped = ""
        for character in text {
            if special(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// The name part of a `_describe` item, before its colon.
    static func zshEscapeDescribeName(_ text: String) -> String { text.replacing(":", with: "\\:") }
}

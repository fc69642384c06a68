import Foundation
import Synchronization

/// Where a command's output goes. Results go to standard output, diagnostics and progress to standard error;
/// colour only on a terminal and never with NO_COLOR.
public struct Console: Sendable {
    public var writeOutput: @Sendable (String) -> Void
    public var writeError: @Sendable (String) -> Void
    public var colorOutput: Bool
    public var colorError: Bool
    /// A line from the person at the terminal (apply's confirmation); nil at end of input.
    public var readLine: @Sendable () -> String?
    public var inputIsTerminal: Bool
    /// Progress lines are for a person watching; a CI log gets the results only.
    public var errorIsTerminal: Bool

    public init(
        writeOutput: @escaping @Sendable (String) -> Void, writeError: @escaping @Sendable (String) -> Void,
        colorOutput: Bool = false, colorError: Bool = false, readLine: @escaping @Sendable () -> String? = { nil },
        inputIsTerminal: Bool = false, errorIsTerminal: Bool = false
    ) {
        self.writeOutput = writeOutput
        self.writeError = writeError
        self.colorOutput = colorOutput
        self.colorError = colorError
        self.readLine = readLine
        self.inputIsTerminal = inputIsTerminal
        self.errorIsTerminal = errorIsTerminal
    }

    /// The process's own standard output and error.
    public static func standard(environment: [String: String]) -> Console {
        let colorAllowed = environment["NO_COLOR"].map(\.isEmpty) ?? true && environment["TERM"] != "dumb"
        return Console(
            writeOutput: { StandardStream.output.write($0) }, writeError: { StandardStream.error.write($0) },
            colorOutput: colorAllowed && isatty(STDOUT_FILENO) == 1,
            colorError: colorAllowed && isatty(STDERR_FILENO) == 1,
            readLine: { Swift.readLine(strippingNewline: true) }, inputIsTerminal: isatty(STDIN_FILENO) == 1,
            errorIsTerminal: isatty(STDERR_FILENO) == 1)
    }

    /// A line from the terminal, read on a thread of its own: the person may take minutes, and a blocked thread of
    /// the cooperative pool would stall the state lock's renewals meanwhile.
    func readLineOffPool() async -> String? {
        let read = readLine
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: read()) }
        }
    }

    func out(_ line: String) { writeOutput(line + "\n") }
    func err(_ line: String) { writeError(line + "\n") }

    var withoutColor: Console {
        var copy = self
        copy.colorOutput = false
        copy.colorError = false
        return copy
    }
}

/// ANSI styling that disappears when colour is off.
enum Style {
    static func apply(_ code: String, _ text: String, _ enabled: Bool) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
    static func bold(_ text: String, _ enabled: Bool) -> String { apply("1", text, enabled) }
    static func red(_ text: String, _ enabled: Bool) -> String { apply("1;31", text, enabled) }
    static func yellow(_ text: String, _ enabled: Bool) -> String { apply("1;33", text, enabled) }
    static func green(_ text: String, _ enabled: Bool) -> String { apply("32", text, enabled) }
}

/// Standard output or error through write(2). FileHandle traps when the reader has gone (`intops state list |
/// head -1`, SIGPIPE being ignored); here a closed stream is closed for good and the rest of the output is dropped,
/// quietly, while the command finishes what it does (an apply still saves its state).
final class StandardStream: Sendable {
    static let output = StandardStream(STDOUT_FILENO)
    static let error = StandardStream(STDERR_FILENO)

    private let descriptor: Int32
    private let closed = Atomic(false)

    private init(_ descriptor: Int32) { self.descriptor = descriptor }

    func write(_ text: String) {
        guard !text.isEmpty, !closed.load(ordering: .relaxed) else { return }
        var bytes = Array(text.utf8)
        let descriptor = self.descriptor
        let ended = bytes.withUnsafeMutableBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return true
                }
                offset += written
            }
            return false
        }
        if ended { closed.store(true, ordering: .relaxed) }
    }
}

import EmbeddedSandbox
import Foundation
import IntopsCLI

#if canImport(Glibc)
import Glibc
#endif

// A broken pipe (intops validate | head) must end the process quietly, not crash it.
signal(SIGPIPE, SIG_IGN)

// A crash prints one line and nothing else: the runtime's backtracer would dump registers and the memory around
// them, which can hold decrypted secrets. The handler only writes a buffer made beforehand and exits (nothing in
// it may allocate: the crash may have happened inside the allocator).
let crashMessage: StaticString =
    "intops: internal error; nothing secret is printed. Please report it with the command you ran.\n"
for number in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
    signal(number) { _ in
        _ = write(STDERR_FILENO, crashMessage.utf8Start, crashMessage.utf8CodeUnitCount)
        _exit(70)
    }
}

let environment = ProcessInfo.processInfo.environment
let status = await IntopsCommandLine.run(
    arguments: Array(CommandLine.arguments.dropFirst()), environment: environment,
    workingDirectory: FileManager.default.currentDirectoryPath, console: .standard(environment: environment),
    sandbox: EmbeddedSandbox())
exit(status)

import Foundation
import IntopsCLI

// A broken pipe (intops validate | head) must end the process quietly, not crash it.
signal(SIGPIPE, SIG_IGN)

let environment = ProcessInfo.processInfo.environment
let status = await IntopsCommandLine.run(
    arguments: Array(CommandLine.arguments.dropFirst()), environment: environment,
    workingDirectory: FileManager.default.currentDirectoryPath, console: .standard(environment: environment))
exit(status)

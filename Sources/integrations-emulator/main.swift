import Dispatch
import Emulator
import EmulatorHTTP
import Foundation

#if canImport(Glibc)
import Glibc
#endif

signal(SIGPIPE, SIG_IGN)

let options: EmulatorOptions
do { options = try EmulatorOptions.parse(Array(CommandLine.arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("integrations-emulator: \(error)\n\(EmulatorOptions.usage)\n".utf8))
    exit(64)
}

do {
    let emulator: Emulator
    if let path = options.dataFile {
        emulator = try Emulator.open(
            url: URL(fileURLWithPath: path), credentials: options.credentials, faults: options.faults)
    } else {
        emulator = Emulator(credentials: options.credentials, faults: options.faults)
    }
    let server = try HTTPServer(host: options.host, port: options.port) { request in await emulator.serve(request) }
    server.start()
    // One line, written straight to the descriptor so that a test reading the pipe sees it at once.
    FileHandle.standardOutput.write(Data("listening on \(server.baseURL)\n".utf8))
    dispatchMain()
} catch {
    FileHandle.standardError.write(Data("integrations-emulator: \(error)\n".utf8))
    exit(1)
}

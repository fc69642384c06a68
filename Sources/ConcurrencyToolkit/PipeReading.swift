import Foundation

#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
#endif

extension FileHandle {
    /// Everything left to read, with read(2), retrying a read a signal interrupted. Foundation's
    /// readDataToEndOfFile on Linux ends the process when a read returns EINTR (it forces the throwing read), which a
    /// process running many children meets: their SIGCHLD interrupts it. Closes nothing.
    public func readAllBytes() -> [UInt8] {
        let fd = fileDescriptor
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                output.append(contentsOf: chunk[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return output
            }
        }
    }
}

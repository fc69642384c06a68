import Foundation

/// Whole-file writes that never leave a partial file: a temporary file beside the target, flushed to disk, then
/// renamed over it.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// The file that was to be written.
        public var path: String
        /// What the system said.
        public var reason: String
        /// Whether the temporary file beside it could not even be created (the folder is the problem).
        public var noTemporaryFile: Bool

        public var description: String { description(naming: path) }

        /// The sentence with the file named as the caller shows it.
        public func description(naming name: String) -> String {
            noTemporaryFile
                ? "cannot create a temporary file in \((name as NSString).deletingLastPathComponent): \(reason)"
                : "cannot write \(name): \(reason)"
        }
    }

    /// Why `write` would refuse `path` (something other than a regular file is there), or nil: for commands that
    /// check their output before doing the work.
    public static func refusal(_ path: String) -> Failure? {
        // A rename would replace whatever is there: only a regular file (or nothing) is replaced. `plan --out
        // /dev/full` as root once turned the device into a file.
        var existing = stat()
        guard lstat(path, &existing) == 0, existing.st_mode & S_IFMT != S_IFREG else { return nil }
        let what = existing.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file"
        return Failure(
            path: path, reason: "it is \(what), and intops writes only regular files", noTemporaryFile: false)
    }

    /// - Parameter mode: the new file's permissions; an existing file's are kept when nil.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t? = nil) throws(Failure) {
        if let refusal = refusal(path) { throw refusal }
        let directory = (path as NSString).deletingLastPathComponent
        let existingMode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
        let permissions = mode ?? existingMode.map { mode_t($0) } ?? 0o644
        var template = Array(((directory.isEmpty ? "." : directory) + "/" + temporaryPrefix + "XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw Failure(path: path, reason: String(cString: strerror(errno)), noTemporaryFile: true)
        }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var ok = fchmod(fd, permissions) == 0
        var offset = 0
        while ok && offset < bytes.count {
            let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                ok = false
            } else {
                offset += written
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(path: path, reason: reason, noTemporaryFile: false)
        }
    }

    /// The prefix of the temporary files `write` makes beside its target.
    static let temporaryPrefix = ".intops-tmp-"

    /// Removes the temporary files a killed process left in `directory` (a SIGKILL between the temporary file and
    /// the rename): only those older than `age`, so that a write in flight in another process keeps its own.
    public static func removeLeftovers(in directory: String, olderThan age: TimeInterval = 600, now: Date = Date()) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(temporaryPrefix) {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                now.timeIntervalSince1970 - TimeInterval(info.st_mtim.tv_sec) > age
            else { continue }
            unlink(path)
        }
    }
}

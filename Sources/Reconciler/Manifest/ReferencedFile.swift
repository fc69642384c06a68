import Foundation

/// The one rule for a file a secret reference names, used by validate and by every command that reads secrets: a
/// regular file whose real location (every symbolic link resolved) is inside the project.
enum ReferencedFile {
    enum Problem: Error, Equatable {
        case missing
        /// A symbolic link on the way leads out of the project.
        case outside
        /// A directory, a device, a FIFO: nothing a secret is read from.
        case notAFile(String)
        case unreadable
    }

    /// Nil when `path` may be read as a secret file of the project at `root`.
    static func problem(_ path: String, root: String) -> Problem? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            switch errno {
            case EACCES: return .unreadable
            case ENOTDIR: return .notAFile("under a path that is not a directory")
            default: return .missing
            }
        }
        guard let real = realPath(path), ProjectPaths.isInside(real, root: realPath(root) ?? root) else {
            return .outside
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .notAFile("a directory")
        default: return .notAFile("not a regular file")
        }
        return access(path, R_OK) == 0 ? nil : .unreadable
    }

    /// The path with every symbolic link resolved, or nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

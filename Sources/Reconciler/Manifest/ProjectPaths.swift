/// Lexical path arithmetic for paths inside the project. No file system access: a path is judged by its text,
/// and callers that open files check the resolved (symlink-free) path again.
package enum ProjectPaths {
    /// Collapses `.`, `..` and repeated slashes of an absolute path.
    package static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// An absolute, normalized path for `path` written relative to `directory` (or absolute already).
    package static func resolve(_ path: String, from directory: String) -> String {
        path.hasPrefix("/") ? normalize(path) : normalize(directory + "/" + path)
    }

    package static func isInside(_ path: String, root: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// `path` relative to `base` when it lies below it, else `path` unchanged.
    package static func display(_ path: String, relativeTo base: String) -> String {
        guard !base.isEmpty else { return path }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

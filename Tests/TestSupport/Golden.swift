import Foundation
import Testing

/// Golden files: rendered output compared with a file kept in the repository; RECORD_GOLDEN=1 rewrites it.
public enum Golden {
    public static func expect(_ actual: String, file: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
            Issue.record("missing golden file \(file.path); run with RECORD_GOLDEN=1", sourceLocation: sourceLocation)
            return
        }
        #expect(actual == expected, "differs from \(file.lastPathComponent)", sourceLocation: sourceLocation)
    }
}

/// Hexadecimal text to bytes, for known-answer vectors.
public func hexBytes(_ hex: String) -> [UInt8] {
    var out = [UInt8]()
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return out
}

import Foundation

/// A secret in memory: it prints, debug-prints, interpolates, dumps and encodes as `(sensitive)`, compares in
/// constant time, and its bytes are zeroed when the last copy is released (as far as Swift allows: a `String`
/// made by ``exposedString()`` is the caller's to keep short-lived).
///
/// Sendable although its storage, a `ManagedBuffer`, cannot say so: the bytes are never written after they are made.
public struct SecretValue: @unchecked Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable, Codable
{
    /// The bytes in the object itself, one allocation a value: a run can hold 200,000 of them. The header is the
    /// count.
    private final class Storage: ManagedBuffer<Int, UInt8> {
        static func make(_ bytes: some Collection<UInt8>) -> Storage {
            let count = bytes.count
            let storage = unsafeDowncast(create(minimumCapacity: count) { _ in count }, to: Storage.self)
            storage.withUnsafeMutablePointerToElements { elements in
                _ = UnsafeMutableBufferPointer(start: elements, count: count).initialize(from: bytes)
            }
            return storage
        }

        func withBytes<Result, Failure: Error>(
            _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
        ) throws(Failure) -> Result {
            try withUnsafeMutablePointers { (count, elements) throws(Failure) -> Result in
                try body(UnsafeRawBufferPointer(start: elements, count: count.pointee))
            }
        }

        deinit {
            withUnsafeMutablePointers { count, elements in
                secureZero(UnsafeMutableRawBufferPointer(start: elements, count: count.pointee))
            }
        }
    }

    private let storage: Storage

    public init(_ text: String) { storage = Storage.make(text.utf8) }

    /// The value of `bytes`, which are zeroed when the array was their only holder.
    public init(bytes: consuming [UInt8]) {
        storage = Storage.make(bytes)
        secureZero(&bytes)
    }

    public static let redaction = "(sensitive)"

    public var description: String { Self.redaction }
    public var debugDescription: String { Self.redaction }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: nil) }

    /// The value itself, for the one place that must send it (the API request body).
    public func exposedString() -> String { withBytes { String(decoding: $0, as: UTF8.self) } }

    /// Works on the bytes in place, without a copy; they must not escape `body`.
    public func withBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result { try storage.withBytes(body) }

    public var isEmpty: Bool { storage.header == 0 }

    public static func == (lhs: SecretValue, rhs: SecretValue) -> Bool {
        lhs.withBytes { left in rhs.withBytes { right in Digest.constantTimeEqual(left, right) } }
    }

    /// Swift's Hasher is SipHash under a seed drawn at random for each process, so a hash table never holds a plain
    /// function of the secret.
    public func hash(into hasher: inout Hasher) { withBytes { hasher.combine(bytes: $0) } }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Self.redaction)
    }

    /// Secrets never come from serialized data.
    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(
            .init(codingPath: decoder.codingPath, debugDescription: "a secret is never decoded"))
    }
}

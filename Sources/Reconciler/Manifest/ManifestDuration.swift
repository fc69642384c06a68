/// A duration as manifests write it: `30s`, `90d`, `1h30m`, `500ms`.
public struct ManifestDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public var seconds: Double { Double(milliseconds) / 1000 }
    public var duration: Duration { .milliseconds(milliseconds) }

    static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]

    /// Parses one or more `<number><unit>` groups, units ms, s, m, h, d, w; the total must be positive unless
    /// `allowingZero` (a wait of `0s` means "do not wait").
    public init?(_ text: String, allowingZero: Bool = false) {
        var total: Int64 = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, digits.count <= 9, let number = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix(while: { $0.isASCII && $0.isLetter })
            guard let unit = Self.units.first(where: { $0.suffix == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            let (product, overflow) = number.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            total += product
        }
        guard total > 0 || allowingZero else { return nil }
        milliseconds = total
    }

    public var description: String {
        for unit in Self.units.reversed() where milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// The API's integration types (the API reference's enumeration, values 1 to 8).
///
/// The API reference sends integers and the guide sends names; both decode. Encoding writes the integer, as
/// the reference does.
public enum IntegrationType: Int, Sendable, Hashable, CaseIterable, Codable, Comparable, CustomStringConvertible {
    case payment = 1
    case accounting = 2
    case shipping = 3
    case email = 4
    case sms = 5
    case analytics = 6
    case crm = 7
    case inventory = 8

    /// The name as the API documentation spells it.
    public var name: String {
        switch self {
        case .payment: "Payment"
        case .accounting: "Accounting"
        case .shipping: "Shipping"
        case .email: "Email"
        case .sms: "Sms"
        case .analytics: "Analytics"
        case .crm: "Crm"
        case .inventory: "Inventory"
        }
    }

    public var description: String { name }

    /// A type from its name, compared without regard to case (`payment`, `Payment`, `PAYMENT`).
    public init?(name: String) {
        let lower = name.lowercased()
        guard let match = Self.allCases.first(where: { $0.name.lowercased() == lower }) else { return nil }
        self = match
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            guard let value = Self(rawValue: number) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "integration type \(number) is not between 1 and 8")
            }
            self = value
        } else {
            let text = try container.decode(String.self)
            guard let value = Self(name: text) ?? Int(text).flatMap(Self.init(rawValue:)) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "unknown integration type \"\(text)\"")
            }
            self = value
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

import Testing

@testable import SOPS

/// A document indexed for many lookups answers what a plain lookup answers.
@Suite struct LookupTests {
    @Test func anIndexedLookupAgreesWithThePlainOne() {
        func scalar(_ text: String) -> SOPSValue { .scalar(.string(text)) }
        var entries: [SOPSEntry] = []
        for index in 0..<40 {
            entries.append(
                SOPSEntry(
                    key: "gateway-\(index)",
                    value: .mapping([
                        SOPSEntry(key: "login", value: scalar("l\(index)")),
                        SOPSEntry(key: "list", value: .sequence([scalar("a\(index)"), scalar("b\(index)")])),
                    ])))
        }
        // Repeated keys: the first one wins, as in the plain lookup, also for a mapping under a repeated key.
        entries.append(SOPSEntry(key: "gateway-3", value: scalar("second")))
        entries.append(
            SOPSEntry(
                key: "gateway-5",
                value: .mapping(
                    (0..<20).map { SOPSEntry(key: "login\($0 == 0 ? "" : String($0))", value: scalar("x")) })))
        let document = SOPSValue.mapping(entries)
        let indexed = SOPSLookup(document)
        let pointers: [[String]] = [
            ["gateway-3"], ["gateway-3", "login"], ["gateway-39", "list", "1"], ["gateway-39", "list", "01"],
            ["gateway-40"], ["gateway-1", "missing"], [], ["gateway-1", "login", "deeper"], ["gateway-5", "login"],
            ["gateway-5", "login7"],
        ]
        for pointer in pointers { #expect(indexed.lookup(pointer) == document.lookup(pointer), "\(pointer)") }
    }
}

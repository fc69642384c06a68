import Foundation
import HTTPSupport
import Synchronization
import Testing

@Suite struct RedactorTests {
    static let secret = "s3cr/et+Vålue \"q\""

    static func redactor() -> Redactor {
        let redactor = Redactor()
        redactor.register(secret)
        return redactor
    }

    @Test func valuesRegisteredLaterAreListedAtTheFirstRedactionAndReplacedLikeTheRest() {
        let redactor = Redactor()
        let listed = Mutex(0)
        redactor.registerLater {
            listed.withLock { $0 += 1 }
            return [Self.secret, "ab"]
        }
        #expect(listed.withLock { $0 } == 0)
        #expect(!redactor.isEmpty)
        let text = redactor.redact("x \(Data(Self.secret.utf8).base64EncodedString()) ab abc")
        #expect(text == "x \(Redactor.replacement) \(Redactor.replacement) abc")
        #expect(redactor.redact(Self.secret) == Redactor.replacement)
        #expect(listed.withLock { $0 } == 1)
    }

    @Test func everyEncodedFormIsReplaced() throws {
        let bytes = Array(Self.secret.utf8)
        let json = String(decoding: try JSONEncoder().encode(["k": Self.secret]), as: UTF8.self)
        var forms = [
            Self.secret, json, Data(bytes).base64EncodedString(), bytes.map { String(format: "%02x", $0) }.joined(),
            bytes.map { String(format: "%02X", $0) }.joined(),
            Self.secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
        ]
        // Inside a longer base64 text, at each of the three alignments.
        for prefix in ["", "a", "ab", "abc"] {
            let embedded = Data((prefix + "{\"secret\":" + Self.secret + "}").utf8).base64EncodedString()
            forms.append(embedded)
            forms.append(embedded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        }
        for form in forms {
            let text = Self.redactor().redact("before \(form) after")
            #expect(text.contains(Redactor.replacement), "\(form) → \(text)")
            #expect(!text.contains(Self.secret))
        }
    }

    @Test func textWithoutValuesIsUnchanged() {
        let text = "POST /api/organizations/org1/integrations failed: name taken"
        #expect(Self.redactor().redact(text) == text)
        #expect(Redactor().redact(text) == text)
    }

    @Test func aShortValueIsReplacedOnlyWhereItStandsAlone() {
        let redactor = Redactor()
        redactor.register("x9z")
        redactor.register("a")
        #expect(redactor.redact(#"{"key":"x9z","id":"a"}"#) == #"{"key":"(redacted)","id":"(redacted)"}"#)
        #expect(redactor.redact("integration was not found: ax9zb") == "integration was not found: ax9zb")
    }

    @Test func theLongestFormWins() {
        let redactor = Redactor()
        redactor.register("abcdef")
        redactor.register("abcdefghij")
        #expect(redactor.redact("[abcdefghij]") == "[(redacted)]")
        #expect(redactor.redact("[abcdef]") == "[(redacted)]")
    }
}

import CryptoPrimitives
import Foundation

/// An SSH public key of a type age can encrypt to.
public enum SSHPublicKey: Sendable, Hashable {
    case ed25519([UInt8])
    case rsa(modulus: [UInt8], exponent: [UInt8])

    public var typeName: String {
        switch self {
        case .ed25519: "ssh-ed25519"
        case .rsa: "ssh-rsa"
        }
    }

    /// The key as SSH marshals it, which age hashes and tweaks with.
    var wire: [UInt8] {
        switch self {
        case .ed25519(let key): SSHWire.string(Array("ssh-ed25519".utf8)) + SSHWire.string(key)
        case .rsa(let modulus, let exponent):
            SSHWire.string(Array("ssh-rsa".utf8)) + SSHWire.mpint(exponent) + SSHWire.mpint(modulus)
        }
    }

    /// The stanza's first argument: the first four bytes of SHA-256 of the wire form, unpadded base64.
    var tag: String { StrictBase64.encode(Digest.sha256(wire).prefix(4), padded: false) }

    /// Why a text is not an SSH public key intops can use.
    public enum Refusal: Error, Sendable, Equatable {
        case malformed
        case unsupportedType(String)
    }

    /// The key of an `authorized_keys` line, `TYPE BASE64 [COMMENT]`.
    public static func parse(authorizedKey text: String) -> Result<SSHPublicKey, Refusal> {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else { return .failure(.malformed) }
        let type = String(fields[0])
        guard let key = parse(wire: Array(blob)) else {
            if type != "ssh-ed25519" && type != "ssh-rsa" { return .failure(.unsupportedType(type)) }
            return .failure(.malformed)
        }
        guard key.typeName == type else { return .failure(.malformed) }
        return .success(key)
    }

    /// A wire-encoded public key; nil when it is malformed or of another type.
    static func parse(wire: [UInt8]) -> SSHPublicKey? {
        var reader = SSHWireReader(wire)
        switch reader.string().map({ String(decoding: $0, as: UTF8.self) }) {
        case "ssh-ed25519":
            guard let key = reader.string(), key.count == 32, reader.isAtEnd else { return nil }
            return .ed25519(key)
        case "ssh-rsa":
            guard let exponent = reader.unsignedMPInt(), let modulus = reader.unsignedMPInt(), reader.isAtEnd,
                !exponent.isEmpty, !modulus.isEmpty
            else { return nil }
            return .rsa(modulus: modulus, exponent: exponent)
        default: return nil
        }
    }
}

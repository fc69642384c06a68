import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// An integration's identity: its organization and its manifest name (SPEC §5).
public struct IntegrationKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var organization: String
    public var name: String

    public init(organization: String, name: String) {
        self.organization = organization
        self.name = name
    }

    public var description: String { "\(organization)/\(name)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.organization, lhs.name) < (rhs.organization, rhs.name)
    }
}

/// The state file (SPEC §6): what intops manages and what it last applied. No secret, no plain hash of one.
public struct IntopsState: Codable, Sendable, Equatable {
    public struct SecretRecord: Codable, Sendable, Equatable {
        /// HMAC-SHA256 under the project's fingerprint key, hex.
        public var fingerprint: String
        public var setAt: String
    }

    public struct TestRecord: Codable, Sendable, Equatable {
        public var passed: Bool
        public var at: String
        public var message: String?
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var organization: String
        public var name: String
        public var integrationId: String
        public var type: IntegrationType
        public var provider: String
        public var displayName: String
        /// The live `updatedAt` seen right after the last apply.
        public var updatedAt: String?
        /// A digest of the configuration applied (not secret), to prove it unchanged without a GET.
        public var configurationDigest: String?
        public var secrets: [String: SecretRecord]
        public var lastTest: TestRecord?

        public var key: IntegrationKey { IntegrationKey(organization: organization, name: name) }
    }

    public var version: Int
    public var lineage: String
    public var serial: Int
    public var integrations: [Entry]

    public static let currentVersion = 1

    public init(lineage: String = UUID().uuidString.lowercased(), serial: Int = 0, integrations: [Entry] = []) {
        version = Self.currentVersion
        self.lineage = lineage
        self.serial = serial
        self.integrations = integrations
    }

    public func entry(_ key: IntegrationKey) -> Entry? { integrations.first { $0.key == key } }

    public mutating func set(_ entry: Entry) {
        if let index = integrations.firstIndex(where: { $0.key == entry.key }) {
            integrations[index] = entry
        } else {
            integrations.append(entry)
            integrations.sort { $0.key < $1.key }
        }
    }

    @discardableResult
    public mutating func remove(_ key: IntegrationKey) -> Entry? {
        guard let index = integrations.firstIndex(where: { $0.key == key }) else { return nil }
        return integrations.remove(at: index)
    }

    /// Configuration digest: SHA-256 over the sorted `key=value` lines (configuration is not secret).
    public static func configurationDigest(_ configuration: [String: String]) -> String {
        let text = configuration.keys.sorted().map { "\($0)=\(configuration[$0]!)" }.joined(separator: "\n")
        return Digest.sha256(Array(text.utf8)).hex
    }
}

/// Keyed fingerprints of write-only secrets (SPEC §5): HMAC-SHA256 under the project's fingerprint key, over the
/// identity, the secret's key and its value, so equal values in two integrations do not show as equal.
public struct Fingerprinter: Sendable {
    private let key: SecretValue

    public init(key: SecretValue) { self.key = key }

    public func fingerprint(_ integration: IntegrationKey, secretKey: String, value: SecretValue) -> String {
        key.withBytes { keyBytes in
            value.withBytes { valueBytes in
                var message = Array("intops-fingerprint-v1\0\(integration.organization)\0\(integration.name)\0\(secretKey)\0".utf8)
                message += valueBytes
                defer { secureZero(&message) }
                return Digest.hmacSHA256(key: keyBytes, data: message).hex
            }
        }
    }
}

import CryptoPrimitives
import Foundation
import IntegrationsAPI

/// An integration's identity: its organization and its manifest name.
public struct IntegrationKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var organization: String
    public var name: String

    public init(organization: String, name: String) {
        self.organization = organization
        self.name = name
    }

    public var description: String { "\(organization)/\(name)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.organization, lhs.name) < (rhs.organization, rhs.name) }
}

/// The state file: what intops manages and what it last applied. No secret, no plain hash of one.
public struct IntopsState: Codable, Sendable, Equatable {
    public struct SecretRecord: Codable, Sendable, Equatable {
        /// HMAC-SHA256 under the project's fingerprint key, hex.
        public var fingerprint: String
        /// When this value was first set: the age `rotation.maxAge` measures. Sending the same value again (a
        /// rotate to the same secret, a replace) does not make it younger.
        public var setAt: String

        /// The record after `fingerprint` is sent at `now`.
        public static func sent(_ fingerprint: String, at now: String, previous: SecretRecord?) -> SecretRecord {
            SecretRecord(
                fingerprint: fingerprint, setAt: previous?.fingerprint == fingerprint ? previous?.setAt ?? now : now)
        }
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
        /// While a replace is under way: the integration this one replaces, still live until the replace deletes
        /// it. A run stopped in between leaves it here, and the next plan finishes the replace (or undoes it).
        public var replaces: String? = nil
        /// A connection test the last change asked for has not run yet (the run stopped, or the test request
        /// failed): the next plan runs it.
        public var testDue: Bool? = nil

        public var key: IntegrationKey { IntegrationKey(organization: organization, name: name) }
        public var identity: LiveIdentity { LiveIdentity(type: type, provider: provider, displayName: displayName) }
    }

    /// A create about to be sent: recorded (and on disk) before the request, cleared once the integration is
    /// recorded. One left behind by a killed apply names an integration that may exist without a state entry.
    public struct PendingCreate: Codable, Sendable, Equatable {
        public var organization: String
        public var name: String
        public var displayName: String
        public var provider: String
        public var type: IntegrationType

        public var key: IntegrationKey { IntegrationKey(organization: organization, name: name) }
        public var identity: LiveIdentity { LiveIdentity(type: type, provider: provider, displayName: displayName) }
    }

    public var version: Int
    public var lineage: String
    public var serial: Int
    public var integrations: [Entry]
    /// The git commit of the project at the last apply that completed with every secrets file committed: where a
    /// failed rotation finds the values to roll back to.
    public var revision: String?
    public var pendingCreates: [PendingCreate]?
    /// False for the empty state of a project whose backend holds none yet (not written to the state itself).
    public var exists = true

    enum CodingKeys: String, CodingKey { case version, lineage, serial, integrations, revision, pendingCreates }

    public static let currentVersion = 1

    public init(lineage: String = UUID().uuidString.lowercased(), serial: Int = 0, integrations: [Entry] = []) {
        version = Self.currentVersion
        self.lineage = lineage
        self.serial = serial
        self.integrations = integrations.sorted { $0.key < $1.key }
    }

    /// Entries stay sorted by key, so lookups and inserts are binary searches (thousands happen in one apply).
    private func position(of key: IntegrationKey) -> (index: Int, found: Bool) {
        var low = 0, high = integrations.count
        while low < high {
            let middle = (low + high) / 2
            let candidate = integrations[middle].key
            if candidate == key { return (middle, true) }
            if candidate < key { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    public func entry(_ key: IntegrationKey) -> Entry? {
        let (index, found) = position(of: key)
        return found ? integrations[index] : nil
    }

    public mutating func set(_ entry: Entry) {
        if pendingCreates?.isEmpty == false {
            pendingCreates!.removeAll { $0.key == entry.key }
            if pendingCreates!.isEmpty { pendingCreates = nil }
        }
        let (index, found) = position(of: entry.key)
        if found { integrations[index] = entry } else { integrations.insert(entry, at: index) }
    }

    @discardableResult public mutating func remove(_ key: IntegrationKey) -> Entry? {
        let (index, found) = position(of: key)
        return found ? integrations.remove(at: index) : nil
    }

    /// Configuration digest: SHA-256 over the sorted `key=value` lines (configuration is not secret).
    public static func configurationDigest(_ configuration: [String: String]) -> String {
        let text = configuration.keys.sorted().map { "\($0)=\(configuration[$0]!)" }.joined(separator: "\n")
        return Digest.sha256(Array(text.utf8)).hex
    }
}

/// Keyed fingerprints of write-only secrets: HMAC-SHA256 under the project's fingerprint key, over the
/// identity, the secret's key and its value, so equal values in two integrations do not show as equal.
public struct Fingerprinter: Sendable {
    private let mac: HMACKey

    public init(key: SecretValue) throws(CryptoFailure) {
        mac = try key.withBytes { (bytes) throws(CryptoFailure) in try HMACKey(bytes) }
    }

    public func fingerprint(_ integration: IntegrationKey, secretKey: String, value: SecretValue) -> SecretFingerprint {
        // The value goes to the MAC from its own storage, never into a copy.
        let label = Array(
            "intops-fingerprint-v1\0\(integration.organization)\0\(integration.name)\0\(secretKey)\0".utf8)
        return SecretFingerprint(
            bytes: value.withBytes { valueBytes in
                label.withUnsafeBytes { labelBytes in mac.authenticate([labelBytes, valueBytes]) }
            })
    }
}

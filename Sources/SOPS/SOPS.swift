/// SOPS v3 documents (YAML, JSON, dotenv, INI) encrypted to age recipients.
public enum SOPS {
    /// The top-level key that holds a SOPS document's metadata.
    public static let metadataKey = "sops"

    /// The file formats SOPS stores, chosen by file extension as `sops` does.
    public enum Format: String, Sendable, CaseIterable {
        case yaml, json, dotenv, ini, binary

        public init(path: String) {
            let lower = path.lowercased()
            if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
                self = .yaml
            } else if lower.hasSuffix(".json") {
                self = .json
            } else if lower.hasSuffix(".env") {
                self = .dotenv
            } else if lower.hasSuffix(".ini") {
                self = .ini
            } else {
                self = .binary
            }
        }
    }
}

import Foundation
import IntegrationsAPI
import YAML

/// Checks integrations against their provider's template and normalizes configuration values to the API's
/// string form.
public struct TemplateValidator: Sendable {
    private let byTypeAndProvider: [IntegrationType: [String: IntegrationTemplate]]

    public init(templates: [IntegrationTemplate]) {
        var index: [IntegrationType: [String: IntegrationTemplate]] = [:]
        for template in templates { index[template.type, default: [:]][template.provider] = template }
        byTypeAndProvider = index
    }

    public func template(type: IntegrationType, provider: String) -> IntegrationTemplate? {
        byTypeAndProvider[type]?[provider]
    }

    /// What checking an integration against its template finds.
    public struct Validation: Sendable {
        /// Errors and warnings, in the order of the fields they are about.
        public var diagnostics: [Diagnostic] = []
        /// The configuration in the API's string form: each value the template knows normalized, any other as
        /// written.
        public var configuration = KeyedValues<String>()
    }

    /// Validates one integration and gives its configuration in the API's form.
    public func validate(_ integration: IntegrationManifest) -> Validation {
        var configuration = KeyedValues<String>()
        configuration.reserveCapacity(integration.configuration.count)
        for entry in integration.configuration { configuration[entry.key] = entry.text }
        let diagnostics = validate(integration, normalizing: &configuration)
        return Validation(diagnostics: diagnostics, configuration: configuration)
    }

    private func validate(
        _ integration: IntegrationManifest, normalizing configuration: inout KeyedValues<String>
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        func fail(_ location: SourceLocation, _ message: String) { diagnostics.append(.error(location, message)) }
        let what = "integration \(integration.name)"

        guard let type = integration.type, let provider = integration.provider else { return [] }
        guard let template = template(type: type, provider: provider) else {
            let location = integration.location(of: "provider")
            if let other = byTypeAndProvider.first(where: { $0.value[provider] != nil })?.key {
                fail(
                    location,
                    "\(what): provider \(provider) is a \(other.name) provider, not \(type.name); set type: \(other.name)"
                )
            } else {
                let known = (byTypeAndProvider[type]?.keys).map { Array($0).sorted() } ?? []
                let hint =
                    Spelling.suggestion(for: provider, among: known).map { "did you mean '\($0)'?" }
                    ?? "\(type.name) providers are \(Spelling.list(known))"
                fail(location, "\(what): unknown provider '\(provider)' for type \(type.name); \(hint)")
            }
            return diagnostics
        }
        // A tombstone only needs to name what it deletes.
        guard integration.ensure == .present else { return diagnostics }

        let configurationKeys = template.configurationFields.map(\.key)
        let secretKeys = template.secretFields.map(\.key)
        for entry in integration.configuration {
            if let secret = template.secretFields.first(where: { $0.key.lowercased() == entry.key.lowercased() }) {
                fail(
                    entry.location,
                    "secret under configuration: \(what): \(secret.key) is a secret of \(provider) and configuration is stored "
                        + "in clear text; move it under secrets: as a reference and rotate it, the value is in git history now"
                )
                continue
            }
            guard let field = template.configurationField(entry.key) else {
                let hint =
                    Spelling.suggestion(for: entry.key, among: configurationKeys).map { "did you mean '\($0)'?" }
                    ?? "\(provider) takes \(configurationKeys.isEmpty ? "no configuration" : Spelling.list(configurationKeys))"
                fail(entry.location, "\(what): unknown configuration key '\(entry.key)'; \(hint)")
                continue
            }
            switch Self.normalize(entry, field: field) {
            case .success(let normalized): configuration[entry.key] = normalized
            case .failure(let problem): fail(entry.location, "\(what): configuration.\(field.key) \(problem)")
            }
        }
        let givenKeys = Set(integration.configuration.map(\.key))
        for field in template.configurationFields where field.required && field.defaultValue == nil {
            if !givenKeys.contains(field.key) {
                fail(
                    integration.location(of: "configuration"),
                    "\(what): missing configuration.\(field.key), which \(provider) requires (\(field.type))")
            }
        }

        for secret in integration.secrets where template.secretField(secret.key) == nil {
            let hint: String
            if template.configurationField(secret.key) != nil {
                hint = "\(secret.key) is a configuration field; move it under configuration:"
            } else if template.requiresOAuth && secretKeys.isEmpty {
                hint = "\(provider) takes no secrets, it is authorized with intops connect"
            } else {
                hint =
                    Spelling.suggestion(for: secret.key, among: secretKeys).map { "did you mean '\($0)'?" }
                    ?? "\(provider) takes \(secretKeys.isEmpty ? "no secrets" : Spelling.list(secretKeys))"
            }
            fail(secret.location, "\(what): unknown secret '\(secret.key)'; \(hint)")
        }
        let givenSecrets = Set(integration.secrets.map(\.key))
        for field in template.secretFields where field.required && !givenSecrets.contains(field.key) {
            fail(
                integration.location(of: "secrets"),
                "\(what): missing secret \(field.key), which \(provider) requires; add \(field.key): ref+sops://FILE#/\(field.key)"
            )
        }
        return diagnostics
    }

    /// The API's string form of a configuration value, or what is wrong with it (never quoting the value).
    static func normalize(
        _ entry: IntegrationManifest.ConfigurationValue, field: ConfigurationField
    ) -> Result<String, ProblemText> {
        if case .string(let text) = entry.value, SecretReference.looksLikeReference(text) {
            return .failure(
                "holds a secret reference, but configuration is sent as written; references work only under secrets:")
        }
        switch field.type {
        case .boolean:
            switch entry.value {
            case .bool(let value): return .success(value ? "true" : "false")
            case .string(let text) where ["true", "false"].contains(text.lowercased()):
                return .success(text.lowercased())
            default: return .failure("is a Boolean field; write true or false")
            }
        case .number:
            switch entry.value {
            case .int(let value): return .success(String(value))
            case .float(let value) where value.isFinite: return .success(canonical(value))
            case .string(let text):
                if case .int(let value) = Node.resolvePlain(text) { return .success(String(value)) }
                if case .float(let value) = Node.resolvePlain(text), value.isFinite {
                    return .success(canonical(value))
                }
                return .failure("is a Number field; write a number such as 30 or 2.5")
            default: return .failure("is a Number field; write a number such as 30 or 2.5")
            }
        case .url:
            guard case .string(let text) = entry.value, let url = URL(string: text),
                let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host?.isEmpty == false
            else { return .failure("is a Url field; write an absolute http:// or https:// URL") }
            return .success(text)
        case .select:
            let text: String
            switch entry.value {
            case .string(let value): text = value
            case .int, .float, .bool: text = entry.text
            case .null: return .failure("has no value")
            }
            if let options = field.options, !options.isEmpty, !options.contains(text) {
                let hint = Spelling.suggestion(for: text, among: options).map { "; did you mean '\($0)'?" } ?? ""
                return .failure(ProblemText(description: "must be one of \(Spelling.list(options))\(hint)"))
            }
            return .success(text)
        case .string:
            switch entry.value {
            case .string(let text): return .success(text)
            case .int(let value): return .success(String(value))
            default: return .failure("is a String field; put the value in quotes")
            }
        case .other:
            switch entry.value {
            case .string(let text): return .success(text)
            case .bool(let value): return .success(value ? "true" : "false")
            default: return .success(entry.text)
            }
        }
    }

    /// Numbers compare by value: `1.50`, `1.5` and `15e-1` are all "1.5"; whole numbers lose their ".0".
    static func canonical(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// A sentence fragment explaining what is wrong with a value.
struct ProblemText: Error, ExpressibleByStringLiteral, CustomStringConvertible {
    var description: String
    init(description: String) { self.description = description }
    init(stringLiteral value: String) { description = value }
}

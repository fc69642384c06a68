import Foundation
import IntegrationsAPI
import SOPS
import YAML

/// Where validation found its templates.
public enum TemplateOrigin: Sendable, Equatable, CustomStringConvertible {
    case cache(path: String)
    case sandboxCatalog
    /// Asked of the API (one request), as organization `organization`.
    case api(organization: String)

    public var description: String {
        switch self {
        case .cache(let path): "the templates cache \(path)"
        case .sandboxCatalog: "the sandbox emulator's catalog"
        case .api(let organization): "the API (as organization \(organization))"
        }
    }
}

/// What `intops validate` checked, for its summary line.
public struct ValidationReport: Sendable {
    public var loaded: LoadedProject
    public var templateOrigin: TemplateOrigin
    public var templateCount: Int
    public var referenceCount: Int
    public var warnings: [Diagnostic]

    public var project: Project { loaded.project }
    public var integrations: [IntegrationManifest] { loaded.integrations }
}

/// `intops validate`: syntax, schema, templates, and that secret references point at something.
public enum ProjectValidation {
    /// Validates the project found at or above `directory`.
    ///
    /// - Parameters:
    ///   - offline: never reach the API; templates must come from the cache or the sandbox catalog.
    ///   - environment: where `ref+env://` references are looked up.
    /// - Throws: ``InvalidProject`` with every problem found, warnings included.
    public static func run(
        from directory: String, offline: Bool, environment: [String: String], sandbox: (any SandboxProvider)?
    ) async throws(InvalidProject) -> ValidationReport {
        let loaded = try await ProjectLoader.load(from: directory)
        let project = loaded.project
        let (templates, origin) = try await templates(
            for: project, offline: offline, environment: environment, sandbox: sandbox)

        var diagnostics = loaded.warnings
        let validator = TemplateValidator(templates: templates)
        for integration in loaded.integrations { diagnostics += validator.validate(integration).diagnostics }

        var checker = ReferenceChecker(root: project.root)
        // The embedded emulator needs no tokens, so a sandbox project is not asked to have them set.
        var references: [SecretReference] = project.api.isSandbox ? [] : project.organizations.compactMap(\.token)
        if let key = project.fingerprintKey { references.append(key) }
        for integration in loaded.integrations where integration.ensure == .present {
            references += integration.secrets.map(\.reference)
        }
        for reference in references { diagnostics += checker.check(reference, environment: environment) }
        diagnostics += recipientDisagreements(project: project, references: references)
        if project.allowPlaintextSecrets {
            diagnostics.append(
                Diagnostic(
                    .warning, at: SourceLocation(file: project.file, line: 1, column: 1),
                    "allowPlaintextSecrets is true: secrets may be written in manifests; use this for demos only"))
        }

        if diagnostics.contains(where: { $0.severity == .error }) { throw InvalidProject(diagnostics) }
        return ValidationReport(
            loaded: loaded, templateOrigin: origin, templateCount: templates.count, referenceCount: references.count,
            warnings: diagnostics)
    }

    /// A warning for each SOPS file whose `.sops.yaml` rule encrypts to other recipients than intops.yaml's
    /// `recipients:`, or that no rule covers: new files and updatekeys follow `.sops.yaml`, so the two drift apart
    /// silently otherwise.
    static func recipientDisagreements(project: Project, references: [SecretReference]) -> [Diagnostic] {
        let files = Set(
            references.compactMap { reference -> String? in
                if case .sops(let file, _) = reference.source { file } else { nil }
            })
        var warnings: [Diagnostic] = []
        // Each .sops.yaml read once; nil when it could not be (warned about once).
        var configurations: [String: SOPSCreationRules?] = [:]
        for file in files.sorted() {
            guard let found = SOPSCreationRules.locate(for: file).path else { continue }
            let shown = ProjectPaths.display(file, relativeTo: project.root)
            let at = SourceLocation(file: found, line: 1, column: 1)
            if configurations[found] == nil {
                do throws(SOPSCreationRules.Failure) { configurations[found] = try SOPSCreationRules.load(found) } catch
                {
                    warnings.append(Diagnostic(.warning, at: error.location, error.message))
                    configurations[found] = .some(nil)
                }
            }
            guard let loaded = configurations[found], let rules = loaded else { continue }
            guard !rules.rules.isEmpty else { continue }
            let rule: SOPSCreationRules.Rule
            do throws(SOPSCreationRules.Failure) { rule = try rules.rule(for: file) } catch {
                warnings.append(
                    Diagnostic(
                        .warning, at: at,
                        "no creation rule covers \(shown), so intops secrets encrypt and updatekeys refuse it; add one")
                )
                continue
            }
            let ruled = Set(rule.groups.flatMap { $0.map(\.description) })
            if !project.recipients.isEmpty, ruled != Set(project.recipients) {
                warnings.append(
                    Diagnostic(
                        .warning, at: rule.location,
                        "creation rule \(rule.number) encrypts \(shown) to other recipients than intops.yaml's recipients; .sops.yaml is the one used, make the two agree"
                    ))
            }
        }
        return warnings
    }

    /// Templates from, in order: the cache file, the sandbox catalog, the API, in one request.
    public static func templates(
        for project: Project, offline: Bool, environment: [String: String], sandbox: (any SandboxProvider)?
    ) async throws(InvalidProject) -> ([IntegrationTemplate], TemplateOrigin) {
        do { return try loadTemplates(for: project, offline: true, sandbox: sandbox) } catch
            where offline || FileManager.default.fileExists(atPath: project.templatesCachePath)
        { throw error } catch {
            return try await fetchTemplates(for: project, environment: environment, sandbox: sandbox)
        }
    }

    static func fetchTemplates(
        for project: Project, environment: [String: String], sandbox: (any SandboxProvider)?
    ) async throws(InvalidProject) -> ([IntegrationTemplate], TemplateOrigin) {
        guard let organization = project.organizations.first else {
            throw InvalidProject([
                Diagnostic(path: project.file, "intops.yaml declares no organization to read the templates as")
            ])
        }
        let advice = "or run intops templates --refresh once with network access, for validate --offline"
        guard organization.token != nil else {
            throw InvalidProject([
                .error(
                    organization.location,
                    "organization \(organization.id) has no token, and validate needs one to read the templates from the API; add token: ref+env://…, \(advice)"
                )
            ])
        }
        let client: IntegrationsClient
        do throws(APIConnectionError) {
            client = try APIConnector.client(
                for: project, organizations: [organization.id], environment: environment, sandbox: sandbox)
        } catch {
            if case .tokens(let problems) = error { throw InvalidProject(problems) }
            throw InvalidProject([Diagnostic(path: project.file, "\(error)")])
        }
        do {
            return (try await client.templates(organization: organization.id), .api(organization: organization.id))
        } catch {
            throw InvalidProject([
                Diagnostic(
                    path: project.file,
                    "cannot read the integration templates from the API: \(error); check api.url and the token, \(advice)"
                )
            ])
        }
    }

    /// Templates from the cache file or the sandbox catalog, without any request.
    public static func loadTemplates(
        for project: Project, offline: Bool, sandbox: (any SandboxProvider)?
    ) throws(InvalidProject) -> ([IntegrationTemplate], TemplateOrigin) {
        let cache = project.templatesCachePath
        let shown = ProjectPaths.display(cache, relativeTo: project.root)
        if let data = FileManager.default.contents(atPath: cache) {
            do {
                let response = try JSONDecoder().decode(TemplatesResponse.self, from: data)
                return (response.templates, .cache(path: shown))
            } catch {
                throw InvalidProject([
                    Diagnostic(
                        path: cache,
                        "the templates cache is not valid (\(Self.describe(error))); delete it or run intops templates --refresh"
                    )
                ])
            }
        }
        if project.api.isSandbox, let sandbox { return (sandbox.templates, .sandboxCatalog) }
        let advice =
            offline
            ? "validate --offline needs it; run intops templates --refresh once with network access"
            : "fetching templates from the API comes with intops templates --refresh; until then place a cache there"
        throw InvalidProject([Diagnostic(path: cache, "no templates cache at \(shown); \(advice)")])
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "unreadable JSON" }
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            return
                "\(path(context.codingPath).isEmpty ? "the top level" : path(context.codingPath)) has no \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "\(path(context.codingPath)) is not valid"
        @unknown default: return "unreadable JSON"
        }
    }
}

import ConcurrencyToolkit
import Foundation
import IntegrationsAPI
import YAML

/// A project read from disk: intops.yaml and every manifest, decoded and checked against each other.
public struct LoadedProject: Sendable {
    public var project: Project
    /// Absolute paths of the manifest files read, in the order they were found.
    public var manifestFiles: [String]
    /// Every integration, in file order.
    public var integrations: [IntegrationManifest]
    /// Warnings (errors are thrown).
    public var warnings: [Diagnostic]
}

/// Finds and reads a project: intops.yaml upward from a folder, then the manifests in parallel.
public enum ProjectLoader {
    /// The path of the nearest intops.yaml at or above `directory`.
    public static func locate(from directory: String) throws(InvalidProject) -> String {
        var current = ProjectPaths.normalize(directory)
        while true {
            let candidate = current == "/" ? "/\(Project.fileName)" : "\(current)/\(Project.fileName)"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            if current == "/" { break }
            current = ProjectPaths.directory(of: current)
        }
        throw InvalidProject([
            Diagnostic(
                at: nil,
                "no \(Project.fileName) in \(ProjectPaths.normalize(directory)) or any parent folder; run intops in a project, pass --chdir DIR, or create one with intops init"
            )
        ])
    }

    /// Reads and decodes intops.yaml.
    public static func loadProject(file: String) throws(InvalidProject) -> Project {
        let documents = try parse(file)
        var reader = NodeReader()
        let project = ManifestDecoder.project(documents, file: file, reader: &reader)
        guard let project, reader.diagnostics.isEmpty else {
            throw InvalidProject(
                reader.diagnostics.isEmpty
                    ? [
                        Diagnostic(
                            at: SourceLocation(file: file, line: 1, column: 1), "intops.yaml is not a valid Project")
                    ] : reader.diagnostics)
        }
        return project
    }

    /// Reads the project at or above `directory` and all its manifests.
    public static func load(from directory: String) async throws(InvalidProject) -> LoadedProject {
        let project = try loadProject(file: try locate(from: directory))
        return try await loadManifests(of: project)
    }

    /// Discovers, parses and decodes the project's manifests, then checks identities across files.
    public static func loadManifests(of project: Project) async throws(InvalidProject) -> LoadedProject {
        var diagnostics: [Diagnostic] = []
        let files = discover(project, diagnostics: &diagnostics)

        // Parsing dominates validation time; spread the files over the cores, at most one task per core in flight.
        let results = await boundedMap(files, limit: ProcessInfo.processInfo.activeProcessorCount) {
            (file: String) -> DecodedFile in
            let (sets, problems) = decodeFile(file, project: project)
            return DecodedFile(sets: sets, problems: problems)
        }.map { ($0.sets, $0.problems) }

        // Messages name the other place relative to the project root, where people read their files from.
        func shown(_ location: SourceLocation) -> String {
            "\(ProjectPaths.display(location.file, relativeTo: project.root)):\(location.line):\(location.column)"
        }
        let count = results.reduce(0) { total, file in total + file.0.reduce(0) { $0 + $1.integrations.count } }
        /// A name in an organization: the key of both checks, without building a string for each entry.
        struct NameInOrganization: Hashable {
            var organization: String
            var name: String
        }
        var integrations: [IntegrationManifest] = []
        // Positions in `integrations` of the first entry with each name, and with each displayName.
        var names: [NameInOrganization: Int] = [:]
        var displayNames: [NameInOrganization: Int] = [:]
        integrations.reserveCapacity(count)
        names.reserveCapacity(count)
        displayNames.reserveCapacity(count)
        for (sets, problems) in results {
            diagnostics += problems
            for set in sets {
                for integration in set.integrations {
                    let key = NameInOrganization(organization: integration.organization, name: integration.name)
                    if let first = names[key] {
                        diagnostics.append(
                            .error(
                                integration.location(of: "name"),
                                "duplicate integration name '\(integration.name)' in organization \(integration.organization), "
                                    + "also defined at \(shown(integrations[first].location(of: "name"))); names are unique per organization, rename one"
                            ))
                        continue
                    }
                    names[key] = integrations.count
                    if integration.ensure == .present, let displayName = integration.displayName {
                        let displayKey = NameInOrganization(organization: integration.organization, name: displayName)
                        if let first = displayNames[displayKey] {
                            let other = integrations[first]
                            diagnostics.append(
                                .error(
                                    integration.location(of: "displayName"),
                                    "displayName '\(displayName)' is already used by integration \(other.name) at \(shown(other.location(of: "displayName"))) in "
                                        + "organization \(integration.organization); the API requires unique display names"
                                ))
                        } else {
                            displayNames[displayKey] = integrations.count
                        }
                    }
                    integrations.append(integration)
                }
            }
        }
        if diagnostics.contains(where: { $0.severity == .error }) { throw InvalidProject(diagnostics) }
        return LoadedProject(project: project, manifestFiles: files, integrations: integrations, warnings: diagnostics)
    }

    static func parse(_ file: String) throws(InvalidProject) -> [Document] {
        let bytes = try read(file)
        do { return try YAMLParser.parse(bytes, file: file) } catch { throw InvalidProject([Diagnostic(error)]) }
    }

    static func read(_ file: String) throws(InvalidProject) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw InvalidProject([Diagnostic(path: file, "cannot read the file; check that it exists and is readable")])
        }
        return [UInt8](data)
    }

    static func decodeFile(_ file: String, project: Project) -> ([IntegrationSet], [Diagnostic]) {
        // Each entry is decoded as soon as it is parsed, and its nodes let go: a file of 10,000 entries would
        // otherwise be held whole as a tree, and the trees freed leave the heap in pieces.
        let bytes: [UInt8]
        do { bytes = try read(file) } catch { return ([], error.diagnostics) }
        var streamed: [Int: ManifestDecoder.StreamedEntries] = [:]
        let documents: [Document]
        do {
            documents = try YAMLParser.parse(bytes, file: file, streaming: "integrations") { document, item in
                streamed[document, default: ManifestDecoder.StreamedEntries()].decode(item, project: project)
            }
        } catch { return ([], [Diagnostic(error)]) }
        var reader = NodeReader()
        let sets = ManifestDecoder.integrationSets(
            documents, streamed: streamed, file: file, project: project, reader: &reader)
        return (sets, reader.diagnostics)
    }

    /// The manifest files: listed files, and `*.yaml`/`*.yml` below listed folders (hidden ones skipped), sorted.
    static func discover(_ project: Project, diagnostics: inout [Diagnostic]) -> [String] {
        let fileManager = FileManager.default
        let realRoot = ReferencedFile.realPath(project.root) ?? project.root
        var files: [String] = []
        var seen: Set<String> = [project.file]
        for source in project.manifests {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: source.path, isDirectory: &isDirectory) else {
                let shown = ProjectPaths.display(source.path, relativeTo: project.root)
                diagnostics.append(
                    .error(source.location, "manifests entry '\(shown)' does not exist; create it or fix the path"))
                continue
            }
            if let real = ReferencedFile.realPath(source.path), !ProjectPaths.isInside(real, root: realRoot) {
                let shown = ProjectPaths.display(source.path, relativeTo: project.root)
                diagnostics.append(
                    .error(
                        source.location,
                        "manifests entry '\(shown)' leads outside the project root through a symbolic link"))
                continue
            }
            var found: [String] = []
            if isDirectory.boolValue {
                let enumerator = fileManager.enumerator(atPath: source.path)
                while let relative = enumerator?.nextObject() as? String {
                    let name = (relative as NSString).lastPathComponent
                    if name.hasPrefix(".") {
                        enumerator?.skipDescendants()
                        continue
                    }
                    let lower = name.lowercased()
                    guard lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") else { continue }
                    found.append(source.path + "/" + relative)
                }
                found.sort()
            } else {
                found = [source.path]
            }
            for file in found where seen.insert(file).inserted {
                if let real = ReferencedFile.realPath(file), !ProjectPaths.isInside(real, root: realRoot) {
                    diagnostics.append(
                        Diagnostic(
                            path: file,
                            "manifest leads outside the project root through a symbolic link; remove the link"))
                    continue
                }
                files.append(file)
            }
        }
        return files
    }
}

/// One manifest file's documents and problems (a struct, not a tuple: see ``boundedMap``).
private struct DecodedFile: Sendable {
    var sets: [IntegrationSet]
    var problems: [Diagnostic]
}

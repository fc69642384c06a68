import Foundation
import TestSupport
import Testing

/// The layering the Package.swift comment shows, checked from the sources themselves: a module imports only
/// modules below it, and the command line imports nothing but the engine.
@Suite struct LayeringTests {
    /// Bottom to top. A module may import any module listed before it (and the system's).
    static let layers: [String] = [
        "CYAML", "CCrypto", "ConcurrencyToolkit", "TextEscaping", "YAML", "CryptoPrimitives", "Age", "SOPS",
        "HTTPSupport", "S3", "IntegrationsAPI", "Emulator", "EmulatorHTTP", "Reconciler", "IntopsCLI",
        "EmbeddedSandbox", "intops", "integrations-emulator",
    ]
    static let system: Set<String> = [
        "Foundation", "Dispatch", "Synchronization", "Glibc", "Darwin", "FoundationNetworking",
    ]

    static func imports(of module: String) throws -> [String: Set<String>] {
        let folder = Executables.packageRoot.appendingPathComponent("Sources/\(module)")
        guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else {
            return [:]
        }
        var found: [String: Set<String>] = [:]
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
                    words[..<index].allSatisfy({
                        ["@testable", "internal", "public", "private", "@_implementationOnly"].contains($0)
                    })
                else { continue }
                found[file.lastPathComponent, default: []].insert(words[index + 1])
            }
        }
        return found
    }

    @Test(arguments: layers.filter { !["CYAML", "CCrypto", "TextEscaping"].contains($0) }) func importsOnlyModulesBelow(
        _ module: String
    ) throws {
        let below = Set(Self.layers.prefix { $0 != module })
        let imports = try Self.imports(of: module)
        #expect(
            !imports.isEmpty, "Sources/\(module) has no Swift file that imports anything; is the layer list current?")
        for (file, modules) in imports {
            for imported in modules.subtracting(Self.system) {
                #expect(below.contains(imported), "\(module)/\(file) imports \(imported), which is not below \(module)")
            }
        }
    }

    @Test func commandLineImportsOnlyTheEngine() throws {
        for (file, modules) in try Self.imports(of: "IntopsCLI") {
            #expect(
                modules.subtracting(Self.system).isSubset(of: ["Reconciler"]),
                "IntopsCLI/\(file) imports \(modules.sorted())")
        }
    }

    @Test func everyModuleIsInTheLayering() throws {
        let folders = try FileManager.default.contentsOfDirectory(
            atPath: Executables.packageRoot.appendingPathComponent("Sources").path)
        #expect(Set(folders) == Set(Self.layers), "Sources/ and the layering list disagree")
    }
}

/// Foundation's `Process.run()` crashes now and then on Linux (see SpawnedProcess): every child, in the product,
/// its tests and its benchmarks, is started through SpawnedProcess.
@Suite struct SpawningTests {
    @Test(arguments: ["Sources", "Tests", "Benchmarks"]) func noFoundationProcessIsStarted(_ folder: String) throws {
        let root = Executables.packageRoot.appendingPathComponent(folder)
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        var found: [String] = []
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.range(of: #"(^|[^A-Za-z])Process\(\)|[:] Process\b|-[>] Process\b"#, options: .regularExpression)
                != nil && !line.trimmingCharacters(in: .whitespaces).hasPrefix("//")
            { found.append("\(folder)/\(file.lastPathComponent):\(number + 1)") }
        }
        #expect(found.isEmpty, "use SpawnedProcess: \(found)")
    }
}

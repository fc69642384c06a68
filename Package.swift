// swift-tools-version:6.0
import PackageDescription

// Layering: data flows top to bottom, and a module only imports modules listed above it.
//   CYAML, CCrypto        system libraries (libyaml, OpenSSL libcrypto)
//   ConcurrencyToolkit    the bounded fan-out, child processes and blocking calls off the cooperative pool
//   TextEscaping          one escaper per output format (terminal, XML, Markdown, workflow commands)
//   YAML                  libyaml → nodes that know file:line:column; emitter
//   CryptoPrimitives      digests, HMAC, AES-GCM, random bytes over libcrypto, shared by everything above
//   Age, SOPS             encrypted secret files (know nothing of integrations)
//   HTTPSupport           the https/loopback rule and the URLSession delegate both network clients share
//   S3                    S3 objects over Signature Version 4 (conditional writes), for the state backend
//   IntegrationsAPI       the Nymble Integrations API: models and client (knows nothing of manifests)
//   Emulator              the API in memory (sandbox: URLs, tests, benchmarks)
//   EmulatorHTTP          HTTP/1.1 on POSIX sockets serving the Emulator (integrations-emulator, tests, benchmarks)
//   Reconciler            the engine: manifests and validation, secrets, live side, state, planning, applying,
//                         drift, rendering, and the Engine facade that frontends call (knows no emulator)
//   IntopsCLI             argument parsing and commands, a thin layer over the engine (imports nothing else)
//   EmbeddedSandbox       composition: the emulator as the engine's sandbox: transport
//   intops, integrations-emulator   executables
let package = Package(
    name: "intops", platforms: [.macOS(.v15)],
    products: [
        .executable(name: "intops", targets: ["intops"]),
        .executable(name: "integrations-emulator", targets: ["integrations-emulator"]),
        .library(name: "Reconciler", targets: ["Reconciler"]),
    ],
    targets: [
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .target(name: "ConcurrencyToolkit"), .target(name: "TextEscaping"),
        .target(name: "YAML", dependencies: ["CYAML"]), .target(name: "CryptoPrimitives", dependencies: ["CCrypto"]),
        .target(name: "Age", dependencies: ["CCrypto", "CryptoPrimitives"]),
        .target(name: "SOPS", dependencies: ["Age", "YAML", "CCrypto", "CryptoPrimitives", "ConcurrencyToolkit"]),
        .target(name: "HTTPSupport"), .target(name: "S3", dependencies: ["CryptoPrimitives", "HTTPSupport"]),
        .target(name: "IntegrationsAPI", dependencies: ["HTTPSupport", "TextEscaping"]),
        .target(name: "Emulator", dependencies: ["IntegrationsAPI", "CryptoPrimitives"]),
        .target(name: "EmulatorHTTP", dependencies: ["Emulator", "IntegrationsAPI"]),
        .target(
            name: "Reconciler",
            dependencies: [
                "YAML", "SOPS", "Age", "CryptoPrimitives", "HTTPSupport", "IntegrationsAPI", "S3", "ConcurrencyToolkit",
                "TextEscaping",
            ]), .target(name: "IntopsCLI", dependencies: ["Reconciler"]),
        .target(name: "EmbeddedSandbox", dependencies: ["Reconciler", "Emulator", "IntegrationsAPI"]),
        .executableTarget(name: "intops", dependencies: ["IntopsCLI", "EmbeddedSandbox"]),
        .executableTarget(name: "integrations-emulator", dependencies: ["EmulatorHTTP"]),
        .executableTarget(
            name: "intops-bench",
            dependencies: [
                "CYAML", "EmulatorHTTP", "IntegrationsAPI", "SOPS", "Age", "CryptoPrimitives", "YAML", "Reconciler",
                "Emulator", "EmbeddedSandbox", "ConcurrencyToolkit",
            ], path: "Benchmarks/IntopsBench"), .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "ArchitectureTests", dependencies: ["TestSupport"]),
        .testTarget(name: "ConcurrencyToolkitTests", dependencies: ["ConcurrencyToolkit"]),
        // Helpers shared by the test targets: finding built executables, starting the HTTP emulator.
        .target(name: "TestSupport", dependencies: ["ConcurrencyToolkit"], path: "Tests/TestSupport"),
        .testTarget(name: "AgeTests", dependencies: ["Age", "CryptoPrimitives", "TestSupport", "ConcurrencyToolkit"]),
        .testTarget(name: "SOPSTests", dependencies: ["SOPS", "Age", "CryptoPrimitives", "TestSupport"]),
        .testTarget(name: "IntegrationsAPITests", dependencies: ["IntegrationsAPI", "HTTPSupport"]),
        .testTarget(name: "S3Tests", dependencies: ["S3", "CryptoPrimitives", "TestSupport"]),
        .testTarget(name: "CryptoPrimitivesTests", dependencies: ["CryptoPrimitives", "TestSupport"]),
        .testTarget(
            name: "EmulatorTests",
            dependencies: [
                "Emulator", "EmulatorHTTP", "IntegrationsAPI", "TestSupport", "integrations-emulator",
                "ConcurrencyToolkit",
            ], exclude: ["SeedSession"]),
        .testTarget(
            name: "ReconcilerTests",
            dependencies: [
                "Reconciler", "EmbeddedSandbox", "IntegrationsAPI", "Emulator", "ConcurrencyToolkit", "YAML",
                "TestSupport", "CryptoPrimitives",
            ], exclude: ["Fixtures"]),
        .testTarget(
            name: "IntopsCLITests",
            dependencies: [
                "IntopsCLI", "EmbeddedSandbox", "Reconciler", "intops", "integrations-emulator", "Emulator",
                "IntegrationsAPI", "TestSupport", "CryptoPrimitives", "ConcurrencyToolkit",
            ], exclude: ["Fixtures"]),
    ], swiftLanguageModes: [.v6])

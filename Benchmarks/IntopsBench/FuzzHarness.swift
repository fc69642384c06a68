import Age
import Dispatch
import Emulator
import Foundation
import Reconciler
import SOPS
import YAML

/// `make fuzz`: a seeded mutation fuzzer for the parsers that read untrusted files. libFuzzer
/// (`-sanitize=fuzzer`) would need every module rebuilt with coverage instrumentation; a mutation harness over
/// real corpora, with a watchdog for hangs and a memory ceiling, runs on any toolchain.
enum FuzzHarness {
    static let tokens: [[UInt8]] = [
        "{", "}", "[", "]", ":", "- ", "&a ", "*a", "<<: *a", "!!str ", "!!binary ", "\t", "\0", "\u{FFFD}", "\n  ",
        "'", "\"", "ENC[AES256_GCM,data:", ",iv:", ",tag:", ",type:int]", "-----BEGIN AGE ENCRYPTED FILE-----\n",
        "age-encryption.org/v1\n", "-> X25519 ", "-> scrypt ", "--- ", "sops:", "ref+sops://", "ref+env://", "#/", "~1",
        "%", "0x", "1e999", "---\n", "...\n",
    ].map { Array($0.utf8) }

    static func mutate(_ input: [UInt8], corpus: [[UInt8]], random: inout SeededRandom) -> [UInt8] {
        var bytes = input
        for _ in 0...random.below(4) {
            switch random.below(8) {
            case 0 where !bytes.isEmpty: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
            case 1: bytes.insert(UInt8(random.below(256)), at: random.below(bytes.count + 1))
            case 2 where !bytes.isEmpty: bytes.remove(at: random.below(bytes.count))
            case 3: bytes.insert(contentsOf: tokens[random.below(tokens.count)], at: random.below(bytes.count + 1))
            case 4 where bytes.count > 2:
                let start = random.below(bytes.count), length = random.below(min(64, bytes.count - start))
                bytes.insert(contentsOf: bytes[start..<(start + length)], at: random.below(bytes.count + 1))
            case 5 where bytes.count > 1: bytes.removeLast(random.below(bytes.count))
            case 6:
                let other = corpus[random.below(corpus.count)]
                let cut = random.below(bytes.count + 1), from = random.below(other.count + 1)
                bytes = Array(bytes[..<cut]) + Array(other[from...])
            default:
                if !bytes.isEmpty {
                    bytes[random.below(bytes.count)] = [0, 0xFF, 0x0A, 0x20, 0x3A, 0x2D][random.below(6)]
                }
            }
        }
        return bytes
    }

    static func files(under root: URL, matching extensions: [String]) -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            return []
        }
        return enumerator.compactMap { $0 as? URL }.filter { url in
            extensions.contains { url.lastPathComponent.hasSuffix($0) }
        }.sorted { $0.path < $1.path }
    }

    /// Watchdog state: when the current input started, in nanoseconds of the monotonic clock (0 when idle).
    final class Watchdog: @unchecked Sendable {
        private let lock = NSLock()
        private var started: UInt64 = 0
        private var iteration = 0
        func begin(_ number: Int) {
            lock.withLock {
                started = DispatchTime.now().uptimeNanoseconds
                iteration = number
            }
        }
        func end() { lock.withLock { started = 0 } }
        var stuck: (Int, Double)? {
            lock.withLock {
                guard started > 0 else { return nil }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                return seconds > 10 ? (iteration, seconds) : nil
            }
        }
    }

    static func residentMegabytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * 4096 / 1_048_576
    }

    static func run(target: String, seconds: Double, seed: UInt64, root: URL) async throws {
        let fixtures = root.appendingPathComponent("Tests/Fixtures/sops-age")
        var corpus: [[UInt8]] = []
        var oneInput: (([UInt8]) async -> Void)!
        switch target {
        case "yaml", "manifest":
            let sources =
                files(under: root.appendingPathComponent("examples"), matching: [".yaml"])
                + files(under: root.appendingPathComponent("Tests/IntopsCLITests/Fixtures"), matching: [".yaml"])
            corpus = sources.compactMap { try? Array(Data(contentsOf: $0)) }
            if target == "yaml" {
                oneInput = { bytes in _ = try? YAMLParser.parse(bytes, file: "fuzz.yaml") }
            } else {
                let project = FileManager.default.temporaryDirectory.appendingPathComponent("intops-fuzz-\(seed)")
                try? FileManager.default.removeItem(at: project)
                try FileManager.default.createDirectory(
                    at: project.appendingPathComponent("integrations"), withIntermediateDirectories: true)
                try """
                apiVersion: intops/v1
                kind: Project
                api: { url: "sandbox:.intops/sandbox.json" }
                organizations: { acme-us: { auth: bearer }, globex-eu: { auth: api-key }, org123: { auth: bearer } }
                manifests: [integrations/]
                allowPlaintextSecrets: true
                """.write(to: project.appendingPathComponent("intops.yaml"), atomically: true, encoding: .utf8)
                let manifest = project.appendingPathComponent("integrations/m.yaml")
                let validator = TemplateValidator(templates: TemplateCatalog.standard)
                oneInput = { bytes in
                    try? Data(bytes).write(to: manifest)
                    if let loaded = try? await ProjectLoader.load(from: project.path) {
                        for integration in loaded.integrations { _ = validator.validate(integration) }
                    }
                }
            }
        case "sops":
            let sources = files(under: fixtures.appendingPathComponent("sops"), matching: [".yaml", ".json", ".env"])
            corpus = sources.compactMap { try? Array(Data(contentsOf: $0)) }
            let identities = files(under: fixtures.appendingPathComponent("sops"), matching: [".txt"]).compactMap {
                try? String(contentsOf: $0, encoding: .utf8)
            }.flatMap { (try? AgeIdentityFile.parse($0, source: "fuzz")) ?? [] }
            let keyring = SOPSKeyring(identities: identities)
            oneInput = { bytes in
                for format in [SOPS.Format.yaml, .json, .dotenv] {
                    _ = try? SOPS.structure(bytes, format: format, file: "fuzz")
                    _ = try? SOPS.decrypt(bytes, format: format, file: "fuzz", keyring: keyring, delegate: false)
                }
            }
        case "age":
            let vectors = files(under: fixtures.appendingPathComponent("age"), matching: [""]).filter {
                !$0.hasDirectoryPath && !$0.lastPathComponent.hasSuffix(".json")
                    && !$0.lastPathComponent.hasSuffix(".md")
            }
            corpus = vectors.compactMap { url -> [UInt8]? in
                guard let data = try? Array(Data(contentsOf: url)) else { return nil }
                // CCTV vectors: a text header, a blank line, then the file.
                if let range = data.firstRange(of: Array("\n\n".utf8)), data.starts(with: Array("expect:".utf8)) {
                    return Array(data[range.upperBound...])
                }
                return data
            }
            let identities: [any AgeIdentity] = [
                X25519Identity("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0")!,
                ScryptPassphrase("password", maximumLogN: 10),
            ]
            oneInput = { bytes in
                _ = try? Age.decrypt(bytes, identities: identities)
                _ = try? AgeIdentityFile.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz")
            }
        default: throw BenchFailure("unknown fuzz target \(target); use yaml, manifest, sops or age")
        }
        guard !corpus.isEmpty else { throw BenchFailure("no corpus for \(target)") }

        let watchdog = Watchdog()
        let thread = Thread {
            while true {
                if let (iteration, seconds) = watchdog.stuck {
                    print("HANG: \(target) input \(iteration) (seed \(seed)) has run \(Int(seconds)) s")
                    exit(1)
                }
                usleep(200_000)
            }
        }
        thread.start()

        var random = SeededRandom(seed: seed)
        let start = ContinuousClock.now
        let deadline = start + .seconds(seconds)
        var iterations = 0
        var slowest = 0.0
        var peakMemory = residentMegabytes()
        while ContinuousClock.now < deadline {
            let input = mutate(corpus[random.below(corpus.count)], corpus: corpus, random: &random)
            let began = ContinuousClock.now
            watchdog.begin(iterations)
            await oneInput(input)
            watchdog.end()
            slowest = max(slowest, Measure.seconds(ContinuousClock.now - began))
            iterations += 1
            if iterations % 500 == 0 {
                peakMemory = max(peakMemory, residentMegabytes())
                if peakMemory > 2048 {
                    print("MEMORY: \(target) reached \(peakMemory) MiB after \(iterations) inputs (seed \(seed))")
                    exit(1)
                }
            }
        }
        peakMemory = max(peakMemory, residentMegabytes())
        let elapsed = Measure.seconds(ContinuousClock.now - start)
        print(
            String(
                format:
                    "fuzz %@: %d inputs in %.0f s (%.0f/s) from %d corpus files, seed %llu; no crash, no hang; slowest input %.1f ms; peak memory %d MiB",
                target, iterations, elapsed, Double(iterations) / elapsed, corpus.count, seed, slowest * 1000,
                peakMemory))
    }
}

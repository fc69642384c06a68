import Age
import ConcurrencyToolkit
import Dispatch
import Foundation
import SOPS

enum SOPSBenchmark {
    /// Decrypting `files` SOPS files of `values` values each in this one process, against the real `sops -d`
    /// run once per file (on a sample, scaled to the whole set).
    static func run(files: Int, values: Int, peerSample: Int, runs: Int) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("intops-bench-sops-\(files)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let identity = try X25519Identity.generate()
        let keyFile = directory.appendingPathComponent("keys.txt")
        try AgeIdentityFile.render(identity, created: "2026-11-27T00:00:00Z").write(
            to: keyFile, atomically: true, encoding: .utf8)
        var paths: [String] = []
        for index in 0..<files {
            let entries = (0..<values).map {
                SOPSEntry(key: "Secret\($0)", value: .scalar(.string("value-\(index)-\($0)-\(UUID().uuidString)")))
            }
            let bytes = try SOPS.encrypt([.mapping(entries)], format: .yaml, recipients: [identity.recipient])
            let path = directory.appendingPathComponent("secrets-\(index).enc.yaml").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let keyring = SOPSKeyring(identities: [identity])

        func decryptAll() throws -> Int {
            var total = 0
            for path in paths {
                let data = Array(FileManager.default.contents(atPath: path)!)
                let file = try SOPS.decrypt(data, format: .yaml, file: path, keyring: keyring)
                if case .mapping(let entries)? = file.documents.first { total += entries.count }
            }
            return total
        }
        guard try decryptAll() == files * values else { throw BenchFailure("decryption lost values") }
        let native = try Measure.inProcess(runs: runs) { _ = try decryptAll() }

        // The peer: sops -d once per file, on a sample.
        let sample = Array(paths.prefix(peerSample))
        var peerTimes: [Double] = []
        for _ in 0..<max(1, runs / 2) {
            let start = ContinuousClock.now
            for path in sample {
                let process = SpawnedProcess()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["sops", "-d", path]
                process.environment = ProcessInfo.processInfo.environment.merging(["SOPS_AGE_KEY_FILE": keyFile.path]) {
                    $1
                }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.runToExit()
                guard process.terminationStatus == 0 else {
                    throw BenchFailure("sops -d failed on \(path); is sops installed?")
                }
            }
            peerTimes.append(Measure.seconds(ContinuousClock.now - start) * Double(files) / Double(sample.count))
        }
        peerTimes.sort()
        let nativeMedian = Measure.median(native)
        let peerMedian = Measure.median(peerTimes)
        print(
            "sops decrypt: \(files) YAML files × \(values) values, encrypted to one age recipient; \(runs) runs after a warm-up"
        )
        print("")
        print("| measurement | median | min | max |")
        print("|---|---|---|---|")
        print(
            "| intops (native SOPS + age, one process, one core) | \(Measure.ms(nativeMedian)) | \(Measure.ms(native.first!)) | \(Measure.ms(native.last!)) |"
        )
        print(
            "| peer: `sops -d` per file (\(sample.count)-file sample × \(files / max(1, sample.count))) | \(Measure.ms(peerMedian)) | \(Measure.ms(peerTimes.first!)) | \(Measure.ms(peerTimes.last!)) |"
        )
        print("")
        print(String(format: "speed-up over the peer: %.0f×", peerMedian / nativeMedian))
        print(
            peerMedian / nativeMedian >= 20
                ? "target met: at least 20× faster than sops -d per file" : "TARGET MISSED: under 20× faster")
    }
}

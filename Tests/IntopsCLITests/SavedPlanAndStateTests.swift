import CryptoPrimitives
import Foundation
import Reconciler
import TestSupport
import Testing

/// Saved plans carried between jobs, tampered with on the way; the state commands on a remote backend.
extension SimulatedPipelines {
    @Suite(.serialized) struct SavedPlanAndStateTests {
        /// The key a project's saved plans are authenticated with, from its decrypted fingerprint key: what an
        /// attacker who holds the CI identity could compute.
        static func planKey(_ pipeline: SimulatedPipeline, in job: URL) async throws -> [UInt8] {
            let decrypted = try await pipeline.intops(
                ["secrets", "decrypt", ".intops/fingerprint-key.enc.yaml"], in: job)
            guard let line = decrypted.stdout.split(separator: "\n").first(where: { $0.hasPrefix("key:") }) else {
                throw TestFailure("no key in the fingerprint key file: \(decrypted.stderr)")
            }
            let fingerprintKey = hexBytes(
                line.dropFirst("key:".count).trimmingCharacters(in: .whitespaces).trimmingCharacters(
                    in: CharacterSet(charactersIn: "'\"")))
            return Digest.hmacSHA256(key: fingerprintKey, data: Array("intops-saved-plan-v1".utf8))
        }

        /// The body of a saved plan re-authenticated under `key`.
        static func signed(_ body: [UInt8], key: [UInt8]) -> [UInt8] {
            body + Array("hmac-sha256 \(Digest.hmacSHA256(key: key, data: body).hex)\n".utf8)
        }

        static func body(of plan: [UInt8]) -> [UInt8] {
            let withoutLast = plan.dropLast()
            return Array(plan[...withoutLast.lastIndex(of: 10)!])
        }

        @Test func tamperedSavedPlansAreRefusedInOneLineWithNoChangingRequest() async throws {
            let pipeline = try await SimulatedPipeline(.git)
            let job = try await pipeline.job()
            // A first deployment, then a plan that deletes nothing and updates one integration.
            #expect(try await pipeline.intops(["apply", "--auto-approve"], in: job).status == 0)
            let manifest = job.appendingPathComponent("integrations/acme-backoffice.yaml")
            try String(contentsOf: manifest, encoding: .utf8).replacingOccurrences(
                of: "FromName: Acme Orders", with: "FromName: Acme Order Desk"
            ).write(to: manifest, atomically: true, encoding: .utf8)
            let made = try await pipeline.intops(["plan", "--out", "change.plan"], in: job)
            #expect(made.status == 0, "\(made.stderr)")
            let original = Array(try Data(contentsOf: job.appendingPathComponent("change.plan")))
            let text = String(decoding: original, as: UTF8.self)
            #expect(!text.contains("demo-"), "no secret value in the plan")

            let key = try await Self.planKey(pipeline, in: job)
            var flipped = original
            let index = flipped.firstIndex(of: UInt8(ascii: "D"))!
            flipped[index] = UInt8(ascii: "E")
            let addedDelete = Array(
                text.replacingOccurrences(of: "\"action\" : \"update\"", with: "\"action\" : \"delete\"").utf8)
            let foreignKey = (0..<32).map { _ in UInt8.random(in: 0...255) }
            let withDeleteSigned = Self.signed(
                Self.body(
                    of: Array(
                        text.replacingOccurrences(
                            of: "\"steps\" : [\n", with: "\"steps\" : [\n        { \"delete\" : { } },\n"
                        ).utf8)), key: key)
            // (name, bytes, what apply says, whether show refuses it too: show checks the file, not what a plan made now gives)
            let cases: [(String, [UInt8], String, Bool)] = [
                ("a changed byte", flipped, "fails its authentication", true),
                ("an action edited", addedDelete, "fails its authentication", true),
                ("a truncated file", Array(original.prefix(original.count / 2)), "fails its authentication", true),
                (
                    "another project's plan", Self.signed(Self.body(of: original), key: foreignKey),
                    "fails its authentication", true
                ),
                (
                    "an unknown format",
                    Array(
                        text.replacingOccurrences(of: "intops-plan \(Plan.currentFormat)\n", with: "intops-plan 99\n")
                            .utf8), "this intops reads format \(Plan.currentFormat) only", true
                ),
                (
                    "not a plan at all", Array("{\"formatVersion\": 1, \"actions\": []}\n".utf8),
                    "is not a saved intops plan", true
                ),
                (
                    "an authentic plan with a step no plan makes", withDeleteSigned, "differently from a plan made now",
                    false
                ),
            ]
            try await pipeline.resetRequests()
            for (name, bytes, expected, showRefuses) in cases {
                try Data(bytes).write(to: job.appendingPathComponent("tampered.plan"))
                let apply = try await pipeline.intops(["apply", "tampered.plan"], in: job)
                #expect(apply.status == 1, "\(name): \(apply.stdout)\(apply.stderr)")
                let lines = apply.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains(expected), "\(name): \(apply.stderr)")
                let show = try await pipeline.intops(["show", "tampered.plan"], in: job)
                #expect((show.status == 1 && show.stdout.isEmpty) == showRefuses, "show and \(name): \(show.stdout)")
            }
            #expect(try await pipeline.changingRequests().isEmpty, "no tampered plan changed anything")

            // show renders the saved plan offline exactly as plan printed it (the json one is what plan.schema.json
            // checks), and the plan itself still applies.
            for format in ["text", "json", "markdown"] {
                let printed = try await pipeline.intops(["plan", "--format", format], in: job)
                let shown = try await pipeline.intops(["show", "change.plan", "--format", format], in: job)
                #expect(
                    shown.status == 0 && shown.stdout == printed.stdout, "\(format): \(shown.stdout)\(shown.stderr)")
            }
            // What a plan was allowed past the defaults must be allowed again where it is applied.
            let forced = try await pipeline.intops(["plan", "--force", "--out", "forced.plan"], in: job)
            #expect(forced.status == 0, "\(forced.stderr)")
            let unforced = try await pipeline.intops(["apply", "forced.plan"], in: job)
            #expect(
                unforced.status == 1 && unforced.stderr.contains("was made with --force; apply it with --force too"),
                "\(unforced.stderr)")
            // An authentic plan that repeats an action is refused, though each copy is what a plan makes now.
            let forcedText = try String(contentsOf: job.appendingPathComponent("forced.plan"), encoding: .utf8)
            if let start = forcedText.range(of: "  \"actions\" : [\n"),
                let end = forcedText.range(of: "\n    }", range: start.upperBound..<forcedText.endIndex)
            {
                let action = String(forcedText[start.upperBound..<end.upperBound])
                let doubled = forcedText.replacingCharacters(
                    in: start.upperBound..<end.upperBound, with: action + ",\n" + action)
                try Data(Self.signed(Self.body(of: Array(doubled.utf8)), key: key)).write(
                    to: job.appendingPathComponent("doubled.plan"))
                let twice = try await pipeline.intops(["apply", "--force", "doubled.plan"], in: job)
                #expect(
                    twice.status == 1 && twice.stderr.contains("orders or repeats its actions differently"),
                    "\(twice.stderr)")
            } else {
                Issue.record("no action to repeat in \(forcedText)")
            }
            #expect(try await pipeline.changingRequests().isEmpty)
            let apply = try await pipeline.intops(["apply", "change.plan"], in: job)
            #expect(apply.status == 0 && apply.stdout.contains("1 updated"), "\(apply.stdout)\(apply.stderr)")
            // Once applied, the state moved on: the same plan is stale.
            let again = try await pipeline.intops(["apply", "change.plan"], in: job)
            #expect(
                again.status == 1 && again.stderr.contains("is stale: the state changed since the plan was made"),
                "\(again.stderr)")
            await pipeline.stop()
        }

        @Test func stateMovesToABackendAndItsLocksCanBeInspectedAndBroken() async throws {
            let pipeline = try await SimulatedPipeline(.local, emulatorArguments: ["--latency", "40ms"])
            let job = try await pipeline.job()
            #expect(try await pipeline.intops(["apply", "--auto-approve"], in: job).status == 0)
            let local = try await pipeline.intops(["state", "pull"], in: job)
            #expect(local.status == 0)
            let lineage = try #require(
                (try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any])?["lineage"]
                    as? String)

            // The team moves to S3: migrate copies the state, keeping its lineage; a second migrate is refused.
            let moto = try await MotoServer.start()
            #expect(
                try await Subprocess.run(["curl", "-fsS", "-X", "PUT", "\(moto.endpoint.absoluteString)/team-state"])
                    .status == 0)
            let projectFile = job.appendingPathComponent("intops.yaml")
            try String(contentsOf: projectFile, encoding: .utf8).replacingOccurrences(
                of: "state: .intops/state.json",
                with:
                    "state: {backend: s3, bucket: team-state, key: intops/state.json, endpoint: \"\(moto.endpoint.absoluteString)\"}"
            ).write(to: projectFile, atomically: true, encoding: .utf8)
            let s3 = [
                "AWS_ACCESS_KEY_ID": "AKIDSTATE", "AWS_SECRET_ACCESS_KEY": "CANARY-S3-SECRET",
                "AWS_REGION": "us-east-1",
            ]
            let migrate = try await pipeline.intops(["state", "migrate"], in: job, environment: s3)
            #expect(
                migrate.status == 0 && migrate.stdout.contains("copied 8 integrations (lineage \(lineage))"),
                "\(migrate.stdout)\(migrate.stderr)")
            #expect(
                try await pipeline.intops(["state", "migrate"], in: job, environment: s3).stderr.contains(
                    "already holds a state"))
            let plan = try await pipeline.intops(["plan", "--detailed-exitcode"], in: job, environment: s3)
            #expect(plan.status == 0, "the migrated state is the state: \(plan.stdout)\(plan.stderr)")

            // pull prints it; push of another lineage is refused, and accepted with --force.
            let pulled = try await pipeline.intops(["state", "pull"], in: job, environment: s3)
            #expect(pulled.stdout.contains("\"lineage\" : \"\(lineage)\""))
            let foreign = pulled.stdout.replacingOccurrences(of: lineage, with: "another-lineage")
            try foreign.write(to: job.appendingPathComponent("foreign.json"), atomically: true, encoding: .utf8)
            let refused = try await pipeline.intops(["state", "push", "foreign.json"], in: job, environment: s3)
            #expect(
                refused.status == 1 && refused.stderr.contains("another project's state; add --force"),
                "\(refused.stderr)")
            #expect(
                try await pipeline.intops(["state", "push", "--force", "foreign.json"], in: job, environment: s3).status
                    == 0)

            // A run killed while it holds the lock: the next run is told who holds it, and state unlock breaks it.
            try String(contentsOf: job.appendingPathComponent("integrations/acme-backoffice.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "FromName: Acme Orders", with: "FromName: Acme Order Desk").write(
                    to: job.appendingPathComponent("integrations/acme-backoffice.yaml"), atomically: true,
                    encoding: .utf8)
            let running = try RunningIntops(
                ["--verbose", "apply", "--auto-approve", "--parallelism", "1"], in: job,
                environment: pipeline.environment.merging(s3) { $1 })
            try await running.waitFor { $0.contains("~ ") || $0.contains(" done") }
            kill(running.process.processIdentifier, SIGKILL)
            _ = try await running.exit()
            let blocked = try await pipeline.intops(
                ["apply", "--auto-approve", "--lock-timeout", "0s"], in: job, environment: s3)
            #expect(blocked.status == 1 && blocked.stderr.contains("is locked by run "), "\(blocked.stderr)")
            let id = try #require(
                blocked.stderr.range(of: "intops state unlock ").map {
                    String(blocked.stderr[$0.upperBound...].prefix(36))
                })
            #expect(try await pipeline.intops(["state", "unlock", "not-a-lock"], in: job, environment: s3).status == 1)
            // Its lease still runs (30 s): as far as anyone can tell that run is alive, so breaking it takes --force.
            let live = try await pipeline.intops(["state", "unlock", id], in: job, environment: s3)
            #expect(live.status == 1 && live.stderr.contains("intops state unlock \(id) --force"), "\(live.stderr)")
            let unlock = try await pipeline.intops(["state", "unlock", id, "--force"], in: job, environment: s3)
            #expect(
                unlock.status == 0 && unlock.stdout.contains("released the lock \(id)"),
                "\(unlock.stdout)\(unlock.stderr)")
            let finish = try await pipeline.intops(["apply", "--auto-approve"], in: job, environment: s3)
            #expect(finish.status == 0, "\(finish.stderr)")
            let after = try await pipeline.intops(["plan", "--detailed-exitcode"], in: job, environment: s3)
            #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
            for output in [migrate, pulled, refused, blocked, unlock, finish] {
                #expect(!(output.stdout + output.stderr).contains("CANARY-S3-SECRET"), "no credential in any output")
            }
            await moto.stop()
            await pipeline.stop()
        }

        @Test func anExpiredLeaseIsTakenOverByTheNextRun() async throws {
            let pipeline = try await SimulatedPipeline(.git, emulatorArguments: ["--latency", "40ms"])
            let job = try await pipeline.job()
            let lease = ["INTOPS_LOCK_LEASE": "1"]
            let running = try RunningIntops(
                ["--verbose", "apply", "--auto-approve", "--parallelism", "1"], in: job,
                environment: pipeline.environment.merging(lease) { $1 })
            try await running.waitFor { $0.contains(" done") }
            kill(running.process.processIdentifier, SIGKILL)
            _ = try await running.exit()
            // The dead run's lock expires a second after its last renewal; the next run waits for that, then takes over.
            let next = try await pipeline.intops(
                ["apply", "--auto-approve"], in: try await pipeline.job(), environment: lease)
            #expect(next.status == 0, "\(next.stderr)")
            let plan = try await pipeline.intops(["plan", "--detailed-exitcode"], in: try await pipeline.job())
            #expect(plan.status == 0, "nothing left and nothing twice: \(plan.stdout)\(plan.stderr)")
            let acme = try await pipeline.liveNames("acme-us", token: "token-acme")
            #expect(acme.count == Set(acme).count, "no duplicate: \(acme)")
            await pipeline.stop()
        }
    }
}

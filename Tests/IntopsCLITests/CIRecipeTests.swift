import Foundation
import TestSupport
import Testing

/// The CI recipes in examples/ci/ lint clean (yamllint, installed by make deps), parse, name the secrets they need,
/// and run as written: Tests/ci/run_recipe.py reads each job's `run:` / `script:` / container `args` from the YAML
/// and executes them in order, with the CI's variables, on fresh clones of the project (SimulatedPipeline), the API
/// served by the HTTP emulator, the state in a real backend, and intops installed from a release tarball of the
/// debug build.
extension SimulatedPipelines {
    @Suite(.serialized) struct CIRecipeTests {
        static let folder = TestSupport.examples.appendingPathComponent("ci")

        @Test func recipesLintClean() async throws {
            try Subprocess.requireTool("yamllint")
            let result = try await Subprocess.run([
                "yamllint", "--strict", "-c", Self.folder.appendingPathComponent(".yamllint").path, Self.folder.path,
            ])
            #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
        }

        @Test(arguments: [
            "github-actions.yml", "github-actions-sharded.yml", "gitlab-ci.yml", "kubernetes-drift-cronjob.yaml",
            "kubernetes-sharded-job.yaml",
        ]) func recipeParsesAndDocumentsItsSecrets(_ name: String) async throws {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
            let result = try await Subprocess.run([
                "python3", "-c", "import sys,yaml; list(yaml.safe_load_all(open(sys.argv[1])))",
                Self.folder.appendingPathComponent(name).path,
            ])
            #expect(result.status == 0, "\(result.stderrText)")
            #expect(text.contains("SOPS_AGE_KEY"), "\(name) names the age identity secret")
            #expect(text.contains("INTOPS_TOKEN_"), "\(name) names the API token secrets")
            #expect(text.contains("intops "), "\(name) runs intops")
        }

        // MARK: - The runner

        /// The runner supports what the recipes use and refuses the rest (exit 90), so that a recipe cannot come to
        /// rely on something these tests do not run; what it supports behaves as on GitHub (GITHUB_ENV, GITHUB_PATH,
        /// a failed step skipping all but `if: always()` steps, the job failing with that step's status) and GitLab
        /// (variables expanded, before_script and script in one shell, rules that must select the job).
        @Test(arguments: [
            ("env: {A: '${{ github.sha }}'}\nsteps: [{run: 'true'}]", 90, "github.sha is not simulated"),
            ("env: {A: \"${{ vars.X || 'default' }}\"}\nsteps: [{run: 'true'}]", 90, "'||' in a value"),
            ("steps: [{run: 'true', if: \"github.event_name == 'push'\"}]", 90, "only always()"),
            ("steps: [{uses: actions/setup-node@v4}]", 90, "actions/setup-node is not simulated"),
            ("steps: [{run: 'true', working-directory: sub}]", 90, "working-directory is not simulated"),
            ("if: github.event_name == 'schedule'\nsteps: [{run: 'true'}]", 90, "would not run"),
            (
                """
                steps:
                  - run: 'echo A=one >> "$GITHUB_ENV"; mkdir -p "$RUNNER_TEMP/bin"; echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"'
                  - run: 'test "$A" = one && test "${PATH%%:*}" = "$RUNNER_TEMP/bin" && test "$PWD" = "$GITHUB_WORKSPACE"'
                  - {run: 'exit 3'}
                  - {name: never, run: 'exit 0'}
                  - {name: cleanup, if: always(), run: 'echo cleaned'}
                """, 3, "step 4 'never': skipped"
            ),
        ]) func theRunnerRunsGitHubJobsAsGitHubAndRefusesTheRest(
            _ job: String, _ status: Int32, _ message: String
        ) async throws {
            let body = job.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(
                separator: "\n")
            let run = try await Self.runner(recipe: "on: push\njobs:\n  job:\n    runs-on: ubuntu-latest\n\(body)\n") {
                folder in
                [
                    "github": ["event_name": "push", "ref": "refs/heads/main"],
                    "env": [
                        "PATH": RecipePipeline.path, "HOME": folder.path,
                        "RUNNER_TEMP": folder.appendingPathComponent("temp").path,
                    ],
                ]
            }
            #expect(run.status == status, "\(run.log)")
            #expect(run.log.contains(message), "\(run.log)")
            if status == 3 { #expect(run.stdout.contains("cleaned"), "the always() step ran: \(run.log)") }
        }

        @Test(arguments: [
            (
                """
                variables: {B: "$CI_PROJECT_DIR/b"}
                job:
                  before_script: [X=1]
                  script: ['test "$X" = 1 && test "$B" = "$CI_PROJECT_DIR/b" && test "$PWD" = "$CI_PROJECT_DIR"']
                  rules: [{if: $CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH}]
                """, 0, "job job: succeeded"
            ), ("job: {script: ['true'], rules: [{if: $CI_PIPELINE_SOURCE == \"schedule\"}]}", 90, "would not run"),
            (
                "job: {script: ['true'], rules: [{if: $CI_COMMIT_BRANCH =~ /^main$/}]}", 90,
                "not a form this runner supports"
            ), ("job: {script: ['true'], after_script: ['true']}", 90, "after_script is not simulated"),
            ("job: {script: ['false', 'echo still']}", 1, "job job: failed (exit 1)"),
        ]) func theRunnerRunsGitLabJobsAsGitLabAndRefusesTheRest(
            _ pipeline: String, _ status: Int32, _ message: String
        ) async throws {
            let run = try await Self.runner(recipe: "stages: [test]\n\(pipeline)\n") { folder in
                [
                    "gitlab": ["CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"],
                    "env": ["PATH": RecipePipeline.path, "HOME": folder.path],
                ]
            }
            #expect(run.status == status, "\(run.log)")
            #expect(run.log.contains(message), "\(run.log)")
            #expect(!run.stdout.contains("still"), "a failed command ends the job: \(run.log)")
        }

        /// Runs job `job` of `recipe` in a temporary folder, with the context made for that folder.
        static func runner(recipe: String, context: (URL) -> [String: Any]) async throws -> RecipeRun {
            let folder = try TestSupport.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let file = folder.appendingPathComponent("recipe.yml")
            try recipe.write(to: file, atomically: true, encoding: .utf8)
            let run = try await Subprocess.run([
                "python3", RecipePipeline.runner.path, "--recipe", file.path, "--job", "job", "--workdir", folder.path,
                "--context",
                String(decoding: try JSONSerialization.data(withJSONObject: context(folder)), as: UTF8.self),
            ])
            return RecipeRun(status: run.status, stdout: run.stdoutText, stderr: run.stderrText, home: folder)
        }

        // MARK: - GitHub Actions

        /// Pull request, merge, the next pull request and the schedule, each a job of github-actions.yml on a fresh
        /// clone with a fresh home, the state on a branch of the repository. The tarball is fetched once: the later
        /// jobs install it from what actions/cache saved after the first.
        @Test func githubActionsPlansAppliesAndReportsDrift() async throws {
            let ci = try await RecipePipeline(.git)
            let recipe = "github-actions.yml"

            let pullRequest = try await ci.pipeline.job()
            let plan = try await ci.github(
                recipe, job: "plan", event: "pull_request", ref: "refs/pull/7/merge", in: pullRequest)
            #expect(plan.status == 0, "\(plan.log)")
            #expect(try ci.read("plan.md", in: pullRequest).contains("8 to create"), "\(plan.log)")
            #expect(try ci.read("plan.status", in: pullRequest) == "2\n")
            #expect(plan.stdout.contains("step 'Comment the plan': actions/github-script skipped"), "\(plan.log)")
            #expect(try await ci.pipeline.changingRequests().isEmpty, "the pull request changes nothing live")
            #expect(
                plan.stdout.contains("cache saved under key intops-\(ci.release.version)-\(ci.release.sha256)"),
                "\(plan.log)")
            #expect(try ci.cacheHoldsTheTarball(), "the install keeps the tarball where actions/cache saves from")

            // From here on the download location is empty: an install that fetched the tarball again would fail.
            try FileManager.default.removeItem(at: ci.release.tarball)

            let merge = try await ci.pipeline.job()
            let apply = try await ci.github(recipe, job: "apply", event: "push", ref: "refs/heads/main", in: merge)
            #expect(apply.status == 0, "\(apply.log)")
            #expect(apply.stdout.contains("8 created"), "\(apply.log)")
            #expect(apply.stdout.contains("cache restored from key"), "\(apply.log)")
            #expect(try await ci.liveCount() == 8)

            let next = try await ci.pipeline.job()
            let again = try await ci.github(
                recipe, job: "plan", event: "pull_request", ref: "refs/pull/8/merge", in: next)
            #expect(again.status == 0, "\(again.log)")
            #expect(try ci.read("plan.status", in: next) == "0\n", "the state came from the git backend: \(again.log)")

            try await ci.pipeline.resetRequests()
            let morning = try await ci.pipeline.job()
            let drift = try await ci.github(
                recipe, job: "drift", event: "schedule", ref: "refs/heads/main", in: morning)
            #expect(drift.status == 0, "drift is reported through the issue, not as a failed job: \(drift.log)")
            #expect(try ci.read("drift.status", in: morning) == "2\n", "\(drift.log)")
            let report = try ci.read("drift.md", in: morning)
            #expect(
                report.contains("books") && !report.contains("secret-"), "only the OAuth integration waits: \(report)")
            #expect(drift.stdout.contains("the files it reads are there: drift.md, drift.status"), "\(drift.log)")
            #expect(try await ci.pipeline.changingRequests().isEmpty, "the later plan and drift change nothing")
            #expect(!drift.log.contains("curl:"), "\(drift.log)")
            await ci.stop()
        }

        /// A tarball that is not the pinned one is refused, removed from the cache, and nothing after the install runs.
        @Test func aWrongChecksumStopsTheJobBeforeIntopsRuns() async throws {
            let ci = try await RecipePipeline(.local, sha256: String(repeating: "0", count: 64))
            let clone = try await ci.pipeline.job()
            let plan = try await ci.github(
                "github-actions.yml", job: "plan", event: "pull_request", ref: "refs/pull/7/merge", in: clone)
            #expect(plan.status == 1, "\(plan.log)")
            #expect(plan.stdout.contains("step 3 'Install intops': exit 1"), "\(plan.log)")
            #expect(plan.log.contains("FAILED"), "sha256sum says why: \(plan.log)")
            for step in ["Validate", "Plan", "Fail when the plan failed"] {
                #expect(plan.stdout.contains("'\(step)': skipped"), "\(step) does not run: \(plan.log)")
            }
            #expect(
                plan.stdout.contains("step 6 'Comment the plan': exit 0"),
                "the comment still says the plan did not run: \(plan.log)")
            #expect(!FileManager.default.fileExists(atPath: clone.appendingPathComponent("plan.md").path))
            #expect(
                !FileManager.default.fileExists(
                    atPath: plan.home.appendingPathComponent(".cache/intops/\(ci.release.tarball.lastPathComponent)")
                        .path), "the tarball that failed the check is removed")
            #expect(try !ci.cacheHoldsTheTarball(), "a failed job saves nothing in the cache")
            #expect(try await ci.pipeline.requests().isEmpty, "no intops ran: the emulator saw no request")
            await ci.stop()
        }

        /// The sharded recipe: a first job lists the organizations of intops.yaml (`intops orgs --format json`), and
        /// the matrix is that list, one job per organization, with per-organization states in S3: each job holds its
        /// own organization's token and no other.
        @Test func githubActionsShardedAppliesOneOrganizationPerJob() async throws {
            let ci = try await RecipePipeline(.s3)
            let recipe = "github-actions-sharded.yml"
            let listing = try await ci.github(
                recipe, job: "organizations", event: "push", ref: "refs/heads/main", in: try await ci.pipeline.job())
            #expect(listing.status == 0, "\(listing.log)")
            let outputs = try #require(
                listing.stdout.split(separator: "\n").first { $0.contains("job organizations outputs: ") }.map {
                    String($0[$0.range(of: "outputs: ")!.upperBound...])
                })
            let matrix = try #require(
                (try JSONSerialization.jsonObject(with: Data(outputs.utf8)) as? [String: String])?["matrix"])
            #expect(
                matrix
                    == #"{"include":[{"id":"acme-us","tokenEnv":"INTOPS_TOKEN_ACME_US"},{"id":"globex-eu","tokenEnv":"INTOPS_TOKEN_GLOBEX_EU"}]}"#
            )
            let needs = ["organizations": ["outputs": ["matrix": matrix]]]
            for (org, token, other) in [("acme-us", "ACME_US", "GLOBEX_EU"), ("globex-eu", "GLOBEX_EU", "ACME_US")] {
                let clone = try await ci.pipeline.job()
                let run = try await ci.github(
                    recipe, job: "organization", matrix: ["id": org, "tokenEnv": "INTOPS_TOKEN_\(token)"], needs: needs,
                    event: "push", ref: "refs/heads/main", in: clone, trace: "INTOPS_TOKEN_")
                #expect(run.status == 0, "\(org): \(run.log)")
                #expect(run.stdout.contains("created"), "\(org): \(run.log)")
                // What reached the job: the token of its own organization, under ORG_TOKEN, and no INTOPS_TOKEN_*;
                // what the step had exported when it ended: only its own organization's variable.
                let reached = run.stdout.split(separator: "\n").filter { $0.contains("secrets in its environment:") }
                #expect(
                    !reached.isEmpty
                        && reached.allSatisfy {
                            $0.contains("INTOPS_TOKEN_\(token) (as ORG_TOKEN)") && !$0.contains("INTOPS_TOKEN_\(other)")
                        }, "\(reached)")
                let exported = run.stdout.split(separator: "\n").filter {
                    $0.contains("exported INTOPS_TOKEN_* at its end:")
                }
                #expect(
                    exported.last?.hasSuffix("at its end: INTOPS_TOKEN_\(token) (= INTOPS_TOKEN_\(token))") == true,
                    "\(exported)")
                #expect(exported.dropLast().allSatisfy { $0.hasSuffix("at its end: none") }, "\(exported)")
            }
            #expect(try await ci.liveCount() == 8)
            let states = try await ci.bucketListing()
            #expect(
                states.contains("intops/state-acme-us.json") && states.contains("intops/state-globex-eu.json"),
                "\(states)")

            try await ci.pipeline.resetRequests()
            let schedule = try await ci.github(
                recipe, job: "organization", matrix: ["id": "acme-us", "tokenEnv": "INTOPS_TOKEN_ACME_US"],
                needs: needs, event: "schedule", ref: "refs/heads/main", in: try await ci.pipeline.job())
            #expect(schedule.status == 0, "drift (the OAuth integration) is not a failure: \(schedule.log)")
            #expect(
                schedule.stdout.contains("::warning") || schedule.stdout.contains("::error"),
                "annotations: \(schedule.log)")
            #expect(try await ci.pipeline.changingRequests().isEmpty)
            await ci.stop()
        }

        // MARK: - GitLab CI

        /// A merge request pipeline (validate, plan), then the default branch (plan → artifacts → apply in the next
        /// job), then a scheduled drift, with the state in S3 and the tarball carried in the job cache.
        @Test func gitlabPlansAppliesTheSavedPlanAndReportsDriftAsJUnit() async throws {
            let ci = try await RecipePipeline(.s3)
            let mergeRequest = [
                "CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main", "CI_MERGE_REQUEST_IID": "7",
            ]
            let main = ["CI_PIPELINE_SOURCE": "push", "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "main"]
            let schedule = ["CI_PIPELINE_SOURCE": "schedule", "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "main"]

            let validateJob = try await ci.pipeline.job()
            let validate = try await ci.gitlab(job: "validate", predefined: mergeRequest, in: validateJob)
            #expect(validate.status == 0, "\(validate.log)")
            #expect(validate.stdout.contains("$ intops validate"), "\(validate.log)")
            try FileManager.default.removeItem(at: ci.release.tarball)  // the cache holds it from here on

            let reviewJob = try await ci.pipeline.job()
            try ci.carry([".intops-cache"], from: validateJob, to: reviewJob)
            let review = try await ci.gitlab(job: "plan", predefined: mergeRequest, in: reviewJob)
            #expect(review.status == 0, "\(review.log)")
            #expect(try ci.read("plan.md", in: reviewJob).contains("8 to create"))
            #expect(FileManager.default.fileExists(atPath: reviewJob.appendingPathComponent("intops.plan").path))
            #expect(try await ci.pipeline.changingRequests().isEmpty, "the merge request changes nothing live")

            let planJob = try await ci.pipeline.job()
            try ci.carry([".intops-cache"], from: reviewJob, to: planJob)
            let plan = try await ci.gitlab(job: "plan", predefined: main, in: planJob)
            #expect(plan.status == 0, "\(plan.log)")
            let applyJob = try await ci.pipeline.job()
            try ci.carry(try await ci.artifactPaths("plan") + [".intops-cache"], from: planJob, to: applyJob)
            let apply = try await ci.gitlab(job: "apply", predefined: main, in: applyJob)
            #expect(apply.status == 0, "\(apply.log)")
            #expect(apply.stdout.contains("8 created"), "\(apply.log)")
            #expect(try await ci.liveCount() == 8)

            try await ci.pipeline.resetRequests()
            let driftJob = try await ci.pipeline.job()
            try ci.carry([".intops-cache"], from: applyJob, to: driftJob)
            let drift = try await ci.gitlab(job: "drift", predefined: schedule, in: driftJob)
            #expect(drift.status == 0, "\(drift.log)")
            let junit = try await Subprocess.run([
                "python3", "-c",
                """
                import sys, xml.etree.ElementTree as E
                root = E.parse(sys.argv[1]).getroot()
                suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
                print(root.tag, sum(len(s.findall('testcase')) for s in suites), sum(len(s.findall('testcase/failure')) for s in suites))
                """, driftJob.appendingPathComponent("drift.xml").path,
            ])
            #expect(junit.status == 0, "drift.xml is XML: \(junit.stderrText)")
            let fields = junit.stdoutText.split(separator: " ").map(String.init)
            #expect(
                fields.count == 3 && ["testsuites", "testsuite"].contains(fields[0])
                    && Int(fields[2].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 1,
                "a JUnit report with the drift as a failure: \(junit.stdoutText)")
            #expect(try await ci.pipeline.changingRequests().isEmpty)
            await ci.stop()
        }

        // MARK: - Kubernetes CronJob

        /// The CronJob's script in a fresh emptyDir: download, check, clone, drift; drift (exit 2) is a success, and
        /// an error (a rejected token) fails the Job.
        @Test func kubernetesCronJobReportsDriftAndFailsOnErrors() async throws {
            let ci = try await RecipePipeline(.s3)
            let apply = try await ci.pipeline.intops(["apply", "--auto-approve"], in: try await ci.pipeline.job())
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")

            try await ci.pipeline.resetRequests()
            let (run, work) = try await ci.cronjob()
            #expect(run.status == 0, "drift exits 2, which the Job counts as success: \(run.log)")
            let report = try String(contentsOf: work.appendingPathComponent("drift.json"), encoding: .utf8)
            let kinds = Set(
                ((try? JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])?["drift"]
                    as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String })
            #expect(kinds == ["unauthorized"], "the state came from S3; only the OAuth integration waits: \(report)")
            #expect(
                run.stdout.contains(report.trimmingCharacters(in: .whitespacesAndNewlines)),
                "the report is in the Job's log")
            #expect(try await ci.pipeline.changingRequests().isEmpty)

            let (rejected, _) = try await ci.cronjob(secrets: ["INTOPS_TOKEN_ACME_US": "not-the-token"])
            #expect(rejected.status == 1, "\(rejected.log)")
            #expect(rejected.stderr.contains("intops drift failed with exit 1"), "\(rejected.log)")
            await ci.stop()
        }

        /// The Indexed Job: pod N applies the Nth organization of intops.yaml with its own state in S3, its token
        /// read from the mounted Secret and no token in the environment it was given.
        @Test func kubernetesIndexedJobAppliesOneOrganizationPerPod() async throws {
            let ci = try await RecipePipeline(.s3)
            for (index, org) in ["acme-us", "globex-eu"].enumerated() {
                let run = try await ci.indexedJob(index: index)
                #expect(run.status == 0, "\(org): \(run.log)")
                #expect(run.stdout.contains("created"), "\(org): \(run.log)")
                #expect(
                    run.stdout.contains("secrets in its environment:") && !run.stdout.contains("INTOPS_TOKEN_"),
                    "tokens come from the mounted files only: \(run.log)")
            }
            #expect(try await ci.liveCount() == 8)
            let states = try await ci.bucketListing()
            #expect(
                states.contains("intops/state-acme-us.json") && states.contains("intops/state-globex-eu.json"),
                "\(states)")
            let outside = try await ci.indexedJob(index: 2)
            #expect(outside.status == 90, "index 2 of a Job of two completions: \(outside.log)")
            await ci.stop()
        }
    }

    /// What one recipe job left: its status and the runner's output (each step's output, and the runner's notes).
    struct RecipeRun {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The job's HOME.
        var home: URL
        var log: String { "\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
    }

    /// The debug intops packed as a release, the way `make dist` packs one: intops-VERSION-linux-ARCH.tar.gz holding
    /// the folder intops-VERSION-linux-ARCH/ with the executable in it.
    struct FakeRelease {
        let folder: URL
        let version: String
        let tarball: URL
        let sha256: String

        static func make(in folder: URL) async throws -> FakeRelease {
            let intops = try Executables.url("intops")
            let versionLine = try await Subprocess.run(executable: intops, ["version"], environment: [:])
            let words = versionLine.stdoutText.split(separator: " ")
            guard versionLine.status == 0, words.count >= 2, words[0] == "intops" else {
                throw TestFailure("intops version printed '\(versionLine.stdoutText)'")
            }
            let arch = try await Subprocess.run(["uname", "-m"]).stdoutText.trimmingCharacters(
                in: .whitespacesAndNewlines)
            let name = "intops-\(words[1])-linux-\(arch)"
            let staging = folder.appendingPathComponent("staging")
            try FileManager.default.createDirectory(
                at: staging.appendingPathComponent(name), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: intops, to: staging.appendingPathComponent("\(name)/intops"))
            let tarball = folder.appendingPathComponent("\(name).tar.gz")
            let pack = try await Subprocess.run([
                "tar", "-C", staging.path, "--owner=0", "--group=0", "-czf", tarball.path, name,
            ])
            guard pack.status == 0 else { throw TestFailure("tar: \(pack.stderrText)") }
            try FileManager.default.removeItem(at: staging)
            let sum = try await Subprocess.run(["sha256sum", tarball.path])
            guard sum.status == 0, let digest = sum.stdoutText.split(separator: " ").first else {
                throw TestFailure("sha256sum: \(sum.stderrText)")
            }
            return FakeRelease(folder: folder, version: String(words[1]), tarball: tarball, sha256: String(digest))
        }
    }

    /// A SimulatedPipeline with a release to install and the runner to run recipe jobs on its clones.
    final class RecipePipeline: @unchecked Sendable {
        static let runner = Executables.packageRoot.appendingPathComponent("Tests/ci/run_recipe.py")
        /// A CI machine's PATH, without the test process's own tools: intops comes only from the install step.
        static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

        let pipeline: SimulatedPipeline
        let release: FakeRelease
        let sha256: String
        /// Where actions/cache keeps what it saved: the one thing, with the state, that outlives a GitHub job.
        let cache: URL
        private var runs = 0

        init(_ backend: PipelineBackend, sha256: String? = nil) async throws {
            pipeline = try await SimulatedPipeline(backend)
            let folder = pipeline.workspace.appendingPathComponent("release")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            release = try await FakeRelease.make(in: folder)
            self.sha256 = sha256 ?? release.sha256
            cache = pipeline.workspace.appendingPathComponent("actions-cache")
            try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
            for directory in Self.path.split(separator: ":") {
                guard !FileManager.default.isExecutableFile(atPath: "\(directory)/intops") else {
                    throw TestFailure("\(directory)/intops exists: a job could run it instead of the one it installs")
                }
            }
        }

        func stop() async { await pipeline.stop() }

        func cacheHoldsTheTarball() throws -> Bool {
            let saved =
                FileManager.default.enumerator(at: cache, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? []
            return saved.contains { $0.lastPathComponent == release.tarball.lastPathComponent }
        }

        /// Repository or CI/CD variables.
        var vars: [String: String] {
            var vars = [
                "INTOPS_VERSION": release.version, "INTOPS_DOWNLOAD_URL": "file://\(release.folder.path)",
                "INTOPS_SHA256": sha256,
            ]
            if let region = pipeline.environment["AWS_REGION"] { vars["AWS_REGION"] = region }
            return vars
        }

        /// Secrets: the identity, both organizations' tokens and, for S3, the bucket's credentials.
        var secrets: [String: String] {
            pipeline.environment.filter {
                ["SOPS_AGE_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].contains($0.key)
                    || $0.key.hasPrefix("INTOPS_TOKEN_")
            }
        }

        /// What the machine gives every process of a job (git reads no configuration of this machine's).
        func machine(home: URL) -> [String: String] {
            [
                "PATH": Self.path, "HOME": home.path, "XDG_CONFIG_HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1",
                "LANG": "C.UTF-8",
            ]
        }

        func read(_ name: String, in job: URL) throws -> String {
            try String(contentsOf: job.appendingPathComponent(name), encoding: .utf8)
        }

        /// What GitLab carries between jobs: artifacts and the cache folder.
        func carry(_ paths: [String], from: URL, to: URL) throws {
            for path in paths {
                let source = from.appendingPathComponent(path)
                guard FileManager.default.fileExists(atPath: source.path) else {
                    throw TestFailure("the job left no \(path)")
                }
                try FileManager.default.copyItem(at: source, to: to.appendingPathComponent(path))
            }
        }

        /// A GitLab job's artifacts:paths, read from the recipe.
        func artifactPaths(_ job: String) async throws -> [String] {
            let read = try await Subprocess.run([
                "python3", "-c",
                "import sys, yaml; print('\\n'.join(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]['artifacts']['paths']))",
                CIRecipeTests.folder.appendingPathComponent("gitlab-ci.yml").path, job,
            ])
            guard read.status == 0 else {
                throw TestFailure("gitlab-ci.yml: no artifacts paths for \(job): \(read.stderrText)")
            }
            return read.stdoutText.split(separator: "\n").map(String.init)
        }

        /// The keys of the pipeline's state bucket, as moto lists them.
        func bucketListing() async throws -> String {
            try await Subprocess.run([
                "curl", "-fsS", "\(pipeline.moto!.endpoint.absoluteString)/intops-pipeline?list-type=2",
            ]).stdoutText
        }

        func liveCount() async throws -> Int {
            try await pipeline.liveNames("acme-us", token: "token-acme").count
                + pipeline.liveNames("globex-eu", token: "token-globex").count
        }

        func github(
            _ recipe: String, job: String, matrix: [String: String]? = nil, needs: [String: Any] = [:], event: String,
            ref: String, in clone: URL, trace: String? = nil
        ) async throws -> RecipeRun {
            runs += 1
            let home = try folder("runner-home-\(runs)")
            let context: [String: Any] = [
                "vars": vars, "secrets": secrets, "github": ["event_name": event, "ref": ref], "cache": cache.path,
                "needs": needs,
                "env": machine(home: home).merging([
                    "RUNNER_TEMP": pipeline.workspace.appendingPathComponent("runner-temp-\(runs)").path
                ]) { $1 },
            ]
            var extra: [String] = []
            if let matrix {
                extra += [
                    "--matrix",
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: matrix, options: .sortedKeys),
                        as: UTF8.self),
                ]
            }
            if let trace { extra += ["--trace-env-prefix", trace] }
            return try await run(recipe, job: job, in: clone, home: home, context: context, extra: extra)
        }

        /// A GitLab job: a container of its own (a fresh HOME), the project's CI/CD variables and the predefined ones.
        func gitlab(job: String, predefined: [String: String], in clone: URL) async throws -> RecipeRun {
            runs += 1
            let home = try folder("container-home-\(runs)")
            let context: [String: Any] = [
                "vars": vars, "secrets": secrets, "gitlab": predefined, "env": machine(home: home),
            ]
            return try await run("gitlab-ci.yml", job: job, in: clone, home: home, context: context)
        }

        /// One run of the CronJob's container: a fresh emptyDir for /work, the Secrets (with the repository's URL)
        /// and the ConfigMap.
        func cronjob(secrets overrides: [String: String] = [:]) async throws -> (RecipeRun, work: URL) {
            runs += 1
            let work = try folder("emptydir-\(runs)"), cwd = try folder("container-root-\(runs)")
            let context: [String: Any] = [
                "vars": vars,
                "secrets": secrets.merging(["GIT_URL": "file://\(pipeline.remote.path)"].merging(overrides) { $1 }) {
                    $1
                },
                "env": [
                    "PATH": Self.path, "XDG_CONFIG_HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8",
                ], "mounts": ["/work": work.path],
            ]
            return (
                try await run("kubernetes-drift-cronjob.yaml", job: "drift", in: cwd, home: work, context: context),
                work
            )
        }

        /// One pod of the Indexed Job: a fresh emptyDir for /work, the tokens Secret as files under /tokens, the
        /// other Secrets and the ConfigMap as its environment.
        func indexedJob(index: Int) async throws -> RecipeRun {
            runs += 1
            let work = try folder("emptydir-\(runs)"), cwd = try folder("pod-root-\(runs)")
            let tokens = try folder("tokens-\(runs)")
            let shared = secrets.filter { !$0.key.hasPrefix("INTOPS_TOKEN_") }
            for (name, value) in secrets where name.hasPrefix("INTOPS_TOKEN_") {
                try value.write(to: tokens.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            let context: [String: Any] = [
                "vars": vars, "secrets": shared.merging(["GIT_URL": "file://\(pipeline.remote.path)"]) { $1 },
                "env": [
                    "PATH": Self.path, "XDG_CONFIG_HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8",
                ], "mounts": ["/work": work.path, "/tokens": tokens.path], "index": index,
            ]
            return try await run("kubernetes-sharded-job.yaml", job: "apply", in: cwd, home: work, context: context)
        }

        private func folder(_ name: String) throws -> URL {
            let folder = pipeline.workspace.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return folder
        }

        private func run(
            _ recipe: String, job: String, in workdir: URL, home: URL, context: [String: Any], extra: [String] = []
        ) async throws -> RecipeRun {
            // The context holds the secrets: a file, not an argument another process could read.
            let contextFile = pipeline.workspace.appendingPathComponent("context-\(runs).json")
            try JSONSerialization.data(withJSONObject: context, options: .sortedKeys).write(to: contextFile)
            defer { try? FileManager.default.removeItem(at: contextFile) }
            let output = try await Subprocess.run(
                [
                    "python3", Self.runner.path, "--recipe", CIRecipeTests.folder.appendingPathComponent(recipe).path,
                    "--job", job, "--workdir", workdir.path, "--context", "@\(contextFile.path)",
                ] + extra, deadline: .seconds(300))
            return RecipeRun(status: output.status, stdout: output.stdoutText, stderr: output.stderrText, home: home)
        }
    }
}

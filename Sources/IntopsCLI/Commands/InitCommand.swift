import Reconciler

/// `intops init`.
enum InitCommand {
    static let spec = CommandSpec(
        name: "init", summary: "Create intops.yaml, an age identity if none exists, and the encrypted fingerprint key.",
        run: { invocation in
            let console = invocation.console
            do {
                let report = try ProjectInitializer.run(
                    in: invocation.global.directory, environment: invocation.environment)
                for warning in report.warnings { invocation.warning(warning) }
                let show = { (path: String) in ProjectPaths.display(path, relativeTo: invocation.workingDirectory) }
                if let identity = report.newIdentityFile {
                    console.out(
                        "created the age identity \(identity) (mode 0600); back it up, it decrypts every secret")
                }
                console.out("created \(show(report.projectFile)) with recipient \(report.recipient)")
                console.out("created \(show(report.fingerprintKeyFile)) (32 random bytes, encrypted)")
                if let sopsConfig = report.sopsConfigFile {
                    console.out("created \(show(sopsConfig)), so that sops encrypts new files to the same recipient")
                }
                console.out("next: add organizations and manifests under integrations/, then intops validate")
                return ExitCode.success
            } catch {
                invocation.error("\(error)")
                return ExitCode.failure
            }
        })
}

import Reconciler

/// Renders diagnostics as compiler-style lines or GitHub Actions annotations.
struct DiagnosticPrinter {
    enum Format: String {
        case text
        case github
    }

    /// Paths print relative to this folder (the directory intops was started in), as compilers do.
    var displayBase: String
    var format: Format

    func line(_ diagnostic: Diagnostic, color: Bool) -> String {
        let file = (diagnostic.location?.file ?? diagnostic.path).map(display)
        switch format {
        case .github:
            var properties: [String] = []
            if let file { properties.append("file=\(WorkflowCommand.property(file))") }
            if let location = diagnostic.location {
                properties.append("line=\(location.line)")
                properties.append("col=\(location.column)")
            }
            let command = diagnostic.severity == .error ? "error" : "warning"
            let head = properties.isEmpty ? "::\(command)" : "::\(command) \(properties.joined(separator: ","))"
            return "\(head)::\(WorkflowCommand.data(diagnostic.message))"
        case .text:
            var place = file ?? ""
            if let location = diagnostic.location { place += ":\(location.line):\(location.column)" }
            let label = diagnostic.severity == .error ? Style.red("error:", color) : Style.yellow("warning:", color)
            let prefix = place.isEmpty ? "" : Style.bold(place + ":", color) + " "
            return "\(prefix)\(label) \(TerminalText.visible(diagnostic.message))"
        }
    }

    func display(_ path: String) -> String {
        path == displayBase ? "." : ProjectPaths.display(path, relativeTo: displayBase)
    }
}

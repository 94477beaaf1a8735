import ArgumentParser

/// The `lassoboot` command line: one type per subcommand.
@main
struct Lassoboot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lassoboot",
        abstract: "Sparse logistic models with honest uncertainty.",
        version: LassobootVersion.full,
        subcommands: [
            RunCommand.self, FitCommand.self, PredictCommand.self, CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self,
            StatusCommand.self, ResultsCommand.self, CancelCommand.self,
        ]
    )
}

/// The software version reported by every command and written into reports.
enum LassobootVersion {
    static let string = "0.1.0"
    /// The git commit the binary was built from ("unknown" outside a checkout).
    static let commit = buildCommit
    /// What `--version` prints: the version and the commit, e.g. `0.1.0 (commit 8cbf15a2c0de)`.
    /// Reports carry only ``string``, so their bytes do not depend on the build.
    static var full: String { "\(string) (commit \(commit))" }
}

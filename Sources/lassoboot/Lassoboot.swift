import ArgumentParser

/// The `lassoboot` command line: one type per subcommand.
@main
struct Lassoboot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lassoboot",
        abstract: "Sparse logistic models with honest uncertainty.",
        version: LassobootVersion.string,
        subcommands: [RunCommand.self, FitCommand.self, PredictCommand.self, CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self,
                      StatusCommand.self, ResultsCommand.self, CancelCommand.self]
    )
}

/// The software version reported by every command and written into reports.
enum LassobootVersion {
    static let string = "0.1.0"
}

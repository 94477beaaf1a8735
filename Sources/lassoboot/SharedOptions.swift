import ArgumentParser

/// What a command prints: one list of formats for `run`, `submit --wait` and `results`.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv, markdown, cv, replicates, html

    /// The coordinator's `format` query value for this format.
    var query: String { self == .table ? "text" : rawValue }
}

/// `--format`, shared by the commands that print a report.
struct FormatOptions: ParsableArguments {
    @Option(name: .long, help: "What to print (html: a self-contained page with plots).")
    var format: ReportFormat = .table
}

/// Settings that replace the job spec's, shared by `run` and `submit`.
struct OverrideOptions: ParsableArguments {
    @Option(name: .long, help: "Override the spec's number of bootstrap resamples.")
    var resamples: Int?

    @Option(name: .long, help: "Override the spec's number of cross-validation folds (2-100).")
    var folds: Int?

    @Option(name: .long, help: "Override the spec's seed.")
    var seed: UInt64?

    @Option(
        name: .customLong("resample-indices"),
        help: "Replay resamples given as 0-based kept-row indices, one resample per line (e.g. from scipy or R).")
    var resampleIndices: String?

    func validate() throws {
        if let r = resamples, r < 1 { throw ValidationError("--resamples must be >= 1") }
        if let k = folds, !(2...100).contains(k) { throw ValidationError("--folds must be between 2 and 100 (got \(k))") }
    }
}

import Analysis
import ArgumentParser
import Foundation
import Tabular

/// `lassoboot predict`: applies a saved model (its encodings and coefficients) to new rows.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score new rows with a model.json written by `run --out DIR` or `fit --save-model FILE`.",
        discussion: """
            Writes one row per data row of --data: row (0-based), line (in the file), then per outcome
            the probability 1/(1+exp(-(b0 + x.b))) and, for a model from `run`, the bootstrap interval
            of that probability (percentiles of the resampled linear predictors at the run's level;
            it shows the variability of the penalized fit, not a coverage-calibrated interval).
            New rows are encoded exactly as the training rows were; a row a missing value drops gets
            empty cells.
            """
    )

    @Option(name: .long, help: "Model file (model.json).")
    var model: String

    @Option(name: .long, help: "CSV (or .csv.gz) with the model's feature columns; other columns are ignored.")
    var data: String

    @Option(name: .long, help: "Write the predictions here instead of standard output.")
    var out: String?

    @Option(name: .long, help: "Field separator: ',', ';', 'tab' or '|' (default: the model's, else detected).")
    var delimiter: String?

    func validate() throws {
        if let d = delimiter, CSVReader.separator(named: d) == nil {
            throw ValidationError("--delimiter must be ',', ';', 'tab' or '|' (got '\(d)')")
        }
    }

    func run() throws {
        let m = try PredictionModel.load(path: model)
        let recipe = try m.recipe(source: data)
        let separator = delimiter.flatMap { CSVReader.separator(named: $0) } ?? recipe.separator
        let reader = CSVReader(
            textColumns: recipe.textColumns, separator: separator, missingTokens: Set(recipe.missingTokens),
            usedColumns: recipe.usedColumns)
        let table = try reader.read(path: data)
        for note in table.notes { FileHandle.standardError.write(Data("note: \(data): \(note)\n".utf8)) }
        let predictions = try m.predict(table)
        for d in predictions.dropped {
            FileHandle.standardError.write(Data("note: \(d.rows) row(s) have no prediction: \(d.reason)\n".utf8))
        }
        let csv = PredictionModel.csv(predictions, outcomes: m.outcomes.map(\.name))
        if let out {
            try Data(csv.utf8).write(to: URL(fileURLWithPath: out))
            FileHandle.standardError.write(Data("wrote \(predictions.rows.count) rows to \(out)\n".utf8))
        } else {
            print(csv, terminator: "")
        }
    }
}

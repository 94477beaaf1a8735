import Analysis
import ArgumentParser
import Foundation
import Lasso
import Tabular

/// `lassoboot fit`: one L1-penalized logistic regression per outcome, with the Wald intervals
/// the original analysis reported (clearly labelled as conditional on selection).
struct FitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Fit L1-penalized logistic regressions and print odds ratios with Wald intervals.",
        discussion: """
            Every column of --data except the outcome(s), --exclude'd and --onehot columns is a numeric feature;
            each --onehot column gives one 0/1 feature per level but the most frequent (the reference).
            Objective (sum scale): sum_i loss_i + alpha * sum_j |beta_j|, intercept unpenalized unless
            --penalize-intercept (statsmodels' fit_regularized with a scalar alpha). With --scale mean,
            alpha is glmnet's lambda (the loss is divided by the number of rows).
            Wald intervals are statsmodels' conf_int() of an L1 fit: conditional on the selected model,
            they ignore selection and shrinkage and are not honest confidence intervals.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    @Option(name: .long, help: "CSV file with a header row; all used columns numeric.")
    var data: String

    @Option(name: .long, help: "Binary (0/1) outcome column; repeat to fit several outcomes on the same features.")
    var outcome: [String]

    @Option(name: .long, help: "Column to leave out of the features (repeatable).")
    var exclude: [String] = []

    @Option(
        name: .long,
        help: "Text column to one-hot encode (repeatable): one 0/1 feature per level, the most frequent level the reference.")
    var onehot: [String] = []

    @Option(
        name: .long,
        help: "Design storage: automatic (sparse from 64 features when under 5% of values are nonzero), dense or sparse.")
    var storage: DesignStorage = .automatic

    @Option(name: .long, help: "Penalty strength alpha >= 0, on the --scale.")
    var alpha: Double

    @Option(name: .long, help: "sum: statsmodels' alpha; mean: glmnet's lambda (alpha / rows on the sum scale).")
    var scale: PenaltyScale = .sum

    @Flag(name: .long, help: "Penalize the intercept too (statsmodels' behaviour with a scalar alpha).")
    var penalizeIntercept = false

    @Flag(
        inversion: .prefixedNo,
        help: "Penalize coefficients per standard deviation of their feature (glmnet's standardize=TRUE); coefficients stay on the original scale.")
    var standardize = false

    @Option(name: .long, help: "File of 0-based data-row indices (one per line) to fit on.")
    var rows: String?

    @Option(name: .long, help: "CSV with the same columns: report AUC on it.")
    var test: String?

    @Option(name: .customLong("test-rows"), help: "File of 0-based data-row indices of --data to report AUC on.")
    var testRows: String?

    @Option(name: .long, help: "KKT tolerance on the mean scale (gradient / rows).")
    var tolerance: Double = SolverOptions().tolerance

    @Option(name: .long, help: "Newton system: automatic (working sets from \(LogisticLasso.workingSetThreshold) features), full or working-set.")
    var solver: SolverOptions.Strategy = .automatic

    @Option(
        name: .long,
        help:
            "Working-set quadratic models: automatic (coordinate descent from \(LogisticLasso.coordinateDescentThreshold) features), hessian or coordinate-descent."
    )
    var innerSolver: String = "automatic"

    @Flag(
        name: .long, inversion: .prefixedNo,
        help: "With working sets, drop the features the gap-safe rule proves zero (the fit is the same either way).")
    var screening = true

    @Option(name: .long, help: "Confidence level of the Wald intervals.")
    var level: Double = 0.95

    @Option(name: .long, help: "Output: table, json or csv.")
    var format: Format = .table

    @Option(name: .customLong("save-model"), help: "Write the fit as a model file (model.json) for `lassoboot predict`.")
    var saveModel: String?

    @Option(name: .long, help: "Field separator: ',', ';', 'tab' or '|' (default: detected from the header).")
    var delimiter: String?

    func validate() throws {
        guard !outcome.isEmpty else { throw ValidationError("give at least one --outcome column") }
        guard alpha.isFinite, alpha >= 0 else { throw ValidationError("--alpha must be a finite number >= 0, got \(alpha)") }
        guard tolerance > 0 else { throw ValidationError("--tolerance must be > 0") }
        guard level > 0, level < 1 else { throw ValidationError("--level must be between 0 and 1, got \(level)") }
        if test != nil && testRows != nil { throw ValidationError("give --test or --test-rows, not both") }
        if Set(outcome).count != outcome.count { throw ValidationError("an --outcome is repeated") }
        if let c = onehot.first(where: { outcome.contains($0) || exclude.contains($0) }) {
            throw ValidationError("--onehot column '\(c)' is also an --outcome or --exclude'd")
        }
        if let d = delimiter, CSVReader.separator(named: d) == nil {
            throw ValidationError("--delimiter must be ',', ';', 'tab' or '|' (got '\(d)')")
        }
    }

    func run() throws {
        let separator = delimiter.flatMap { CSVReader.separator(named: $0) }
        var table = try CSVReader(textColumns: Set(onehot), separator: separator).read(path: data)
        if format == .table {
            for note in table.notes { FileHandle.standardError.write(Data("note: \(data): \(note)\n".utf8)) }
        }
        let subset = try rows.map { try RowIndices.read(path: $0, rowCount: table.rowCount) }
        // Held-out rows for AUC, from this file: read before the design takes the columns.
        var testSet: (rows: [[Double]], outcomes: [String: [Double]], source: String)?
        if onehot.isEmpty, test == nil, let path = testRows {
            let idx = try RowIndices.read(path: path, rowCount: table.rowCount)
            let features = FitInput.numericFeatures(of: table, outcomeNames: outcome, excluded: exclude, oneHot: [])
            let x = try FitInput.rows(of: table, features: features, rows: idx)
            var ys: [String: [Double]] = [:]
            for name in outcome {
                let all = try table.binary(name)
                ys[name] = idx.map { all[$0] }
            }
            testSet = (x, ys, path)
        }
        // The table's numeric columns go to the design (one copy of the data), unless one-hot
        // held-out rows are scored from the table later.
        let input = try FitInput(
            table: &table, outcomeNames: outcome, excluded: exclude, rows: subset, oneHot: onehot, storage: storage,
            handOver: onehot.isEmpty || testRows == nil)
        if format == .table {
            for e in input.oneHot {
                FileHandle.standardError.write(
                    Data("note: '\(e.column)' one-hot encoded: \(e.levels.count) levels, reference '\(e.reference)' (the most frequent)\n".utf8))
            }
            if let example = input.mergedGroups.first {
                FileHandle.standardError.write(
                    Data(
                        "note: \(input.mergedGroups.count) group(s) of one-hot levels are identical in every row and were merged into one feature each (the lasso cannot tell them apart; the fit is the same), e.g. '\(example)'\n"
                            .utf8))
            }
        }

        if let group = input.identicalColumns.first {
            let names = group.map { "'\($0)'" }.joined(separator: " and ")
            throw TabularError(
                file: data, message: "columns \(names) are identical in every used row: the lasso cannot tell them apart; --exclude all but one")
        }

        // With one-hot columns the held-out rows are scored from the table (levels by name).
        var oneHotTest: (table: Table, rows: [Int]?, source: String)?
        if !onehot.isEmpty, let testPath = test {
            oneHotTest = (try CSVReader(textColumns: Set(onehot), separator: separator).read(path: testPath), nil, testPath)
        } else if !onehot.isEmpty, let path = testRows {
            oneHotTest = (table, try RowIndices.read(path: path, rowCount: table.rowCount), path)
        } else if let testPath = test {
            let testTable = try CSVReader(separator: separator).read(path: testPath)
            let x = try FitInput.rows(of: testTable, features: input.featureNames)
            var ys: [String: [Double]] = [:]
            for name in outcome { ys[name] = try testTable.binary(name) }
            testSet = (x, ys, testPath)
        }

        let penalty = Penalty(scale: scale, penalizeIntercept: penalizeIntercept, standardize: standardize)
        var results: [FitResult] = []
        for name in outcome {
            let cells = try input.design.cells(outcome: input.outcomes[name]!)
            let constant = input.design.constantFeatures(in: cells).map { input.featureNames[$0] }
            if !constant.isEmpty && format == .table {
                FileHandle.standardError.write(
                    Data("note: constant column(s) \(constant.joined(separator: ", ")) carry no information; their coefficients are 0\n".utf8))
            }
            var options = SolverOptions(tolerance: tolerance)
            options.strategy = solver
            options.screening = screening
            if innerSolver != "automatic" {
                guard let inner = InnerSolver(rawValue: innerSolver) else {
                    throw ValidationError("--inner-solver must be automatic, hessian or coordinate-descent")
                }
                options.innerSolver = inner
            }
            let clock = ContinuousClock()
            var fit: LassoFit!
            let elapsed = try clock.measure {
                fit = try LogisticLasso.fit(
                    design: input.design, cells: cells, alpha: alpha, penalty: penalty,
                    options: options)
            }
            let wald = Wald.intervals(design: input.design, cells: cells, fit: fit, level: level)
            var auc: Double?
            var testCount: Int?
            if let t = testSet {
                let scores = t.rows.map { fit.linearPredictor($0) }
                auc = Metrics.auc(scores: scores, outcomes: t.outcomes[name]!)
                testCount = t.rows.count
            } else if let t = oneHotTest {
                let (scores, unseen) = try input.linearPredictors(of: t.table, fit: fit, rows: t.rows)
                let all = try t.table.binary(name)
                auc = Metrics.auc(scores: scores, outcomes: t.rows.map { $0.map { all[$0] } } ?? all)
                testCount = scores.count
                if unseen > 0 && format == .table {
                    FileHandle.standardError.write(
                        Data("note: \(t.source): \(unseen) one-hot value(s) of levels the training rows did not have, scored as the reference\n".utf8)
                    )
                }
            }
            results.append(
                FitResult(
                    outcome: name, featureNames: input.featureNames, fit: fit, wald: wald, level: level,
                    rows: input.rowCount, patterns: cells.activePatternCount,
                    fitSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18,
                    testAUC: auc, testRows: testCount, storage: input.design.isSparse ? "sparse" : "dense"))
        }
        if let path = saveModel {
            // The recipe in job-spec terms: numeric columns, then each one-hot column with its
            // reference first (so `predict` encodes the levels in this fit's order).
            var recipe = input.featureNames.prefix(input.numericCount).map {
                FeatureSpec(name: $0, column: $0, encoding: .numeric, missing: .error, group: "Features")
            }
            for e in input.oneHot {
                recipe.append(
                    FeatureSpec(
                        name: e.column, column: e.column, encoding: .onehot(reference: e.reference, levels: [e.reference] + e.levels),
                        missing: .error, group: "Features"))
            }
            // A merged group's coefficient is split equally among its identical indicators: any
            // same-sign split has the same objective; the equal one is the limit of a vanishing
            // ridge term, and scores the training rows exactly as the fit.
            var groupSize = [Int](repeating: 0, count: input.featureNames.count)
            for j in input.featureOf { groupSize[j] += 1 }
            let model = PredictionModel(
                source: "fit", software: "lassoboot \(LassobootVersion.string)", data: URL(fileURLWithPath: data).lastPathComponent,
                dataHash: SHA256.hex(fileAt: data) ?? SHA256.hex(Data()), trainingRows: input.rowCount, features: recipe,
                columns: input.expanded.map { PredictionModel.Column(name: $0.name, mean: $0.mean, sd: $0.sd) },
                standardize: standardize, scale: scale.rawValue, level: level,
                missingTokens: CSVReader.defaultMissingTokens.sorted(), delimiter: delimiter,
                outcomes: results.map { r in
                    PredictionModel.Outcome(
                        name: r.outcome, alpha: r.fit.alpha, intercept: r.fit.intercept,
                        coefficients: input.featureOf.map { r.fit.coefficients[$0] / Double(groupSize[$0]) })
                })
            try Data(try model.json().utf8).write(to: URL(fileURLWithPath: path))
        }
        print(FitOutput.render(results, format: format), terminator: "")
    }
}

extension PenaltyScale: ExpressibleByArgument {}
extension SolverOptions.Strategy: ExpressibleByArgument {}
extension DesignStorage: ExpressibleByArgument {}

import Foundation
import Lasso
import Plan
import Resampling

/// Collected task results, sorted by key, turned into a report.
public enum Aggregation {
    /// The alpha chosen for each outcome from phase-1 results.
    public static func phaseTwoInput(data: RunData, results: [TaskKey: TaskResult]) throws -> (PhaseTwoInput, [[CVRow]]) {
        let cvKeys = (0..<data.outcomeCount).flatMap { o in (0..<data.spec.cv.folds).map { TaskKey.cv(outcome: o, fold: $0) } }
        let missing = cvKeys.filter { results[$0] == nil }
        if !missing.isEmpty {
            throw AnalysisError.incompleteResults(
                "no result for \(missing.count) cross-validation task(s): \(missing.prefix(5).map(\.description).joined(separator: ", "))")
        }
        let table = cvTable(data: data, results: results)
        let alphas = CrossValidation.choose(table: table, spec: data.spec.cv)
        for (o, a) in alphas.enumerated() where !a.isFinite {
            let causes = Set(
                results.compactMap { key, value -> String? in
                    guard case let .cv(outcome, _) = key, outcome == o, case let .cv(_, failures, _) = value else { return nil }
                    return failures.compactMap { $0 }.first
                })
            throw AnalysisError.crossValidationFailed(outcome: data.encoded.outcomeNames[o], causes: causes.sorted())
        }
        return (PhaseTwoInput(alphas: alphas), table)
    }

    static func cvTable(data: RunData, results: [TaskKey: TaskResult]) -> [[CVRow]] {
        let perOutcome = (0..<data.outcomeCount).map { o in
            (0..<data.spec.cv.folds).map { f in results[.cv(outcome: o, fold: f)]! }
        }
        return CrossValidation.summarize(results: perOutcome, grids: data.grids, metric: data.spec.cv.metric)
    }

    /// The final report from all results of both phases.
    public static func report(data: RunData, executor: TaskExecutor, results: [TaskKey: TaskResult], software: String) throws -> Report {
        let (input, table) = try phaseTwoInput(data: data, results: results)
        // Built only from a complete result set: every task of the plan has its result.
        let missing = executor.phaseTwoKeys().filter { results[$0] == nil }
        if !missing.isEmpty {
            throw AnalysisError.incompleteResults(
                "no result for \(missing.count) task(s): \(missing.prefix(5).map(\.description).joined(separator: ", "))")
        }
        let spec = data.spec
        let names = ["const"] + data.encoded.featureNames
        let groups = ["Intercept"] + data.encoded.featureGroups
        let keys = results.keys.sorted()
        var outcomes: [Report.Outcome] = []
        let sds = Warnings.continuousSDs(data)
        let debiasedOutcomes = spec.intervals == .debiased ? try debias(data: data, executor: executor, results: results, keys: keys) : nil
        let stabilityOutcomes = try stability(data: data, executor: executor, results: results, keys: keys)
        for o in 0..<data.outcomeCount {
            guard case let .estimate(estimateFit, kkt, iterations)? = results[.estimate(outcome: o)] else {
                throw AnalysisError.missingResult("estimate/o\(o)")
            }
            guard let estimate = estimateFit.values else {
                if case let .failed(cause) = estimateFit {
                    throw AnalysisError.estimateFailed(outcome: data.encoded.outcomeNames[o], cause: cause)
                }
                throw AnalysisError.missingResult("estimate/o\(o)")
            }
            // Replicates in resample order.
            var replicates: [[Double]] = []
            var failures: [String: Int] = [:]
            var chosen: [Double: Int] = [:]
            for key in keys {
                guard case .bootstrap = key, case let .bootstrap(fits, alphas, _)? = results[key] else { continue }
                for (i, row) in fits.enumerated() {
                    switch row[o] {
                    case let .coefficients(c): replicates.append(c)
                    case let .failed(cause): failures[cause, default: 0] += 1
                    }
                    if let a = alphas?[i][o], a.isFinite { chosen[a, default: 0] += 1 }
                }
            }
            // The report checks its own counts: every resample is a replicate or a counted failure.
            let accounted = replicates.count + failures.values.reduce(0, +)
            if accounted != executor.resampleCount {
                throw AnalysisError.incompleteResults(
                    "outcome \(data.encoded.outcomeNames[o]): \(accounted) bootstrap fits for \(executor.resampleCount) resamples")
            }
            // Jackknife (BCa), in cell order.
            var jackknifeValues: [[Double]] = []
            var jackknifeRows: [Int] = []
            var jackknifeOK = spec.bootstrap.methods.contains(.bca)
            if jackknifeOK {
                let cells = executor.jackknifeCells(outcome: o)
                for key in keys {
                    guard case let .jackknife(ko, start, _) = key, ko == o, case let .jackknife(fits)? = results[key] else { continue }
                    for (i, fit) in fits.enumerated() {
                        guard let c = fit.values else { jackknifeOK = false; break }
                        jackknifeValues.append(c)
                        jackknifeRows.append(cells[start + i].rows)
                    }
                }
                if jackknifeValues.count != cells.count { jackknifeOK = false }
            }
            var wald: [WaldInterval?] = Array(repeating: nil, count: names.count)
            if spec.report.wald {
                let cells = try data.cells(outcome: o, counts: data.cellCount)
                wald = Wald.intervals(design: data.design, cells: cells, coefficients: estimate, level: spec.bootstrap.level)
            }
            let debiased = debiasedOutcomes?[o]
            let stable = stabilityOutcomes?[o]
            var features: [Report.Feature] = []
            for j in 0..<names.count {
                let column = replicates.map { $0[j] }
                let distribution = BootstrapDistribution(replicates: column)
                let summary = FeatureSummary.make(distribution: distribution, estimate: estimate[j], level: spec.bootstrap.level)
                var jackknife: Jackknife?
                if jackknifeOK { jackknife = try? Jackknife(values: jackknifeValues.map { $0[j] }, multiplicities: jackknifeRows) }
                var ci: [String: Report.Interval] = [:]
                for method in spec.bootstrap.methods {
                    let r = BootstrapCI.interval(
                        method: method, distribution: distribution, estimate: estimate[j],
                        level: spec.bootstrap.level, jackknife: jackknife, convention: spec.bootstrap.quantiles)
                    var flags = r.flags.names
                    if method == .bca && !jackknifeOK { flags.append("jackknifeUnavailable") }
                    ci[method.rawValue] = Report.Interval(
                        low: finite(r.low), high: finite(r.high),
                        oddsRatioLow: finite(Foundation.exp(r.low)), oddsRatioHigh: finite(Foundation.exp(r.high)), flags: flags)
                }
                features.append(
                    Report.Feature(
                        name: names[j], group: groups[j], coef: estimate[j], oddsRatio: Foundation.exp(estimate[j]),
                        selectionFrequency: finite(summary.selectionFrequency), zeroFraction: finite(summary.zeroFraction),
                        probPositive: finite(summary.positiveFraction), probNegative: finite(summary.negativeFraction),
                        bootstrapMean: finite(summary.mean), bootstrapMedian: finite(summary.median),
                        standardError: finite(summary.standardError), bias: finite(summary.bias),
                        mcseLow: finite(summary.monteCarloSELow), mcseHigh: finite(summary.monteCarloSEHigh),
                        ci: ci, flags: summary.flags.names,
                        wald: wald[j].map { w in
                            Report.WaldInterval(
                                standardError: w.standardError, low: w.low, high: w.high,
                                oddsRatioLow: finite(Foundation.exp(w.low)), oddsRatioHigh: finite(Foundation.exp(w.high)))
                        },
                        debiased: debiased.map { d in
                            d.feature(
                                j, level: spec.bootstrap.level, methods: spec.bootstrap.methods, convention: spec.bootstrap.quantiles,
                                fallback: ci[CIMethod.percentile.rawValue] ?? percentileFallback(column: column, estimate: estimate[j], spec: spec))
                        },
                        stability: stable.flatMap { s in
                            s.probabilities[j].map { Report.Stability(probability: $0, selected: $0 >= s.summary.threshold) }
                        }))
            }
            for j in 0..<data.design.featureCount { features[j + 1].sd = sds[j] }
            var outcome = Report.Outcome(
                name: data.encoded.outcomeNames[o], alpha: input.alphas[o], resamples: replicates.count,
                failedResamples: failures.values.reduce(0, +),
                failures: failures.keys.sorted().map { Report.Failure(cause: $0, resamples: failures[$0]!) },
                chosenAlphas: spec.bootstrap.nested ? chosen.keys.sorted(by: >).map { Report.AlphaCount(alpha: $0, resamples: chosen[$0]!) } : nil,
                estimateKKT: kkt, estimateIterations: iterations, cv: table[o], features: features,
                debiasing: debiased?.summary, stability: stable?.summary)
            let warnings = Warnings.make(
                data: data, outcome: o, alpha: input.alphas[o], estimate: estimate,
                debiasFlags: debiased?.summary.flags ?? [])
            outcome.warnings = warnings.isEmpty ? nil : warnings
            outcomes.append(outcome)
        }
        var groupOrder: [String] = []
        for g in data.encoded.featureGroups where !groupOrder.contains(g) { groupOrder.append(g) }
        var report = Report(
            name: spec.name, software: software, seed: spec.seed, dataHash: data.dataHash,
            data: Report.DataSummary(
                csv: URL(fileURLWithPath: spec.data.csv).lastPathComponent, rowsRead: data.encoded.rowsRead,
                rows: data.rowCount, patterns: data.design.patternCount, cells: data.cellCount.count,
                dropped: data.encoded.dropped.map { .init(reason: $0.reason, rows: $0.rows) }),
            settings: Report.Settings(
                scale: spec.penalty.scale.rawValue, penalizeIntercept: spec.penalty.penalizeIntercept, folds: spec.cv.folds,
                metric: spec.cv.metric.rawValue, rule: spec.cv.rule.rawValue, choose: spec.cv.choice.rawValue,
                resamples: executor.resampleCount, methods: spec.bootstrap.methods.map(\.rawValue), level: spec.bootstrap.level,
                nested: spec.bootstrap.nested, quantiles: spec.bootstrap.quantiles == .scipy ? "scipy" : "r-boot",
                tolerance: spec.tolerance, wald: spec.report.wald ? true : nil,
                intervals: spec.intervals == .debiased ? IntervalKind.debiased.rawValue : nil,
                newtonSteps: spec.intervals == .debiased ? spec.debias.newtonSteps : nil),
            outcomes: outcomes, groups: groupOrder)
        report.settings.standardize = spec.penalty.standardize ? true : nil
        return report
    }

    /// The jackknife fits behind BCa: `outcome,cell,rows,const,<features>`, one row per
    /// (outcome, jackknife cell); `rows` is how many data rows share that delete-one fit.
    public static func jackknifeCSV(data: RunData, executor: TaskExecutor, results: [TaskKey: TaskResult]) -> String? {
        guard data.spec.bootstrap.methods.contains(.bca) else { return nil }
        let names = ["const"] + data.encoded.featureNames
        var out = (["outcome", "cell", "rows"] + names).map(csvField).joined(separator: ",") + "\n"
        for key in results.keys.sorted() {
            guard case let .jackknife(o, start, _) = key, case let .jackknife(fits)? = results[key] else { continue }
            let cells = executor.jackknifeCells(outcome: o)
            for (i, fit) in fits.enumerated() {
                let values = fit.values.map { $0.map { "\($0)" } } ?? Array(repeating: "", count: names.count)
                out += ([csvField(data.encoded.outcomeNames[o]), "\(start + i)", "\(cells[start + i].rows)"] + values).joined(separator: ",") + "\n"
            }
        }
        return out
    }

    /// For each kept row: its 0-based data row in the CSV, its cross-validation fold and its
    /// jackknife cell per outcome (`row,sourceRow,fold,<outcome>...`), so folds and the row-level
    /// jackknife can be rebuilt elsewhere (R cv.glmnet's foldid, scipy's jackknife).
    public static func rowCellsCSV(data: RunData, executor: TaskExecutor) -> String {
        var out = (["row", "sourceRow", "fold"] + data.encoded.outcomeNames).map(csvField).joined(separator: ",") + "\n"
        let lookups: [[Int: Int]] = (0..<data.outcomeCount).map { o in
            var m: [Int: Int] = [:]
            for (i, c) in executor.jackknifeCells(outcome: o).enumerated() { m[c.pattern * 2 + Int(c.y)] = i }
            return m
        }
        for i in 0..<data.rowCount {
            let pattern = Int(data.design.rowPattern[i])
            let cells = (0..<data.outcomeCount).map { o in "\(lookups[o][pattern * 2 + Int(data.encoded.outcomes[o][i])]!)" }
            out += (["\(i)", "\(data.encoded.sourceRows[i])", "\(data.folds[i])"] + cells).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The replicate matrix: header `outcome,resample,const,<features>`, one row per outcome and valid resample.
    /// `model.json` of a finished run: the full-data fit of every outcome at its chosen alpha
    /// and its bootstrap replicates, with the feature recipe (``PredictionModel``).
    public static func model(data: RunData, results: [TaskKey: TaskResult], software: String) throws -> String {
        let (input, _) = try phaseTwoInput(data: data, results: results)
        let keys = results.keys.filter {
            if case .bootstrap = $0 { return true }; return false
        }.sorted()
        var outcomes: [PredictionModel.Outcome] = []
        for o in 0..<data.outcomeCount {
            guard case let .estimate(fit, _, _)? = results[.estimate(outcome: o)], let c = fit.values else {
                throw AnalysisError.missingResult("estimate/o\(o)")
            }
            var replicates: [[Double]] = []
            for key in keys {
                guard case let .bootstrap(fits, _, _)? = results[key] else { continue }
                for row in fits { if let r = row[o].values { replicates.append(r) } }
            }
            outcomes.append(
                PredictionModel.Outcome(
                    name: data.encoded.outcomeNames[o], alpha: input.alphas[o], intercept: c[0],
                    coefficients: Array(c.dropFirst()), replicates: replicates))
        }
        let spec = data.spec
        let model = PredictionModel(
            source: "run", software: software, data: URL(fileURLWithPath: spec.data.csv).lastPathComponent, dataHash: data.dataHash,
            encoded: data.encoded, standardize: spec.penalty.standardize, scale: spec.penalty.scale.rawValue,
            level: spec.bootstrap.level, missingTokens: spec.data.missingTokens,
            delimiter: spec.data.separator.map { $0 == 9 ? "tab" : String(Character(Unicode.Scalar($0))) }, outcomes: outcomes)
        return try model.json()
    }

    public static func replicatesCSV(data: RunData, results: [TaskKey: TaskResult]) -> String {
        let names = ["const"] + data.encoded.featureNames
        var out = (["outcome", "resample"] + names).map(csvField).joined(separator: ",") + "\n"
        let keys = results.keys.filter {
            if case .bootstrap = $0 { return true }; return false
        }.sorted()
        for o in 0..<data.outcomeCount {
            for key in keys {
                guard case let .bootstrap(start, _) = key, case let .bootstrap(fits, _, _)? = results[key] else { continue }
                for (i, row) in fits.enumerated() {
                    guard let c = row[o].values else { continue }
                    out += csvField(data.encoded.outcomeNames[o]) + ",\(start + i)," + c.map { "\($0)" }.joined(separator: ",") + "\n"
                }
            }
        }
        return out
    }
}

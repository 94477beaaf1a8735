import Foundation
import Plan
import Lasso
import Resampling

/// The result of a run: what `report.json` holds and every other format is rendered from.
///
/// Contract other tools read: `seed`, `dataHash`, and `outcomes`, each
/// `{name, alpha, resamples, features}`, each feature `{name, coef, oddsRatio,
/// selectionFrequency, zeroFraction, ci}` where `ci` maps a method name to `{low, high}` on the
/// coefficient scale. Everything here is a deterministic function of (spec, data, seed):
/// no timings, no host names, so the file is byte-identical however the run was executed.
public struct Report: Codable, Sendable, Equatable {
    public struct Interval: Codable, Sendable, Equatable {
        public let low: Double?
        public let high: Double?
        public let oddsRatioLow: Double?
        public let oddsRatioHigh: Double?
        public let flags: [String]
    }

    /// A Wald interval of the full-data estimate, conditional on the selected model (spec
    /// `report.wald`): the inverse unpenalized Hessian over the nonzero coefficients, as
    /// `lassoboot fit` and statsmodels compute it. Not an honest interval (it ignores selection
    /// and shrinkage); it is there to set the bootstrap intervals beside the published ones.
    public struct WaldInterval: Codable, Sendable, Equatable {
        public let standardError: Double
        /// Ends on the coefficient scale.
        public let low: Double
        public let high: Double
        /// Ends on the odds-ratio scale (`nil` where exp overflows).
        public let oddsRatioLow: Double?
        public let oddsRatioHigh: Double?
    }

    /// The debiased lasso (n > p) for one coefficient: the full-data fit moved by Newton steps on
    /// the unpenalized likelihood, its Wald interval (b +/- z SE) and the bootstrap intervals of
    /// the same step taken in every resample. These cover the unpenalized coefficient at their
    /// nominal level (see `lassoboot-bench coverage`); the penalized intervals in
    /// ``Feature/ci`` describe only the variability of the penalized estimator.
    public struct Debiased: Codable, Sendable, Equatable {
        /// The debiased coefficient (`nil` when it could not be made: see `flags`).
        public let estimate: Double?
        /// sqrt((H^{-1})_jj).
        public let se: Double?
        /// The sandwich standard error sqrt((H^{-1} M H^{-1})_jj).
        public let sandwichSE: Double?
        /// exp(estimate).
        public let oddsRatio: Double?
        /// `wald` and one per bootstrap method of the spec, on the coefficient scale (odds ratios
        /// are exp of the ends).
        public let ci: [String: Interval]
        /// `nearSingularHessian` / `newtonNotConverged` with `fallbackPenalizedPercentile` (the
        /// intervals are then the penalized percentile interval: not honest, flagged).
        public let flags: [String]
    }

    /// How the debiased intervals of one outcome were made.
    public struct Debiasing: Codable, Sendable, Equatable {
        /// Newton steps taken on the full data.
        public let steps: Int?
        /// Condition number of the full-data Hessian scaled to unit diagonal.
        public let conditionNumber: Double?
        /// Resamples whose Newton steps succeeded (behind the debiased bootstrap intervals).
        public let resamples: Int
        public let failedResamples: Int
        public let failures: [Failure]
        /// Why the full-data estimate failed and what was reported instead.
        public let flags: [String]
        /// `nodewise` for the desparsified lasso, `firth` for Firth's bias-reduced estimate (absent: Newton steps).
        public var method: String? = nil
        /// The nodewise regressions' lambda (standardized columns, mean scale), with `method`.
        public var nodewiseLambda: Double? = nil
    }

    /// Stability selection of one penalized feature: the fraction of half-samples whose first q
    /// features to enter the lasso path included it, and whether that reaches the threshold.
    public struct Stability: Codable, Sendable, Equatable {
        public let probability: Double
        public let selected: Bool
    }

    /// Stability selection of one outcome (spec `stability`): complementary pairs, the first q
    /// features on each half's path, the features at or above `threshold`, and the bound on
    /// the expected number of false selections among them.
    public struct StabilitySelection: Codable, Sendable, Equatable {
        public let pairs: Int
        /// Half-samples whose path was followed (2 x pairs less the failed ones).
        public let halves: Int
        public let failedHalves: Int
        public let q: Int
        public let threshold: Double
        /// Penalized features (p in the bound).
        public let penalizedFeatures: Int
        /// q^2 / ((2 threshold - 1) p): the bound on E(false selections) (Meinshausen &
        /// Buhlmann 2010; Shah & Samworth 2013 for complementary pairs, without exchangeability,
        /// counting features whose half-sample selection probability is at most q / p).
        public let pferBound: Double
        /// The selected features, in table order.
        public let selected: [String]
    }

    public struct Feature: Codable, Sendable, Equatable {
        public let name: String
        public let group: String
        public let coef: Double
        public let oddsRatio: Double
        public let selectionFrequency: Double?
        public let zeroFraction: Double?
        public let probPositive: Double?
        public let probNegative: Double?
        public let bootstrapMean: Double?
        public let bootstrapMedian: Double?
        public let standardError: Double?
        public let bias: Double?
        /// Monte-Carlo SE of the percentile endpoints.
        public let mcseLow: Double?
        public let mcseHigh: Double?
        public let ci: [String: Interval]
        public let flags: [String]
        /// Only when the spec asks for it (`report.wald`), and only for nonzero coefficients.
        public let wald: WaldInterval?
        /// Debiased lasso estimate and intervals (spec `intervals: debiased`, the default).
        public let debiased: Debiased?
        /// Stability selection (spec `stability`; penalized features only).
        public let stability: Stability?
        /// The feature's population SD over the kept rows, for features that are not 0/1
        /// indicators: exp(coef * sd) is the odds ratio per SD, beside the one per unit.
        public var sd: Double? = nil

        /// The interval a table shows for `method`: a penalized bootstrap method name
        /// (`percentile`, ...), or `debiased:<method>` (`debiased:wald`, `debiased:percentile`, ...).
        public func interval(_ method: String) -> Interval? {
            if method.hasPrefix(Report.debiasedPrefix) { return debiased?.ci[String(method.dropFirst(Report.debiasedPrefix.count))] }
            return ci[method]
        }
    }

    /// Method names of the debiased intervals in tables: `debiased:wald`, `debiased:percentile`, ...
    public static let debiasedPrefix = "debiased:"

    /// The interval tables and the forest plot show by default: the debiased Wald interval when
    /// the run made it, else the first penalized bootstrap method.
    public var defaultMethod: String {
        settings.intervals == IntervalKind.debiased.rawValue ? Report.debiasedPrefix + "wald" : (settings.methods.first ?? "percentile")
    }

    /// What an interval is, in words, for table headers and notes.
    public static func describe(_ method: String) -> String {
        if method.hasPrefix(debiasedPrefix) {
            let m = String(method.dropFirst(debiasedPrefix.count))
            return m == "wald" ? "debiased Wald" : "debiased bootstrap \(m)"
        }
        return "\(method): variability of the penalized estimator"
    }

    public struct Failure: Codable, Sendable, Equatable {
        public let cause: String
        public let resamples: Int
    }

    public struct AlphaCount: Codable, Sendable, Equatable {
        public let alpha: Double
        public let resamples: Int
    }

    public struct Outcome: Codable, Sendable, Equatable {
        public let name: String
        /// The alpha chosen by cross-validation on the full data (the penalty's scale).
        public let alpha: Double
        /// Valid bootstrap resamples behind the intervals.
        public let resamples: Int
        public let failedResamples: Int
        public let failures: [Failure]
        /// In nested mode: how often each alpha was chosen inside the resamples.
        public let chosenAlphas: [AlphaCount]?
        public let estimateKKT: Double
        public let estimateIterations: Int
        public let cv: [CVRow]
        public let features: [Feature]
        /// How the debiased intervals were made (spec `intervals: debiased`).
        public let debiasing: Debiasing?
        /// Stability selection (spec `stability`).
        public let stability: StabilitySelection?
        /// What a statistician should know before reading the table (chosen alpha at an end of
        /// the grid, constant features, separation, few events); absent when there is none.
        public var warnings: [String]? = nil
    }

    public struct DataSummary: Codable, Sendable, Equatable {
        public struct Dropped: Codable, Sendable, Equatable { public let reason: String; public let rows: Int }
        public let csv: String
        public let rowsRead: Int
        public let rows: Int
        public let patterns: Int
        public let cells: Int
        public let dropped: [Dropped]
    }

    public struct Settings: Codable, Sendable, Equatable {
        public let scale: String
        public let penalizeIntercept: Bool
        public let folds: Int
        public let metric: String
        public let rule: String
        public let choose: String
        public let resamples: Int
        public let methods: [String]
        public let level: Double
        public let nested: Bool
        public let quantiles: String
        public let tolerance: Double
        /// `true` when the spec asked for Wald intervals (`report.wald`); absent otherwise, so
        /// reports without them keep their bytes.
        public let wald: Bool?
        /// `debiased` when the report carries debiased intervals (absent for `penalized`, so those
        /// reports keep their bytes).
        public let intervals: String?
        /// Newton steps of the debiased estimate (absent: until converged).
        public let newtonSteps: Int?
        /// `true` when coefficients are penalized per SD of their feature (glmnet's
        /// standardize=TRUE; coefficients and intervals stay per unit); absent otherwise.
        public var standardize: Bool? = nil
    }

    public let name: String
    public let software: String
    public let seed: UInt64
    public let dataHash: String
    public let data: DataSummary
    public var settings: Settings
    public let outcomes: [Outcome]
    /// Feature groups in spec order (for grouped tables).
    public let groups: [String]
}

/// Collected task results, sorted by key, turned into a report.
public enum Aggregation {
    /// The alpha chosen for each outcome from phase-1 results.
    public static func phaseTwoInput(data: RunData, results: [TaskKey: TaskResult]) throws -> (PhaseTwoInput, [[CVRow]]) {
        let cvKeys = (0..<data.outcomeCount).flatMap { o in (0..<data.spec.cv.folds).map { TaskKey.cv(outcome: o, fold: $0) } }
        let missing = cvKeys.filter { results[$0] == nil }
        if !missing.isEmpty { throw AnalysisError.incompleteResults("no result for \(missing.count) cross-validation task(s): \(missing.prefix(5).map(\.description).joined(separator: ", "))") }
        let table = cvTable(data: data, results: results)
        let alphas = CrossValidation.choose(table: table, spec: data.spec.cv)
        for (o, a) in alphas.enumerated() where !a.isFinite {
            let causes = Set(results.compactMap { key, value -> String? in
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
        if !missing.isEmpty { throw AnalysisError.incompleteResults("no result for \(missing.count) task(s): \(missing.prefix(5).map(\.description).joined(separator: ", "))") }
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
                throw AnalysisError.incompleteResults("outcome \(data.encoded.outcomeNames[o]): \(accounted) bootstrap fits for \(executor.resampleCount) resamples")
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
                    let r = BootstrapCI.interval(method: method, distribution: distribution, estimate: estimate[j],
                                                 level: spec.bootstrap.level, jackknife: jackknife, convention: spec.bootstrap.quantiles)
                    var flags = r.flags.names
                    if method == .bca && !jackknifeOK { flags.append("jackknifeUnavailable") }
                    ci[method.rawValue] = Report.Interval(
                        low: finite(r.low), high: finite(r.high),
                        oddsRatioLow: finite(Foundation.exp(r.low)), oddsRatioHigh: finite(Foundation.exp(r.high)), flags: flags)
                }
                features.append(Report.Feature(
                    name: names[j], group: groups[j], coef: estimate[j], oddsRatio: Foundation.exp(estimate[j]),
                    selectionFrequency: finite(summary.selectionFrequency), zeroFraction: finite(summary.zeroFraction),
                    probPositive: finite(summary.positiveFraction), probNegative: finite(summary.negativeFraction),
                    bootstrapMean: finite(summary.mean), bootstrapMedian: finite(summary.median),
                    standardError: finite(summary.standardError), bias: finite(summary.bias),
                    mcseLow: finite(summary.monteCarloSELow), mcseHigh: finite(summary.monteCarloSEHigh),
                    ci: ci, flags: summary.flags.names,
                    wald: wald[j].map { w in
                        Report.WaldInterval(standardError: w.standardError, low: w.low, high: w.high,
                                            oddsRatioLow: finite(Foundation.exp(w.low)), oddsRatioHigh: finite(Foundation.exp(w.high)))
                    },
                    debiased: debiased.map { d in
                        d.feature(j, level: spec.bootstrap.level, methods: spec.bootstrap.methods, convention: spec.bootstrap.quantiles,
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
            let warnings = Warnings.make(data: data, outcome: o, alpha: input.alphas[o], estimate: estimate,
                                         debiasFlags: debiased?.summary.flags ?? [])
            outcome.warnings = warnings.isEmpty ? nil : warnings
            outcomes.append(outcome)
        }
        var groupOrder: [String] = []
        for g in data.encoded.featureGroups where !groupOrder.contains(g) { groupOrder.append(g) }
        var report = Report(
            name: spec.name, software: software, seed: spec.seed, dataHash: data.dataHash,
            data: Report.DataSummary(csv: URL(fileURLWithPath: spec.data.csv).lastPathComponent, rowsRead: data.encoded.rowsRead,
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

    static func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }

    /// Stability selection of one outcome: per table row (intercept first) the selection
    /// probability (`nil` for the intercept and unpenalized features), and the summary.
    struct StabilityOutcome {
        var probabilities: [Double?]
        var summary: Report.StabilitySelection
    }

    /// Selection probabilities from the stability tasks (nil when the spec has none). Checks its
    /// own counts: every pair of the spec has both halves.
    static func stability(data: RunData, executor: TaskExecutor, results: [TaskKey: TaskResult], keys: [TaskKey]) throws -> [StabilityOutcome]? {
        guard let st = data.spec.stability else { return nil }
        var halves: [[[Int]?]] = []
        for key in keys {
            guard case .stability = key else { continue }
            guard case let .stability(selected)? = results[key] else { throw AnalysisError.missingResult("\(key)") }
            halves += selected
        }
        if halves.count != 2 * st.pairs {
            throw AnalysisError.incompleteResults("stability selection: \(halves.count) half-samples for \(st.pairs) pairs")
        }
        let penalized = executor.penalizedFeatures
        let q = st.selectionSize(penalizedFeatures: penalized.count)
        let bound = StabilitySpec.pferBound(q: q, threshold: st.threshold, penalizedFeatures: penalized.count)
        let names = data.encoded.featureNames
        return (0..<data.outcomeCount).map { o in
            let valid = halves.compactMap { $0[o] }
            var counts = [Int](repeating: 0, count: data.design.featureCount)
            for set in valid { for j in set { counts[j] += 1 } }
            var probabilities = [Double?](repeating: nil, count: data.design.featureCount + 1)
            for j in penalized where !valid.isEmpty { probabilities[j + 1] = Double(counts[j]) / Double(valid.count) }
            let selected = penalized.filter { j in probabilities[j + 1].map { $0 >= st.threshold } ?? false }.map { names[$0] }
            return StabilityOutcome(probabilities: probabilities, summary: Report.StabilitySelection(
                pairs: st.pairs, halves: valid.count, failedHalves: halves.count - valid.count, q: q, threshold: st.threshold,
                penalizedFeatures: penalized.count, pferBound: bound, selected: selected))
        }
    }

    static func interval(_ r: CIResult, extraFlags: [String] = []) -> Report.Interval {
        Report.Interval(low: finite(r.low), high: finite(r.high),
                        oddsRatioLow: finite(Foundation.exp(r.low)), oddsRatioHigh: finite(Foundation.exp(r.high)),
                        flags: r.flags.names + extraFlags)
    }

    static func percentileFallback(column: [Double], estimate: Double, spec: RunSpec) -> Report.Interval {
        let r = BootstrapCI.interval(method: .percentile, distribution: BootstrapDistribution(replicates: column), estimate: estimate,
                                     level: spec.bootstrap.level, jackknife: nil, convention: spec.bootstrap.quantiles)
        return interval(r)
    }

    /// The debiased estimate of one outcome, its replicates and jackknife values.
    struct DebiasedOutcome {
        var estimate: DebiasedEstimate?
        var failure: DebiasFailure?
        var replicates: [[Double]]
        var jackknifeValues: [[Double]]
        var jackknifeRows: [Int]
        var summary: Report.Debiasing
        /// The desparsified lasso's corrections (method `nodewise`): coefficient j + 1 per entry.
        var nodewise: NodewiseOutcome? = nil
        /// The full-data lasso fit the corrections apply to (method `nodewise`).
        var lasso: [Double] = []

        static func fallback(_ flags: [String], _ fallback: Report.Interval, methods: [CIMethod]) -> Report.Debiased {
            var ci = ["wald": Report.Interval(low: fallback.low, high: fallback.high, oddsRatioLow: fallback.oddsRatioLow,
                                              oddsRatioHigh: fallback.oddsRatioHigh, flags: fallback.flags + flags)]
            for m in methods { ci[m.rawValue] = ci["wald"] }
            return Report.Debiased(estimate: nil, se: nil, sandwichSE: nil, oddsRatio: nil, ci: ci, flags: flags)
        }

        func feature(_ j: Int, level: Double, methods: [CIMethod], convention: QuantileConvention, fallback: Report.Interval) -> Report.Debiased {
            if let nodewise {
                // The desparsified lasso gives Wald intervals for the features (not the intercept).
                guard j > 0, let q = nodewise.projections[j - 1] else {
                    return Self.fallback([j == 0 ? "interceptNotDesparsified" : "nodewiseDegenerate", "fallbackPenalizedPercentile"], fallback, methods: [])
                }
                let b = lasso[j] + q.shift, z = Normal.quantile(0.5 + level / 2)
                let wald = Report.Interval(low: finite(b - z * q.se), high: finite(b + z * q.se),
                                           oddsRatioLow: finite(Foundation.exp(b - z * q.se)), oddsRatioHigh: finite(Foundation.exp(b + z * q.se)), flags: [])
                return Report.Debiased(estimate: b, se: finite(q.se), sandwichSE: finite(q.sandwichSE), oddsRatio: finite(Foundation.exp(b)),
                                       ci: ["wald": wald], flags: [])
            }
            guard let e = estimate else {
                return Self.fallback([failure?.flag ?? "debiasFailed", "fallbackPenalizedPercentile"], fallback, methods: methods)
            }
            let b = e.coefficients[j], se = e.standardErrors[j]
            let z = Normal.quantile(0.5 + level / 2)
            var ci: [String: Report.Interval] = [
                "wald": Report.Interval(low: finite(b - z * se), high: finite(b + z * se),
                                        oddsRatioLow: finite(Foundation.exp(b - z * se)), oddsRatioHigh: finite(Foundation.exp(b + z * se)), flags: []),
            ]
            let distribution = BootstrapDistribution(replicates: replicates.map { $0[j] })
            let jack = jackknifeValues.isEmpty ? nil : try? Jackknife(values: jackknifeValues.map { $0[j] }, multiplicities: jackknifeRows)
            for m in methods {
                let r = BootstrapCI.interval(method: m, distribution: distribution, estimate: b, level: level, jackknife: jack, convention: convention)
                ci[m.rawValue] = Aggregation.interval(r, extraFlags: m == .bca && jack == nil ? ["jackknifeUnavailable"] : [])
            }
            return Report.Debiased(estimate: b, se: finite(se), sandwichSE: finite(e.sandwichStandardErrors[j]),
                                   oddsRatio: finite(Foundation.exp(b)), ci: ci, flags: [])
        }
    }

    /// Newton steps from the full-data fit, the resamples' debiased estimates (made by the
    /// bootstrap tasks) and the delete-one values for BCa, for every outcome. A pure function of
    /// the results, the data and the seed, so every way of running gives the same bytes.
    static func debias(data: RunData, executor: TaskExecutor, results: [TaskKey: TaskResult], keys: [TaskKey]) throws -> [DebiasedOutcome] {
        if data.debiasMethod == .nodewise { return try desparsify(data: data, results: results) }
        let spec = data.spec
        let steps = spec.debias.newtonSteps
        let debias = Debias(design: data.design)
        let outcomeCount = data.outcomeCount
        var fulls: [DebiasedEstimate?] = [], failures0: [DebiasFailure?] = []
        for o in 0..<outcomeCount {
            guard case let .estimate(fit, _, _)? = results[.estimate(outcome: o)], let estimate = fit.values else {
                // The report names this failure where it reads the estimate.
                fulls.append(nil); failures0.append(nil)
                continue
            }
            let cells = try data.cells(outcome: o, counts: data.cellCount)
            do {
                let full = try debias.estimate(cells: cells, start: estimate, newtonSteps: steps, biasReduction: data.debiasMethod == .firth)
                fulls.append(full)
                failures0.append(nil)
            } catch let f as DebiasFailure {
                fulls.append(nil)
                failures0.append(f)
            }
        }
        // Each resample's debiased estimates, made by its bootstrap task, in resample order.
        var rows: [[FitOutcome]] = []
        for key in keys {
            guard case .bootstrap = key, case let .bootstrap(_, _, debiased)? = results[key] else { continue }
            guard let debiased else { throw AnalysisError.missingResult("debiased replicates of \(key)") }
            rows += debiased
        }
        var result: [DebiasedOutcome] = []
        for o in 0..<outcomeCount {
            let full = fulls[o], failure = failures0[o]
            var replicates: [[Double]] = []
            var failures: [String: Int] = [:]
            // Without a full-data estimate the column falls back and its replicates are unused.
            for row in rows where full != nil {
                switch row[o] {
                case let .coefficients(c): replicates.append(c)
                case let .failed(cause): failures[cause, default: 0] += 1
                }
            }
            var jackknifeValues: [[Double]] = [], jackknifeRows: [Int] = []
            if let full, spec.bootstrap.methods.contains(.bca) {
                let jcells = executor.jackknifeCells(outcome: o)
                let cells = try data.cells(outcome: o, counts: data.cellCount)
                if let values = try? debias.jackknife(cells: cells, beta: full.coefficients, deleted: jcells.map { ($0.pattern, $0.y) }) {
                    jackknifeValues = values
                    jackknifeRows = jcells.map(\.rows)
                }
            }
            let flags = failure.map { [$0.flag, "fallbackPenalizedPercentile"] } ?? []
            var summary = Report.Debiasing(
                steps: full?.steps, conditionNumber: full.flatMap { finite($0.conditionNumber) },
                resamples: replicates.count, failedResamples: failures.values.reduce(0, +),
                failures: failures.keys.sorted().map { Report.Failure(cause: $0, resamples: failures[$0]!) }, flags: flags)
            if data.debiasMethod == .firth { summary.method = DebiasSpec.Method.firth.rawValue }
            result.append(DebiasedOutcome(estimate: full, failure: failure, replicates: replicates,
                                          jackknifeValues: jackknifeValues, jackknifeRows: jackknifeRows, summary: summary))
        }
        return result
    }

    /// The desparsified lasso of every outcome from the nodewise task results.
    static func desparsify(data: RunData, results: [TaskKey: TaskResult]) throws -> [DebiasedOutcome] {
        try (0..<data.outcomeCount).map { o in
            guard case let .estimate(fit, _, _)? = results[.estimate(outcome: o)], let lasso = fit.values else {
                throw AnalysisError.missingResult("estimate/o\(o)")
            }
            let nodewise = try NodewiseOutcome(results: results, outcome: o, featureCount: data.design.featureCount)
            var summary = Report.Debiasing(steps: nil, conditionNumber: nil, resamples: 0, failedResamples: 0, failures: [],
                                           flags: nodewise == nil ? ["nodewiseFailed", "fallbackPenalizedPercentile"] : [])
            summary.method = DebiasSpec.Method.nodewise.rawValue
            summary.nodewiseLambda = nodewise?.lambda
            var outcome = DebiasedOutcome(estimate: nil, failure: nil, replicates: [], jackknifeValues: [], jackknifeRows: [], summary: summary)
            outcome.nodewise = nodewise
            outcome.lasso = lasso
            return outcome
        }
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
        let keys = results.keys.filter { if case .bootstrap = $0 { return true }; return false }.sorted()
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
            outcomes.append(PredictionModel.Outcome(name: data.encoded.outcomeNames[o], alpha: input.alphas[o], intercept: c[0],
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
        let keys = results.keys.filter { if case .bootstrap = $0 { return true }; return false }.sorted()
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

/// A value handed to concurrent workers that each touch only their own slots.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A CSV field, quoted (RFC 4180) when it holds a separator, quote or line break.
///
/// A field starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single
/// quote, so a spreadsheet opening the file shows it as text instead of running it as a
/// formula (OWASP's advice against CSV injection). Ordinary names are unchanged.
public func csvField(_ s: String) -> String {
    var s = s
    if let first = s.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { s = "'" + s }
    return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Text for a terminal: C0 control characters, DEL and C1 controls (escape sequences that could
/// move the cursor, recolour or retitle the terminal) are shown as `\xHH` instead of sent raw.
public func terminalSafe(_ s: String) -> String {
    guard s.unicodeScalars.contains(where: isControl) else { return s }
    var out = ""
    for u in s.unicodeScalars {
        if isControl(u) { out += "\\x" + String(u.value, radix: 16, uppercase: true).leftPadded(to: 2) } else { out.unicodeScalars.append(u) }
    }
    return out
}

/// A Markdown table cell or heading text: controls escaped as for a terminal, `|` escaped, and a
/// leading `=`, `+`, `-` or `@` backslash-escaped (rendered the same, not read as a formula).
public func markdownText(_ s: String) -> String {
    var t = terminalSafe(s)
    guard t.contains("|") || t.first.map({ "=+-@".contains($0) }) == true else { return t }
    t = t.replacingOccurrences(of: "|", with: "\\|")
    if let first = t.first, "=+-@".contains(first) { t = "\\" + t }
    return t
}

private func isControl(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7F...0x9F).contains(u.value) }

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// Why a run could not produce a report.
public enum AnalysisError: Error, Equatable, CustomStringConvertible {
    case crossValidationFailed(outcome: String, causes: [String])
    case estimateFailed(outcome: String, cause: String)
    case missingResult(String)
    /// The results do not cover the run's plan (a report would silently rest on fewer fits).
    case incompleteResults(String)

    public var description: String {
        switch self {
        case let .crossValidationFailed(o, causes):
            return "cross-validation found no alpha for '\(o)' at which every fold could be fitted: \(causes.joined(separator: "; "))"
        case let .estimateFailed(o, cause):
            return "the full-data fit of '\(o)' at the chosen alpha failed: \(cause)"
        case let .missingResult(key):
            return "internal error: no result for task \(key)"
        case let .incompleteResults(what):
            return "incomplete results, no report built: \(what)"
        }
    }
}

import Foundation
import Lasso
import Plan
import Resampling

// The per-outcome pieces of a report beyond the penalized bootstrap: stability selection,
// the debiased estimates (Newton, Firth or desparsified) and the interval helpers.

extension Aggregation {
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
            return StabilityOutcome(
                probabilities: probabilities,
                summary: Report.StabilitySelection(
                    pairs: st.pairs, halves: valid.count, failedHalves: halves.count - valid.count, q: q, threshold: st.threshold,
                    penalizedFeatures: penalized.count, pferBound: bound, selected: selected))
        }
    }

    static func interval(_ r: CIResult, extraFlags: [String] = []) -> Report.Interval {
        Report.Interval(
            low: finite(r.low), high: finite(r.high),
            oddsRatioLow: finite(Foundation.exp(r.low)), oddsRatioHigh: finite(Foundation.exp(r.high)),
            flags: r.flags.names + extraFlags)
    }

    static func percentileFallback(column: [Double], estimate: Double, spec: RunSpec) -> Report.Interval {
        let r = BootstrapCI.interval(
            method: .percentile, distribution: BootstrapDistribution(replicates: column), estimate: estimate,
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
        /// Whether p + 1 >= n, where the desparsified intercept's interval is flagged.
        var wide = false
        /// Features that are 0 in every row: no information, so no debiased estimate; the others
        /// are debiased without them.
        var constant: Set<Int> = []
        /// Two-valued features with fewer than ``RunData/firthBinaryCount`` events or non-events at
        /// their rarer value: their bootstrap distribution rests on a handful of rows (flagged).
        var fewRows: Set<Int> = []

        /// The flag of a feature absent from some resamples: its bootstrap intervals come from the
        /// resamples that have it.
        static let absentFromResamples = "absentFromSomeResamples"
        /// The flag of a debiased bootstrap interval of a feature in ``fewRows``: in the CTDC
        /// plasmode such intervals covered about half the time, the Wald interval 0.97-1.0.
        static let fewRareValueRows = "fewRareValueRows"

        /// The flag on the desparsified intercept's interval where p + 1 >= n: too narrow in every
        /// such cell simulated (0.92 at 100 x 200 and 200 x 500, 0.73 at 500 x 1,000; Benchmarks/README.md).
        static let interceptUnderCovers = "interceptUnderCovers"

        static func fallback(_ flags: [String], _ fallback: Report.Interval, methods: [CIMethod]) -> Report.Debiased {
            var ci = [
                "wald": Report.Interval(
                    low: fallback.low, high: fallback.high, oddsRatioLow: fallback.oddsRatioLow,
                    oddsRatioHigh: fallback.oddsRatioHigh, flags: fallback.flags + flags)
            ]
            for m in methods { ci[m.rawValue] = ci["wald"] }
            return Report.Debiased(estimate: nil, se: nil, sandwichSE: nil, oddsRatio: nil, ci: ci, flags: flags)
        }

        func feature(_ j: Int, level: Double, methods: [CIMethod], convention: QuantileConvention, fallback: Report.Interval) -> Report.Debiased {
            if let nodewise {
                // The desparsified lasso gives Wald intervals (the intercept's from its own nodewise regression).
                guard let q = j == 0 ? nodewise.intercept : nodewise.projections[j - 1] else {
                    return Self.fallback(["nodewiseDegenerate", "fallbackPenalizedPercentile"], fallback, methods: [])
                }
                let b = lasso[j] + q.shift, z = Normal.quantile(0.5 + level / 2)
                let wald = Report.Interval(
                    low: finite(b - z * q.se), high: finite(b + z * q.se),
                    oddsRatioLow: finite(Foundation.exp(b - z * q.se)), oddsRatioHigh: finite(Foundation.exp(b + z * q.se)),
                    flags: j == 0 && wide ? [Self.interceptUnderCovers] : [])
                return Report.Debiased(
                    estimate: b, se: finite(q.se), sandwichSE: finite(q.sandwichSE), oddsRatio: finite(Foundation.exp(b)),
                    ci: ["wald": wald], flags: [])
            }
            guard let e = estimate else {
                return Self.fallback([failure?.flag ?? "debiasFailed", "fallbackPenalizedPercentile"], fallback, methods: methods)
            }
            if j > 0 && constant.contains(j - 1) {
                return Self.fallback(["constantFeature", "fallbackPenalizedPercentile"], fallback, methods: methods)
            }
            let b = e.coefficients[j], se = e.standardErrors[j]
            let z = Normal.quantile(0.5 + level / 2)
            var ci: [String: Report.Interval] = [
                "wald": Report.Interval(
                    low: finite(b - z * se), high: finite(b + z * se),
                    oddsRatioLow: finite(Foundation.exp(b - z * se)), oddsRatioHigh: finite(Foundation.exp(b + z * se)), flags: [])
            ]
            // Resamples without the feature's rows say nothing of it: its distribution is the
            // other resamples' (flagged).
            let column = replicates.map { $0[j] }.filter { !$0.isNaN }
            let distribution = BootstrapDistribution(replicates: column)
            let jack = jackknifeValues.isEmpty ? nil : try? Jackknife(values: jackknifeValues.map { $0[j] }, multiplicities: jackknifeRows)
            for m in methods {
                let r = BootstrapCI.interval(
                    method: m, distribution: distribution, estimate: b, level: level, jackknife: jack, convention: convention)
                let few = j > 0 && fewRows.contains(j - 1) ? [Self.fewRareValueRows] : []
                ci[m.rawValue] = Aggregation.interval(r, extraFlags: few + (m == .bca && jack == nil ? ["jackknifeUnavailable"] : []))
            }
            return Report.Debiased(
                estimate: b, se: finite(se), sandwichSE: finite(e.sandwichStandardErrors[j]),
                oddsRatio: finite(Foundation.exp(b)), ci: ci, flags: column.count < replicates.count ? [Self.absentFromResamples] : [])
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
        var fulls: [DebiasedEstimate?] = [], failures0: [DebiasFailure?] = [], constants: [Set<Int>] = []
        let fullCells = try (0..<outcomeCount).map { try data.cells(outcome: $0, counts: data.cellCount) }
        for o in 0..<outcomeCount {
            guard case let .estimate(fit, _, _)? = results[.estimate(outcome: o)], let estimate = fit.values else {
                // The report names this failure where it reads the estimate.
                fulls.append(nil); failures0.append(nil); constants.append([])
                continue
            }
            let cells = fullCells[o]
            let zero = data.design.absentFeatures(in: cells)
            constants.append(Set(zero))
            do {
                let full = try Self.estimate(
                    data.design, without: zero, cells: cells, start: estimate, newtonSteps: steps, biasReduction: data.debiasMethod == .firth)
                fulls.append(full)
                failures0.append(nil)
            } catch let f as DebiasFailure {
                fulls.append(nil)
                failures0.append(f)
            }
        }
        // Each resample's debiased estimates, made by its bootstrap task, in resample order.
        var rows: [(resample: Int, outcomes: [FitOutcome])] = []
        for key in keys {
            guard case let .bootstrap(start, _) = key, case let .bootstrap(_, _, debiased)? = results[key] else { continue }
            guard let debiased else { throw AnalysisError.missingResult("debiased replicates of \(key)") }
            rows += debiased.enumerated().map { (start + $0.offset, $0.element) }
        }
        // A feature absent from a resample has an exact 0 there (and so has the rare resample
        // where its estimate is exactly 0): the resample's counts tell them apart.
        var resampleCounts: [Int: [Int]] = [:]
        func absent(resample r: Int, outcome o: Int) throws -> Set<Int> {
            if resampleCounts[r] == nil { resampleCounts[r] = executor.resampleCounts(r) }
            return Set(data.design.absentFeatures(in: try data.cells(outcome: o, counts: resampleCounts[r]!)))
        }
        var result: [DebiasedOutcome] = []
        for o in 0..<outcomeCount {
            let full = fulls[o], failure = failures0[o]
            var replicates: [[Double]] = []
            var failures: [String: Int] = [:]
            // Without a full-data estimate the column falls back and its replicates are unused.
            for row in rows where full != nil {
                switch row.outcomes[o] {
                case var .coefficients(c):
                    var left: Set<Int>?
                    for j in 0..<data.design.featureCount where c[j + 1] == 0 && !constants[o].contains(j) {
                        if left == nil { left = try absent(resample: row.resample, outcome: o) }
                        if left!.contains(j) { c[j + 1] = .nan }
                    }
                    replicates.append(c)
                case let .failed(cause): failures[cause, default: 0] += 1
                }
            }
            var jackknifeValues: [[Double]] = [], jackknifeRows: [Int] = []
            if let full, constants[o].isEmpty, spec.bootstrap.methods.contains(.bca) {
                let jcells = executor.jackknifeCells(outcome: o)
                if let values = try? debias.jackknife(cells: fullCells[o], beta: full.coefficients, deleted: jcells.map { ($0.pattern, $0.y) }) {
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
            var outcome = DebiasedOutcome(
                estimate: full, failure: failure, replicates: replicates,
                jackknifeValues: jackknifeValues, jackknifeRows: jackknifeRows, summary: summary)
            outcome.constant = constants[o]
            let counts = RunData.rareValueCounts(design: data.design, cells: fullCells[o])
            outcome.fewRows = Set(counts.indices.filter { counts[$0].map { $0 < RunData.firthBinaryCount } ?? false })
            result.append(outcome)
        }
        return result
    }

    /// The full-data debiased estimate with the features absent from the data left out (their
    /// entries are NaN): the same Newton or Firth steps on the problem of the other features.
    static func estimate(
        _ design: CompressedDesign, without absent: [Int], cells: BinomialCells, start: [Double], newtonSteps: Int?, biasReduction: Bool
    ) throws -> DebiasedEstimate {
        let present = try PresentFeatures(design, cells: cells, absent: absent)
        let e = try Debias(design: present.design).estimate(
            cells: present.cells, start: present.reduce(start), newtonSteps: newtonSteps, biasReduction: biasReduction)
        return DebiasedEstimate(
            coefficients: present.expand(e.coefficients, fill: .nan), standardErrors: present.expand(e.standardErrors, fill: .nan),
            sandwichStandardErrors: present.expand(e.sandwichStandardErrors, fill: .nan), conditionNumber: e.conditionNumber,
            steps: e.steps)
    }

    /// The desparsified lasso of every outcome from the nodewise task results.
    static func desparsify(data: RunData, results: [TaskKey: TaskResult]) throws -> [DebiasedOutcome] {
        try (0..<data.outcomeCount).map { o in
            guard case let .estimate(fit, _, _)? = results[.estimate(outcome: o)], let lasso = fit.values else {
                throw AnalysisError.missingResult("estimate/o\(o)")
            }
            let nodewise = try NodewiseOutcome(
                results: results, outcome: o, featureCount: data.design.featureCount, znz: data.spec.debias.nodewiseZnZ)
            var summary = Report.Debiasing(
                steps: nil, conditionNumber: nil, resamples: 0, failedResamples: 0, failures: [],
                flags: nodewise == nil ? ["nodewiseFailed", "fallbackPenalizedPercentile"] : [])
            summary.method = DebiasSpec.Method.nodewise.rawValue
            summary.nodewiseLambda = nodewise?.lambda
            summary.interceptNodewiseLambda = nodewise?.interceptLambda
            var outcome = DebiasedOutcome(estimate: nil, failure: nil, replicates: [], jackknifeValues: [], jackknifeRows: [], summary: summary)
            outcome.nodewise = nodewise
            outcome.lasso = lasso
            outcome.wide = data.isWide
            return outcome
        }
    }
}

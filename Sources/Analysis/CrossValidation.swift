import Lasso
import Plan
import Resampling

/// One row of a cross-validation table.
public struct CVRow: Codable, Sendable, Equatable {
    public let alpha: Double
    /// Fold-weighted mean score (`nil` if a fold's fit failed at this alpha).
    public let mean: Double?
    /// Standard error of the mean score across folds (cv.glmnet's `cvsd`).
    public let se: Double?
    /// Score of each fold.
    public let folds: [Double?]

    public init(alpha: Double, mean: Double?, se: Double?, folds: [Double?]) {
        self.alpha = alpha
        self.mean = mean
        self.se = se
        self.folds = folds
    }
}

/// Summaries and the choice of alpha, as cv.glmnet computes them.
public enum CrossValidation {
    /// `results[outcome][fold]` (each a `.cv` result) into one table per outcome.
    ///
    /// mean = sum_f w_f s_f / sum_f w_f and se = sqrt(sum_f w_f (s_f - mean)^2 / sum_f w_f / (K - 1)),
    /// with w_f the held-out weight of fold f: cv.glmnet's `cvm` and `cvsd`.
    public static func summarize(results: [[TaskResult]], grids: [[Double]], metric: CVSpec.Metric) -> [[CVRow]] {
        results.enumerated().map { o, folds in
            let parsed: [([Double?], Double)] = folds.map {
                guard case let .cv(scores, _, w) = $0 else { preconditionFailure("not a cv result") }
                return (scores, w)
            }
            return grids[o].enumerated().map { a, alpha in
                let scores = parsed.map { $0.0[a] }
                let weights = parsed.map(\.1)
                let K = Double(parsed.count)
                guard scores.allSatisfy({ $0 != nil }), K >= 2 else { return CVRow(alpha: alpha, mean: nil, se: nil, folds: scores) }
                let total = weights.reduce(0, +)
                var mean = 0.0
                for (s, w) in zip(scores, weights) { mean += w * s! }
                mean /= total
                var v = 0.0
                for (s, w) in zip(scores, weights) { v += w * (s! - mean) * (s! - mean) }
                let se = (v / total / (K - 1)).squareRoot()
                return CVRow(alpha: alpha, mean: mean, se: se, folds: scores)
            }
        }
    }

    /// The chosen alpha per outcome (NaN for an outcome with no valid alpha).
    public static func choose(table: [[CVRow]], spec: CVSpec) -> [Double] {
        let higherIsBetter = spec.metric == .auc
        func pick(_ rows: [(alpha: Double, mean: Double?, se: Double?)]) -> Double {
            let valid = rows.enumerated().filter { $0.element.mean != nil }
            guard !valid.isEmpty else { return .nan }
            // Best score; ties go to the larger alpha (earlier in the decreasing grid).
            var best = valid[0]
            for v in valid.dropFirst() {
                let better = higherIsBetter ? v.element.mean! > best.element.mean! : v.element.mean! < best.element.mean!
                if better { best = v }
            }
            switch spec.rule {
            case .min:
                return best.element.alpha
            case .oneSE:
                let bound = higherIsBetter ? best.element.mean! - (best.element.se ?? 0) : best.element.mean! + (best.element.se ?? 0)
                // The largest alpha whose score is within one SE of the best.
                let within = valid.first { higherIsBetter ? $0.element.mean! >= bound : $0.element.mean! <= bound }
                return (within ?? best).element.alpha
            }
        }
        switch spec.choice {
        case .perOutcome:
            return table.map { pick($0.map { ($0.alpha, $0.mean, $0.se) }) }
        case .joint:
            let rows = table[0].indices.map { a -> (Double, Double?, Double?) in
                let means = table.map { $0[a].mean }
                let ses = table.map { $0[a].se }
                guard means.allSatisfy({ $0 != nil }) else { return (table[0][a].alpha, nil, nil) }
                let m = means.map { $0! }.reduce(0, +) / Double(table.count)
                let s = ses.map { $0 ?? 0 }.reduce(0, +) / Double(table.count)
                return (table[0][a].alpha, m, s)
            }
            let alpha = pick(rows)
            return Array(repeating: alpha, count: table.count)
        }
    }
}

/// Scores fits on one held-out set: its patterns and weights are gathered once, then each fit
/// costs one linear predictor per pattern and one sort (AUC) or sum (deviance).
struct HeldOutScorer {
    let patterns: [Int]
    let positive: [Double]
    let negative: [Double]
    let design: CompressedDesign

    init(data: RunData, cells: BinomialCells) {
        var p: [Int] = [], pos: [Double] = [], neg: [Double] = []
        for k in 0..<data.design.patternCount where cells.trials[k] > 0 {
            p.append(k)
            pos.append(cells.successes[k])
            neg.append(cells.trials[k] - cells.successes[k])
        }
        patterns = p
        positive = pos
        negative = neg
        design = data.design
    }

    func score(_ fit: LassoFit, metric: CVSpec.Metric) -> Double? {
        let m = patterns.count
        var eta = [Double](repeating: fit.intercept, count: m)
        let active = (0..<design.featureCount).filter { fit.coefficients[$0] != 0 }
        eta.withUnsafeMutableBufferPointer { e in
            patterns.withUnsafeBufferPointer { pk in
                for j in active {
                    let b = fit.coefficients[j]
                    for i in 0..<m { e[i] += b * design.value(pattern: pk[i], feature: j) }
                }
            }
        }
        switch metric {
        case .auc: return Metrics.auc(scores: eta, positives: positive, negatives: negative)
        case .deviance: return Metrics.deviance(linearPredictors: eta, positives: positive, negatives: negative)
        }
    }
}

extension TaskExecutor {
    /// Cross-validation inside resample `r`: folds over the resampled rows, stratified by outcomes.
    func nestedChoice(resample r: Int, counts: [Int]) -> [Double] {
        let K = data.spec.cv.folds
        // Resampled row instances, grouped by stratum, in cell order.
        var strata: [Int: [Int]] = [:]
        for c in 0..<counts.count where counts[c] > 0 {
            let s = data.cellOutcomes[c].reduce(0) { $0 * 2 + Int($1) }
            strata[s, default: []].append(contentsOf: repeatElement(c, count: counts[c]))
        }
        var stream = RandomStream(seed: data.spec.seed, purpose: .nestedFolds, index: UInt64(r))
        var foldCounts = [[Int]](repeating: [Int](repeating: 0, count: counts.count), count: K)
        for s in strata.keys.sorted() {
            var items = strata[s]!
            // Fisher-Yates, then deal round-robin.
            if items.count > 1 {
                for i in stride(from: items.count - 1, to: 0, by: -1) {
                    let j = stream.nextIndex(below: i + 1)
                    items.swapAt(i, j)
                }
            }
            for (i, c) in items.enumerated() { foldCounts[i % K][c] += 1 }
        }
        var results: [[TaskResult]] = []
        for o in 0..<data.outcomeCount {
            results.append(
                (0..<K).map { f in
                    let train = counts.indices.map { counts[$0] - foldCounts[f][$0] }
                    return crossValidate(outcome: o, trainingCounts: train, heldOutCounts: foldCounts[f])
                })
        }
        let table = CrossValidation.summarize(results: results, grids: data.grids, metric: data.spec.cv.metric)
        return CrossValidation.choose(table: table, spec: data.spec.cv)
    }
}

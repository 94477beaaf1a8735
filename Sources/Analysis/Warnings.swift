import Foundation
import Lasso

/// The warnings a statistician needs beside a table: conditions under which the table is easy
/// to misread. Pure functions of the prepared data and the full-data fit.
enum Warnings {
    /// Population SD over the kept rows of each feature that is not a 0/1 indicator (`nil` for
    /// indicators and constant features): the unit of the per-SD odds ratio.
    static func continuousSDs(_ data: RunData) -> [Double?] {
        zip(data.encoded.columns, data.encoded.oneHotShares).map { column, share in
            // A one-hot level (held as row slots) is an indicator.
            if share != nil || column.allSatisfy({ $0 == 0 || $0 == 1 }) { return nil }
            let sd = populationMeanSD(column).sd
            return sd > 0 && sd.isFinite ? sd : nil
        }
    }

    /// Mean and population SD (divisor n) of a column, two-pass.
    static func populationMeanSD(_ column: [Double]) -> (mean: Double, sd: Double) {
        let n = Double(max(1, column.count))
        let mean = column.reduce(0, +) / n
        return (mean, (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot())
    }

    /// The warnings of one outcome.
    /// - Parameters:
    ///   - estimate: the full-data fit at the chosen alpha, intercept first.
    ///   - debiasFlags: the debiased estimate's flags (`newtonNotConverged`: no finite MLE).
    static func make(data: RunData, outcome o: Int, alpha: Double, estimate: [Double], debiasFlags: [String]) -> [String] {
        var out: [String] = []
        let grid = data.grids[o]
        if grid.count > 1, let smallest = grid.last, alpha == smallest {
            let how: String
            switch data.spec.alphas {
            case let .automatic(_, minRatio): how = "lower alphas.minRatio (now \(String(format: "%g", minRatio)))"
            case .values: how = "add smaller alphas to the grid"
            }
            out.append("the chosen alpha is the smallest on the grid: the cross-validation score may still improve below it; \(how)")
        } else if grid.count > 1, let largest = grid.first, alpha == largest {
            out.append(
                "the chosen alpha is the largest on the grid (every penalized coefficient is 0 there): cross-validation found no signal worth a feature"
            )
        }
        let names = data.encoded.featureNames
        // Per column, whether it is constant, and its value then.
        let shares = data.encoded.oneHotShares
        let constantValue = data.encoded.columns.indices.map { j -> Double? in
            if let share = shares[j] { return share == 0 ? 0 : (share == 1 ? 1 : nil) }
            let c = data.encoded.columns[j]
            return c.allSatisfy { $0 == c.first } ? c.first ?? 0 : nil
        }
        let constant = constantValue.indices.filter { constantValue[$0] != nil }
        if !constant.isEmpty {
            var line = "constant in the data (coefficient 0, no information): \(constant.map { names[$0] }.joined(separator: ", "))"
            if data.spec.intervals == .debiased && constant.contains(where: { constantValue[$0] != 0 }) {
                line +=
                    "; a constant feature repeats the intercept, so no debiased interval can be made for any feature: leave it out (--exclude, or remove it from the spec)"
            }
            out.append(line)
        }
        let y = data.encoded.outcomes[o]
        let events = y.reduce(0, +)
        let nonEvents = Double(y.count) - events
        let rarer = min(events, nonEvents)
        if rarer < 10 {
            out.append(
                "only \(Int(rarer)) rows have \(data.encoded.outcomeNames[o]) = \(events <= nonEvents ? 1 : 0) (fewer than 10 per outcome level): every estimate and interval here is unreliable"
            )
        }
        // Separation: the fitted linear predictor orders every event above every non-event.
        var maxNegative = -Double.infinity, minPositive = Double.infinity
        let eta = data.encoded.linearPredictors(estimate, rows: 0..<y.count)
        for i in 0..<y.count {
            if y[i] == 1 { minPositive = min(minPositive, eta[i]) } else { maxNegative = max(maxNegative, eta[i]) }
        }
        if events > 0 && nonEvents > 0 && maxNegative <= minPositive {
            let kind = maxNegative < minPositive ? "perfect" : "quasi-complete"
            out.append(
                "\(kind) separation at the chosen alpha: the fitted linear predictor puts every event at or above every non-event, so the unpenalized model on the selected features has no finite estimate"
            )
        } else if debiasFlags.contains("newtonNotConverged") {
            out.append(
                "the unpenalized model does not converge (separation or near-separation with all features): the debiased intervals fall back to the penalized percentile interval (flagged)"
            )
        }
        return out
    }
}

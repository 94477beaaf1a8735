/// Scores of fitted models on held-out data.
public enum Metrics {
    /// Area under the ROC curve (the Mann-Whitney probability that a random positive scores
    /// above a random negative, ties counted half), with optional observation weights.
    ///
    /// Returns `nil` when there are no positives or no negatives.
    public static func auc(scores: [Double], outcomes: [Double], weights: [Double]? = nil) -> Double? {
        precondition(scores.count == outcomes.count && (weights?.count ?? scores.count) == scores.count)
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var negativesBelow = 0.0, pos = 0.0, neg = 0.0, area = 0.0
        var i = 0
        while i < order.count {
            var j = i
            var groupPos = 0.0, groupNeg = 0.0
            while j < order.count && scores[order[j]] == scores[order[i]] {
                let w = weights?[order[j]] ?? 1
                if outcomes[order[j]] == 1 { groupPos += w } else { groupNeg += w }
                j += 1
            }
            area += groupPos * (negativesBelow + 0.5 * groupNeg)
            negativesBelow += groupNeg
            pos += groupPos
            neg += groupNeg
            i = j
        }
        guard pos > 0, neg > 0 else { return nil }
        return area / (pos * neg)
    }

    /// Binomial deviance `2 * sum_i w_i * loss_i`, given linear predictors.
    public static func deviance(linearPredictors eta: [Double], outcomes: [Double], weights: [Double]? = nil) -> Double {
        precondition(eta.count == outcomes.count)
        var total = 0.0
        for i in eta.indices {
            let w = weights?[i] ?? 1
            total += w * (Kernels.softplus(eta[i]) - outcomes[i] * eta[i])
        }
        return 2 * total
    }
}

/// Scores of fitted models on held-out data: the one implementation behind the CV metric of a
/// run (over compressed cells) and `lassoboot fit`'s test-set AUC (over rows).
public enum Metrics {
    /// Area under the ROC curve over grouped observations: `positives[i]` and `negatives[i]` are
    /// the weights of the events and non-events that share score `i` (a compressed cell, or one
    /// row with weight 1). The Mann-Whitney probability that a random positive scores above a
    /// random negative, ties counted half.
    ///
    /// Returns `nil` when there are no positives or no negatives.
    public static func auc(scores: [Double], positives: [Double], negatives: [Double]) -> Double? {
        precondition(scores.count == positives.count && positives.count == negatives.count)
        let m = scores.count
        let order = ascendingOrder(scores)
        var below = 0.0, totalPos = 0.0, totalNeg = 0.0, area = 0.0
        var i = 0
        while i < m {
            var j = i, gp = 0.0, gn = 0.0
            while j < m && scores[order[j]] == scores[order[i]] {
                gp += positives[order[j]]
                gn += negatives[order[j]]
                j += 1
            }
            area += gp * (below + 0.5 * gn)
            below += gn
            totalPos += gp
            totalNeg += gn
            i = j
        }
        return totalPos > 0 && totalNeg > 0 ? area / (totalPos * totalNeg) : nil
    }

    /// The AUC of one score per row (`outcomes` 0 or 1), with optional row weights.
    public static func auc(scores: [Double], outcomes: [Double], weights: [Double]? = nil) -> Double? {
        precondition(scores.count == outcomes.count && (weights?.count ?? scores.count) == scores.count)
        let w = weights ?? [Double](repeating: 1, count: scores.count)
        return auc(
            scores: scores, positives: scores.indices.map { outcomes[$0] == 1 ? w[$0] : 0 },
            negatives: scores.indices.map { outcomes[$0] == 1 ? 0 : w[$0] })
    }

    /// Mean binomial deviance per row, 2 sum_i w_i [y_i log(1/pi_i) + (1 - y_i) log(1/(1 - pi_i))] / sum_i w_i,
    /// over grouped observations as in ``auc(scores:positives:negatives:)``: cv.glmnet's
    /// `type.measure = "deviance"` scale, the one scale lassoboot reports.
    ///
    /// Returns `nil` when the weights sum to zero.
    public static func deviance(linearPredictors eta: [Double], positives: [Double], negatives: [Double]) -> Double? {
        precondition(eta.count == positives.count && positives.count == negatives.count)
        var total = 0.0, weight = 0.0
        for i in eta.indices {
            total += positives[i] * Kernels.softplus(-eta[i]) + negatives[i] * Kernels.softplus(eta[i])
            weight += positives[i] + negatives[i]
        }
        return weight > 0 ? 2 * total / weight : nil
    }

    /// The mean deviance of one linear predictor per row (`outcomes` 0 or 1), with optional row weights.
    public static func deviance(linearPredictors eta: [Double], outcomes: [Double], weights: [Double]? = nil) -> Double? {
        precondition(eta.count == outcomes.count && (weights?.count ?? eta.count) == eta.count)
        let w = weights ?? [Double](repeating: 1, count: eta.count)
        return deviance(
            linearPredictors: eta, positives: eta.indices.map { outcomes[$0] == 1 ? w[$0] : 0 },
            negatives: eta.indices.map { outcomes[$0] == 1 ? 0 : w[$0] })
    }

    /// Indices that sort `keys` ascending (LSD radix sort on order-preserving bit patterns: O(n),
    /// no comparisons; equal keys end up adjacent, which is all the AUC needs).
    static func ascendingOrder(_ keys: [Double]) -> [Int] {
        let n = keys.count
        var order = [Int](repeating: 0, count: n)
        guard n > 1 else { return n == 1 ? [0] : [] }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * n) { bitsBuffer in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * n) { orderBuffer in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 2048) { counts in
                    var bits = bitsBuffer.baseAddress!, spareBits = bits + n
                    var idx = orderBuffer.baseAddress!, spareIdx = idx + n
                    for i in 0..<n {
                        let b = (keys[i] + 0.0).bitPattern
                        bits[i] = b & (1 << 63) != 0 ? ~b : b | (1 << 63)
                        idx[i] = Int32(i)
                    }
                    // 11-bit digits: 6 passes cover 64 bits; a pass where every key has the same digit is skipped.
                    let buckets = n < 512 ? 256 : 2048
                    let digitBits: UInt64 = buckets == 256 ? 8 : 11
                    let mask = UInt64(buckets - 1)
                    let passes = buckets == 256 ? 8 : 6
                    for pass in 0..<passes {
                        let shift = UInt64(pass) * digitBits
                        for d in 0..<buckets { counts[d] = 0 }
                        for i in 0..<n { counts[Int(truncatingIfNeeded: (bits[i] >> shift) & mask)] += 1 }
                        if counts[Int(truncatingIfNeeded: (bits[0] >> shift) & mask)] == n { continue }
                        var total = 0
                        for d in 0..<buckets { let c = counts[d]; counts[d] = total; total += c }
                        for i in 0..<n {
                            let d = Int(truncatingIfNeeded: (bits[i] >> shift) & mask)
                            let dst = counts[d]
                            counts[d] = dst + 1
                            spareBits[dst] = bits[i]
                            spareIdx[dst] = idx[i]
                        }
                        swap(&bits, &spareBits)
                        swap(&idx, &spareIdx)
                    }
                    for i in 0..<n { order[i] = Int(idx[i]) }
                }
            }
        }
        return order
    }
}

import Lasso

/// The bootstrap replicates of one statistic, sorted once and shared by every interval method
/// and summary computed from them.
public struct BootstrapDistribution: Sendable, Equatable {
    /// The finite replicates in ascending order.
    public let sorted: [Double]
    /// How many replicates were NaN or infinite and left out (a failed resample should be
    /// removed before this point; R's boot drops them too).
    public let nonFiniteCount: Int
    /// Mean of the replicates (exactly the common value when all are equal).
    public let mean: Double
    /// Standard deviation with the B - 1 denominator; 0 when fewer than two replicates.
    public let standardDeviation: Double

    /// Sorts and summarizes `replicates`.
    public init(replicates: [Double]) {
        var finite = replicates.filter { $0.isFinite }
        nonFiniteCount = replicates.count - finite.count
        finite.sort()
        sorted = finite
        let b = finite.count
        if b == 0 {
            mean = .nan
            standardDeviation = .nan
        } else if finite[0] == finite[b - 1] {
            mean = finite[0]
            standardDeviation = 0
        } else {
            var sum = 0.0
            for v in finite { sum += v }
            let m = sum / Double(b)
            var ss = 0.0
            var s1 = 0.0
            for v in finite {
                let d = v - m
                s1 += d
                ss += d * d
            }
            mean = m
            standardDeviation = b < 2 ? 0 : ((ss - s1 * s1 / Double(b)) / Double(b - 1)).squareRoot()
        }
    }

    /// Number of finite replicates, B.
    public var count: Int { sorted.count }

    /// Whether every finite replicate has the same value (also true for B = 1).
    public var allEqual: Bool { !sorted.isEmpty && sorted[0] == sorted[sorted.count - 1] }

    /// Number of replicates strictly below `x`.
    public func countBelow(_ x: Double) -> Int {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if sorted[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Number of replicates less than or equal to `x`.
    public func countAtMost(_ x: Double) -> Int {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if sorted[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Hyndman-Fan type 7 quantile (linear interpolation between order statistics at
    /// (B - 1) p; numpy's and `scipy.stats.quantile`'s default). `p` is clamped to [0, 1];
    /// NaN for an empty distribution or NaN `p`.
    public func quantile(_ p: Double) -> Double {
        let b = sorted.count
        guard b > 0, !p.isNaN else { return .nan }
        let h = Double(b - 1) * min(max(p, 0), 1)
        let j = Int(h.rounded(.down))
        if j >= b - 1 { return sorted[b - 1] }
        let lo = sorted[j]
        let hi = sorted[j + 1]
        let g = h - Double(j)
        return lo == hi ? lo : lo + g * (hi - lo)
    }

    /// R boot's `norm.inter`: the order statistic at rank (B + 1) alpha, interpolated on the
    /// standard-normal quantile scale between ranks k and k + 1 when (B + 1) alpha is not an
    /// integer; the smallest (largest) replicate when the rank is below 1 (at least B).
    /// NaN for an empty distribution or NaN `alpha`.
    public func normalInterpolatedQuantile(_ alpha: Double) -> Double {
        let b = sorted.count
        guard b > 0, !alpha.isNaN else { return .nan }
        let rk = Double(b + 1) * alpha
        let kd = rk.rounded(.towardZero)
        if kd <= 0 { return sorted[0] }
        if kd >= Double(b) { return sorted[b - 1] }
        let k = Int(kd)
        if kd == rk { return sorted[k - 1] }
        let tk = sorted[k - 1]
        let tk1 = sorted[k]
        let z = Normal.quantile(alpha)
        let zk = Normal.quantile(kd / Double(b + 1))
        let zk1 = Normal.quantile((kd + 1) / Double(b + 1))
        return tk + (z - zk) / (zk1 - zk) * (tk1 - tk)
    }

    /// Whether an endpoint at probability `alpha` needs an extreme order statistic, R's rule:
    /// the rank (B + 1) alpha is not strictly between 1 and B.
    public func isExtreme(_ alpha: Double) -> Bool {
        let rk = Double(sorted.count + 1) * alpha
        return !(rk > 1 && rk < Double(sorted.count))
    }
}

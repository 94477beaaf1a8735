/// Conditions that qualify a feature's bootstrap summary.
public struct SummaryFlags: OptionSet, Sendable, Hashable {
    /// The flag bits.
    public let rawValue: UInt8
    /// Flags from their bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The coefficient is exactly zero in more than half of the resamples: its distribution has
    /// an atom at 0, so interval endpoints are not smooth functions of the data and their
    /// Monte-Carlo errors can be 0 or jump.
    public static let mostlyZero = SummaryFlags(rawValue: 1 << 0)
    /// All replicates are equal (including B = 1): the spread is 0.
    public static let allReplicatesEqual = SummaryFlags(rawValue: 1 << 1)
    /// No finite replicate: every summary except the estimate is NaN.
    public static let noReplicates = SummaryFlags(rawValue: 1 << 2)
    /// Some replicates were NaN or infinite and were left out.
    public static let nonFiniteReplicatesDropped = SummaryFlags(rawValue: 1 << 3)

    /// Stable names of the set flags, for reports.
    public var names: [String] {
        let all: [(SummaryFlags, String)] = [
            (.mostlyZero, "mostlyZero"), (.allReplicatesEqual, "allReplicatesEqual"),
            (.noReplicates, "noReplicates"), (.nonFiniteReplicatesDropped, "nonFiniteReplicatesDropped"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// What the bootstrap says about one coefficient, beyond its interval.
public struct FeatureSummary: Sendable, Equatable {
    /// The estimate on the full data.
    public let estimate: Double
    /// Number of finite replicates B the summary is based on.
    public let replicateCount: Int
    /// Fraction of replicates that are nonzero (how often the lasso selects the feature).
    public let selectionFrequency: Double
    /// Fraction of replicates exactly 0.
    public let zeroFraction: Double
    /// Fraction of replicates > 0, an estimate of P(beta > 0).
    public let positiveFraction: Double
    /// Fraction of replicates < 0, an estimate of P(beta < 0).
    public let negativeFraction: Double
    /// Mean of the replicates.
    public let mean: Double
    /// Median of the replicates (type 7).
    public let median: Double
    /// Bootstrap standard error: standard deviation of the replicates, B - 1 denominator.
    public let standardError: Double
    /// Bootstrap bias estimate: mean - estimate.
    public let bias: Double
    /// The level of the percentile endpoints below.
    public let level: Double
    /// Lower percentile-interval endpoint: the type 7 quantile at (1 - level) / 2.
    public let percentileLow: Double
    /// Upper percentile-interval endpoint: the type 7 quantile at (1 + level) / 2.
    public let percentileHigh: Double
    /// Monte-Carlo standard error of ``percentileLow``: how much it would move with another set
    /// of B resamples.
    ///
    /// Siddiqui's sparsity estimator: SE(Q(q)) ~ sqrt(q(1 - q)/B) / f(Q(q)), with 1/f estimated by
    /// the difference quotient of the type 7 quantile function over q -/+ h, h = sqrt(q(1 - q)/B)
    /// (clipped to [0, 1]). With that bandwidth the SE is half the spread of the quantiles at
    /// q -/+ h, i.e. of the order statistics one binomial standard deviation of the rank away.
    /// It is 0 when the endpoint sits inside an atom (e.g. the zeros of a lasso coefficient).
    public let monteCarloSELow: Double
    /// Monte-Carlo standard error of ``percentileHigh``, estimated like ``monteCarloSELow``.
    public let monteCarloSEHigh: Double
    /// Conditions that qualify these numbers.
    public let flags: SummaryFlags

    /// Summarizes bootstrap `replicates` of a coefficient estimated as `estimate`.
    public static func make(replicates: [Double], estimate: Double, level: Double = 0.95) -> FeatureSummary {
        make(distribution: BootstrapDistribution(replicates: replicates), estimate: estimate, level: level)
    }

    /// Summarizes an already sorted ``BootstrapDistribution`` (shared with the interval methods).
    /// `level` is clamped to [1e-6, 1 - 1e-6] (NaN means 0.95); it only sets the percentile
    /// endpoints whose Monte-Carlo errors are reported.
    public static func make(distribution d: BootstrapDistribution, estimate: Double, level: Double = 0.95) -> FeatureSummary {
        var flags: SummaryFlags = d.nonFiniteCount > 0 ? .nonFiniteReplicatesDropped : []
        let level = level.isNaN ? 0.95 : min(max(level, 1e-6), 1 - 1e-6)
        let b = d.count
        guard b > 0 else {
            flags.insert(.noReplicates)
            return FeatureSummary(
                estimate: estimate, replicateCount: 0, selectionFrequency: .nan, zeroFraction: .nan,
                positiveFraction: .nan, negativeFraction: .nan, mean: .nan, median: .nan, standardError: .nan,
                bias: .nan, level: level, percentileLow: .nan, percentileHigh: .nan, monteCarloSELow: .nan,
                monteCarloSEHigh: .nan, flags: flags)
        }
        let negative = d.countBelow(0)
        let nonPositive = d.countAtMost(0)
        let zeros = nonPositive - negative
        let bd = Double(b)
        let zeroFraction = Double(zeros) / bd
        if 2 * zeros > b { flags.insert(.mostlyZero) }
        if d.allEqual { flags.insert(.allReplicatesEqual) }
        let qLow = (1 - level) / 2
        let qHigh = 1 - qLow
        return FeatureSummary(
            estimate: estimate, replicateCount: b, selectionFrequency: Double(b - zeros) / bd, zeroFraction: zeroFraction,
            positiveFraction: Double(b - nonPositive) / bd, negativeFraction: Double(negative) / bd,
            mean: d.mean, median: d.quantile(0.5), standardError: d.standardDeviation, bias: d.mean - estimate,
            level: level, percentileLow: d.quantile(qLow), percentileHigh: d.quantile(qHigh),
            monteCarloSELow: monteCarloSE(d, qLow), monteCarloSEHigh: monteCarloSE(d, qHigh), flags: flags)
    }

    /// Siddiqui sparsity estimate of the Monte-Carlo SE of the type 7 quantile at `q`.
    static func monteCarloSE(_ d: BootstrapDistribution, _ q: Double) -> Double {
        let h = (q * (1 - q) / Double(d.count)).squareRoot()
        let lo = max(0, q - h)
        let hi = min(1, q + h)
        guard hi > lo else { return 0 }
        return (d.quantile(hi) - d.quantile(lo)) * h / (hi - lo)
    }
}

import Lasso

/// A bootstrap confidence interval method.
public enum CIMethod: String, Sendable, CaseIterable, Codable {
    /// Quantiles of the replicates at alpha/2 and 1 - alpha/2 (the default).
    case percentile
    /// The percentile interval reflected about the estimate: (2 t0 - q_high, 2 t0 - q_low).
    case basic
    /// R boot's bias-corrected normal interval: t0 - bias -/+ z sd(t), bias = mean(t) - t0.
    case normal
    /// Bias-corrected and accelerated (Efron 1987), acceleration from the delete-one jackknife.
    case bca
}

/// Whose conventions fix the details (quantile rule, BCa bias correction) of an interval.
public enum QuantileConvention: String, Sendable, CaseIterable, Codable {
    /// `scipy.stats.bootstrap`: Hyndman-Fan type 7 quantiles; BCa z0 = ndtri of the 'mean'
    /// percentile of the estimate, (#(t < t0) + #(t <= t0)) / 2B, so ties are split.
    case scipy
    /// R `boot.ci`: endpoints by `norm.inter` (interpolation on the normal-quantile scale between
    /// the order statistics around rank (B + 1) alpha, extreme order statistics at the ends);
    /// BCa z0 = qnorm(#(t < t0) / B).
    case rBoot
}

/// The delete-one-row jackknife estimates of a statistic, compressed: rows in one cell share one
/// jackknife fit, so each distinct value is stored once with its number of rows.
public struct Jackknife: Sendable, Equatable {
    /// Distinct delete-one estimates.
    public let values: [Double]
    /// How many rows give each value (all >= 1); their sum is the number of rows n.
    public let multiplicities: [Int]

    /// A jackknife from distinct values and their multiplicities.
    ///
    /// - Throws: ``ResamplingError/invalidJackknife(reason:)`` when the arrays differ in length,
    ///   a multiplicity is below 1, a value is not finite, or there are fewer than two rows.
    public init(values: [Double], multiplicities: [Int]) throws {
        guard values.count == multiplicities.count else {
            throw ResamplingError.invalidJackknife(reason: "\(values.count) values but \(multiplicities.count) multiplicities")
        }
        if let i = multiplicities.firstIndex(where: { $0 < 1 }) {
            throw ResamplingError.invalidJackknife(reason: "multiplicity \(multiplicities[i]) of value \(i) is below 1")
        }
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw ResamplingError.invalidJackknife(reason: "value \(i) is \(values[i]), not a finite number")
        }
        guard multiplicities.reduce(0, +) >= 2 else {
            throw ResamplingError.invalidJackknife(reason: "a jackknife needs at least two rows")
        }
        self.values = values
        self.multiplicities = multiplicities
    }

    /// A jackknife from one delete-one estimate per row; equal values are merged.
    public init(rowValues: [Double]) throws {
        var merged: [Double: Int] = [:]
        for v in rowValues { merged[v, default: 0] += 1 }
        let keys = merged.keys.sorted()
        try self.init(values: keys, multiplicities: keys.map { merged[$0]! })
    }

    /// Number of rows n.
    public var rowCount: Int { multiplicities.reduce(0, +) }

    /// The BCa acceleration a = sum U^3 / (6 (sum U^2)^(3/2)), U_i = (n - 1)(mean - theta_-i),
    /// summed over rows (each distinct value weighted by its multiplicity), as scipy and R boot
    /// compute it. Nil when the jackknife values are all equal (a would be 0/0).
    public var acceleration: Double? {
        guard let first = values.first, values.contains(where: { $0 != first }) else { return nil }
        let n = Double(rowCount)
        // Centre on the first value before averaging to limit rounding.
        var shift = 0.0
        for (v, m) in zip(values, multiplicities) { shift += Double(m) * (v - first) }
        let mean = first + shift / n
        var s2 = 0.0
        var s3 = 0.0
        for (v, m) in zip(values, multiplicities) {
            let u = (n - 1) * (mean - v)
            let u2 = u * u
            s2 += Double(m) * u2
            s3 += Double(m) * u2 * u
        }
        let a = s3 / (6 * s2 * s2.squareRoot())
        return a.isFinite ? a : nil
    }
}

/// Conditions under which an interval is not the textbook quantity; reported with the interval
/// instead of failing or returning an unexplained NaN.
public struct CIFlags: OptionSet, Sendable, Hashable {
    /// The flag bits.
    public let rawValue: UInt16
    /// Flags from their bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// All replicates are equal: the interval is a single point (percentile and BCa: that
    /// value; basic and normal: 2 t0 - that value).
    public static let allReplicatesEqual = CIFlags(rawValue: 1 << 0)
    /// BCa only: no replicate lies on one side of the estimate, so z0 is infinite; both
    /// endpoints are the BCa limit, the smallest (z0 = -inf) or largest (z0 = +inf) replicate.
    public static let estimateOutsideReplicates = CIFlags(rawValue: 1 << 1)
    /// BCa only: the jackknife is missing or constant, so the acceleration is taken as 0.
    public static let jackknifeDegenerate = CIFlags(rawValue: 1 << 2)
    /// Too few replicates for the level: an endpoint's rank (B + 1) alpha is not strictly
    /// between 1 and B, so it is (or leans on) the smallest or largest replicate.
    public static let extremeOrderStatistics = CIFlags(rawValue: 1 << 3)
    /// Some replicates were NaN or infinite and were left out.
    public static let nonFiniteReplicatesDropped = CIFlags(rawValue: 1 << 4)
    /// No finite replicate: both endpoints are NaN.
    public static let noReplicates = CIFlags(rawValue: 1 << 5)
    /// The level is not in (0, 1) or the estimate is not finite: both endpoints are NaN.
    public static let invalidInput = CIFlags(rawValue: 1 << 6)

    /// Stable names of the set flags, for reports.
    public var names: [String] {
        let all: [(CIFlags, String)] = [
            (.allReplicatesEqual, "allReplicatesEqual"), (.estimateOutsideReplicates, "estimateOutsideReplicates"),
            (.jackknifeDegenerate, "jackknifeDegenerate"), (.extremeOrderStatistics, "extremeOrderStatistics"),
            (.nonFiniteReplicatesDropped, "nonFiniteReplicatesDropped"), (.noReplicates, "noReplicates"),
            (.invalidInput, "invalidInput"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// A confidence interval with the conditions that qualify it.
public struct CIResult: Sendable, Equatable {
    /// The method that produced it.
    public let method: CIMethod
    /// The two-sided confidence level.
    public let level: Double
    /// Lower endpoint (NaN only with ``CIFlags/noReplicates`` or ``CIFlags/invalidInput``).
    public let low: Double
    /// Upper endpoint (NaN only with ``CIFlags/noReplicates`` or ``CIFlags/invalidInput``).
    public let high: Double
    /// Degenerate conditions met while computing the interval.
    public let flags: CIFlags
    /// BCa only: the bias correction z0 (may be infinite, then flagged).
    public let z0: Double?
    /// BCa only: the acceleration used (0 when the jackknife is degenerate).
    public let acceleration: Double?
}

/// Bootstrap confidence intervals from replicates, following scipy or R boot exactly.
public enum BootstrapCI {
    /// The `method` interval at `level` from bootstrap `replicates` of a statistic whose
    /// estimate on the full data is `estimate`.
    ///
    /// - Parameters:
    ///   - jackknife: the delete-one jackknife, needed for the BCa acceleration (without it,
    ///     a = 0 and the result is flagged ``CIFlags/jackknifeDegenerate``); ignored otherwise.
    ///   - convention: whose quantile and bias-correction rules to follow.
    /// Never traps and never returns an unflagged NaN; see ``CIFlags``.
    public static func interval(
        method: CIMethod, replicates: [Double], estimate: Double, level: Double = 0.95,
        jackknife: Jackknife? = nil, convention: QuantileConvention = .scipy
    ) -> CIResult {
        interval(
            method: method, distribution: BootstrapDistribution(replicates: replicates), estimate: estimate,
            level: level, jackknife: jackknife, convention: convention)
    }

    /// Same as ``interval(method:replicates:estimate:level:jackknife:convention:)`` on replicates
    /// sorted once, so several methods and levels share one sort.
    public static func interval(
        method: CIMethod, distribution d: BootstrapDistribution, estimate t0: Double, level: Double = 0.95,
        jackknife: Jackknife? = nil, convention: QuantileConvention = .scipy
    ) -> CIResult {
        var flags: CIFlags = d.nonFiniteCount > 0 ? .nonFiniteReplicatesDropped : []
        func result(_ low: Double, _ high: Double, z0: Double? = nil, a: Double? = nil) -> CIResult {
            CIResult(method: method, level: level, low: low, high: high, flags: flags, z0: z0, acceleration: a)
        }
        guard level > 0 && level < 1 && t0.isFinite else {
            flags.insert(.invalidInput)
            return result(.nan, .nan)
        }
        guard d.count > 0 else {
            flags.insert(.noReplicates)
            return result(.nan, .nan)
        }
        if d.allEqual { flags.insert(.allReplicatesEqual) }
        let alphaLow = (1 - level) / 2
        let alphaHigh = convention == .scipy ? 1 - alphaLow : (1 + level) / 2

        func endpoint(_ p: Double) -> Double {
            if d.isExtreme(p) { flags.insert(.extremeOrderStatistics) }
            return convention == .scipy ? d.quantile(p) : d.normalInterpolatedQuantile(p)
        }

        switch method {
        case .percentile:
            return result(endpoint(alphaLow), endpoint(alphaHigh))
        case .basic:
            let qHigh = endpoint(alphaHigh)
            let qLow = endpoint(alphaLow)
            return result(2 * t0 - qHigh, 2 * t0 - qLow)
        case .normal:
            let bias = d.mean - t0
            let margin = d.standardDeviation * Normal.quantile((1 + level) / 2)
            return result(t0 - bias - margin, t0 - bias + margin)
        case .bca:
            let b = Double(d.count)
            let p =
                convention == .scipy
                ? Double(d.countBelow(t0) + d.countAtMost(t0)) / (2 * b)
                : Double(d.countBelow(t0)) / b
            var a = 0.0
            if let acc = jackknife?.acceleration { a = acc } else { flags.insert(.jackknifeDegenerate) }
            if p <= 0 || p >= 1 {
                flags.insert(.estimateOutsideReplicates)
                let edge = p <= 0 ? d.sorted[0] : d.sorted[d.count - 1]
                return result(edge, edge, z0: p <= 0 ? -.infinity : .infinity, a: a)
            }
            let z0 = Normal.quantile(p)
            let zLow = Normal.quantile(alphaLow)
            let zHigh = convention == .scipy ? -zLow : Normal.quantile(alphaHigh)
            func adjusted(_ z: Double) -> Double {
                let num = z0 + z
                return Normal.cdf(z0 + num / (1 - a * num))
            }
            return result(endpoint(adjusted(zLow)), endpoint(adjusted(zHigh)), z0: z0, a: a)
        }
    }
}

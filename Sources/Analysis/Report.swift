import Foundation
import Lasso
import Plan
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
        /// The intercept's nodewise lambda (Zhang & Zhang's pick from the CV lambda), with `method`.
        public var interceptNodewiseLambda: Double? = nil
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

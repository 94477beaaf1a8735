import Foundation
import Lasso
import Resampling
import Tabular

/// How the alpha grid is made.
public enum AlphaGrid: Sendable, Equatable {
    /// These alphas (on the penalty's scale), fitted from largest to smallest.
    case values([Double])
    /// glmnet's grid: `count` alphas from alpha_max down to `alpha_max * minRatio`, geometric.
    case automatic(count: Int, minRatio: Double)
}

/// Cross-validation settings.
public struct CVSpec: Sendable, Equatable {
    public enum Metric: String, Sendable, CaseIterable { case auc, deviance }
    public enum Rule: String, Sendable, CaseIterable { case min, oneSE = "1se" }
    public enum Choice: String, Sendable, CaseIterable {
        /// One alpha per outcome.
        case perOutcome = "per-outcome"
        /// One alpha for all outcomes, by the mean score across outcomes (as the analysis chose).
        case joint
    }
    public var folds: Int
    public var metric: Metric
    public var rule: Rule
    public var choice: Choice

    public init(folds: Int, metric: Metric, rule: Rule, choice: Choice) {
        self.folds = folds
        self.metric = metric
        self.rule = rule
        self.choice = choice
    }
}

/// Bootstrap settings.
public struct BootstrapSpec: Sendable, Equatable {
    public var resamples: Int
    public var methods: [CIMethod]
    public var level: Double
    /// Re-run the cross-validation inside every resample (alpha chosen per resample).
    public var nested: Bool
    public var quantiles: QuantileConvention
    /// Resamples per task (the unit of work handed to a worker).
    public var batch: Int
}

/// What the report carries beyond the bootstrap intervals.
public struct ReportSpec: Sendable, Equatable {
    /// Also give the full-data estimate Wald intervals conditional on the selected model (what
    /// `lassoboot fit` and statsmodels report after an L1 fit), at the bootstrap's level. They
    /// ignore selection and shrinkage; they are there to compare with published tables.
    public var wald: Bool

    public init(wald: Bool = false) {
        self.wald = wald
    }
}

/// Which intervals a report leads with (`intervals` in the spec).
public enum IntervalKind: String, Sendable, CaseIterable {
    /// Debiased lasso intervals (n > p): Wald and bootstrap intervals of the Newton-corrected
    /// estimate, which cover the unpenalized coefficient. The default column of tables and the
    /// forest plot; the penalized bootstrap intervals are still reported, labelled as the
    /// variability of the penalized estimator.
    case debiased
    /// Only the bootstrap intervals of the penalized estimator (the report as it was before
    /// debiased intervals existed, e.g. to reproduce a published table).
    case penalized
}

/// Settings of the debiased intervals (`debiased` in the spec).
public struct DebiasSpec: Sendable, Equatable {
    /// How the lasso fit is debiased.
    public enum Method: String, Sendable, CaseIterable {
        /// `nodewise` where p + 1 >= n, `firth` while n < 50 (p + 1), `newton` beyond
        /// (``RunData/debiasMethod``).
        case auto
        /// Newton steps on the unpenalized likelihood (n > p): Wald and bootstrap intervals.
        case newton
        /// Firth's bias-reduced estimate (n > p): the lasso fit moved to the maximum of the
        /// log-likelihood plus 1/2 log det H. Removes the maximum-likelihood estimate's O(1/n) bias
        /// (which spoils Wald coverage once p/n is not small) and stays finite under separation.
        /// Wald and bootstrap intervals.
        case firth
        /// The desparsified lasso (nodewise regressions; any p, needed where p >= n): Wald intervals.
        case nodewise
    }

    public var method: Method
    /// Newton steps from the lasso fit: `nil` until converged (the unpenalized MLE), `1` the
    /// one-step estimator (preferable when p/n is not small).
    public var newtonSteps: Int?
    /// The nodewise regressions' lambda (standardized columns, mean scale): `nil` chooses it by
    /// K-fold cross-validation pooled over the features (hdi's default), then moves it down by
    /// Zhang & Zhang's rule when ``nodewiseZnZ``.
    public var nodewiseLambda: Double?
    /// With a CV-chosen nodewise lambda, move the features' lambda down by Zhang & Zhang's rule
    /// (``Nodewise/zhangZhangPick(_:from:)``, hdi's `do.ZnZ = TRUE`; the default, `"znz"`): less
    /// bias for intervals at most 12% wider. `"cv"` keeps the CV lambda (hdi's default). The
    /// intercept's regression takes the rule either way.
    public var nodewiseZnZ: Bool

    public init(method: Method = .auto, newtonSteps: Int? = nil, nodewiseLambda: Double? = nil, nodewiseZnZ: Bool = true) {
        self.method = method
        self.newtonSteps = newtonSteps
        self.nodewiseLambda = nodewiseLambda
        self.nodewiseZnZ = nodewiseZnZ
    }
}

/// Stability selection with error control (`stability` in the spec): complementary pairs
/// subsampling (Shah & Samworth 2013). Each pair splits the rows at random into two disjoint
/// halves; on each half the lasso path is followed from alpha_max down until `q` penalized
/// features have entered; a feature's selection probability is the fraction of halves that
/// selected it, and the features at or above `threshold` are selected, with the bound
/// E(false selections) <= q^2 / ((2 threshold - 1) p) printed beside them.
public struct StabilitySpec: Sendable, Equatable {
    /// Complementary pairs (2 x pairs half-samples).
    public var pairs: Int
    /// Selection-probability threshold pi_thr, in (0.5, 1].
    public var threshold: Double
    /// Features each half-sample selects at most (`nil`: derived from `pfer`).
    public var q: Int?
    /// Target bound on the expected number of false selections, used to derive `q` when the
    /// spec does not give it.
    public var pfer: Double
    /// Pairs per task.
    public var batch: Int

    public init(pairs: Int = 50, threshold: Double = 0.75, q: Int? = nil, pfer: Double = 1, batch: Int = 5) {
        self.pairs = pairs
        self.threshold = threshold
        self.q = q
        self.pfer = pfer
        self.batch = batch
    }

    /// The `q` used with `p` penalized features: the spec's, or the largest q whose bound
    /// q^2 / ((2 threshold - 1) p) stays within `pfer` (at least 1, at most p).
    public func selectionSize(penalizedFeatures p: Int) -> Int {
        guard p > 0 else { return 0 }
        if let q { return min(q, p) }
        let bound = (pfer * (2 * threshold - 1) * Double(p)).squareRoot()
        return max(1, min(p, Int((bound + 1e-12).rounded(.down))))
    }

    /// The error bound q^2 / ((2 threshold - 1) p) (Meinshausen & Buhlmann 2010, Theorem 1;
    /// for complementary pairs, Shah & Samworth 2013 Theorem 1, without the exchangeability
    /// assumption, for features whose half-sample selection probability is at most q / p).
    public static func pferBound(q: Int, threshold: Double, penalizedFeatures p: Int) -> Double {
        p > 0 ? Double(q * q) / ((2 * threshold - 1) * Double(p)) : 0
    }
}

/// A whole run: data, model, cross-validation, bootstrap and seed, read from `jobs/*.json`.
public struct RunSpec: Sendable {
    public var name: String
    public var description: String
    public var data: DataSpec
    public var penalty: Penalty
    /// Penalty factors by feature name (expanded names, or a spec feature name for all its columns).
    public var penaltyFactors: [String: Double]
    public var alphas: AlphaGrid
    public var cv: CVSpec
    public var bootstrap: BootstrapSpec
    public var seed: UInt64
    public var tolerance: Double
    /// Extra report content (`report` in the spec).
    public var report: ReportSpec
    /// Which intervals the report leads with (`intervals`: `debiased`, the default, or `penalized`).
    public var intervals: IntervalKind
    /// Settings of the debiased intervals.
    public var debias: DebiasSpec
    /// Stability selection (`stability` in the spec; `nil`: not run).
    public var stability: StabilitySpec?
    /// Where the spec was read from.
    public var source: String

    /// Reads a job spec file. Unknown keys, wrong types and bad values are errors naming the key path.
    public static func load(path: String) throws -> RunSpec {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw TabularError(file: path, message: "cannot read the job spec (no such file?)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(bytes, source: path, baseDirectory: base)
    }

    /// Parses a job spec; relative data paths resolve against `baseDirectory`.
    public static func parse(_ bytes: Data, source: String, baseDirectory: String) throws -> RunSpec {
        let root = try JSONNode.parse(bytes, source: source)
        let o = try root.object(allowed: [
            "name", "description", "data", "features", "outcomes", "penalty", "alphas",
            "cv", "bootstrap", "seed", "solver", "report", "intervals", "debiased", "stability", "exclude",
        ])
        let data = try DataSpec.parse(
            data: try o.required("data", in: root), features: try o.required("features", in: root),
            outcomes: try o.required("outcomes", in: root), exclude: o["exclude"], baseDirectory: baseDirectory)
        // Standardized by default, as glmnet: the selection does not depend on the features' units.
        var penalty = Penalty(standardize: true)
        var factors: [String: Double] = [:]
        if let p = o["penalty"] {
            let m = try p.object(allowed: ["scale", "penalizeIntercept", "factors", "standardize"])
            if let s = m["scale"] { penalty.scale = PenaltyScale(rawValue: try s.choice(PenaltyScale.allCases.map(\.rawValue)))! }
            if let b = m["standardize"] {
                if b.isString {
                    _ = try b.choice(["continuous"])
                    penalty.standardize = true
                    penalty.standardizeIndicators = false
                } else {
                    penalty.standardize = try b.bool()
                }
            }
            if let b = m["penalizeIntercept"] { penalty.penalizeIntercept = try b.bool() }
            if let f = m["factors"] {
                guard case let .object(dict) = f.value else { throw f.error("expected an object mapping feature names to factors") }
                for key in dict.keys.sorted() {
                    let node = try f.object(allowed: Array(dict.keys))[key]!
                    let v = try node.double()
                    guard v.isFinite, v >= 0 else { throw node.error("a penalty factor must be a finite number >= 0") }
                    guard data.allFeaturesExcept != nil || data.features.contains(where: { $0.name == key || key.hasPrefix($0.name + ": ") }) else {
                        throw node.error(
                            "no feature named '\(key)' (a spec feature name, or one of its expanded columns such as 'gender: Female'); features are \(data.features.map(\.name).joined(separator: ", "))"
                        )
                    }
                    factors[key] = v
                }
            }
        }
        var alphas = AlphaGrid.automatic(count: 30, minRatio: 1e-3)
        if let a = o["alphas"] {
            if a.isArray {
                let values = try a.array().map { n -> Double in
                    let v = try n.double()
                    guard v.isFinite, v >= 0 else { throw n.error("an alpha must be a finite number >= 0") }
                    return v
                }
                if values.isEmpty { throw a.error("the alpha list is empty") }
                if Set(values).count != values.count { throw a.error("alphas must be distinct") }
                alphas = .values(values.sorted(by: >))
            } else {
                let m = try a.object(allowed: ["count", "minRatio"])
                let count = try m["count"]?.int() ?? 30
                let ratio = try m["minRatio"]?.double() ?? 1e-3
                guard count >= 1 && count <= 1000 else { throw (m["count"] ?? a).error("count must be between 1 and 1000") }
                guard ratio > 0 && ratio < 1 else { throw (m["minRatio"] ?? a).error("minRatio must be between 0 and 1 (exclusive)") }
                alphas = .automatic(count: count, minRatio: ratio)
            }
        }
        var cv = CVSpec(folds: 5, metric: .auc, rule: .min, choice: .perOutcome)
        if let c = o["cv"] {
            let m = try c.object(allowed: ["folds", "metric", "rule", "choose"])
            if let f = m["folds"] {
                cv.folds = try f.int()
                guard cv.folds >= 2 && cv.folds <= 100 else { throw f.error("folds must be between 2 and 100") }
            }
            if let x = m["metric"] { cv.metric = CVSpec.Metric(rawValue: try x.choice(CVSpec.Metric.allCases.map(\.rawValue)))! }
            if let x = m["rule"] { cv.rule = CVSpec.Rule(rawValue: try x.choice(CVSpec.Rule.allCases.map(\.rawValue)))! }
            if let x = m["choose"] { cv.choice = CVSpec.Choice(rawValue: try x.choice(CVSpec.Choice.allCases.map(\.rawValue)))! }
        }
        var boot = BootstrapSpec(
            resamples: 1999, methods: [.percentile, .basic, .normal, .bca], level: 0.95, nested: false,
            quantiles: .scipy, batch: 25)
        if let b = o["bootstrap"] {
            let m = try b.object(allowed: ["resamples", "methods", "level", "nested", "quantiles", "batch"])
            if let x = m["resamples"] {
                boot.resamples = try x.int()
                guard boot.resamples >= 1 && boot.resamples <= 1_000_000 else { throw x.error("resamples must be between 1 and 1000000") }
            }
            if let x = m["methods"] {
                let names = CIMethod.allCases.map(\.rawValue)
                boot.methods = try x.array().map { CIMethod(rawValue: try $0.choice(names))! }
                if boot.methods.isEmpty { throw x.error("name at least one CI method (\(names.joined(separator: ", ")))") }
            }
            if let x = m["level"] {
                boot.level = try x.double()
                guard boot.level > 0 && boot.level < 1 else { throw x.error("level must be between 0 and 1, e.g. 0.95") }
            }
            if let x = m["nested"] { boot.nested = try x.bool() }
            if let x = m["quantiles"] {
                boot.quantiles = try x.choice(["scipy", "r-boot"]) == "scipy" ? .scipy : .rBoot
            }
            if let x = m["batch"] {
                boot.batch = try x.int()
                guard boot.batch >= 1 else { throw x.error("batch must be >= 1") }
            }
        }
        var seed: UInt64 = 1
        if let s = o["seed"] {
            let v = try s.double()
            guard v >= 0, v == v.rounded(), v < 9_007_199_254_740_992 else { throw s.error("seed must be an integer between 0 and 2^53") }
            seed = UInt64(v)
        }
        var tolerance = 1e-10
        if let s = o["solver"] {
            let m = try s.object(allowed: ["tolerance"])
            if let t = m["tolerance"] {
                tolerance = try t.double()
                guard tolerance > 0 && tolerance < 1e-3 else { throw t.error("tolerance must be between 0 and 1e-3") }
            }
        }
        var report = ReportSpec()
        if let r = o["report"] {
            let m = try r.object(allowed: ["wald"])
            if let w = m["wald"] { report.wald = try w.bool() }
        }
        var intervals = IntervalKind.debiased
        if let x = o["intervals"] { intervals = IntervalKind(rawValue: try x.choice(IntervalKind.allCases.map(\.rawValue)))! }
        var debias = DebiasSpec()
        if let d = o["debiased"] {
            let m = try d.object(allowed: ["method", "newtonSteps", "nodewiseLambda"])
            if let x = m["method"] { debias.method = DebiasSpec.Method(rawValue: try x.choice(DebiasSpec.Method.allCases.map(\.rawValue)))! }
            if let x = m["nodewiseLambda"] {
                if case .string = x.value {
                    debias.nodewiseZnZ = try x.choice(["cv", "znz"]) == "znz"
                } else {
                    let lambda = try x.double()
                    guard lambda >= 0 && lambda.isFinite else { throw x.error("nodewiseLambda must be a number >= 0, \"cv\" or \"znz\"") }
                    debias.nodewiseLambda = lambda
                }
            }
            if let x = m["newtonSteps"] {
                if case .string = x.value {
                    _ = try x.choice(["converged"])
                } else {
                    let steps = try x.int()
                    guard steps >= 1 && steps <= 50 else { throw x.error("newtonSteps must be between 1 and 50, or \"converged\"") }
                    guard debias.method != .firth else {
                        throw x.error("method \"firth\" iterates until converged; newtonSteps applies to method \"newton\"")
                    }
                    debias.newtonSteps = steps
                    // A step count asks for Newton steps: `auto` resolves to them while n > p.
                    if debias.method == .auto { debias.method = .newton }
                }
            }
        }
        var stability: StabilitySpec?
        if let x = o["stability"] {
            var st = StabilitySpec()
            if case .bool = x.value {
                if !(try x.bool()) { stability = nil } else { stability = st }
            } else {
                let m = try x.object(allowed: ["pairs", "threshold", "q", "pfer", "batch"])
                if let v = m["pairs"] {
                    st.pairs = try v.int()
                    guard st.pairs >= 1 && st.pairs <= 10_000 else { throw v.error("pairs must be between 1 and 10000 (50 is usual)") }
                }
                if let v = m["threshold"] {
                    st.threshold = try v.double()
                    guard st.threshold > 0.5 && st.threshold <= 1 else {
                        throw v.error("threshold must be above 0.5 and at most 1 (the error bound needs pi_thr > 1/2), e.g. 0.75")
                    }
                }
                if let v = m["q"] {
                    let q = try v.int()
                    guard q >= 1 else { throw v.error("q (features each half-sample selects) must be >= 1") }
                    st.q = q
                }
                if let v = m["pfer"] {
                    guard m["q"] == nil else { throw v.error("give q or pfer, not both: q follows from pfer and threshold") }
                    st.pfer = try v.double()
                    guard st.pfer > 0 && st.pfer.isFinite else {
                        throw v.error("pfer must be a positive number (the bound on expected false selections), e.g. 1")
                    }
                }
                if let v = m["batch"] {
                    st.batch = try v.int()
                    guard st.batch >= 1 else { throw v.error("batch must be >= 1") }
                }
                stability = st
            }
        }
        return RunSpec(
            name: try o["name"]?.string() ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent,
            description: try o["description"]?.string() ?? "", data: data, penalty: penalty,
            penaltyFactors: factors, alphas: alphas, cv: cv, bootstrap: boot, seed: seed,
            tolerance: tolerance, report: report, intervals: intervals, debias: debias, stability: stability, source: source)
    }
}

import RealModule

/// How `alpha` relates to the data size.
public enum PenaltyScale: String, Sendable, CaseIterable, Codable {
    /// `sum_i w_i * loss_i + alpha * sum_j pf_j |beta_j|`: statsmodels' `alpha`.
    case sum
    /// `(1 / sum w) * sum_i w_i * loss_i + alpha * sum_j pf_j |beta_j|`: glmnet's `lambda`.
    case mean
}

/// Which coefficients are penalized, and how strongly relative to `alpha`.
public struct Penalty: Sendable, Equatable, Codable {
    /// Scale on which `alpha` is given.
    public var scale: PenaltyScale
    /// Penalize the intercept with factor 1 (statsmodels' behaviour for a scalar `alpha`).
    public var penalizeIntercept: Bool
    /// Per-feature penalty factors (>= 0, default all 1); 0 leaves a feature unpenalized.
    public var factors: [Double]?
    /// Penalize each coefficient in units of its feature's standard deviation, as glmnet's
    /// `standardize=TRUE` does, so the selection does not depend on the features' units.
    ///
    /// The SD is the weighted population SD (divisor: the total weight) over the fit's own
    /// observations, so a bootstrap resample or a CV training set is standardized on itself, as
    /// glmnet would be. Coefficients stay on the original scale: the problem is the lasso with
    /// factors `factors[j] * sd[j]`, which is exactly the standardized lasso mapped back. KKT
    /// violations are then measured in standardized units (raw violation / sd). A constant
    /// feature (SD 0) keeps its factor; its coefficient is pinned at 0 anyway.
    public var standardize: Bool
    /// With ``standardize``: whether 0/1 indicator features are scaled by their SD too
    /// (glmnet's behaviour, the default) or keep their raw unit, so every indicator is penalized
    /// alike however rare it is.
    public var standardizeIndicators: Bool = true

    public init(scale: PenaltyScale = .sum, penalizeIntercept: Bool = false, factors: [Double]? = nil, standardize: Bool = false) {
        self.scale = scale
        self.penalizeIntercept = penalizeIntercept
        self.factors = factors
        self.standardize = standardize
    }
}

/// Stopping rules of the solver.
public struct SolverOptions: Sendable, Equatable {
    /// Largest KKT violation accepted, measured on the mean scale (gradient / total weight).
    public var tolerance: Double
    /// Most proximal Newton iterations before the fit is reported as not converged.
    public var maxIterations: Int
    /// Most coordinate-descent sweeps per Newton subproblem.
    public var maxInnerSweeps: Int

    /// How the Hessian is accumulated: through indicator chunks when the design has 0/1
    /// features, by sparse pattern rows when the design is sparse, by dense SIMD columns otherwise.
    public var hessian: HessianKernel
    /// Compute the final loss and objective (one `log` per pattern). Callers that only need the
    /// coefficients (cross-validation scoring) turn it off; ``LassoFit/objective`` and
    /// ``LassoFit/loss`` are then NaN. The KKT certificate does not depend on it.
    public var computeObjective: Bool = true
    /// Whether the Newton system spans every feature or a growing working set of them.
    public var strategy: Strategy = .automatic
    /// How the working-set strategy's Newton iterations solve their quadratic models: `nil`
    /// (the default) picks Hessian-free coordinate descent when the working set is large
    /// (``LogisticLasso/coordinateDescentThreshold`` features and more, dense columns), else the
    /// formed Hessian. The full strategy always forms the Hessian; results agree to the tolerance.
    public var innerSolver: InnerSolver? = nil
    /// Whether the working-set strategy drops features the gap-safe rule proves zero (they are
    /// then never looked at again in that fit); results are the same either way.
    public var screening: Bool = true

    /// Which features each proximal Newton iteration works on; results agree to the tolerance.
    public enum Strategy: String, Sendable, Equatable, CaseIterable {
        /// ``workingSet`` from ``LogisticLasso/workingSetThreshold`` features up, else ``full``.
        case automatic
        /// Every feature in every Newton system: best for few features (the CTDC shape), where
        /// pattern compression and the indicator kernels make the whole Hessian cheap.
        case full
        /// The Newton system on the features that violate optimality, grown until none outside
        /// does: cost follows the active set, not the feature count (wide data).
        case workingSet = "working-set"
    }

    /// Hessian accumulation strategy; results agree to rounding.
    public enum HessianKernel: Sendable, Equatable {
        /// The cheapest by an operation count: ``blocked`` when the design has indicator
        /// features and that is cheaper, else sparse rows when at most 35% of covariate values
        /// are nonzero, else dense SIMD.
        case automatic
        /// Dense column dot products with `SIMD8<Double>`: O(patterns * features^2).
        case dense
        /// Scattered accumulation over nonzero pairs of each pattern: O(sum of nnz^2).
        case sparse
        /// Indicator (0/1) features packed into 8-bit codes: weights summed per group of
        /// patterns with equal codes (times a short row of the other features and their
        /// products), then expanded into indicator pairs through per-code tables:
        /// O(patterns * other features^2 + groups * indicators).
        case blocked
    }

    public init(
        tolerance: Double = 1e-12, maxIterations: Int = 100, maxInnerSweeps: Int = 100_000,
        hessian: HessianKernel = .automatic
    ) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.maxInnerSweeps = maxInnerSweeps
        self.hessian = hessian
    }
}

/// A certified solution of one L1-penalized logistic regression.
public struct LassoFit: Sendable, Equatable {
    /// `alpha` as given, on ``penalty``'s scale.
    public let alpha: Double
    /// The penalty the problem was posed with.
    public let penalty: Penalty
    /// Intercept (the constant's coefficient).
    public let intercept: Double
    /// One coefficient per design feature.
    public let coefficients: [Double]
    /// Penalized objective at the solution, on the scale of ``alpha`` (sum, or divided by total weight).
    public let objective: Double
    /// Unpenalized negative log-likelihood `sum_i w_i * loss_i`.
    public let loss: Double
    /// Largest violation of the KKT optimality conditions, on the mean scale.
    public let kktViolation: Double
    /// Proximal Newton iterations used.
    public let iterations: Int
    /// Sum of the observation weights.
    public let totalWeight: Double

    /// Size of the final working set when the fit used ``SolverOptions/Strategy/workingSet``;
    /// `nil` when every feature was in the Newton system.
    public internal(set) var workingSetSize: Int? = nil
    /// Features the working-set solver proved zero by the gap-safe rule and stopped looking at
    /// (`nil` for the full solver).
    public internal(set) var screenedFeatures: Int? = nil
    /// How the quadratic models of the (last) Newton system were solved.
    public internal(set) var innerSolver: InnerSolver = .hessian

    /// Intercept followed by the coefficients.
    public var allCoefficients: [Double] { [intercept] + coefficients }

    /// Linear predictor `intercept + x . coefficients` of one covariate row.
    public func linearPredictor(_ x: [Double]) -> Double {
        precondition(x.count == coefficients.count)
        var eta = intercept
        for j in 0..<x.count where coefficients[j] != 0 { eta += coefficients[j] * x[j] }
        return eta
    }
}

/// L1-penalized logistic regression on a ``CompressedDesign``.
///
/// Solves `min sum_k [t_k log(1 + e^eta_k) - s_k eta_k] + alpha * sum_j pf_j |beta_j|` by
/// proximal Newton: each iteration forms the weighted Gram matrix of the patterns (SIMD),
/// solves the L1-penalized quadratic model exactly by covariance-mode coordinate descent,
/// and takes a backtracking line search step on the true objective. Warm starts make an
/// alpha path cost a few iterations per alpha. The returned fit satisfies the KKT
/// conditions to ``SolverOptions/tolerance``, or the call throws.
public enum LogisticLasso {
    /// Logit-scale effect beyond which an unpenalized coefficient is taken to diverge.
    static let separationThreshold = 40.0
    /// Feature count from which ``SolverOptions/Strategy/automatic`` uses working sets.
    public static let workingSetThreshold = 64
    /// Working-set size from which the quadratic models are solved by Hessian-free coordinate
    /// descent (``InnerSolver/coordinateDescent``) when ``SolverOptions/innerSolver`` is `nil`.
    public static let coordinateDescentThreshold = 64

    /// The solver `options.strategy` picks for this design.
    static func engine(
        design: CompressedDesign, cells: BinomialCells, penalty: Penalty,
        options: SolverOptions
    ) throws -> Engine {
        let wide: Bool
        switch options.strategy {
        case .automatic: wide = design.featureCount >= workingSetThreshold || design.isSparse
        case .full:
            if design.isSparse { throw LassoError.needsDenseDesign(what: "the full Newton strategy", features: design.featureCount) }
            wide = false
        case .workingSet: wide = true
        }
        if wide { return .workingSet(try WorkingSetSolver(design: design, cells: cells, penalty: penalty, options: options)) }
        return .full(try Solver(design: design, cells: cells, penalty: penalty, options: options))
    }

    /// A solver for one problem, whichever strategy was picked.
    enum Engine {
        case full(Solver)
        case workingSet(WorkingSetSolver)

        func solve(alpha: Double, warmStart: LassoFit?) throws -> LassoFit {
            switch self {
            case .full(let s): return try s.solve(alpha: alpha, warmStart: warmStart)
            case .workingSet(let s): return try s.solve(alpha: alpha, warmStart: warmStart)
            }
        }
    }

    /// Fits one alpha.
    ///
    /// - Parameters:
    ///   - alpha: penalty strength (>= 0) on `penalty.scale`.
    ///   - warmStart: a previous fit on the same design (e.g. the next larger alpha) to start from.
    public static func fit(
        design: CompressedDesign, cells: BinomialCells, alpha: Double,
        penalty: Penalty = Penalty(), options: SolverOptions = SolverOptions(),
        warmStart: LassoFit? = nil
    ) throws -> LassoFit {
        try engine(design: design, cells: cells, penalty: penalty, options: options).solve(alpha: alpha, warmStart: warmStart)
    }

    /// Fits a decreasing sequence of alphas with warm starts, returning one fit per alpha (same order).
    public static func path(
        design: CompressedDesign, cells: BinomialCells, alphas: [Double],
        penalty: Penalty = Penalty(), options: SolverOptions = SolverOptions()
    ) throws -> [LassoFit] {
        let solver = try engine(design: design, cells: cells, penalty: penalty, options: options)
        var fits: [LassoFit] = []
        fits.reserveCapacity(alphas.count)
        var previous: LassoFit?
        for a in alphas {
            let f = try solver.solve(alpha: a, warmStart: previous)
            fits.append(f)
            previous = f
        }
        return fits
    }

    /// Smallest alpha (on `penalty.scale`) at which every penalized feature coefficient is zero.
    ///
    /// With an unpenalized intercept this is glmnet's `lambda_max` (times the total weight on
    /// the sum scale); with a penalized intercept the intercept is zero there too.
    public static func alphaMax(design: CompressedDesign, cells: BinomialCells, penalty: Penalty = Penalty()) throws -> Double {
        let W = cells.totalWeight
        guard W > 0 else { throw LassoError.noData }
        let S = cells.totalSuccesses
        let scales = featureScales(design: design, cells: cells, penalty: penalty)
        let factors = try validatedFactors(penalty.factors, design: design).enumerated().map { $0.element * scales[$0.offset] }
        let mu = penalty.penalizeIntercept ? 0.5 : S / W
        var r = [Double](repeating: 0, count: design.stride)
        for k in 0..<design.patternCount { r[k] = cells.trials[k] * mu - cells.successes[k] }
        var best = penalty.penalizeIntercept ? abs(r.reduce(0, +)) : 0
        if let c = design.sparseColumns {
            r.withUnsafeBufferPointer { rp in
                for j in 0..<design.featureCount where factors[j] > 0 { best = max(best, abs(c.dot(j, rp.baseAddress!)) / factors[j]) }
            }
            return penalty.scale == .sum ? best : best / W
        }
        design.storage.withUnsafeBufferPointer { xs in
            r.withUnsafeBufferPointer { rp in
                for j in 0..<design.featureCount where factors[j] > 0 {
                    let g = Kernels.dot(rp.baseAddress!, xs.baseAddress! + j * design.stride, design.stride)
                    best = max(best, abs(g) / factors[j])
                }
            }
        }
        return penalty.scale == .sum ? best : best / W
    }

    /// A geometric grid of `count` alphas from `max` down to `max * minRatio` (glmnet's default grid).
    public static func geometricGrid(max: Double, count: Int, minRatio: Double) -> [Double] {
        precondition(count >= 1 && minRatio > 0 && minRatio <= 1 && max >= 0)
        if count == 1 { return [max] }
        return (0..<count).map { i in
            max * Double.exp(Double.log(minRatio) * Double(i) / Double(count - 1))
        }
    }

    /// Each feature's unit for the penalty and the KKT conditions: its weighted population SD
    /// under `cells` when `penalty.standardize` (1 for a constant feature), else 1.
    public static func featureScales(design: CompressedDesign, cells: BinomialCells, penalty: Penalty) -> [Double] {
        let p = design.featureCount
        guard penalty.standardize else { return [Double](repeating: 1, count: p) }
        let n = design.stride, m = design.patternCount
        let W = cells.totalWeight
        guard W > 0 else { return [Double](repeating: 1, count: p) }
        var scales = [Double](repeating: 1, count: p)
        if let c = design.sparseColumns {
            // The zero entries contribute (W - weight of the nonzeros) * mean^2 to the squares.
            for j in 0..<p {
                let entries = c.start[j]..<c.start[j + 1]
                if !penalty.standardizeIndicators && entries.allSatisfy({ c.value[$0] == 1 }) { continue }
                var sum = 0.0, mass = 0.0
                for e in entries {
                    let t = cells.trials[Int(c.pattern[e])]
                    sum += t * c.value[e]
                    mass += t
                }
                let mean = sum / W
                var squares = Swift.max(W - mass, 0) * mean * mean
                for e in entries {
                    let d = c.value[e] - mean
                    squares += cells.trials[Int(c.pattern[e])] * d * d
                }
                let sd = (squares / W).squareRoot()
                if sd > 0 && sd.isFinite { scales[j] = sd }
            }
            return scales
        }
        design.storage.withUnsafeBufferPointer { xs in
            cells.trials.withUnsafeBufferPointer { tp in
                for j in 0..<p {
                    let col = xs.baseAddress! + j * n
                    if !penalty.standardizeIndicators && (0..<m).allSatisfy({ col[$0] == 0 || col[$0] == 1 }) { continue }
                    // Two passes (mean, then squared deviations): no cancellation for uncentered columns.
                    var sum = 0.0
                    for k in 0..<m where tp[k] > 0 { sum += tp[k] * col[k] }
                    let mean = sum / W
                    var squares = 0.0
                    for k in 0..<m where tp[k] > 0 {
                        let d = col[k] - mean
                        squares += tp[k] * d * d
                    }
                    let sd = (squares / W).squareRoot()
                    if sd > 0 && sd.isFinite { scales[j] = sd }
                }
            }
        }
        return scales
    }

    static func validatedFactors(_ factors: [Double]?, design: CompressedDesign) throws -> [Double] {
        guard let f = factors else { return [Double](repeating: 1, count: design.featureCount) }
        guard f.count == design.featureCount else {
            throw LassoError.lengthMismatch(what: "penalty factors", expected: design.featureCount, found: f.count)
        }
        for (j, v) in f.enumerated() where !(v.isFinite && v >= 0) {
            throw LassoError.invalidPenaltyFactor(feature: design.featureNames[j], value: v)
        }
        return f
    }
}

/// One problem (design, cells, penalty) fitted at many alphas with one reused workspace:
/// what a cross-validation path needs, where a failure at one alpha must not stop the others.
///
/// Not thread-safe: use one per thread.
public final class PathFitter {
    let solver: LogisticLasso.Engine

    public init(design: CompressedDesign, cells: BinomialCells, penalty: Penalty = Penalty(), options: SolverOptions = SolverOptions()) throws {
        solver = try LogisticLasso.engine(design: design, cells: cells, penalty: penalty, options: options)
    }

    /// Fits one alpha, optionally warm-started.
    public func fit(alpha: Double, warmStart: LassoFit? = nil) throws -> LassoFit {
        try solver.solve(alpha: alpha, warmStart: warmStart)
    }
}

extension PathFitter {
    /// The unpenalized maximum-likelihood fit (alpha 0) from `start` (intercept first), with the
    /// solver's certificate: the debiased lasso's converged value on these cells, from a close
    /// start in a few Newton iterations.
    ///
    /// - Throws: ``LassoError`` as ``fit(alpha:warmStart:)``: `notIdentifiable` for a feature
    ///   constant over the weighted rows, `separation` when a coefficient diverges.
    public func maximumLikelihood(start: [Double]) throws -> LassoFit {
        let warm = LassoFit(
            alpha: 0, penalty: Penalty(), intercept: start[0], coefficients: Array(start.dropFirst()),
            objective: .nan, loss: .nan, kktViolation: .nan, iterations: 0, totalWeight: 0)
        return try fit(alpha: 0, warmStart: warm)
    }
}

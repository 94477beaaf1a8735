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

    public init(scale: PenaltyScale = .sum, penalizeIntercept: Bool = false, factors: [Double]? = nil) {
        self.scale = scale
        self.penalizeIntercept = penalizeIntercept
        self.factors = factors
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

    /// How the Hessian is accumulated: by sparse pattern rows when the design is sparse
    /// (binary indicators), by dense SIMD columns otherwise.
    public var hessian: HessianKernel

    /// Hessian accumulation strategy; results agree to rounding.
    public enum HessianKernel: Sendable, Equatable {
        /// Sparse rows when at most 35% of covariate values are nonzero, else dense SIMD.
        case automatic
        /// Dense column dot products with `SIMD8<Double>`: O(patterns * features^2).
        case dense
        /// Scattered accumulation over nonzero pairs of each pattern: O(sum of nnz^2).
        case sparse
    }

    public init(tolerance: Double = 1e-12, maxIterations: Int = 100, maxInnerSweeps: Int = 100_000,
                hessian: HessianKernel = .automatic) {
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
        var solver = try Solver(design: design, cells: cells, penalty: penalty, options: options)
        return try solver.solve(alpha: alpha, warmStart: warmStart)
    }

    /// Fits a decreasing sequence of alphas with warm starts, returning one fit per alpha (same order).
    public static func path(
        design: CompressedDesign, cells: BinomialCells, alphas: [Double],
        penalty: Penalty = Penalty(), options: SolverOptions = SolverOptions()
    ) throws -> [LassoFit] {
        var solver = try Solver(design: design, cells: cells, penalty: penalty, options: options)
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
        let factors = try validatedFactors(penalty.factors, design: design)
        let mu = penalty.penalizeIntercept ? 0.5 : S / W
        var r = [Double](repeating: 0, count: design.stride)
        for k in 0..<design.patternCount { r[k] = cells.trials[k] * mu - cells.successes[k] }
        var best = penalty.penalizeIntercept ? abs(r.reduce(0, +)) : 0
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

/// Workspace for repeated fits on one (design, cells, penalty): allocated once, reused per alpha.
struct Solver {
    let design: CompressedDesign
    let cells: BinomialCells
    let penalty: Penalty
    let options: SolverOptions
    let factors: [Double]
    let p: Int, q: Int, m: Int, n: Int
    let W: Double
    /// Coordinates (0 = intercept) pinned at zero because a constant column adds nothing.
    var pinned: [Bool]
    /// Constant value of each feature column, if constant over weighted patterns.
    let constantValue: [Double?]
    let maxAbs: [Double]
    var eta: [Double], mu: [Double], deta: [Double]
    var r: [Double], v: [Double], vx: [Double]
    var H: [Double], g: [Double], gq: [Double], d: [Double], lam: [Double]
    var beta: [Double], trial: [Double]

    init(design: CompressedDesign, cells: BinomialCells, penalty: Penalty, options: SolverOptions) throws {
        self.design = design
        self.cells = cells
        self.penalty = penalty
        self.options = options
        p = design.featureCount
        q = p + 1
        m = design.patternCount
        n = design.stride
        precondition(cells.trials.count == n, "cells must come from this design")
        factors = try LogisticLasso.validatedFactors(penalty.factors, design: design)
        W = cells.totalWeight
        guard W > 0 else { throw LassoError.noData }
        let S = cells.totalSuccesses
        if S <= 0 { throw LassoError.constantOutcome(value: 0) }
        if S >= W { throw LassoError.constantOutcome(value: 1) }
        var constantValue = [Double?](repeating: nil, count: p)
        var maxAbs = [Double](repeating: 0, count: p)
        let (m, n, p) = (self.m, self.n, self.p)
        design.storage.withUnsafeBufferPointer { xs in
            cells.trials.withUnsafeBufferPointer { t in
                guard let firstActive = (0..<m).first(where: { t[$0] > 0 }) else { return }
                for j in 0..<p {
                    let col = xs.baseAddress! + j * n
                    let first = col[firstActive]
                    var constant = true
                    var largest = 0.0
                    for k in 0..<m where t[k] > 0 {
                        let x = col[k]
                        largest = max(largest, abs(x))
                        constant = constant && x == first
                    }
                    maxAbs[j] = largest
                    if constant { constantValue[j] = first }
                }
            }
        }
        self.constantValue = constantValue
        self.maxAbs = maxAbs
        pinned = [Bool](repeating: false, count: q)
        eta = [Double](repeating: 0, count: n)
        mu = eta; deta = eta; r = eta; v = eta; vx = eta
        H = [Double](repeating: 0, count: q * q)
        g = [Double](repeating: 0, count: q)
        gq = g; d = g; lam = g; beta = g; trial = g
    }

    mutating func solve(alpha: Double, warmStart: LassoFit?) throws -> LassoFit {
        guard alpha.isFinite, alpha >= 0 else { throw LassoError.invalidAlpha(alpha) }
        let lambda = penalty.scale == .sum ? alpha : alpha * W
        lam[0] = penalty.penalizeIntercept ? lambda : 0
        for j in 0..<p { lam[j + 1] = lambda * factors[j] }
        try pinConstantColumns()

        if let w = warmStart {
            guard w.coefficients.count == p else { throw LassoError.warmStartMismatch(expected: p, found: w.coefficients.count) }
            beta[0] = w.intercept
            for j in 0..<p { beta[j + 1] = w.coefficients[j] }
        } else {
            for j in 0..<q { beta[j] = 0 }
            if !penalty.penalizeIntercept {
                let ybar = cells.totalSuccesses / W
                beta[0] = Double.log(ybar / (1 - ybar))
            }
        }
        for j in 0..<q where pinned[j] { beta[j] = 0 }

        let tol = options.tolerance
        let separationWatch = (1..<q).contains { lam[$0] == 0 && !pinned[$0] }
        computeEtaAndEvaluate()
        var kkt = Double.infinity
        var iteration = 0
        while true {
            computeGradient()
            kkt = kktViolation()
            if kkt <= tol { break }
            if iteration >= options.maxIterations {
                throw LassoError.notConverged(iterations: iteration, kktViolation: kkt, tolerance: tol)
            }
            if separationWatch { try checkSeparation() }
            iteration += 1
            computeHessian()
            solveSubproblem(kkt: kkt)
            // Predicted decrease of the model (newGLMNET's Delta).
            var delta = 0.0
            for j in 0..<q { delta += g[j] * d[j] + lam[j] * (abs(beta[j] + d[j]) - abs(beta[j])) }
            computeDirectionEta()
            var step = 1.0
            var accepted = false
            for _ in 0..<60 {
                var penaltyChange = 0.0
                for j in 0..<q {
                    trial[j] = beta[j] + step * d[j]
                    penaltyChange += lam[j] * (abs(trial[j]) - abs(beta[j]))
                }
                let change = lossChange(step: step) + penaltyChange
                if change <= 1e-4 * step * min(delta, 0) {
                    accepted = true
                    break
                }
                step *= 0.5
            }
            if !accepted {
                // No descent possible at working precision: the KKT check decides.
                if kkt <= tol { break }
                throw LassoError.notConverged(iterations: iteration, kktViolation: kkt, tolerance: tol)
            }
            swap(&beta, &trial)
            advanceEta(step: step)
            evaluateAtEta()
        }
        let loss = currentLoss()
        let objective = loss + penaltyValue(beta)
        return LassoFit(
            alpha: alpha, penalty: penalty, intercept: beta[0], coefficients: Array(beta[1...]),
            objective: penalty.scale == .sum ? objective : objective / W,
            loss: loss, kktViolation: kkt, iterations: iteration, totalWeight: W
        )
    }

    /// Pins coefficients of constant columns at zero where the intercept makes them redundant.
    mutating func pinConstantColumns() throws {
        for j in 0..<p {
            pinned[j + 1] = false
            guard let c = constantValue[j] else { continue }
            let name = design.featureNames[j]
            if c == 0 {
                if lam[j + 1] == 0 { throw LassoError.notIdentifiable(feature: name, reason: "it is 0 in every observation with positive weight") }
                pinned[j + 1] = true
            } else if lam[0] == 0 {
                if lam[j + 1] == 0 { throw LassoError.notIdentifiable(feature: name, reason: "it is constant (\(c)) like the intercept") }
                pinned[j + 1] = true
            }
        }
    }

    func penaltyValue(_ b: [Double]) -> Double {
        var s = 0.0
        for j in 0..<q where lam[j] != 0 { s += lam[j] * abs(b[j]) }
        return s
    }

    mutating func computeEtaAndEvaluate() {
        let b0 = beta[0]
        design.storage.withUnsafeBufferPointer { xs in
            eta.withUnsafeMutableBufferPointer { e in
                Kernels.fill(b0, e.baseAddress!, n)
                for j in 0..<p where beta[j + 1] != 0 {
                    Kernels.axpy(beta[j + 1], xs.baseAddress! + j * n, e.baseAddress!, n)
                }
            }
        }
        evaluateAtEta()
    }

    /// Loss at the current `eta`.
    func currentLoss() -> Double {
        eta.withUnsafeBufferPointer { e in
            cells.successes.withUnsafeBufferPointer { s in
                cells.trials.withUnsafeBufferPointer { t in
                    Kernels.loss(eta: e.baseAddress!, s: s.baseAddress!, t: t.baseAddress!, m)
                }
            }
        }
    }

    mutating func evaluateAtEta() {
        let m = self.m
        cells.successes.withUnsafeBufferPointer { s in
            cells.trials.withUnsafeBufferPointer { t in
                eta.withUnsafeBufferPointer { e in
                    r.withUnsafeMutableBufferPointer { rp in
                        v.withUnsafeMutableBufferPointer { vp in
                            mu.withUnsafeMutableBufferPointer { mp in
                                Kernels.evaluate(eta: e.baseAddress!, s: s.baseAddress!, t: t.baseAddress!, mu: mp.baseAddress!,
                                                 residual: rp.baseAddress!, weight: vp.baseAddress!, m)
                            }
                        }
                    }
                }
            }
        }
    }

    mutating func computeGradient() {
        let n = self.n
        design.storage.withUnsafeBufferPointer { xs in
            r.withUnsafeBufferPointer { rp in
                g[0] = Kernels.sum(rp.baseAddress!, n)
                for j in 0..<p { g[j + 1] = Kernels.dot(rp.baseAddress!, xs.baseAddress! + j * n, n) }
            }
        }
    }

    func kktViolation() -> Double {
        var worst = 0.0
        for j in 0..<q {
            let viol: Double
            if lam[j] == 0 {
                viol = abs(g[j])
            } else if beta[j] == 0 {
                viol = max(0, abs(g[j]) - lam[j])
            } else {
                viol = abs(g[j] + (beta[j] > 0 ? lam[j] : -lam[j]))
            }
            worst = max(worst, viol)
        }
        return worst / W
    }

    func checkSeparation() throws {
        var diverging: [String] = []
        if lam[0] == 0 && abs(beta[0]) > LogisticLasso.separationThreshold { diverging.append("const") }
        for j in 0..<p where lam[j + 1] == 0 && abs(beta[j + 1]) * maxAbs[j] > LogisticLasso.separationThreshold {
            diverging.append(design.featureNames[j])
        }
        if diverging.contains(where: { $0 != "const" }) { throw LassoError.separation(features: diverging) }
    }

    mutating func computeHessian() {
        let sparse: Bool
        switch options.hessian {
        case .automatic: sparse = design.density <= 0.35
        case .dense: sparse = false
        case .sparse: sparse = true
        }
        if sparse { computeSparseHessian() } else { computeDenseHessian() }
    }

    /// H = X~' V X~ accumulated over the nonzero pairs of each pattern (upper triangle, then mirrored).
    mutating func computeSparseHessian() {
        let q = self.q, m = self.m
        design.sparseStart.withUnsafeBufferPointer { start in
            design.sparseFeature.withUnsafeBufferPointer { feature in
                design.sparseValue.withUnsafeBufferPointer { value in
                    v.withUnsafeBufferPointer { vp in
                        H.withUnsafeMutableBufferPointer { h in
                            for i in 0..<(q * q) { h[i] = 0 }
                            h[0] = Kernels.sum(vp.baseAddress!, n)
                            for k in 0..<m {
                                let vk = vp[k]
                                if vk == 0 { continue }
                                let lo = Int(start[k]), hi = Int(start[k + 1])
                                for a in lo..<hi {
                                    let ja = Int(feature[a]) + 1
                                    let vxa = vk * value[a]
                                    h[ja] += vxa
                                    let row = ja * q
                                    for b in a..<hi {
                                        h[row + Int(feature[b]) + 1] += vxa * value[b]
                                    }
                                }
                            }
                            for a in 1..<q {
                                h[a * q] = h[a]
                                for b in (a + 1)..<max(a + 1, q) { h[b * q + a] = h[a * q + b] }
                            }
                        }
                    }
                }
            }
        }
    }

    mutating func computeDenseHessian() {
        let n = self.n, q = self.q
        design.storage.withUnsafeBufferPointer { xs in
            v.withUnsafeBufferPointer { vp in
                vx.withUnsafeMutableBufferPointer { vxp in
                    H.withUnsafeMutableBufferPointer { h in
                        h[0] = Kernels.sum(vp.baseAddress!, n)
                        let x = xs.baseAddress!
                        for j in 0..<p where !pinned[j + 1] {
                            let xj = x + j * n
                            Kernels.multiply(vp.baseAddress!, xj, vxp.baseAddress!, n)
                            let h0j = Kernels.sum(vxp.baseAddress!, n)
                            h[j + 1] = h0j
                            h[(j + 1) * q] = h0j
                            for l in j..<p where !pinned[l + 1] {
                                let hjl = Kernels.dot(vxp.baseAddress!, x + l * n, n)
                                h[(j + 1) * q + l + 1] = hjl
                                h[(l + 1) * q + j + 1] = hjl
                            }
                        }
                    }
                }
            }
        }
    }

    /// Minimizes `g.d + d'Hd/2 + sum lam_j |beta_j + d_j|` by cyclic coordinate descent.
    mutating func solveSubproblem(kkt: Double) {
        let q = self.q
        for j in 0..<q { d[j] = 0; gq[j] = g[j] }
        let innerTol = max(1e-3 * options.tolerance, 1e-17) * W
        H.withUnsafeBufferPointer { h in
            for _ in 0..<options.maxInnerSweeps {
                var maxChange = 0.0
                for j in 0..<q where !pinned[j] {
                    let a = h[j * q + j]
                    if !(a > 0) { continue }
                    let u = beta[j] + d[j]
                    let z = a * u - gq[j]
                    let l = lam[j]
                    let unew = z > l ? (z - l) / a : (z < -l ? (z + l) / a : 0)
                    let delta = unew - u
                    if delta != 0 {
                        d[j] += delta
                        for k in 0..<q { gq[k] += h[k * q + j] * delta }
                        maxChange = max(maxChange, abs(a * delta))
                    }
                }
                if maxChange <= innerTol { break }
            }
        }
    }

    mutating func computeDirectionEta() {
        let n = self.n
        let d0 = d[0]
        design.storage.withUnsafeBufferPointer { xs in
            deta.withUnsafeMutableBufferPointer { dp in
                Kernels.fill(d0, dp.baseAddress!, n)
                for j in 0..<p where d[j + 1] != 0 {
                    Kernels.axpy(d[j + 1], xs.baseAddress! + j * n, dp.baseAddress!, n)
                }
            }
        }
    }

    /// Loss change for `eta + step * deta` (accurate for tiny steps).
    func lossChange(step: Double) -> Double {
        mu.withUnsafeBufferPointer { mp in
            deta.withUnsafeBufferPointer { dp in
                cells.successes.withUnsafeBufferPointer { s in
                    cells.trials.withUnsafeBufferPointer { t in
                        Kernels.lossChange(mu: mp.baseAddress!, deta: dp.baseAddress!, step: step,
                                           s: s.baseAddress!, t: t.baseAddress!, m)
                    }
                }
            }
        }
    }

    /// `eta += step * deta` (SIMD).
    mutating func advanceEta(step: Double) {
        let n = self.n
        deta.withUnsafeBufferPointer { dp in
            eta.withUnsafeMutableBufferPointer { e in
                Kernels.axpy(step, dp.baseAddress!, e.baseAddress!, n)
            }
        }
    }
}

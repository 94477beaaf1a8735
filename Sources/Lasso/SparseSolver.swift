import RealModule

/// Proximal Newton on compressed sparse columns, each quadratic model solved by Hessian-free
/// coordinate descent whose column passes read only the column's nonzero entries.
///
/// This is the restricted problem of a large working set on a sparse design (one-hot
/// indicators). Held densely, a set of 3,000 indicators over 10,000 rows is 3e7 values that
/// every sweep reads, against about 4e4 nonzeros here. The iteration is the dense ``Solver``'s:
/// the exact gradient and KKT certificate every iteration, the Taylor-bound unit step, else
/// backtracking on the exact loss change. The model is solved as in
/// ``Solver/solveModelByCoordinates(kkt:)``, with the intercept eliminated (every feature step
/// moves it optimally); `X d` is held as its features' part `u` plus the intercept's shift, so
/// that a coordinate step costs its column's nonzeros and never a pass over the patterns.
final class SparseSolver {
    let columns: SparseColumns
    let featureNames: [String]
    let penalty: Penalty
    let options: SolverOptions
    let p: Int, q: Int, m: Int, n: Int
    let W: Double, S: Double
    /// Penalty factor times penalty unit per feature, and 1 / unit.
    let factors: [Double], inverseScales: [Double]
    /// Constant value of each column over the patterns (all have weight), if constant.
    let constantValue: [Double?]
    /// Coordinate-descent sweeps over all fits (diagnostics).
    private(set) var sweeps = 0

    // Pattern vectors (n each; padding has t = s = 0).
    private let t: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>
    private let eta: UnsafeMutablePointer<Double>, deta: UnsafeMutablePointer<Double>
    private let mu: UnsafeMutablePointer<Double>, omu: UnsafeMutablePointer<Double>
    private let r: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>
    /// The features' part of the model step, `sum_j x_j d_j`.
    private let u: UnsafeMutablePointer<Double>
    // Coefficient space (q each, intercept first).
    private let beta: UnsafeMutablePointer<Double>, d: UnsafeMutablePointer<Double>, g: UnsafeMutablePointer<Double>
    private let lam: UnsafeMutablePointer<Double>, trial: UnsafeMutablePointer<Double>
    /// Per coordinate: the model's curvature (intercept eliminated), `1' V x / 1' V 1`, and `1' V x`.
    private let curvature: UnsafeMutablePointer<Double>, center: UnsafeMutablePointer<Double>
    private let mass: UnsafeMutablePointer<Double>
    private let pinned: UnsafeMutablePointer<Bool>
    private let active: UnsafeMutablePointer<Int>
    private let block: UnsafeMutablePointer<Double>

    /// - Parameters:
    ///   - columns: the features over `patternCount` patterns, every one of them with weight.
    ///   - factors: per feature, penalty factor times penalty unit (the caller's, so the
    ///     restricted problem is penalized exactly like the whole one); `scales` the units.
    init(
        featureNames: [String], columns: SparseColumns, patternCount: Int, successes: [Double], trials: [Double],
        penalty: Penalty, factors: [Double], scales: [Double], options: SolverOptions
    ) throws {
        self.columns = columns
        self.featureNames = featureNames
        self.penalty = penalty
        self.options = options
        self.factors = factors
        inverseScales = scales.map { 1 / $0 }
        p = featureNames.count
        q = p + 1
        m = patternCount
        n = Kernels.paddedLength(m)
        precondition(columns.start.count == p + 1 && successes.count == m && trials.count == m, "one column per feature, one cell per pattern")
        W = Kernels.total(trials)
        guard W > 0 else { throw LassoError.noData }
        S = Kernels.total(successes)
        if S <= 0 { throw LassoError.constantOutcome(value: 0) }
        if S >= W { throw LassoError.constantOutcome(value: 1) }
        var constant = [Double?](repeating: nil, count: p)
        for j in 0..<p {
            let lo = columns.start[j], hi = columns.start[j + 1]
            if lo == hi {
                constant[j] = 0
            } else if hi - lo == m, columns.value[lo..<hi].allSatisfy({ $0 == columns.value[lo] }) {
                constant[j] = columns.value[lo]
            }
        }
        constantValue = constant
        let (n, q) = (self.n, self.q)
        block = .allocate(capacity: 9 * n + 8 * q)
        block.initialize(repeating: 0, count: 9 * n + 8 * q)
        t = block; s = block + n; eta = block + 2 * n; deta = block + 3 * n
        mu = block + 4 * n; omu = block + 5 * n; r = block + 6 * n; v = block + 7 * n; u = block + 8 * n
        let c = block + 9 * n
        beta = c; d = c + q; g = c + 2 * q; lam = c + 3 * q; trial = c + 4 * q
        curvature = c + 5 * q; center = c + 6 * q; mass = c + 7 * q
        for k in 0..<m {
            t[k] = trials[k]
            s[k] = successes[k]
        }
        pinned = .allocate(capacity: q)
        pinned.initialize(repeating: false, count: q)
        active = .allocate(capacity: q)
    }

    deinit {
        block.deallocate()
        pinned.deallocate()
        active.deallocate()
    }

    /// Which inner solver the Newton iterations use (for the fit's report).
    var innerSolver: InnerSolver { .coordinateDescent }

    /// The lasso fit at `alpha`, certified by its KKT violation (``SolverOptions/tolerance``).
    func solve(alpha: Double, warmStart: LassoFit?) throws -> LassoFit {
        guard alpha.isFinite, alpha >= 0 else { throw LassoError.invalidAlpha(alpha) }
        let lambda = penalty.scale == .sum ? alpha : alpha * W
        lam[0] = penalty.penalizeIntercept ? lambda : 0
        for j in 0..<p { lam[j + 1] = lambda * factors[j] }
        for j in 0..<q { pinned[j] = false }
        for j in try Solver.pinnedColumns(constant: constantValue, lam: lam, names: featureNames) { pinned[j + 1] = true }
        let tol = options.tolerance
        if let w = warmStart {
            guard w.coefficients.count == p else { throw LassoError.warmStartMismatch(expected: p, found: w.coefficients.count) }
            beta[0] = w.intercept
            for j in 0..<p { beta[j + 1] = pinned[j + 1] ? 0 : w.coefficients[j] }
            _ = linearPredictor(beta, into: eta, weights: nil)
            evaluate(step: nil)
        } else {
            coldStart()
        }
        var kkt = Double.infinity
        var iteration = 0
        while true {
            computeGradient()
            kkt = Solver.kktViolation(g: g, beta: beta, lam: lam, inverseScales: inverseScales, q: q, W: W)
            if kkt <= tol { break }
            if iteration >= options.maxIterations {
                throw LassoError.notConverged(iterations: iteration, kktViolation: kkt, tolerance: tol)
            }
            iteration += 1
            solveModel(kkt: kkt)
            let delta = Solver.linearChange(beta: beta, d: d, g: g, lam: lam, q: q, step: 1, gradient: true)
            let summary = linearPredictor(d, into: deta, weights: v)
            guard
                let step = Solver.acceptStep(
                    delta: delta, summary: summary, beta: beta, d: d, trial: trial, q: q,
                    change: {
                        Kernels.lossChange(mu: mu, omu: omu, deta: deta, step: $0, s: s, t: t, n)
                            + Solver.linearChange(beta: beta, d: d, g: g, lam: lam, q: q, step: $0, gradient: false)
                    })
            else {
                throw LassoError.notConverged(iterations: iteration, kktViolation: kkt, tolerance: tol)
            }
            for j in 0..<q { beta[j] = trial[j] }
            if step * summary.maxAbs <= 1e-4 {
                Kernels.evaluateTaylor(eta: eta, deta: deta, step: step, t: t, s: s, mu: mu, omu: omu, r: r, v: v, n)
            } else {
                evaluate(step: step)
            }
        }
        let loss = options.computeObjective ? Kernels.loss(eta: eta, mu: mu, omu: omu, s: s, t: t, n) : .nan
        return Solver.fit(alpha: alpha, penalty: penalty, beta: beta, lam: lam, q: q, loss: loss, kkt: kkt, iterations: iteration, W: W)
    }

    /// Without a warm start: the null model if it is optimal, else one model step from the
    /// smoothed saturated logits (as ``Solver/coldStart()``).
    private func coldStart() {
        for j in 0..<q { beta[j] = 0 }
        let ybar = S / W
        if !penalty.penalizeIntercept { beta[0] = Double.log(ybar / (1 - ybar)) }
        _ = linearPredictor(beta, into: eta, weights: nil)
        evaluate(step: nil)
        computeGradient()
        if Solver.kktViolation(g: g, beta: beta, lam: lam, inverseScales: inverseScales, q: q, W: W) <= options.tolerance { return }
        Kernels.saturatedQuadratic(t: t, s: s, v: v, r: r, n)
        computeGradient()
        for j in 0..<q { beta[j] = 0 }
        solveModel(kkt: Solver.kktViolation(g: g, beta: beta, lam: lam, inverseScales: inverseScales, q: q, W: W))
        for j in 0..<q { beta[j] = pinned[j] ? 0 : d[j] }
        _ = linearPredictor(beta, into: eta, weights: nil)
        evaluate(step: nil)
    }

    private func evaluate(step: Double?) {
        Kernels.evaluate(eta: eta, deta: deta, step: step, t: t, s: s, mu: mu, omu: omu, r: r, v: v, n)
    }

    /// `g = X~' r` (intercept first).
    private func computeGradient() {
        g[0] = Kernels.sum(r, n)
        for j in 0..<p { g[j + 1] = columns.dot(j, r) }
    }

    /// `out = X~ c` over the patterns (padding 0); with `weights`, the step summary
    /// (max |out|, sum v out^2, sum v |out|^3) the unit-step bound needs.
    private func linearPredictor(
        _ c: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Double>, weights: UnsafeMutablePointer<Double>?
    ) -> Kernels.LinearSummary {
        for k in 0..<m { out[k] = c[0] }
        for k in m..<n { out[k] = 0 }
        for j in 0..<p where c[j + 1] != 0 { columns.addColumn(j, times: c[j + 1], to: out) }
        var summary = Kernels.LinearSummary()
        for k in 0..<m {
            let a = Swift.abs(out[k])
            summary.maxAbs = max(summary.maxAbs, a)
            if let w = weights {
                let x = w[k] * a * a
                summary.quadratic += x
                summary.cubic += x * a
            }
        }
        return summary
    }

    /// Minimizes the model `g.d + d'X~'VX~d/2 + sum lam_j |beta_j + d_j|` into `d` by cyclic
    /// coordinate descent, to the inner tolerance of ``Solver/solveModelByCoordinates(kkt:)``:
    /// full sweeps alternate with sweeps over the nonzero coordinates until a full sweep finds
    /// no coordinate violating. `X~ d = d_0 + u`; with the intercept eliminated its model
    /// gradient `g_0 + 1'V u + d_0 1'V1` stays zero, so `d_0` follows every feature step.
    private func solveModel(kkt: Double) {
        let target = max(0.1 * options.tolerance, kkt * min(0.1, kkt * 1e3)) * W
        for j in 0..<q { d[j] = 0 }
        for k in 0..<n { u[k] = 0 }
        let h00 = Kernels.sum(v, n)
        let eliminate = lam[0] == 0 && h00 > 0
        d[0] = eliminate ? -g[0] / h00 : 0
        curvature[0] = h00
        // 1' V u, kept as u changes.
        var vu = 0.0
        let start = columns.start, pattern = columns.pattern, value = columns.value
        for j in 1..<q {
            center[j] = 0
            mass[j] = 0
            if pinned[j] {
                curvature[j] = 0
                continue
            }
            var c = 0.0, a = 0.0
            for e in start[j - 1]..<start[j] {
                let vx = v[Int(pattern[e])] * value[e]
                c += vx
                a += vx * value[e]
            }
            mass[j] = c
            center[j] = eliminate ? c / h00 : 0
            curvature[j] = eliminate ? a - c * c / h00 : a
        }
        // One coordinate step; returns the coordinate's violation before it (penalty units).
        func visit(_ j: Int) -> Double {
            let a = curvature[j]
            var grad: Double
            if j == 0 {
                grad = g[0] + vu + d[0] * h00
            } else {
                grad = g[j] + d[0] * mass[j]
                for e in start[j - 1]..<start[j] {
                    let k = Int(pattern[e])
                    grad += v[k] * value[e] * u[k]
                }
            }
            let (violation, delta) = Solver.coordinateStep(gradient: grad, at: beta[j] + d[j], lambda: lam[j], curvature: a)
            guard violation > 0 else { return 0 }
            if delta != 0 {
                d[j] += delta
                if j > 0 {
                    for e in start[j - 1]..<start[j] { u[Int(pattern[e])] += delta * value[e] }
                    vu += delta * mass[j]
                    if eliminate { d[0] -= center[j] * delta }
                }
            }
            return j == 0 ? violation : violation * inverseScales[j - 1]
        }
        let first = eliminate ? 1 : 0
        var count = 0
        let maxSweeps = options.maxInnerSweeps
        var sweep = 0
        while sweep < maxSweeps {
            var worst = 0.0
            for j in first..<q where !pinned[j] { worst = max(worst, visit(j)) }
            sweep += 1
            if worst <= target { break }
            count = 0
            for j in first..<q where !pinned[j] && (lam[j] == 0 || beta[j] + d[j] != 0) {
                active[count] = j
                count += 1
            }
            while sweep < maxSweeps {
                var worstActive = 0.0
                for i in 0..<count { worstActive = max(worstActive, visit(active[i])) }
                sweep += 1
                if worstActive <= 0.5 * target { break }
            }
        }
        sweeps += sweep
    }
}

/// A solver of a working set's restricted problem: the dense ``Solver`` or the ``SparseSolver``.
protocol RestrictedSolver: AnyObject {
    /// The restricted problem's fit at `alpha` (coefficients in the set's order).
    func solve(alpha: Double, warmStart: LassoFit?) throws -> LassoFit
    /// How the fit's quadratic models were solved.
    var innerSolver: InnerSolver { get }
}

extension Solver: RestrictedSolver {}
extension SparseSolver: RestrictedSolver {}

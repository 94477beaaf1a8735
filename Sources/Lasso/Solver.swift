import RealModule

/// Workspace for repeated fits on one (design, cells, penalty): allocated once, reused per alpha.
///
/// Pattern vectors live in the ``SolverLayout``'s internal order, in one allocation; no
/// iteration allocates. Without a warm start the iteration starts from one proximal Newton step
/// of the quadratic model at the saturated model (see ``coldStart()``). Each proximal Newton
/// iteration then takes
/// 1. the gradient `X' r`, exact: it certifies the KKT conditions;
/// 2. the Hessian `X' V X` (dense, sparse or blocked kernel), unless the previous one is close
///    enough to finish from here (``reuseHessian(kkt:drift:)``);
/// 3. the L1 quadratic model solved exactly: an active-set Cholesky solve on the current signs,
///    verified, else coordinate descent until the signs settle (a working set's large restricted
///    problems skip step 2 and solve the model by Hessian-free coordinate descent instead, see
///    ``solveModelByCoordinates(kkt:)``);
/// 4. the unit step if a rigorous bound on the logistic loss (its Taylor expansion with the
///    third-order remainder bounded through |f'''| <= f'') proves the Armijo decrease, else a
///    backtracking line search on the exact loss change `log1p(mu * expm1(x))`;
/// 5. probabilities and weights at the new point: one vectorized `exp` per pattern, or for steps
///    below 1e-4 their third-order Taylor update (as accurate, no `exp`).
final class Solver {
    typealias V = SIMD8<Double>

    enum HessianPath { case dense, sparse, blocked }

    let design: CompressedDesign
    let layout: SolverLayout
    let cells: BinomialCells
    let penalty: Penalty
    let options: SolverOptions
    let factors: [Double]
    /// 1 / each feature's penalty unit (``LogisticLasso/featureScales(design:cells:penalty:)``):
    /// KKT violations are measured in those units.
    let inverseScales: [Double]
    let p: Int, q: Int, m: Int, n: Int
    /// Total weight and total weight of successes.
    let W: Double, S: Double
    let hessianPath: HessianPath
    /// Constant value of each feature column, if constant over weighted patterns.
    let constantValue: [Double?]
    var maxAbsCache: [Double]?

    // Pattern vectors (n each, internal order).
    let t: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>
    let eta: UnsafeMutablePointer<Double>, deta: UnsafeMutablePointer<Double>
    let mu: UnsafeMutablePointer<Double>, omu: UnsafeMutablePointer<Double>
    let r: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>
    /// Weights in design order (dense and sparse kernels on a re-ordered layout), and scratch.
    let vDesign: UnsafeMutablePointer<Double>, vx: UnsafeMutablePointer<Double>
    // Coefficient space.
    let H: UnsafeMutablePointer<Double>, chol: UnsafeMutablePointer<Double>
    /// The Hessian with the unpenalized intercept eliminated (Schur complement): coordinate
    /// descent on it moves the intercept optimally with every feature, i.e. on centered features.
    let reduced: UnsafeMutablePointer<Double>
    let g: UnsafeMutablePointer<Double>, gq: UnsafeMutablePointer<Double>, d: UnsafeMutablePointer<Double>
    let lam: UnsafeMutablePointer<Double>, beta: UnsafeMutablePointer<Double>, trial: UnsafeMutablePointer<Double>
    let dPolish: UnsafeMutablePointer<Double>, rhs: UnsafeMutablePointer<Double>
    let sign: UnsafeMutablePointer<Double>
    let active: UnsafeMutablePointer<Int>
    let pinned: UnsafeMutablePointer<Bool>
    // Group and chunk space.
    let groupSum: UnsafeMutablePointer<Double>, groupRows: UnsafeMutablePointer<Double>
    let total: UnsafeMutablePointer<Double>, rowScratch: UnsafeMutablePointer<Double>
    let tables: UnsafeMutablePointer<Double>, codeSums: UnsafeMutablePointer<Double>
    let pairScratch: UnsafeMutablePointer<V>
    let tableOffset: [Int], codeOffset: [Int]
    private let block: UnsafeMutablePointer<Double>
    /// Present when the quadratic models are solved Hessian-free (``solveModelByCoordinates(kkt:)``).
    let coordinateWorkspace: CoordinateWorkspace?

    /// - Parameter hessianFree: solve the quadratic models by Hessian-free coordinate descent
    ///   (the design must satisfy ``supportsCoordinateModel(_:)``); no Hessian is ever allocated.
    init(design: CompressedDesign, cells: BinomialCells, penalty: Penalty, options: SolverOptions, hessianFree: Bool = false) throws {
        if design.isSparse { throw LassoError.needsDenseDesign(what: "the full Newton solver", features: design.featureCount) }
        self.design = design
        self.layout = design.layout
        self.cells = cells
        self.penalty = penalty
        self.options = options
        p = design.featureCount
        q = p + 1
        m = design.patternCount
        n = design.stride
        precondition(cells.trials.count == n, "cells must come from this design")
        let scales = LogisticLasso.featureScales(design: design, cells: cells, penalty: penalty)
        factors = try LogisticLasso.validatedFactors(penalty.factors, design: design).enumerated().map { $0.element * scales[$0.offset] }
        inverseScales = scales.map { 1 / $0 }
        W = cells.totalWeight
        guard W > 0 else { throw LassoError.noData }
        S = cells.totalSuccesses
        if S <= 0 { throw LassoError.constantOutcome(value: 0) }
        if S >= W { throw LassoError.constantOutcome(value: 1) }
        let (m, n, p, q) = (self.m, self.n, self.p, self.q)
        precondition(!hessianFree || (layout.chunkCount == 0 && layout.identity), "Hessian-free needs dense columns in design order")
        coordinateWorkspace = hessianFree ? CoordinateWorkspace(n: n, q: q) : nil
        let square = hessianFree ? 0 : q * q

        // Constant columns over weighted patterns: stop at the first differing value (usually
        // the design's first differing pattern, when it and pattern 0 have weight).
        var constantValue = [Double?](repeating: nil, count: p)
        design.storage.withUnsafeBufferPointer { xs in
            cells.trials.withUnsafeBufferPointer { tp in
                guard let firstActive = (0..<m).first(where: { tp[$0] > 0 }) else { return }
                for j in 0..<p {
                    let col = xs.baseAddress! + j * n
                    let first = col[firstActive]
                    let witness = Int(design.firstDifferent[j])
                    if witness < 0 { constantValue[j] = first; continue }
                    if firstActive == 0 && tp[witness] > 0 { continue }
                    var constant = true
                    for k in firstActive..<m where tp[k] > 0 && col[k] != first { constant = false; break }
                    if constant { constantValue[j] = first }
                }
            }
        }
        self.constantValue = constantValue

        switch options.hessian {
        case .dense: hessianPath = .dense
        case .sparse: hessianPath = .sparse
        case .blocked: hessianPath = layout.chunkCount > 0 ? .blocked : .dense
        case .automatic:
            let cost = layout.hessianCosts()
            if cost.blocked <= min(cost.dense, cost.sparse) {
                hessianPath = .blocked
            } else {
                hessianPath = design.density <= CompressedDesign.sparseDensity ? .sparse : .dense
            }
        }

        // One allocation for every Double buffer.
        var offsets: [Int] = []
        var tableOffset: [Int] = [], codeOffset: [Int] = []
        var tableTotal = 0, codeTotal = 0
        for c in 0..<layout.chunkCount {
            tableOffset.append(tableTotal)
            codeOffset.append(codeTotal)
            tableTotal += (1 << layout.chunks[c].count) * layout.tableWidth(c)
            codeTotal += 1 << layout.chunks[c].count
        }
        self.tableOffset = tableOffset
        self.codeOffset = codeOffset
        let G = layout.groupCount
        let maxTableWidth = layout.chunkCount > 0 ? layout.tableWidth(0) : 0
        let sizes = [
            n, n, n, n, n, n, n, n,  // t s eta deta mu omu r v
            layout.identity ? 0 : n, n,  // vDesign vx
            square, square, square,  // H chol reduced
            q, q, q, q, q, q, q, q, q,  // g gq d lam beta trial dPolish rhs sign
            G, G * layout.rowWidth, layout.rowWidth, 8 * max(maxTableWidth, 8), tableTotal, codeTotal, 64,
        ]
        var total = 0
        for size in sizes {
            offsets.append(total)
            total += (size + 7) / 8 * 8  // keep every buffer 64-byte aligned
        }
        block = UnsafeMutablePointer<Double>.allocate(capacity: max(total, 8))
        let b = block
        t = b + offsets[0]; s = b + offsets[1]; eta = b + offsets[2]; deta = b + offsets[3]
        mu = b + offsets[4]; omu = b + offsets[5]; r = b + offsets[6]; v = b + offsets[7]
        vDesign = layout.identity ? v : b + offsets[8]
        vx = b + offsets[9]
        H = b + offsets[10]; chol = b + offsets[11]; reduced = b + offsets[12]
        g = b + offsets[13]; gq = b + offsets[14]; d = b + offsets[15]; lam = b + offsets[16]
        beta = b + offsets[17]; trial = b + offsets[18]; dPolish = b + offsets[19]; rhs = b + offsets[20]
        sign = b + offsets[21]
        groupSum = b + offsets[22]; groupRows = b + offsets[23]; self.total = b + offsets[24]
        rowScratch = b + offsets[25]; tables = b + offsets[26]; codeSums = b + offsets[27]
        pairScratch = UnsafeMutableRawPointer(b + offsets[28]).assumingMemoryBound(to: V.self)
        active = UnsafeMutablePointer<Int>.allocate(capacity: q)
        pinned = UnsafeMutablePointer<Bool>.allocate(capacity: q)
        pinned.initialize(repeating: false, count: q)
        for i in 0..<square { H[i] = 0 }
        for i in 0..<q { g[i] = 0; d[i] = 0; beta[i] = 0; trial[i] = 0 }

        // Cells in internal order; padding stays zero.
        cells.trials.withUnsafeBufferPointer { tp in
            cells.successes.withUnsafeBufferPointer { sp in
                if let order = layout.order {
                    for i in 0..<m {
                        let k = Int(order[i])
                        t[i] = tp[k]
                        s[i] = sp[k]
                    }
                    for i in m..<n { t[i] = 0; s[i] = 0; vDesign[i] = 0 }
                } else {
                    t.update(from: tp.baseAddress!, count: n)
                    s.update(from: sp.baseAddress!, count: n)
                }
            }
        }
    }

    deinit {
        block.deallocate()
        active.deallocate()
        pinned.deallocate()
    }

    // MARK: - The iteration

    func solve(alpha: Double, warmStart: LassoFit?) throws -> LassoFit {
        guard alpha.isFinite, alpha >= 0 else { throw LassoError.invalidAlpha(alpha) }
        let lambda = penalty.scale == .sum ? alpha : alpha * W
        lam[0] = penalty.penalizeIntercept ? lambda : 0
        for j in 0..<p { lam[j + 1] = lambda * factors[j] }
        try pinConstantColumns()
        let tol = options.tolerance
        let separationWatch = (1..<q).contains { lam[$0] == 0 && !pinned[$0] }

        if let w = warmStart {
            guard w.coefficients.count == p else { throw LassoError.warmStartMismatch(expected: p, found: w.coefficients.count) }
            beta[0] = w.intercept
            for j in 0..<p { beta[j + 1] = w.coefficients[j] }
            for j in 0..<q where pinned[j] { beta[j] = 0 }
            _ = linearPredictor(beta, into: eta)
            evaluate(step: nil)
        } else {
            try coldStart()
        }

        var kkt = Double.infinity
        var iteration = 0
        var hessianValid = false
        var drift = 0.0  // bound on max |eta - eta at the last Hessian| over weighted patterns
        while true {
            computeGradient()
            kkt = kktViolation()
            if kkt <= tol { break }
            if iteration >= options.maxIterations {
                throw LassoError.notConverged(iterations: iteration, kktViolation: kkt, tolerance: tol)
            }
            if separationWatch { try checkSeparation() }
            iteration += 1
            if coordinateWorkspace != nil {
                solveModelByCoordinates(kkt: kkt)
            } else {
                if !(hessianValid && reuseHessian(kkt: kkt, drift: drift)) {
                    computeHessian()
                    hessianValid = true
                    drift = 0
                }
                solveSubproblem()
            }
            // Predicted decrease of the model (newGLMNET's Delta).
            let delta = linearChange(step: 1, gradient: true)
            let summary = linearPredictor(d, into: deta, weights: v)
            let maxStep = summary.maxAbs

            guard
                let step = Self.acceptStep(
                    delta: delta, summary: summary, beta: beta, d: d, trial: trial, q: q,
                    change: { lossChange(step: $0) + linearChange(step: $0, gradient: false) })
            else {
                // No descent possible at working precision: the KKT check decides.
                throw LassoError.notConverged(iterations: iteration, kktViolation: kkt, tolerance: tol)
            }
            for j in 0..<q { beta[j] = trial[j] }
            if step * maxStep <= 1e-4 {
                Kernels.evaluateTaylor(eta: eta, deta: deta, step: step, t: t, s: s, mu: mu, omu: omu, r: r, v: v, n)
            } else {
                evaluate(step: step)
            }
            drift += step * maxStep
        }
        let loss = options.computeObjective ? currentLoss() : .nan
        return Self.fit(alpha: alpha, penalty: penalty, beta: beta, lam: lam, q: q, loss: loss, kkt: kkt, iterations: iteration, W: W)
    }

    /// The fit at `beta` (`q` coordinates, intercept first): the objective is `loss` plus the
    /// penalty, on the penalty's scale.
    static func fit(
        alpha: Double, penalty: Penalty, beta: UnsafePointer<Double>, lam: UnsafePointer<Double>, q: Int, loss: Double,
        kkt: Double, iterations: Int, W: Double
    ) -> LassoFit {
        var pen = 0.0
        for j in 0..<q where lam[j] != 0 { pen += lam[j] * Swift.abs(beta[j]) }
        let objective = loss + pen
        return LassoFit(
            alpha: alpha, penalty: penalty, intercept: beta[0], coefficients: Array(UnsafeBufferPointer(start: beta + 1, count: q - 1)),
            objective: penalty.scale == .sum ? objective : objective / W,
            loss: loss, kktViolation: kkt, iterations: iterations, totalWeight: W)
    }

    /// `sum_j [g_j step d_j] + lam_j (|beta_j + step d_j| - |beta_j|)` (the gradient term only if
    /// `gradient`).
    func linearChange(step: Double, gradient: Bool) -> Double {
        Self.linearChange(beta: beta, d: d, g: g, lam: lam, q: q, step: step, gradient: gradient)
    }

    /// `sum_j [g_j step d_j] + lam_j (|beta_j + step d_j| - |beta_j|)` over `q` coordinates (the
    /// gradient term only if `gradient`). Where the sign of a coefficient does not change, the
    /// term is `(g_j +- lam_j) step d_j`: the two nearly cancel near the optimum, and cancel
    /// exactly before the product is rounded.
    static func linearChange(
        beta: UnsafePointer<Double>, d: UnsafePointer<Double>, g: UnsafePointer<Double>, lam: UnsafePointer<Double>,
        q: Int, step: Double, gradient: Bool
    ) -> Double {
        var total = 0.0
        for j in 0..<q {
            let b = beta[j], sd = step * d[j]
            let gj = gradient ? g[j] : 0
            let l = lam[j]
            if l == 0 {
                total += gj * sd
                continue
            }
            let u = b + sd
            if b > 0 && u > 0 {
                total += (gj + l) * sd
            } else if b < 0 && u < 0 {
                total += (gj - l) * sd
            } else {
                total += gj * sd + l * (Swift.abs(u) - Swift.abs(b))
            }
        }
        return total
    }

    /// The step along `d` a proximal Newton iteration takes (`trial` is left at
    /// `beta + step d`), or `nil` when no descent is possible at working precision.
    ///
    /// The unit step if the loss change is provably an Armijo decrease: it is at most
    /// `g.d + (1/2) sum v x^2 + (e^M / 6) sum v |x|^3` with `x = X d`, `M = max |x|` (|f'''| <=
    /// f'' |x| and f'' grows by at most e^|x|); else backtracking on `change(step)`, the exact
    /// change of the objective.
    static func acceptStep(
        delta: Double, summary: Kernels.LinearSummary, beta: UnsafePointer<Double>, d: UnsafePointer<Double>,
        trial: UnsafeMutablePointer<Double>, q: Int, change: (Double) -> Double
    ) -> Double? {
        if delta < 0 {
            let bound = delta + 0.5 * summary.quadratic + Double.exp(summary.maxAbs) / 6 * summary.cubic
            if bound <= 1e-4 * delta {
                for j in 0..<q { trial[j] = beta[j] + d[j] }
                return 1
            }
        }
        var step = 1.0
        for _ in 0..<60 {
            for j in 0..<q { trial[j] = beta[j] + step * d[j] }
            if change(step) <= 1e-4 * step * min(delta, 0) { return step }
            step *= 0.5
        }
        return nil
    }

    /// The KKT violation of `q` coordinates (intercept first) on the mean scale, features in
    /// penalty units.
    static func kktViolation(
        g: UnsafePointer<Double>, beta: UnsafePointer<Double>, lam: UnsafePointer<Double>, inverseScales: [Double],
        q: Int, W: Double
    ) -> Double {
        var worst = 0.0
        for j in 0..<q {
            let viol: Double
            if lam[j] == 0 {
                viol = Swift.abs(g[j])
            } else if beta[j] == 0 {
                viol = max(0, Swift.abs(g[j]) - lam[j])
            } else {
                viol = Swift.abs(g[j] + (beta[j] > 0 ? lam[j] : -lam[j]))
            }
            worst = max(worst, j == 0 ? viol : viol * inverseScales[j - 1])
        }
        return worst / W
    }

    /// The features a constant column makes redundant (pinned at zero): a column 0 on every
    /// weighted pattern, or constant like a free intercept. An unpenalized such column is an
    /// error naming it.
    static func pinnedColumns(constant: [Double?], lam: UnsafePointer<Double>, names: [String]) throws -> [Int] {
        var out: [Int] = []
        for (j, value) in constant.enumerated() {
            guard let c = value else { continue }
            if c == 0 {
                if lam[j + 1] == 0 {
                    throw LassoError.notIdentifiable(feature: names[j], reason: "it is 0 in every observation with positive weight")
                }
                out.append(j)
            } else if lam[0] == 0 {
                if lam[j + 1] == 0 { throw LassoError.notIdentifiable(feature: names[j], reason: "it is constant (\(c)) like the intercept") }
                out.append(j)
            }
        }
        return out
    }

    /// Whether a step with the last Hessian is expected to reach the tolerance: the weights have
    /// moved by at most a factor e^drift since it was formed, so a step with it contracts the
    /// KKT violation by about e^drift - 1.
    func reuseHessian(kkt: Double, drift: Double) -> Bool {
        Double.expMinusOne(drift) * kkt * 10 <= options.tolerance
    }

    /// Starting point without a warm start: the null model if it is already optimal, else one
    /// proximal Newton step of the quadratic model at the saturated model's smoothed logits
    /// `log((s + 1/2) / (t - s + 1/2))` (what R's glm starts from), taken from zero.
    func coldStart() throws {
        for j in 0..<q { beta[j] = 0 }
        let ybar = S / W
        if !penalty.penalizeIntercept && !pinned[0] { beta[0] = Double.log(ybar / (1 - ybar)) }
        // The null model: constant probability, no exp needed. With a penalized intercept its
        // own gradient 0.5 W - S often shows at once that the null model is not optimal.
        let mu0 = penalty.penalizeIntercept ? 0.5 : ybar
        let interceptViolation = penalty.penalizeIntercept ? max(0, Swift.abs(0.5 * W - S) - lam[0]) / W : 0
        if interceptViolation <= options.tolerance {
            fillNullResidual(mu: mu0)
            computeGradient()
            if kktViolation() <= options.tolerance {
                _ = linearPredictor(beta, into: eta)
                evaluate(step: nil)
                return
            }
        }
        saturatedQuadratic()
        computeGradient()
        if coordinateWorkspace != nil {
            for j in 0..<q { beta[j] = 0 }
            solveModelByCoordinates(kkt: kktViolation())
        } else {
            computeHessian()
            for j in 0..<q { beta[j] = 0 }
            solveSubproblem()
        }
        for j in 0..<q { beta[j] = pinned[j] ? 0 : d[j] }
        _ = linearPredictor(beta, into: eta)
        evaluate(step: nil)
    }

    /// Pins coefficients of constant columns at zero where the intercept makes them redundant.
    func pinConstantColumns() throws {
        for j in 0..<q { pinned[j] = false }
        for j in try Self.pinnedColumns(constant: constantValue, lam: lam, names: design.featureNames) { pinned[j + 1] = true }
    }

    func kktViolation() -> Double {
        Self.kktViolation(g: g, beta: beta, lam: lam, inverseScales: inverseScales, q: q, W: W)
    }

    func checkSeparation() throws {
        if maxAbsCache == nil {
            var maxAbs = [Double](repeating: 0, count: p)
            design.storage.withUnsafeBufferPointer { xs in
                cells.trials.withUnsafeBufferPointer { tp in
                    for j in 0..<p {
                        var largest = 0.0
                        for k in 0..<m where tp[k] > 0 { largest = max(largest, Swift.abs(xs[j * n + k])) }
                        maxAbs[j] = largest
                    }
                }
            }
            maxAbsCache = maxAbs
        }
        let maxAbs = maxAbsCache!
        var diverging: [String] = []
        if lam[0] == 0 && Swift.abs(beta[0]) > LogisticLasso.separationThreshold { diverging.append("const") }
        for j in 0..<p where lam[j + 1] == 0 && Swift.abs(beta[j + 1]) * maxAbs[j] > LogisticLasso.separationThreshold {
            diverging.append(design.featureNames[j])
        }
        if diverging.contains(where: { $0 != "const" }) { throw LassoError.separation(features: diverging) }
    }

    // MARK: - Pattern passes

    /// `out = X~ c` (intercept `c[0]`); with `weights`, also `sum v out^2` and `sum v |out|^3`.
    @discardableResult
    func linearPredictor(
        _ c: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Double>,
        weights: UnsafeMutablePointer<Double>? = nil
    ) -> Kernels.LinearSummary {
        let layout = self.layout
        let chunks = layout.chunkCount
        if chunks > 0 {
            // Per chunk, the sum of the coefficients of the set bits of every code; then per group.
            for ch in 0..<chunks {
                let lut = codeSums + codeOffset[ch]
                let features = layout.chunks[ch]
                lut[0] = 0
                for code in 1..<(1 << features.count) {
                    lut[code] = lut[code & (code - 1)] + c[1 + features[code.trailingZeroBitCount]]
                }
            }
            let G = layout.groupCount, codes = layout.groupCode, sums = groupSum
            let lut0 = codeSums
            if chunks == 1 {
                for gi in 0..<G { sums[gi] = lut0[Int(codes[gi])] }
            } else {
                let lut1 = codeSums + codeOffset[1], codes1 = codes + G
                for gi in 0..<G { sums[gi] = lut0[Int(codes[gi])] + lut1[Int(codes1[gi])] }
                for ch in 2..<max(2, chunks) {
                    let lut = codeSums + codeOffset[ch], codesCh = codes + ch * G
                    for gi in 0..<G { sums[gi] += lut[Int(codesCh[gi])] }
                }
            }
        }
        return withGeneralColumns { columns in
            Kernels.linearPredictor(
                intercept: c[0], general: layout.general, coefficients: c + 1, columns: columns,
                groupValue: chunks > 0 ? UnsafePointer(groupSum) : nil, patternGroup: layout.patternGroup,
                t: t, weights: weights.map { UnsafePointer($0) }, out: out, n)
        }
    }

    /// The general features' columns in internal order: the layout's copy, or without chunks
    /// the design's own storage (then the general features are all features, in order).
    @inline(__always) func withGeneralColumns<R>(_ body: (UnsafePointer<Double>) -> R) -> R {
        if let columns = layout.generalColumns { return body(columns) }
        return design.storage.withUnsafeBufferPointer { body($0.baseAddress ?? UnsafePointer(rowScratch)) }
    }

    /// Fills `mu`, `1 - mu`, the residual `r = t mu - s` and the weights `v = t mu (1 - mu)` at
    /// `eta` (after `eta += step * deta` when a step is given).
    func evaluate(step: Double?) {
        Kernels.evaluate(eta: eta, deta: deta, step: step, t: t, s: s, mu: mu, omu: omu, r: r, v: v, n)
    }

    /// Residual and weights of the null model (every probability `mu0`).
    func fillNullResidual(mu mu0: Double) {
        let m0 = V(repeating: mu0)
        var i = 0
        while i < n {
            Kernels.store(Kernels.load(t, i) * m0 - Kernels.load(s, i), r, i)
            i += 8
        }
    }

    /// `r` and `v` of the quadratic model at the smoothed saturated logits, shifted so that the
    /// model's gradient at zero coefficients is `X' r`.
    func saturatedQuadratic() {
        Kernels.saturatedQuadratic(t: t, s: s, v: v, r: r, n)
    }

    /// Gradient `g = X~' r`.
    func computeGradient() {
        let layout = self.layout
        g[0] = Kernels.sum(r, n)
        withGeneralColumns { columns in
            for (a, j) in layout.general.enumerated() { g[j + 1] = Kernels.dot(r, columns + a * n, n) }
        }
        let chunks = layout.chunkCount
        guard chunks > 0 else { return }
        // Sums of r per code of each chunk: chunk 0 by runs of groups, later chunks by scatter.
        let G = layout.groupCount, groupStart = layout.groupStart, groupCode = layout.groupCode
        for ch in 1..<chunks {
            let sums = codeSums + codeOffset[ch]
            for code in layout.codesPresent[ch] { sums[code] = 0 }
        }
        let sums0 = codeSums, runStart = layout.runStart
        let second: UnsafeMutablePointer<Double>? = chunks > 1 ? codeSums + codeOffset[1] : nil
        let code1 = groupCode + G
        for ri in 0..<layout.runCount {
            let glo = Int(runStart[ri]), ghi = Int(runStart[ri + 1])
            var runAcc = 0.0
            for gi in glo..<ghi {
                // Pairs, then the odd one: groups are short, a longer unrolled loop costs more.
                var k = Int(groupStart[gi])
                let end = Int(groupStart[gi + 1])
                var acc = 0.0
                while k + 1 < end {
                    acc += r[k] + r[k + 1]
                    k += 2
                }
                if k < end { acc += r[k] }
                runAcc += acc
                if let second {
                    second[Int(code1[gi])] += acc
                    if chunks > 2 {
                        for ch in 2..<chunks { codeSums[codeOffset[ch] + Int(groupCode[ch * G + gi])] += acc }
                    }
                }
            }
            sums0[Int(groupCode[glo])] = runAcc
        }
        // Per bit: the sum over the codes with the bit set.
        for ch in 0..<chunks {
            let sums = codeSums + codeOffset[ch]
            var acc = V(repeating: 0)
            for code in layout.codesPresent[ch] { acc += V(repeating: sums[code]) * layout.bitsTable[code] }
            for (bit, j) in layout.chunks[ch].enumerated() { g[j + 1] = acc[bit] }
        }
    }

    /// Loss change for `eta + step * deta` (accurate for tiny steps).
    func lossChange(step: Double) -> Double {
        Kernels.lossChange(mu: mu, omu: omu, deta: deta, step: step, s: s, t: t, n)
    }

    /// Loss at the current `eta`.
    func currentLoss() -> Double {
        Kernels.loss(eta: eta, mu: mu, omu: omu, s: s, t: t, n)
    }

    // MARK: - Hessian

    func computeHessian() {
        switch hessianPath {
        case .blocked: computeBlockedHessian()
        case .dense:
            scatterWeightsToDesignOrder()
            computeDenseHessian()
        case .sparse:
            scatterWeightsToDesignOrder()
            computeSparseHessian()
        }
    }

    func scatterWeightsToDesignOrder() {
        guard let order = layout.order else { return }
        for i in 0..<m { vDesign[Int(order[i])] = v[i] }
    }

    /// H = X~' V X~ through groups and indicator chunks (see ``SolverLayout``).
    func computeBlockedHessian() {
        let layout = self.layout
        let q = self.q, width = layout.rowWidth, head = layout.headWidth
        let chunks = layout.chunkCount
        let bitsTable = layout.bitsTable
        let H = self.H
        if width == 8 && head == 4 && (chunks == 1 || chunks == 2) {
            blockedLevels12Fast()
        } else {
            blockedLevels12Generic()
        }
        // Intercept and general block.
        let gen = layout.general
        H[0] = total[0]
        for (a, j) in gen.enumerated() {
            H[j + 1] = total[1 + a]
            H[(j + 1) * q] = total[1 + a]
        }
        if layout.withProducts {
            for a in 0..<gen.count {
                for b in a..<gen.count {
                    let h = total[layout.productSlot(a, b)]
                    H[(gen[a] + 1) * q + gen[b] + 1] = h
                    H[(gen[b] + 1) * q + gen[a] + 1] = h
                }
            }
        } else {
            let cols = layout.generalColumns!
            for a in 0..<gen.count {
                Kernels.multiply(v, cols + a * n, vx, n)
                for b in a..<gen.count {
                    let h = Kernels.dot(vx, cols + b * n, n)
                    H[(gen[a] + 1) * q + gen[b] + 1] = h
                    H[(gen[b] + 1) * q + gen[a] + 1] = h
                }
            }
        }
        // Level 3: expand each chunk's table into its rows of H, over the codes that occur.
        for ch in 0..<chunks {
            let tw = layout.tableWidth(ch)
            let table = tables + tableOffset[ch]
            let features = layout.chunks[ch]
            let present = layout.codesPresent[ch]
            let sums = rowScratch
            for bit in 0..<features.count {
                for a in 0..<tw { sums[bit * tw + a] = 0 }
                pairScratch[bit] = V(repeating: 0)
            }
            for code in present {
                let row = table + code * tw
                let vbits = V(repeating: row[0]) * bitsTable[code]
                var rest = code
                while rest != 0 {
                    let bit = rest.trailingZeroBitCount
                    rest &= rest - 1
                    let dst = sums + bit * tw
                    var a = 0
                    while a < tw {
                        Kernels.store4(Kernels.load4(dst, a) + Kernels.load4(row, a), dst, a)
                        a += 4
                    }
                    pairScratch[bit] += vbits
                }
            }
            for (bit, j) in features.enumerated() {
                let src = sums + bit * tw
                let rj = (j + 1) * q
                H[rj] = src[0]
                H[j + 1] = src[0]
                for (a, jg) in gen.enumerated() {
                    H[rj + jg + 1] = src[1 + a]
                    H[(jg + 1) * q + j + 1] = src[1 + a]
                }
                let pairs = pairScratch[bit]
                for (b, jb) in features.enumerated() where b >= bit {
                    H[rj + jb + 1] = pairs[b]
                    H[(jb + 1) * q + j + 1] = pairs[b]
                }
                var later = ch + 1
                while later < chunks {
                    let slot = head + 8 * (later - ch - 1)
                    for (b, jb) in layout.chunks[later].enumerated() {
                        H[rj + jb + 1] = src[slot + b]
                        H[(jb + 1) * q + j + 1] = src[slot + b]
                    }
                    later += 1
                }
            }
        }
    }

    /// Levels 1 and 2 in one pass for the common shape (rows of 8, a head of 4, one or two
    /// chunks): per run of chunk-0 code, per group, per pattern, all in registers.
    func blockedLevels12Fast() {
        let layout = self.layout
        let G = layout.groupCount, groupStart = layout.groupStart, groupCode = layout.groupCode
        let rows = layout.rows!, bitsTable = layout.bitsTable, runStart = layout.runStart
        let twoChunks = layout.chunkCount == 2
        let tw0 = layout.tableWidth(0)
        let table0 = tables
        let table1 = tables + (twoChunks ? tableOffset[1] : 0)
        let tw1 = twoChunks ? layout.tableWidth(1) : 0
        if twoChunks {
            for code in layout.codesPresent[1] { Kernels.store4(SIMD4(repeating: 0), table1 + code * tw1, 0) }
        }
        let code1 = groupCode + G
        var total = V(repeating: 0)
        for ri in 0..<layout.runCount {
            let glo = Int(runStart[ri]), ghi = Int(runStart[ri + 1])
            var head = SIMD4<Double>(repeating: 0)
            var bits = V(repeating: 0)
            for gi in glo..<ghi {
                var y = V(repeating: 0)
                for k in Int(groupStart[gi])..<Int(groupStart[gi + 1]) {
                    y += V(repeating: v[k]) * Kernels.load(rows, k * 8)
                }
                total += y
                head += y.lowHalf
                if twoChunks {
                    let c1 = Int(code1[gi])
                    bits += V(repeating: y[0]) * bitsTable[c1]
                    let dst = table1 + c1 * tw1
                    Kernels.store4(Kernels.load4(dst, 0) + y.lowHalf, dst, 0)
                }
            }
            let row0 = table0 + Int(groupCode[glo]) * tw0
            Kernels.store4(head, row0, 0)
            if twoChunks { Kernels.store(bits, row0, 4) }
        }
        Kernels.store(total, self.total, 0)
    }

    /// Levels 1 and 2 for any shape: group sums of the rows, then totals and chunk tables.
    func blockedLevels12Generic() {
        let layout = self.layout
        let G = layout.groupCount, width = layout.rowWidth, head = layout.headWidth
        let chunks = layout.chunkCount
        let bitsTable = layout.bitsTable, groupCode = layout.groupCode
        let Y = groupRows
        // Level 1: per group, the sum of v times the general row.
        Kernels.groupRowSums(
            v: v, rows: layout.rows!, width: width, groupStart: layout.groupStart,
            groupCount: G, into: Y)
        // Level 2: totals, and per chunk a table indexed by the chunk's code.
        var piece = 0
        while piece < width {
            var a0 = SIMD4<Double>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
            var gi = 0
            while gi + 4 <= G {
                a0 += Kernels.load4(Y, gi * width + piece)
                a1 += Kernels.load4(Y, (gi + 1) * width + piece)
                a2 += Kernels.load4(Y, (gi + 2) * width + piece)
                a3 += Kernels.load4(Y, (gi + 3) * width + piece)
                gi += 4
            }
            while gi < G { a0 += Kernels.load4(Y, gi * width + piece); gi += 1 }
            Kernels.store4((a0 + a1) + (a2 + a3), total, piece)
            piece += 4
        }
        // Chunk 0: groups are sorted by its code, so each code is one run of groups.
        if chunks > 0 {
            let tw = layout.tableWidth(0)
            let table = tables
            let runs = layout.runCount
            let runStart = layout.runStart
            var piece = 0
            while piece < head {
                for ri in 0..<runs {
                    let lo = Int(runStart[ri]), hi = Int(runStart[ri + 1])
                    var acc = SIMD4<Double>(repeating: 0)
                    for gi in lo..<hi { acc += Kernels.load4(Y, gi * width + piece) }
                    Kernels.store4(acc, table + Int(groupCode[lo]) * tw + piece, 0)
                }
                piece += 4
            }
            var later = 1
            while later < chunks {
                let slot = head + 8 * (later - 1)
                let other = groupCode + later * G
                for ri in 0..<runs {
                    let lo = Int(runStart[ri]), hi = Int(runStart[ri + 1])
                    var acc = V(repeating: 0)
                    for gi in lo..<hi { acc += V(repeating: Y[gi * width]) * bitsTable[Int(other[gi])] }
                    Kernels.store(acc, table + Int(groupCode[lo]) * tw + slot, 0)
                }
                later += 1
            }
        }
        for ch in 1..<max(1, chunks) {
            let tw = layout.tableWidth(ch)
            let table = tables + tableOffset[ch]
            for code in layout.codesPresent[ch] {
                for a in 0..<tw { table[code * tw + a] = 0 }
            }
            let own = groupCode + ch * G
            // The head: [V, V x_general...].
            var piece = 0
            while piece < head {
                for gi in 0..<G {
                    let row = table + Int(own[gi]) * tw + piece
                    Kernels.store4(Kernels.load4(row, 0) + Kernels.load4(Y, gi * width + piece), row, 0)
                }
                piece += 4
            }
            // V times the bits of each later chunk.
            var later = ch + 1
            while later < chunks {
                let slot = head + 8 * (later - ch - 1)
                let other = groupCode + later * G
                for gi in 0..<G {
                    let row = table + Int(own[gi]) * tw + slot
                    Kernels.store(Kernels.load(row, 0) + V(repeating: Y[gi * width]) * bitsTable[Int(other[gi])], row, 0)
                }
                later += 1
            }
        }
    }

    /// H = X~' V X~ accumulated over the nonzero pairs of each pattern (upper triangle, then mirrored).
    func computeSparseHessian() {
        let q = self.q, m = self.m, h = H, vp = vDesign
        design.sparseStart.withUnsafeBufferPointer { start in
            design.sparseFeature.withUnsafeBufferPointer { feature in
                design.sparseValue.withUnsafeBufferPointer { value in
                    for i in 0..<(q * q) { h[i] = 0 }
                    h[0] = Kernels.sum(vp, n)
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

    /// H = X~' V X~ by dense SIMD column dot products.
    func computeDenseHessian() {
        let n = self.n, q = self.q, h = H, vp = vDesign
        design.storage.withUnsafeBufferPointer { xs in
            h[0] = Kernels.sum(vp, n)
            let x = xs.baseAddress!
            for j in 0..<p where !pinned[j + 1] {
                let xj = x + j * n
                Kernels.multiply(vp, xj, vx, n)
                let h0j = Kernels.sum(vx, n)
                h[j + 1] = h0j
                h[(j + 1) * q] = h0j
                for l in j..<p where !pinned[l + 1] {
                    let hjl = Kernels.dot(vx, x + l * n, n)
                    h[(j + 1) * q + l + 1] = hjl
                    h[(l + 1) * q + j + 1] = hjl
                }
            }
        }
    }

    // MARK: - The L1 quadratic model

    /// Minimizes `g.d + d'Hd/2 + sum lam_j |beta_j + d_j|`: an active-set Newton solve on the
    /// signs of `beta`, verified; otherwise cyclic coordinate descent, with the active-set
    /// solve retried whenever a sweep leaves the signs unchanged.
    func solveSubproblem() {
        let q = self.q
        for j in 0..<q { d[j] = 0; gq[j] = g[j] }
        let innerTol = max(1e-3 * options.tolerance, 1e-17) * W
        if polish(innerTol: innerTol) { return }
        // With a free intercept, coordinate descent runs on the features with the intercept
        // eliminated: every feature step moves the intercept to its optimum too, which is
        // coordinate descent on centered features (as glmnet centers). Uncentered features
        // correlate with the intercept and would make plain coordinate descent crawl.
        let h00 = H[0]
        let eliminate = lam[0] == 0 && !pinned[0] && h00 > 0
        let h: UnsafeMutablePointer<Double>
        if eliminate {
            h = reduced
            for j in 0..<q {
                let a = H[j * q] / h00
                for k in 0..<q { reduced[j * q + k] = H[j * q + k] - a * H[k] }
            }
            for k in 0..<q { reduced[k] = 0; reduced[k * q] = 0 }
            // Start from the intercept's optimum given d = 0.
            let d0 = -gq[0] / h00
            d[0] = d0
            for k in 0..<q { gq[k] += H[k * q] * d0 }
            gq[0] = 0
        } else {
            h = H
        }
        var lastSigns = signature()
        for _ in 0..<options.maxInnerSweeps {
            var maxChange = 0.0
            for j in (eliminate ? 1 : 0)..<q where !pinned[j] {
                let a = h[j * q + j]
                if !(a > 0) { continue }
                let u = beta[j] + d[j]
                let z = a * u - gq[j]
                let l = lam[j]
                let unew = z > l ? (z - l) / a : (z < -l ? (z + l) / a : 0)
                let delta = unew - u
                if delta != 0 {
                    d[j] += delta
                    if eliminate { d[0] -= H[j] / h00 * delta }
                    for k in 0..<q { gq[k] += h[k * q + j] * delta }
                    // In the features' penalty units (standardized: the change in the scaled coordinate's objective).
                    maxChange = max(maxChange, Swift.abs(a * delta) * (j == 0 ? 1 : inverseScales[j - 1]))
                }
            }
            if maxChange <= innerTol { break }
            let signs = signature()
            if signs == lastSigns && polish(innerTol: innerTol) { return }
            lastSigns = signs
        }
    }

    /// A fingerprint of the signs of `beta + d` (three states per coordinate).
    func signature() -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for j in 0..<q {
            let u = beta[j] + d[j]
            let state: UInt64 = u > 0 ? 1 : (u < 0 ? 2 : 0)
            h = (h ^ state) &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// Solves the model exactly assuming the current signs of `beta + d` (unpenalized
    /// coordinates always free): Cholesky on the active block, then checks the signs and the
    /// inactive coordinates' conditions. Writes `d` only on success.
    func polish(innerTol: Double) -> Bool {
        let q = self.q
        var na = 0
        for j in 0..<q where !pinned[j] {
            let u = beta[j] + d[j]
            if lam[j] == 0 || u != 0 {
                active[na] = j
                sign[j] = lam[j] == 0 ? 0 : (u > 0 ? 1 : -1)
                na += 1
            }
        }
        // Inactive coordinates move to zero: d_l = -beta_l.
        for j in 0..<q { dPolish[j] = 0 }
        for j in 0..<q where !pinned[j] && !(lam[j] == 0 || beta[j] + d[j] != 0) { dPolish[j] = -beta[j] }
        for a in 0..<na {
            let j = active[a]
            var b = -g[j] - lam[j] * sign[j]
            for l in 0..<q where dPolish[l] != 0 { b -= H[j * q + l] * dPolish[l] }
            rhs[a] = b
            for c in 0...a { chol[a * q + c] = H[j * q + active[c]] }
        }
        // Cholesky (lower, in place) and two triangular solves.
        for a in 0..<na {
            var diag = chol[a * q + a]
            for c in 0..<a { diag -= chol[a * q + c] * chol[a * q + c] }
            if !(diag > 1e-13 * H[active[a] * q + active[a]]) { return false }
            let root = diag.squareRoot()
            chol[a * q + a] = root
            for b in (a + 1)..<max(a + 1, na) {
                var x = H[active[b] * q + active[a]]
                for c in 0..<a { x -= chol[b * q + c] * chol[a * q + c] }
                chol[b * q + a] = x / root
            }
        }
        for a in 0..<na {
            var x = rhs[a]
            for c in 0..<a { x -= chol[a * q + c] * rhs[c] }
            rhs[a] = x / chol[a * q + a]
        }
        for a in stride(from: na - 1, through: 0, by: -1) {
            var x = rhs[a]
            for c in (a + 1)..<max(a + 1, na) { x -= chol[c * q + a] * rhs[c] }
            rhs[a] = x / chol[a * q + a]
        }
        for a in 0..<na {
            let j = active[a]
            dPolish[j] = rhs[a]
            let u = beta[j] + rhs[a]
            if sign[j] != 0 && !(u * sign[j] > 0) { return false }
        }
        // Inactive coordinates: |g + H d| <= lam.
        for j in 0..<q where !pinned[j] && !(lam[j] == 0 || beta[j] + d[j] != 0) {
            var z = g[j]
            for l in 0..<q { z += H[j * q + l] * dPolish[l] }
            if (Swift.abs(z) - lam[j]) * (j == 0 ? 1 : inverseScales[j - 1]) > innerTol { return false }
        }
        for j in 0..<q { d[j] = dPolish[j] }
        return true
    }
}

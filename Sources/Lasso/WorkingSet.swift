import RealModule

/// Proximal Newton on a growing *working set* of features, for designs with many features.
///
/// The full solver forms a `(p+1) x (p+1)` Hessian every Newton iteration: O(patterns p^2),
/// whatever the number of nonzero coefficients. Here the same certified solver runs on the
/// columns of a working set only (the features most violating the optimality conditions, and
/// every nonzero or unpenalized one), and the gradient over *all* features decides whether the
/// solution of the restricted problem is the solution of the whole one: a feature outside the
/// set is optimal at zero exactly when `|x_j' r| <= lambda_j`. Violators join the set, whose
/// target size grows fourfold each round (Massias, Gramfort & Salmon 2018; Johnson & Guestrin
/// 2015, with the exact solver of this package as the inner one), so rounds are few and the set
/// stays near the active set. The returned fit is certified like the full solver's: features in
/// the set by the restricted solver's own KKT check, the others by the full gradient.
///
/// From ``LogisticLasso/coordinateDescentThreshold`` features on (dense columns), the restricted
/// solver's Newton iterations solve their quadratic models by Hessian-free coordinate descent
/// (``InnerSolver/coordinateDescent``), whose cost is linear in the set: the set's room is then
/// also filled with the features nearest to violating, saving rounds.
///
/// The restricted problem keeps only the patterns with weight (a bootstrap resample draws about
/// 63% of them) and merges patterns equal on the set's columns, so it is also smaller in rows;
/// when one of the set's columns has distinct values on those patterns nothing can merge and
/// the columns are copied without hashing.
final class WorkingSetSolver {
    let design: CompressedDesign
    let cells: BinomialCells
    let penalty: Penalty
    let options: SolverOptions
    let p: Int, m: Int, n: Int
    let W: Double, S: Double
    /// Penalty factor times penalty unit per feature, and 1 / unit.
    let factors: [Double]
    let scales: [Double]
    /// Patterns with positive weight, ascending.
    let weighted: [Int]
    /// Position of each pattern in ``weighted`` (-1: no weight).
    let weightedPosition: [Int32]
    /// The last restricted problem, reused while the set (and whether a sparse one may be used)
    /// does not change (along a path).
    private var cached: (set: [Int], sparseAllowed: Bool, solver: any RestrictedSolver)?
    /// Per feature, whether its values on the weighted patterns are distinct (`nil`: not known yet).
    private var injectiveCache: [Bool?]

    /// Per feature, sum_k t_k x_kj and sum_k t_k x_kj^2 over the weighted patterns (gap-safe
    /// screening; computed on first use).
    private var columnMoments: (mass: [Double], squares: [Double])?

    /// Smallest working set tried first.
    static let initialSize = 16
    /// Most rounds before the fit is reported as not converged (the set grows every round).
    static let maxRounds = 64
    /// In the coordinate-descent regime, features with `|x_j' r| >= nearFraction * lambda_j` fill
    /// the set's room after the violators (measured: 0.9 beat 0.8, 0.7 and 0.5 on the scaling grid).
    static let nearFraction = 0.9
    /// Factor by which the set's target size grows each round.
    static let growth = 4

    init(design: CompressedDesign, cells: BinomialCells, penalty: Penalty, options: SolverOptions) throws {
        self.design = design
        self.cells = cells
        self.penalty = penalty
        self.options = options
        p = design.featureCount
        m = design.patternCount
        n = design.stride
        precondition(cells.trials.count == n, "cells must come from this design")
        W = cells.totalWeight
        guard W > 0 else { throw LassoError.noData }
        S = cells.totalSuccesses
        if S <= 0 { throw LassoError.constantOutcome(value: 0) }
        if S >= W { throw LassoError.constantOutcome(value: 1) }
        scales = LogisticLasso.featureScales(design: design, cells: cells, penalty: penalty)
        let raw = try LogisticLasso.validatedFactors(penalty.factors, design: design)
        let scales = self.scales
        factors = raw.enumerated().map { $0.element * scales[$0.offset] }
        weighted = (0..<design.patternCount).filter { cells.trials[$0] > 0 }
        var position = [Int32](repeating: -1, count: design.patternCount)
        for (i, k) in weighted.enumerated() { position[k] = Int32(i) }
        weightedPosition = position
        injectiveCache = [Bool?](repeating: nil, count: p)
    }

    func solve(alpha: Double, warmStart: LassoFit?) throws -> LassoFit {
        guard alpha.isFinite, alpha >= 0 else { throw LassoError.invalidAlpha(alpha) }
        if let w = warmStart, w.coefficients.count != p {
            throw LassoError.warmStartMismatch(expected: p, found: w.coefficients.count)
        }
        let lambda = penalty.scale == .sum ? alpha : alpha * W
        let tol = options.tolerance

        var intercept: Double
        var beta = [Double](repeating: 0, count: p)
        if let w = warmStart {
            intercept = w.intercept
            beta = w.coefficients
        } else {
            let ybar = S / W
            intercept = penalty.penalizeIntercept ? 0 : Double.log(ybar / (1 - ybar))
        }
        var inSet = [Bool](repeating: false, count: p)
        var set: [Int] = []
        for j in 0..<p where beta[j] != 0 || factors[j] == 0 {
            inSet[j] = true
            set.append(j)
        }
        // Features proven zero at this alpha by the gap-safe rule: never in the set again.
        var screened = [Bool](repeating: false, count: p)
        var screenedCount = 0
        var gradient = fullGradient(intercept: intercept, beta: beta, skipping: inSet)
        var target = max(Self.initialSize, 2 * set.count)
        var iterations = 0
        var innerFit: LassoFit?
        for _ in 0..<Self.maxRounds {
            // Violations of the features outside the set, in penalty units.
            var candidates: [(score: Double, feature: Int)] = []
            var near: [(score: Double, feature: Int)] = []
            var outside = 0.0
            for j in 0..<p where !inSet[j] && !screened[j] {
                let excess = (Swift.abs(gradient[j]) - lambda * factors[j]) / scales[j]
                if excess > 0 {
                    candidates.append((excess, j))
                    outside = max(outside, excess / W)
                } else if Swift.abs(gradient[j]) >= Self.nearFraction * lambda * factors[j] {
                    near.append((excess, j))
                }
            }
            if let fit = innerFit, outside <= tol {
                var result = LassoFit(
                    alpha: alpha, penalty: penalty, intercept: fit.intercept, coefficients: beta,
                    objective: fit.objective, loss: fit.loss, kktViolation: max(fit.kktViolation, outside),
                    iterations: iterations, totalWeight: W, workingSetSize: set.count)
                result.innerSolver = fit.innerSolver
                result.screenedFeatures = screenedCount
                return result
            }
            // Another round: first drop the features proven zero (they may not join, and the
            // later rounds' gradients skip them).
            if options.screening, innerFit != nil || warmStart != nil,
                let proven = gapSafe(lambda: lambda, intercept: intercept, beta: beta, gradient: gradient, set: set, screened: screened),
                !proven.isEmpty
            {
                for j in proven { screened[j] = true }
                screenedCount += proven.count
                candidates.removeAll { screened[$0.feature] }
                near.removeAll { screened[$0.feature] }
            }
            // The largest violators join, ties broken by feature index: deterministic.
            candidates.sort { $0.score != $1.score ? $0.score > $1.score : $0.feature < $1.feature }
            let room = max(target - set.count, innerFit == nil ? 0 : 1)
            for c in candidates.prefix(room) {
                inSet[c.feature] = true
                set.append(c.feature)
            }
            if set.count >= LogisticLasso.coordinateDescentThreshold && set.count < target && !near.isEmpty {
                // Coordinate descent's cost grows only linearly in the set: the remaining room
                // goes to the features closest to violating, which usually would next round.
                near.sort { $0.score != $1.score ? $0.score > $1.score : $0.feature < $1.feature }
                for c in near.prefix(target - set.count) {
                    inSet[c.feature] = true
                    set.append(c.feature)
                }
            }
            if set.isEmpty {
                // Nothing violates (alpha >= alpha_max): the restricted problem still needs a
                // column; the one closest to entering stays at zero.
                let j = (0..<p).max { abs(gradient[$0]) / scales[$0] < abs(gradient[$1]) / scales[$1] } ?? 0
                inSet[j] = true
                set.append(j)
            }
            set.sort()
            target = max(target, Self.growth * set.count)

            let solver = try restricted(set, sparseAllowed: lambda > 0)
            let warm = LassoFit(
                alpha: alpha, penalty: penalty, intercept: intercept, coefficients: set.map { beta[$0] },
                objective: .nan, loss: .nan, kktViolation: .nan, iterations: 0, totalWeight: W)
            var fit = try solver.solve(alpha: alpha, warmStart: innerFit == nil && warmStart == nil ? nil : warm)
            fit.innerSolver = solver.innerSolver
            iterations += fit.iterations
            intercept = fit.intercept
            for j in 0..<p { beta[j] = 0 }
            for (i, j) in set.enumerated() { beta[j] = fit.coefficients[i] }
            innerFit = fit
            if set.count == p {
                var result = LassoFit(
                    alpha: alpha, penalty: penalty, intercept: intercept, coefficients: beta,
                    objective: fit.objective, loss: fit.loss, kktViolation: fit.kktViolation,
                    iterations: iterations, totalWeight: W, workingSetSize: p)
                result.innerSolver = fit.innerSolver
                return result
            }
            var skip = inSet
            for j in 0..<p where screened[j] { skip[j] = true }
            gradient = fullGradient(intercept: intercept, beta: beta, skipping: skip)
        }
        throw LassoError.notConverged(iterations: iterations, kktViolation: .infinity, tolerance: tol)
    }

    /// The solver of the problem restricted to `set`'s columns and the weighted patterns, with
    /// patterns that agree on those columns merged.
    ///
    /// On a sparse design the merged columns stay sparse (``SparseSolver``) when the set is in the
    /// coordinate-descent regime, under a quarter of its values are nonzero, every feature in it
    /// is penalized and `sparseAllowed` (alpha > 0: the dense solver watches for separation).
    func restricted(_ set: [Int], sparseAllowed: Bool) throws -> any RestrictedSolver {
        if let c = cached, c.set == set, c.sparseAllowed == sparseAllowed { return c.solver }
        let rows = weighted
        var subPenalty = penalty
        if let f = penalty.factors { subPenalty.factors = set.map { f[$0] } }
        let inner = options.innerSolver ?? (set.count >= LogisticLasso.coordinateDescentThreshold ? .coordinateDescent : .hessian)
        let sub: CompressedDesign
        var t: [Double], s: [Double]
        if let c = design.sparseColumns {
            // Rows merged on the set's columns straight from the sparse entries (most rows of a
            // one-hot design are zero on a small set, so few patterns remain), then held sparse
            // or densely.
            var start = [0], at: [Int32] = [], values: [Double] = []
            for j in set {
                for e in c.start[j]..<c.start[j + 1] where weightedPosition[Int(c.pattern[e])] >= 0 {
                    at.append(weightedPosition[Int(c.pattern[e])])
                    values.append(c.value[e])
                }
                start.append(at.count)
            }
            let names = set.map { design.featureNames[$0] }
            let merged = try CompressedDesign(featureNames: names, rowCount: rows.count, start: start, rows: at, values: values)
            let mc = merged.sparseColumns!
            let patterns = merged.patternCount
            if sparseAllowed, inner == .coordinateDescent, set.allSatisfy({ factors[$0] > 0 }),
                4 * mc.start[set.count] < set.count * patterns
            {
                let (trials, successes) = mergedCells(merged.rowPattern, length: patterns)
                let solver = try SparseSolver(
                    featureNames: names, columns: mc, patternCount: patterns, successes: successes, trials: trials,
                    penalty: subPenalty, factors: set.map { factors[$0] }, scales: set.map { scales[$0] }, options: options)
                cached = (set, sparseAllowed, solver)
                return solver
            }
            let stride = Kernels.paddedLength(patterns)
            var storage = [Double](repeating: 0, count: set.count * stride)
            for a in 0..<set.count {
                for e in mc.start[a]..<mc.start[a + 1] { storage[a * stride + Int(mc.pattern[e])] = mc.value[e] }
            }
            sub = CompressedDesign(
                featureNames: names, distinctStorage: storage, patternCount: patterns, sparseRows: options.hessian == .sparse)
            (t, s) = mergedCells(merged.rowPattern, length: stride)
        } else if set.contains(where: { injective($0) }) {
            // A column with distinct values on the weighted patterns: nothing merges.
            let stride = Kernels.paddedLength(rows.count)
            var storage = [Double](repeating: 0, count: set.count * stride)
            storage.withUnsafeMutableBufferPointer { out in
                for (a, j) in set.enumerated() { gather(j, into: out.baseAddress! + a * stride) }
            }
            sub = CompressedDesign(
                featureNames: set.map { design.featureNames[$0] }, distinctStorage: storage, patternCount: rows.count,
                sparseRows: options.hessian == .sparse)
            t = [Double](repeating: 0, count: stride)
            s = [Double](repeating: 0, count: stride)
            for (i, k) in rows.enumerated() {
                t[i] = cells.trials[k]
                s[i] = cells.successes[k]
            }
        } else {
            var columns: [[Double]] = []
            columns.reserveCapacity(set.count)
            for j in set {
                columns.append(
                    [Double](unsafeUninitializedCapacity: rows.count) { buffer, count in
                        gather(j, into: buffer.baseAddress!)
                        count = rows.count
                    })
            }
            sub = try CompressedDesign(featureNames: set.map { design.featureNames[$0] }, columns: columns)
            (t, s) = mergedCells(sub.rowPattern, length: sub.stride)
        }
        var subOptions = options
        subOptions.strategy = .full
        let solver = try Solver(
            design: sub, cells: BinomialCells(successes: s, trials: t, patternCount: sub.patternCount),
            penalty: subPenalty, options: subOptions,
            hessianFree: inner == .coordinateDescent && Solver.supportsCoordinateModel(sub))
        cached = (set, sparseAllowed, solver)
        return solver
    }

    /// Trials and successes of the weighted patterns summed into the merged patterns
    /// (`rowPattern[i]`: the merged pattern of the i-th weighted pattern), `length` entries.
    func mergedCells(_ rowPattern: [Int32], length: Int) -> (trials: [Double], successes: [Double]) {
        var t = [Double](repeating: 0, count: length), s = t
        for (i, k) in weighted.enumerated() {
            let target = Int(rowPattern[i])
            t[target] += cells.trials[k]
            s[target] += cells.successes[k]
        }
        return (t, s)
    }

    /// Feature `j`'s values on the weighted patterns, in their order, written to `out`.
    func gather(_ j: Int, into out: UnsafeMutablePointer<Double>) {
        if let c = design.sparseColumns {
            out.initialize(repeating: 0, count: weighted.count)
            for e in c.start[j]..<c.start[j + 1] {
                let i = weightedPosition[Int(c.pattern[e])]
                if i >= 0 { out[Int(i)] = c.value[e] }
            }
            return
        }
        design.storage.withUnsafeBufferPointer { xs in
            let col = xs.baseAddress! + j * n
            for (i, k) in weighted.enumerated() { out[i] = col[k] }
        }
    }

    /// Whether feature `j` takes distinct values on the weighted patterns (cached): a quick
    /// look at the first 64 of them, then a sort.
    func injective(_ j: Int) -> Bool {
        if let known = injectiveCache[j] { return known }
        let values = [Double](unsafeUninitializedCapacity: weighted.count) { buffer, count in
            gather(j, into: buffer.baseAddress!)
            count = weighted.count
        }
        let head = values.prefix(64).sorted()
        var result = !zip(head, head.dropFirst()).contains { $0.0 == $0.1 }
        if result {
            let all = values.sorted()
            result = !zip(all, all.dropFirst()).contains { $0.0 == $0.1 }
        }
        injectiveCache[j] = result
        return result
    }

    /// Features outside the set (at zero) that are zero in the solution at `lambda`, by the
    /// gap-safe sphere test (Ndiaye, Fercoq, Gramfort & Salmon 2017), adapted to binomial cells
    /// and the unpenalized intercept:
    /// - the dual point is the residual theta_k = s_k - t_k pi_k, shifted by a multiple of t so
    ///   that sum theta = 0 (the intercept's constraint; skipped if that leaves the dual's domain)
    ///   and scaled into |x_j' theta| <= lambda_j for every feature still in play;
    /// - the dual -sum_k t_k h(a_k), h(a) = a log a + (1 - a) log(1 - a), a_k = (s_k - theta_k) / t_k,
    ///   is strongly concave with curvature at least 4 / t_k in theta_k, so the optimal dual point
    ///   lies within sqrt(2 gap) of theta in that metric, and
    ///   |x_j' theta*| <= |x_j' theta| + sqrt(2 gap) sqrt(sum_k t_k x_kj^2 / 4);
    /// - a feature whose bound is below lambda_j is zero in every solution (KKT).
    /// `nil` when the rule does not apply: unpenalized features, alpha 0, or a dual point outside
    /// the domain. `gradient` holds x_j' (t pi - s) for the features outside `set` and not screened.
    func gapSafe(lambda: Double, intercept: Double, beta: [Double], gradient: [Double], set: [Int], screened: [Bool]) -> [Int]? {
        guard lambda > 0, !penalty.penalizeIntercept, !factors.contains(0) else { return nil }
        if columnMoments == nil {
            var mass = [Double](repeating: 0, count: p), squares = [Double](repeating: 0, count: p)
            var scratch = [Double](repeating: 0, count: n)
            if let c = design.sparseColumns {
                for j in 0..<p {
                    for e in c.start[j]..<c.start[j + 1] {
                        let t = cells.trials[Int(c.pattern[e])], x = c.value[e]
                        mass[j] += t * x
                        squares[j] += t * x * x
                    }
                }
            } else {
                design.storage.withUnsafeBufferPointer { xs in
                    cells.trials.withUnsafeBufferPointer { t in
                        scratch.withUnsafeMutableBufferPointer { tx in
                            for j in 0..<p {
                                let x = xs.baseAddress! + j * n
                                for k in 0..<n { tx[k] = t[k] * x[k] }
                                mass[j] = Kernels.dot(t.baseAddress!, x, n)
                                squares[j] = Kernels.dot(tx.baseAddress!, x, n)
                            }
                        }
                    }
                }
            }
            columnMoments = (mass, squares)
        }
        let (mass, squares) = columnMoments!
        // Linear predictor, primal loss and u = t pi - s on the weighted patterns.
        var eta = [Double](repeating: intercept, count: m)
        if let c = design.sparseColumns {
            eta.withUnsafeMutableBufferPointer { e in
                for j in 0..<p where beta[j] != 0 { c.addColumn(j, times: beta[j], to: e.baseAddress!) }
            }
        } else {
            design.storage.withUnsafeBufferPointer { xs in
                for j in 0..<p where beta[j] != 0 {
                    let b = beta[j]
                    for k in weighted { eta[k] += b * xs[j * n + k] }
                }
            }
        }
        var loss = 0.0, sumTheta = 0.0, lowPi = 1.0, highPi = 0.0
        var pi = [Double](repeating: 0, count: m)
        for k in weighted {
            let x = eta[k], t = cells.trials[k], y = cells.successes[k]
            let e = Double.exp(-Swift.abs(x))
            loss += t * (Swift.max(x, 0) + Double.log(onePlus: e)) - y * x
            let q = x >= 0 ? 1 / (1 + e) : e / (1 + e)
            pi[k] = q
            sumTheta += y - t * q
            lowPi = Swift.min(lowPi, q)
            highPi = Swift.max(highPi, q)
        }
        var penaltyTotal = 0.0
        for j in 0..<p where beta[j] != 0 { penaltyTotal += lambda * factors[j] * Swift.abs(beta[j]) }
        // Shift: theta = s - t (pi + delta); then a_k = pi_k + delta must stay in [0, 1].
        let delta = -sumTheta / W
        guard lowPi + delta >= 0, highPi + delta <= 1 else { return nil }
        // x_j' theta = -(x_j' u) - delta * mass_j; the set's own correlations are computed here.
        var inSet = [Bool](repeating: false, count: p)
        for j in set { inSet[j] = true }
        var correlation = [Double](repeating: 0, count: p)
        var scale = 1.0
        var u = [Double](repeating: 0, count: n)
        for k in weighted { u[k] = cells.trials[k] * pi[k] - cells.successes[k] }
        design.storage.withUnsafeBufferPointer { xs in
            for j in 0..<p where !screened[j] {
                var g = gradient[j]
                if inSet[j] {
                    if let c = design.sparseColumns {
                        g = u.withUnsafeBufferPointer { c.dot(j, $0.baseAddress!) }
                    } else {
                        g = 0
                        for k in weighted { g += xs[j * n + k] * u[k] }
                    }
                }
                correlation[j] = -g - delta * mass[j]
                scale = Swift.max(scale, Swift.abs(correlation[j]) / (lambda * factors[j]))
            }
        }
        // The dual at theta / scale: a_k = y_k / t_k - (y_k / t_k - pi_k - delta) / scale.
        var dual = 0.0
        for k in weighted {
            let t = cells.trials[k], f = cells.successes[k] / t
            let a = Swift.min(1, Swift.max(0, f - (f - pi[k] - delta) / scale))
            var h = 0.0
            if a > 0 { h += a * Double.log(a) }
            if a < 1 { h += (1 - a) * Double.log(1 - a) }
            dual -= t * h
        }
        let primal = loss + penaltyTotal
        // A little slack for rounding in the two sums.
        let gap = Swift.max(primal - dual, 0) + 1e-12 * (Swift.abs(primal) + Swift.abs(dual))
        let radius = (2 * gap).squareRoot()
        var proven: [Int] = []
        for j in 0..<p where !screened[j] && !inSet[j] && beta[j] == 0 {
            let bound = Swift.abs(correlation[j]) / scale + radius * (squares[j] / 4).squareRoot()
            if bound < lambda * factors[j] * (1 - 1e-9) { proven.append(j) }
        }
        return proven
    }

    /// `X' (t pi - s)` at (intercept, beta): the exact gradient of the loss, for the features not
    /// in `skipping` (the set's own are certified by the restricted solver; 0 here).
    func fullGradient(intercept: Double, beta: [Double], skipping: [Bool]) -> [Double] {
        let r = LogisticLasso.residuals(design: design, cells: cells, intercept: intercept, coefficients: beta)
        var g = [Double](repeating: 0, count: p)
        if let c = design.sparseColumns {
            r.withUnsafeBufferPointer { rp in
                for j in 0..<p where !skipping[j] { g[j] = c.dot(j, rp.baseAddress!) }
            }
            return g
        }
        design.storage.withUnsafeBufferPointer { xs in
            r.withUnsafeBufferPointer { rp in
                for j in 0..<p where !skipping[j] { g[j] = Kernels.dot(rp.baseAddress!, xs.baseAddress! + j * n, n) }
            }
        }
        return g
    }
}

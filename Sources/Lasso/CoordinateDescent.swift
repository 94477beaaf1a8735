/// How each proximal Newton iteration solved its L1-penalized quadratic model.
public enum InnerSolver: String, Sendable, Equatable, CaseIterable {
    /// The model's Hessian `X' V X` formed (dense, sparse or blocked kernel), then an exact
    /// active-set Cholesky solve, else covariance-mode coordinate descent: O(patterns x set^2)
    /// per iteration, best for few features or compressible patterns.
    case hessian
    /// Hessian-free coordinate descent on the model: `V X d` kept as a pattern vector, each
    /// coordinate step one column pass, O(patterns x set) per sweep: best for large working sets.
    case coordinateDescent = "coordinate-descent"
}

/// Buffers of the Hessian-free inner solver (``Solver/solveModelByCoordinates(kkt:)``).
final class CoordinateWorkspace {
    /// `V (X~ d)` over the patterns (`n`, padding zero).
    let w: UnsafeMutablePointer<Double>
    /// Per coordinate: the model's curvature (with the intercept eliminated: the Schur complement
    /// `x' V x - (1' V x)^2 / 1' V 1`), and the weighted mean `1' V x / 1' V 1` the intercept
    /// moves by per unit step of the coordinate.
    let curvature: UnsafeMutablePointer<Double>, center: UnsafeMutablePointer<Double>
    /// Coordinates nonzero (or unpenalized) in `beta + d`.
    let active: UnsafeMutablePointer<Int>
    /// Anderson acceleration: the last ``andersonDepth`` + 1 active sweeps' iterates (active
    /// coordinates only), and the candidate's `X~ d` and `V X~ d`.
    let history: UnsafeMutablePointer<Double>
    let z: UnsafeMutablePointer<Double>, candidate: UnsafeMutablePointer<Double>
    /// Sweeps over all fits, and accepted Anderson steps (diagnostics).
    var sweeps = 0, accelerations = 0
    /// Iterates combined per Anderson step (skglm's `K = 5`); 0 turns acceleration off.
    static let andersonDepth = 5

    init(n: Int, q: Int) {
        w = .allocate(capacity: n)
        w.initialize(repeating: 0, count: n)
        z = .allocate(capacity: n)
        z.initialize(repeating: 0, count: n)
        candidate = .allocate(capacity: n)
        candidate.initialize(repeating: 0, count: n)
        history = .allocate(capacity: (Self.andersonDepth + 1) * q)
        history.initialize(repeating: 0, count: (Self.andersonDepth + 1) * q)
        curvature = .allocate(capacity: q)
        curvature.initialize(repeating: 0, count: q)
        center = .allocate(capacity: q)
        center.initialize(repeating: 0, count: q)
        active = .allocate(capacity: q)
    }

    deinit {
        w.deallocate()
        z.deallocate()
        candidate.deallocate()
        history.deallocate()
        curvature.deallocate()
        center.deallocate()
        active.deallocate()
    }
}

extension Solver {
    /// Whether ``solveModelByCoordinates(kkt:)`` can run on `design`: every feature a dense
    /// column of the design's own storage, patterns in the design's order (no indicator chunks).
    static func supportsCoordinateModel(_ design: CompressedDesign) -> Bool {
        design.layout.chunkCount == 0 && design.layout.identity
    }

    /// Which inner solver the Newton iterations use.
    var innerSolver: InnerSolver { coordinateWorkspace == nil ? .hessian : .coordinateDescent }

    /// Minimizes the model `g.d + d'X~'VX~d/2 + sum lam_j |beta_j + d_j|` into `d` by cyclic
    /// coordinate descent that never forms the Hessian: `V X~ d` is kept as a pattern vector, so a
    /// coordinate's model gradient is one column dot product and its step one column update.
    ///
    /// With a free intercept, the intercept is eliminated as in ``solveSubproblem()``: every step
    /// of a feature moves it to its optimum too (centered coordinate descent), so the model's
    /// intercept gradient stays zero and a feature's gradient is `g_j + x_j' V X~ d`.
    ///
    /// The model is solved inexactly, to a violation of its optimality conditions (measured as
    /// the KKT violation, on the mean scale in penalty units) that shrinks with the outer
    /// violation `kkt`: a tenth of it, and quadratically near the solution, so the outer
    /// iteration keeps its fast local convergence; the outer loop's exact gradient certifies.
    /// Sweeps alternate between every coordinate and only the nonzero ones (glmnet's active-set
    /// cycling) until a sweep over every coordinate finds none violating.
    func solveModelByCoordinates(kkt: Double) {
        guard let work = coordinateWorkspace else { preconditionFailure("a Hessian-free solver only") }
        let n = self.n, q = self.q
        let w = work.w, curvature = work.curvature, center = work.center, active = work.active
        let target = max(0.1 * options.tolerance, kkt * min(0.1, kkt * 1e3)) * W
        for j in 0..<q { d[j] = 0 }
        let h00 = Kernels.sum(v, n)
        let eliminate = lam[0] == 0 && !pinned[0] && h00 > 0
        let d0 = eliminate ? -g[0] / h00 : 0
        let vd0 = Kernels.V(repeating: d0)
        var i = 0
        while i < n {
            Kernels.store(vd0 * Kernels.load(v, i), w, i)
            i += Kernels.width
        }
        d[0] = d0
        curvature[0] = h00
        center[0] = 0
        design.storage.withUnsafeBufferPointer { xs in
            let x = xs.baseAddress!
            for j in 1..<q {
                if pinned[j] { curvature[j] = 0; continue }
                let (c, a) = Self.weightedMoments(v, x + (j - 1) * n, n)
                center[j] = eliminate ? c / h00 : 0
                curvature[j] = eliminate ? a - c * c / h00 : a
            }
            // One coordinate step; returns the coordinate's violation before it (raw units).
            func visit(_ j: Int) -> Double {
                let a = curvature[j]
                let column: UnsafePointer<Double>? = j == 0 ? nil : x + (j - 1) * n
                let grad = g[j] + (column.map { Kernels.dot($0, w, n) } ?? Kernels.sum(w, n))
                let (violation, delta) = Self.coordinateStep(gradient: grad, at: beta[j] + d[j], lambda: lam[j], curvature: a)
                guard violation > 0 else { return 0 }
                if delta != 0 {
                    d[j] += delta
                    if let column {
                        let m = center[j]
                        if eliminate { d[0] -= m * delta }
                        Self.stepUpdate(w, v, column, delta: delta, center: m, n)
                    } else {
                        Self.stepUpdate(w, v, nil, delta: delta, center: 0, n)
                    }
                }
                return j == 0 ? violation : violation * inverseScales[j - 1]
            }
            let first = eliminate ? 1 : 0
            var sweeps = 0
            let maxSweeps = options.maxInnerSweeps
            while sweeps < maxSweeps {
                var worst = 0.0
                for j in first..<q where !pinned[j] { worst = max(worst, visit(j)) }
                sweeps += 1
                if worst <= target { break }
                var count = 0
                for j in first..<q where !pinned[j] && (lam[j] == 0 || beta[j] + d[j] != 0) {
                    active[count] = j
                    count += 1
                }
                let depth = CoordinateWorkspace.andersonDepth
                var stored = 0
                while sweeps < maxSweeps {
                    var worstActive = 0.0
                    for k in 0..<count { worstActive = max(worstActive, visit(active[k])) }
                    sweeps += 1
                    if worstActive <= 0.5 * target { break }
                    guard depth > 0 else { continue }
                    let slot = work.history + stored * count
                    for k in 0..<count { slot[k] = d[active[k]] }
                    stored += 1
                    if stored == depth + 1 {
                        if accelerate(count: count, eliminate: eliminate, h00: h00, x: x) { work.accelerations += 1 }
                        stored = 0
                    }
                }
            }
            work.sweeps += sweeps
        }
    }

    /// One coordinate's step on the model `grad (u' - u) + a (u' - u)^2 / 2 + lambda |u'|` at
    /// `u`: its optimality violation before the step (0 when the curvature is not positive: no
    /// step) and the exact minimizer's change `u' - u` (soft thresholding).
    @inline(__always)
    static func coordinateStep(
        gradient grad: Double, at u: Double, lambda l: Double, curvature a: Double
    ) -> (
        violation: Double, delta: Double
    ) {
        let violation: Double
        if l == 0 {
            violation = Swift.abs(grad)
        } else if u == 0 {
            violation = max(0, Swift.abs(grad) - l)
        } else {
            violation = Swift.abs(grad + (u > 0 ? l : -l))
        }
        guard a > 0, violation > 0 else { return (0, 0) }
        let z = a * u - grad
        let unew = z > l ? (z - l) / a : (z < -l ? (z + l) / a : 0)
        return (violation, unew - u)
    }

    /// Anderson extrapolation of the last `depth + 1` active-sweep iterates (as skglm's
    /// AndersonCD): the affine combination whose successive differences combine to the smallest
    /// norm. Taken (into `d` and `w`) only if it lowers the model; returns whether it did.
    func accelerate(count: Int, eliminate: Bool, h00: Double, x: UnsafePointer<Double>) -> Bool {
        guard let work = coordinateWorkspace else { return false }
        let K = CoordinateWorkspace.andersonDepth
        let hist = work.history, active = work.active
        // Gram matrix of the differences U_k = iterate_{k+1} - iterate_k.
        var gram = [Double](repeating: 0, count: K * K)
        for a in 0..<K {
            for b in a..<K {
                var sum = 0.0
                for k in 0..<count {
                    let ua = hist[(a + 1) * count + k] - hist[a * count + k]
                    let ub = hist[(b + 1) * count + k] - hist[b * count + k]
                    sum += ua * ub
                }
                gram[a * K + b] = sum
                gram[b * K + a] = sum
            }
        }
        var trace = 0.0
        for a in 0..<K { trace += gram[a * K + a] }
        guard trace > 0, trace.isFinite else { return false }
        for a in 0..<K { gram[a * K + a] += 1e-10 * trace / Double(K) }
        guard var c = Self.solveSymmetric(gram, K) else { return false }
        let total = c.reduce(0, +)
        guard total != 0, total.isFinite else { return false }
        for a in 0..<K { c[a] /= total }
        // The model at the current d: V X~ d is `w`, so (X~ d)' V (X~ d) = sum w^2 / v.
        let n = self.n, q = self.q, w = work.w, z = work.z, cand = work.candidate
        func model(quadratic: Double) -> Double {
            var value = 0.5 * quadratic
            for j in 0..<q where d[j] != 0 || lam[j] != 0 {
                value += g[j] * d[j] + lam[j] * Swift.abs(beta[j] + d[j])
            }
            return value
        }
        var current = 0.0
        for i in 0..<n where v[i] > 0 { current += w[i] * w[i] / v[i] }
        let before = model(quadratic: current)
        // The candidate, in place in d (the current iterate is the history's last slot).
        let savedD0 = d[0]
        for k in 0..<count {
            var e = 0.0
            for a in 0..<K { e += c[a] * hist[(a + 1) * count + k] }
            d[active[k]] = e
        }
        if eliminate {
            var d0 = -g[0] / h00
            for j in 1..<q where d[j] != 0 { d0 -= work.center[j] * d[j] }
            d[0] = d0
        }
        for i in 0..<n { z[i] = d[0] }
        for j in 1..<q where d[j] != 0 {
            let dj = Kernels.V(repeating: d[j]), col = x + (j - 1) * n
            var i = 0
            while i < n {
                Kernels.store(Kernels.load(z, i) + dj * Kernels.load(col, i), z, i)
                i += Kernels.width
            }
        }
        Kernels.multiply(v, z, cand, n)
        let after = model(quadratic: Kernels.dot(z, cand, n))
        if after < before {
            w.update(from: cand, count: n)
            return true
        }
        // Rejected: back to the last iterate.
        let last = hist + K * count
        for k in 0..<count { d[active[k]] = last[k] }
        d[0] = savedD0
        return false
    }

    /// Solves the symmetric `k x k` system `a c = 1` by Gaussian elimination with partial
    /// pivoting; `nil` if singular.
    static func solveSymmetric(_ matrix: [Double], _ k: Int) -> [Double]? {
        var a = matrix
        var b = [Double](repeating: 1, count: k)
        for col in 0..<k {
            var pivot = col
            for r in (col + 1)..<max(col + 1, k) where Swift.abs(a[r * k + col]) > Swift.abs(a[pivot * k + col]) { pivot = r }
            guard a[pivot * k + col] != 0, a[pivot * k + col].isFinite else { return nil }
            if pivot != col {
                for c in 0..<k { a.swapAt(col * k + c, pivot * k + c) }
                b.swapAt(col, pivot)
            }
            for r in (col + 1)..<max(col + 1, k) {
                let f = a[r * k + col] / a[col * k + col]
                for c in col..<k { a[r * k + c] -= f * a[col * k + c] }
                b[r] -= f * b[col]
            }
        }
        var out = [Double](repeating: 0, count: k)
        for r in stride(from: k - 1, through: 0, by: -1) {
            var s = b[r]
            for c in (r + 1)..<max(r + 1, k) { s -= a[r * k + c] * out[c] }
            out[r] = s / a[r * k + r]
        }
        return out.allSatisfy { $0.isFinite } ? out : nil
    }

    /// `(sum v x, sum v x^2)` over `n` (padded) entries.
    @inline(__always)
    static func weightedMoments(_ v: UnsafePointer<Double>, _ x: UnsafePointer<Double>, _ n: Int) -> (Double, Double) {
        var s1 = Kernels.V(repeating: 0), s2 = Kernels.V(repeating: 0)
        var i = 0
        while i < n {
            let vx = Kernels.load(v, i) * Kernels.load(x, i)
            s1 += vx
            s2 += vx * Kernels.load(x, i)
            i += Kernels.width
        }
        return (s1.sum(), s2.sum())
    }

    /// `w += delta * v * (x - center)` (`x = 1` when `nil`).
    @inline(__always)
    static func stepUpdate(
        _ w: UnsafeMutablePointer<Double>, _ v: UnsafePointer<Double>, _ x: UnsafePointer<Double>?,
        delta: Double, center: Double, _ n: Int
    ) {
        let dv = Kernels.V(repeating: delta), c = Kernels.V(repeating: center)
        var i = 0
        if let x {
            while i < n {
                Kernels.store(Kernels.load(w, i) + dv * Kernels.load(v, i) * (Kernels.load(x, i) - c), w, i)
                i += Kernels.width
            }
        } else {
            while i < n {
                Kernels.store(Kernels.load(w, i) + dv * Kernels.load(v, i), w, i)
                i += Kernels.width
            }
        }
    }
}

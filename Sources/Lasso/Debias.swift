import Dispatch
import RealModule

/// A debiased lasso estimate (n > p): the lasso fit moved by Newton steps on the unpenalized
/// log-likelihood of the compressed cells, with its Wald standard errors.
///
/// With g = sum_k x_k (e_k - m_k pi_k) and H = sum_k m_k pi_k (1 - pi_k) x_k x_k' (intercept
/// included) at the current point, one step is b = beta + H^{-1} g. One step from the lasso fit
/// is the one-step estimator of van de Geer, Buhlmann, Ritov & Dezeure (2014); iterated to
/// convergence it is the unpenalized maximum-likelihood estimate, and its Wald intervals are
/// those of an unpenalized logistic regression (statsmodels' `Logit(...).fit().conf_int()`).
/// Unlike ``WaldInterval`` (conditional on selection) these cover the unpenalized coefficient.
public struct DebiasedEstimate: Sendable, Equatable {
    /// Intercept first, then one per design feature.
    public let coefficients: [Double]
    /// sqrt((H^{-1})_jj), H at the point of the last Newton step (empty when not asked for).
    public let standardErrors: [Double]
    /// sqrt((H^{-1} M H^{-1})_jj), M = sum_k [e_k (1 - pi_k)^2 + (m_k - e_k) pi_k^2] x_k x_k'
    /// (empty when not asked for).
    public let sandwichStandardErrors: [Double]
    /// Condition number of H scaled to unit diagonal (D^{-1/2} H D^{-1/2}): unit-free, large
    /// when features are nearly collinear (`nan` when not asked for).
    public let conditionNumber: Double
    /// Newton steps taken.
    public let steps: Int

    public init(coefficients: [Double], standardErrors: [Double], sandwichStandardErrors: [Double], conditionNumber: Double, steps: Int) {
        self.coefficients = coefficients
        self.standardErrors = standardErrors
        self.sandwichStandardErrors = sandwichStandardErrors
        self.conditionNumber = conditionNumber
        self.steps = steps
    }
}

/// Why a debiased estimate could not be made.
public enum DebiasFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// H is not numerically positive definite, or its scaled condition number exceeds the limit
    /// (collinear features, a binary feature with no or almost no rows on one side).
    case nearSingularHessian(conditionNumber: Double)
    /// Newton steps did not settle (quasi-separation: a coefficient runs off towards infinity).
    case notConverged(steps: Int)

    public var description: String {
        switch self {
        case let .nearSingularHessian(c):
            return c.isFinite ? "near-singular Hessian (scaled condition number \(c))" : "singular Hessian"
        case let .notConverged(steps):
            return "Newton steps did not converge in \(steps) steps (quasi-separation?)"
        }
    }

    /// A short stable name for report flags.
    public var flag: String {
        switch self {
        case .nearSingularHessian: return "nearSingularHessian"
        case .notConverged: return "newtonNotConverged"
        }
    }
}

/// Newton steps on the unpenalized logistic log-likelihood over a compressed design.
public struct Debias: Sendable {
    /// Scaled condition numbers above this count as near-singular.
    public static let conditionLimit = 1e12
    /// Coefficients beyond this magnitude mean the likelihood has no finite maximum.
    public static let divergenceLimit = 50.0

    let design: CompressedDesign
    /// Number of coefficients (intercept + features).
    let size: Int

    /// Prepares steps on `design`.
    public init(design: CompressedDesign) {
        self.design = design
        self.size = design.featureCount + 1
    }

    /// Gradient, Hessian (row-major, full) and, when asked, M at `beta` over the cells.
    ///
    /// One pass over the patterns' nonzero entries (compressed sparse rows): a pattern with q
    /// nonzero features costs O(q^2), so binary designs cost a fraction of p^2 per pattern. The
    /// linear predictor and the probabilities come first (the logistic function vectorized), then
    /// the upper triangles are accumulated row by row and mirrored.
    func derivatives(
        cells: BinomialCells, beta: [Double], withMeat: Bool
    )
        -> (g: [Double], h: [Double], m: [Double], pi: [Double])
    {
        if DenseGram.applies(to: design) { return denseDerivatives(cells: cells, beta: beta, withMeat: withMeat) }
        let n = design.patternCount, p = size
        var pi = [Double](repeating: 0, count: n)
        var g = [Double](repeating: 0, count: p)
        var h = [Double](repeating: 0, count: p * p)
        var meat = [Double](repeating: 0, count: withMeat ? p * p : 0)
        design.sparseStart.withUnsafeBufferPointer { start in
            design.sparseFeature.withUnsafeBufferPointer { feature in
                design.sparseValue.withUnsafeBufferPointer { value in
                    beta.withUnsafeBufferPointer { beta in
                        pi.withUnsafeMutableBufferPointer { pi in
                            // Linear predictor of every pattern (patterns without trials too: cheaper than a branch).
                            for k in 0..<n {
                                var eta = beta[0]
                                for i in Int(start[k])..<Int(start[k + 1]) { eta += beta[Int(feature[i]) + 1] * value[i] }
                                pi[k] = eta
                            }
                            Self.sigmoidInPlace(pi.baseAddress!, n)
                        }
                    }
                }
            }
        }
        design.sparseStart.withUnsafeBufferPointer { start in
            design.sparseFeature.withUnsafeBufferPointer { feature in
                design.sparseValue.withUnsafeBufferPointer { value in
                    cells.trials.withUnsafeBufferPointer { trials in
                        cells.successes.withUnsafeBufferPointer { successes in
                            pi.withUnsafeBufferPointer { pi in
                                g.withUnsafeMutableBufferPointer { g in
                                    h.withUnsafeMutableBufferPointer { h in
                                        meat.withUnsafeMutableBufferPointer { meat in
                                            let h = h.baseAddress!
                                            for k in 0..<n where trials[k] > 0 {
                                                let lo = Int(start[k]), hi = Int(start[k + 1])
                                                let q = pi[k], m = trials[k], e = successes[k]
                                                let w = m * q * (1 - q), r = e - m * q
                                                g[0] += r
                                                for i in lo..<hi { g[Int(feature[i]) + 1] += r * value[i] }
                                                Self.addOuter(h, weight: w, lo: lo, hi: hi, feature: feature, value: value, size: p)
                                            }
                                            if withMeat {
                                                let meat = meat.baseAddress!
                                                for k in 0..<n where trials[k] > 0 {
                                                    let lo = Int(start[k]), hi = Int(start[k + 1])
                                                    let q = pi[k], m = trials[k], e = successes[k]
                                                    let v = e * (1 - q) * (1 - q) + (m - e) * q * q
                                                    Self.addOuter(meat, weight: v, lo: lo, hi: hi, feature: feature, value: value, size: p)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Mirror: row 0 and the upper triangle (features in a pattern are in increasing order).
        Self.mirror(&h, size: p)
        if withMeat { Self.mirror(&meat, size: p) }
        return (g, h, meat, pi)
    }

    /// ``derivatives(cells:beta:withMeat:)`` of a dense design with many features: the linear
    /// predictor by columns, H and M by ``DenseGram`` (the sparse rows are never built).
    func denseDerivatives(
        cells: BinomialCells, beta: [Double], withMeat: Bool
    ) -> (g: [Double], h: [Double], m: [Double], pi: [Double]) {
        let n = design.patternCount, f = design.featureCount, stride = design.stride
        var eta = [Double](repeating: 0, count: stride)
        var r = [Double](repeating: 0, count: stride), w = r, v = withMeat ? r : []
        var g = [Double](repeating: 0, count: f + 1)
        var h: [Double] = [], meat: [Double] = []
        design.storage.withUnsafeBufferPointer { xs in
            let x = xs.baseAddress!
            eta.withUnsafeMutableBufferPointer { eta in
                let e = eta.baseAddress!
                for k in 0..<n { e[k] = beta[0] }
                for j in 0..<f where beta[j + 1] != 0 {
                    let b = beta[j + 1], xj = x + j * stride
                    for k in 0..<n { e[k] += b * xj[k] }
                }
                Self.sigmoidInPlace(e, n)
            }
            for k in 0..<n where cells.trials[k] > 0 {
                let q = eta[k], m = cells.trials[k], s = cells.successes[k]
                r[k] = s - m * q
                w[k] = m * q * (1 - q)
                if withMeat { v[k] = s * (1 - q) * (1 - q) + (m - s) * q * q }
            }
            r.withUnsafeBufferPointer { r in
                let rp = r.baseAddress!
                g[0] = Kernels.sum(rp, stride)
                for j in 0..<f { g[j + 1] = Kernels.dot(rp, x + j * stride, stride) }
            }
            h = w.withUnsafeBufferPointer { DenseGram.gram(x: x, stride: stride, features: f, weights: $0.baseAddress!) }
            if withMeat {
                meat = v.withUnsafeBufferPointer { DenseGram.gram(x: x, stride: stride, features: f, weights: $0.baseAddress!) }
            }
        }
        return (g, h, meat, Array(eta[0..<n]))
    }

    /// Adds `weight` x x' to the upper triangle and row 0 of the row-major `size` x `size` matrix
    /// at `a`, x = (1, pattern's nonzeros `lo..<hi`); ``mirror(_:size:)`` completes it.
    @inline(__always)
    static func addOuter(
        _ a: UnsafeMutablePointer<Double>, weight: Double, lo: Int, hi: Int,
        feature: UnsafeBufferPointer<Int32>, value: UnsafeBufferPointer<Double>, size p: Int
    ) {
        a[0] += weight
        for i in lo..<hi {
            let col = Int(feature[i]) + 1, wx = weight * value[i]
            a[col] += wx  // row 0, column col
            let row = a + col * p + 1
            for l in i..<hi { row[Int(feature[l])] += wx * value[l] }
        }
    }

    /// Makes a matrix whose entries (a, b) and (b, a) were accumulated separately symmetric.
    static func mirror(_ a: inout [Double], size p: Int) {
        for i in 0..<p {
            for j in (i + 1)..<max(i + 1, p) {
                let sum = a[i * p + j] + a[j * p + i]
                a[i * p + j] = sum
                a[j * p + i] = sum
            }
        }
    }

    /// Replaces every x by 1 / (1 + e^-x), eight at a time (``SIMDMath``, 1-2 ulp).
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Double>, _ n: Int) {
        typealias V = SIMDMath.V
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let e = SIMDMath.expNonPositive(-SIMDMath.abs(v))
            let one = V(repeating: 1)
            let s = (one / (one + e)).replacing(with: e / (one + e), where: v .< 0)
            UnsafeMutableRawPointer(x + i).storeBytes(of: s, as: V.self)
            i += 8
        }
        while i < n { x[i] = Kernels.sigmoid(x[i]); i += 1 }
    }

    /// Newton steps from `start` (intercept first).
    ///
    /// - Parameters:
    ///   - newtonSteps: `nil` iterates until the largest step is below `tolerance` relative to
    ///     the coefficient (at most 50 steps, 100 with `biasReduction`); `1` gives the one-step estimator.
    ///   - biasReduction: solve Firth's modified score equations instead of the likelihood's
    ///     (see ``firthScore(cells:beta:)``): the estimate maximizes the log-likelihood plus
    ///     1/2 log det H (the Jeffreys prior), which removes the O(1/n) bias of the
    ///     maximum-likelihood estimate and stays finite under separation. Needs `newtonSteps == nil`.
    ///   - errors: also compute standard errors, sandwich errors and the condition number (the
    ///     full-data estimate needs them, a bootstrap replicate does not).
    ///   - quadratic: with `newtonSteps == nil`, also stop once a step is below
    ///     0.1 sqrt(tolerance): Newton converges quadratically, so the next step (the error left)
    ///     would be of order that step squared, below `tolerance`; saves the last Hessian.
    /// - Throws: ``DebiasFailure``.
    public func estimate(
        cells: BinomialCells, start: [Double], newtonSteps: Int? = nil, errors: Bool = true,
        tolerance: Double = 1e-10, quadratic: Bool = false, biasReduction: Bool = false
    ) throws -> DebiasedEstimate {
        precondition(start.count == size, "one coefficient per feature plus the intercept")
        precondition(newtonSteps.map { $0 >= 1 } ?? true, "at least one Newton step")
        precondition(!biasReduction || newtonSteps == nil, "bias reduction iterates until converged")
        if biasReduction { return try firth(cells: cells, start: start, errors: errors, tolerance: tolerance) }
        let p = size
        let limit = newtonSteps ?? 50
        var beta = start
        var steps = 0
        var last: (g: [Double], h: [Double], m: [Double], pi: [Double])
        var factor: [Double]
        while true {
            last = derivatives(cells: cells, beta: beta, withMeat: errors)
            guard let l = LinearAlgebra.cholesky(last.h, size: p) else {
                throw DebiasFailure.nearSingularHessian(conditionNumber: .infinity)
            }
            factor = l
            let largest = try step(&beta, LinearAlgebra.choleskySolve(factor, last.g, size: p), steps: steps + 1)
            steps += 1
            if let n = newtonSteps {
                if steps >= n { break }
            } else if largest <= tolerance || (quadratic && largest <= 0.1 * tolerance.squareRoot()) {
                break
            }
            if steps >= limit { throw DebiasFailure.notConverged(steps: steps) }
        }
        return try finish(beta: beta, at: last, factor: factor, steps: steps, errors: errors)
    }

    /// The estimate at `beta` with, when asked, its errors from the derivatives `last` at `beta`.
    func finish(
        beta: [Double], at last: (g: [Double], h: [Double], m: [Double], pi: [Double]), factor: [Double],
        steps: Int, errors: Bool
    ) throws -> DebiasedEstimate {
        let p = size
        guard errors else {
            return DebiasedEstimate(coefficients: beta, standardErrors: [], sandwichStandardErrors: [], conditionNumber: .nan, steps: steps)
        }
        let condition = Self.scaledConditionNumber(last.h, size: p)
        guard condition <= Self.conditionLimit else { throw DebiasFailure.nearSingularHessian(conditionNumber: condition) }
        let inverse = LinearAlgebra.choleskyInverse(factor, size: p)
        let se = (0..<p).map { inverse[$0 * p + $0].squareRoot() }
        var sandwich = [Double](repeating: 0, count: p)
        // (H^-1 M H^-1)_jj = a' M a with a the j-th row of H^-1: O(p^2) each, shared among the
        // cores at large p (each j by one core, so the same bits whatever their number).
        let meat = last.m
        sandwich.withUnsafeMutableBufferPointer { out in
            let o = UnsafeMutableSendablePointer(out.baseAddress!)
            let workers = p >= 64 ? ProcessInfoCores.count : 1
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for j in Swift.stride(from: worker, to: p, by: workers) {
                    var s = 0.0
                    for r in 0..<p {
                        var t = 0.0
                        for c in 0..<p { t += meat[r * p + c] * inverse[j * p + c] }
                        s += inverse[j * p + r] * t
                    }
                    o.pointer[j] = max(s, 0).squareRoot()
                }
            }
        }
        return DebiasedEstimate(
            coefficients: beta, standardErrors: se, sandwichStandardErrors: sandwich,
            conditionNumber: condition, steps: steps)
    }

    /// Adds `delta` to `beta`; returns the largest step relative to its coefficient.
    /// - Throws: ``DebiasFailure/notConverged(steps:)`` when a coefficient leaves the finite range.
    private func step(_ beta: inout [Double], _ delta: [Double], steps: Int) throws -> Double {
        var largest = 0.0
        for j in beta.indices {
            beta[j] += delta[j]
            largest = max(largest, abs(delta[j]) / max(1, abs(beta[j])))
        }
        guard beta.allSatisfy({ $0.isFinite && abs($0) < Self.divergenceLimit }) else {
            throw DebiasFailure.notConverged(steps: steps)
        }
        return largest
    }

    /// Delete-one-row values of the debiased estimate for BCa's acceleration: for each
    /// (pattern, outcome value) cell, one Newton step from the full-data estimate `beta` on the
    /// data without one of its rows, b - H_{-i}^{-1} x_k (y - pi_k), with H_{-i}^{-1} x_k by
    /// Sherman-Morrison (exact for that step, O(p^2) per cell instead of a new Hessian). At a
    /// converged `beta` this is the delete-one maximum-likelihood estimate to O(1/n^2).
    ///
    /// - Returns: one coefficient vector per cell, in the order given.
    public func jackknife(cells: BinomialCells, beta: [Double], deleted: [(pattern: Int, y: Double)]) throws -> [[Double]] {
        let p = size
        let d = derivatives(cells: cells, beta: beta, withMeat: false)
        guard let l = LinearAlgebra.cholesky(d.h, size: p) else {
            throw DebiasFailure.nearSingularHessian(conditionNumber: .infinity)
        }
        var out: [[Double]] = []
        out.reserveCapacity(deleted.count)
        var x = [Double](repeating: 0, count: p)
        for (k, y) in deleted {
            x[0] = 1
            for j in 1..<p { x[j] = design.value(pattern: k, feature: j - 1) }
            let u = LinearAlgebra.choleskySolve(l, x, size: p)  // H^-1 x
            var hk = 0.0
            for j in 0..<p { hk += x[j] * u[j] }
            let q = d.pi[k], w = q * (1 - q)
            let scale = (y - q) / (1 - w * hk)
            out.append((0..<p).map { beta[$0] - scale * u[$0] })
        }
        return out
    }

    /// Largest over smallest eigenvalue of `a` scaled to unit diagonal (cyclic Jacobi).
    public static func scaledConditionNumber(_ a: [Double], size n: Int) -> Double {
        var s = a
        for i in 0..<n {
            for j in 0..<n {
                let d = (a[i * n + i] * a[j * n + j]).squareRoot()
                s[i * n + j] = d > 0 ? a[i * n + j] / d : 0
            }
        }
        let eigen = LinearAlgebra.symmetricEigenvalues(s, size: n)
        guard let lo = eigen.min(), let hi = eigen.max(), lo > 0 else { return .infinity }
        return hi / lo
    }
}

extension LinearAlgebra {
    /// Lower Cholesky factor of a symmetric positive definite matrix (row-major), or `nil`.
    static func cholesky(_ a: [Double], size n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0, s.isFinite else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        return l
    }

    /// Solves L L' x = b.
    static func choleskySolve(_ l: [Double], _ b: [Double], size n: Int) -> [Double] {
        var y = b
        for i in 0..<n {
            var s = y[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<max(i + 1, n) { s -= l[k * n + i] * y[k] }
            y[i] = s / l[i * n + i]
        }
        return y
    }

    /// (L L')^{-1}, row-major: one column per pair of triangular solves (the operations of
    /// ``choleskySolve(_:_:size:)``, reading L' by rows), the columns shared among the cores at
    /// large n (each column by one core: the same bits whatever their number).
    static func choleskyInverse(_ l: [Double], size n: Int) -> [Double] {
        var transposed = [Double](repeating: 0, count: n * n)  // L', row-major
        for i in 0..<n {
            for k in 0...i { transposed[k * n + i] = l[i * n + k] }
        }
        let u = transposed
        var inv = [Double](repeating: 0, count: n * n)
        let workers = n >= 64 ? ProcessInfoCores.count : 1
        inv.withUnsafeMutableBufferPointer { out in
            let o = UnsafeMutableSendablePointer(out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var y = [Double](repeating: 0, count: n)
                for c in Swift.stride(from: worker, to: n, by: workers) {
                    for i in 0..<n { y[i] = i == c ? 1 : 0 }
                    for i in c..<n {  // y[i] = 0 above c: the terms before c are zero
                        var s = y[i]
                        for k in c..<i { s -= l[i * n + k] * y[k] }
                        y[i] = s / l[i * n + i]
                    }
                    for i in Swift.stride(from: n - 1, through: 0, by: -1) {
                        var s = y[i]
                        for k in (i + 1)..<max(i + 1, n) { s -= u[i * n + k] * y[k] }
                        y[i] = s / l[i * n + i]
                    }
                    for i in 0..<n { o.pointer[i * n + c] = y[i] }
                }
            }
        }
        return inv
    }

    /// Eigenvalues of a symmetric matrix (row-major): cyclic Jacobi rotations up to 64 x 64 (the
    /// most accurate), above that Householder reduction to tridiagonal form and implicit QL
    /// (O(n^3) once instead of per sweep, and by rows instead of columns).
    static func symmetricEigenvalues(_ a: [Double], size n: Int) -> [Double] {
        n <= 64 ? jacobiEigenvalues(a, size: n) : tridiagonalEigenvalues(a, size: n)
    }

    /// Householder tridiagonalization (the lower triangle, eigenvalues only) then the implicit
    /// QL iteration with Wilkinson-type shifts on the tridiagonal matrix.
    static func tridiagonalEigenvalues(_ input: [Double], size n: Int) -> [Double] {
        var a = input
        var d = [Double](repeating: 0, count: n), e = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 1, by: -1) {
            let l = i - 1
            var h = 0.0
            if l > 0 {
                var scale = 0.0
                for k in 0...l { scale += abs(a[i * n + k]) }
                if scale == 0 {
                    e[i] = a[i * n + l]
                } else {
                    for k in 0...l {
                        a[i * n + k] /= scale
                        h += a[i * n + k] * a[i * n + k]
                    }
                    var f = a[i * n + l]
                    var g = f >= 0 ? -h.squareRoot() : h.squareRoot()
                    e[i] = scale * g
                    h -= f * g
                    a[i * n + l] = f - g
                    f = 0
                    for j in 0...l {
                        g = 0
                        for k in 0...j { g += a[j * n + k] * a[i * n + k] }
                        for k in (j + 1)..<(l + 1) { g += a[k * n + j] * a[i * n + k] }
                        e[j] = g / h
                        f += e[j] * a[i * n + j]
                    }
                    let hh = f / (h + h)
                    for j in 0...l {
                        let fj = a[i * n + j]
                        let gj = e[j] - hh * fj
                        e[j] = gj
                        for k in 0...j { a[j * n + k] -= fj * e[k] + gj * a[i * n + k] }
                    }
                }
            } else {
                e[i] = a[i * n + l]
            }
            d[i] = h
        }
        for i in 0..<n { d[i] = a[i * n + i] }
        // Implicit QL on diagonal d and subdiagonal e (shifted so e[i] couples i and i + 1).
        for i in 1..<max(1, n) { e[i - 1] = e[i] }
        if n > 0 { e[n - 1] = 0 }
        for l in 0..<n {
            var iterations = 0
            while true {
                var m = l
                while m < n - 1 {
                    let dd = abs(d[m]) + abs(d[m + 1])
                    if abs(e[m]) <= Double.ulpOfOne * dd { break }
                    m += 1
                }
                if m == l { break }
                iterations += 1
                if iterations > 100 { break }  // does not happen for symmetric input; the values stay usable
                var g = (d[l + 1] - d[l]) / (2 * e[l])
                var r = (g * g + 1).squareRoot()
                g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r))
                var s = 1.0, c = 1.0, p = 0.0
                var i = m - 1
                var deflated = false
                while i >= l {
                    let f = s * e[i], b = c * e[i]
                    r = (f * f + g * g).squareRoot()
                    e[i + 1] = r
                    if r == 0 {
                        d[i + 1] -= p
                        e[m] = 0
                        deflated = true
                        break
                    }
                    s = f / r
                    c = g / r
                    g = d[i + 1] - p
                    r = (d[i] - g) * s + 2 * c * b
                    p = s * r
                    d[i + 1] = g + p
                    g = c * r - b
                    i -= 1
                }
                if deflated { continue }
                d[l] -= p
                e[l] = g
                e[m] = 0
            }
        }
        return d
    }

    /// Eigenvalues of a symmetric matrix (row-major) by cyclic Jacobi rotations.
    static func jacobiEigenvalues(_ a: [Double], size n: Int) -> [Double] {
        var m = a
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for i in 0..<n {
                for j in 0..<n {
                    total += m[i * n + j] * m[i * n + j]
                    if i != j { off += m[i * n + j] * m[i * n + j] }
                }
            }
            if off <= 1e-30 * total { break }
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) where m[p * n + q] != 0 {
                    let theta = (m[q * n + q] - m[p * n + p]) / (2 * m[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let kp = m[k * n + p], kq = m[k * n + q]
                        m[k * n + p] = c * kp - s * kq
                        m[k * n + q] = s * kp + c * kq
                    }
                    for k in 0..<n {
                        let pk = m[p * n + k], qk = m[q * n + k]
                        m[p * n + k] = c * pk - s * qk
                        m[q * n + k] = s * pk + c * qk
                    }
                }
            }
        }
        return (0..<n).map { m[$0 * n + $0] }
    }
}

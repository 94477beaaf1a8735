import Dispatch
import RealModule

/// A Wald interval for one coefficient, *conditional on the selected model*.
///
/// This is what statsmodels' `conf_int()` reports after an L1 fit: the inverse of the
/// unpenalized log-likelihood Hessian at the penalized estimate, restricted to the nonzero
/// coefficients. It ignores both the selection step and the shrinkage, so it is not an
/// honest confidence interval; it exists to reproduce published tables.
public struct WaldInterval: Sendable, Equatable {
    /// Standard error from the restricted inverse Hessian.
    public let standardError: Double
    /// Lower end on the coefficient scale.
    public let low: Double
    /// Upper end on the coefficient scale.
    public let high: Double
}

/// Wald intervals of the kind statsmodels reports for L1 fits.
public enum Wald {
    /// The label every report must print next to these intervals.
    public static let label = "Wald (conditional on selection)"

    /// Intervals for the intercept (index 0) and each feature (index j + 1); `nil` where the
    /// coefficient is exactly zero (statsmodels trims those) or the restricted Hessian is singular.
    public static func intervals(
        design: CompressedDesign, cells: BinomialCells, fit: LassoFit, level: Double = 0.95
    ) -> [WaldInterval?] {
        intervals(design: design, cells: cells, coefficients: fit.allCoefficients, level: level)
    }

    /// The same intervals from the coefficients alone (intercept first, then one per design
    /// feature), e.g. a fit's `allCoefficients` stored in a task result.
    public static func intervals(
        design: CompressedDesign, cells: BinomialCells, coefficients coef: [Double], level: Double = 0.95
    ) -> [WaldInterval?] {
        precondition(level > 0 && level < 1)
        precondition(coef.count == design.featureCount + 1, "one coefficient per feature plus the intercept")
        let active = coef.indices.filter { coef[$0] != 0 }
        let a = active.count
        guard a > 0 else { return [WaldInterval?](repeating: nil, count: coef.count) }
        if let columns = design.sparseColumns {
            return sparseIntervals(design: design, columns: columns, cells: cells, coefficients: coef, active: active, level: level)
        }
        // Working weights v_k = t_k mu_k (1 - mu_k) at the estimate.
        var v = [Double](repeating: 0, count: design.patternCount)
        for k in 0..<design.patternCount where cells.trials[k] > 0 {
            var eta = coef[0]
            for j in 0..<design.featureCount where coef[j + 1] != 0 {
                eta += coef[j + 1] * design.value(pattern: k, feature: j)
            }
            let mu = Kernels.sigmoid(eta)
            v[k] = cells.trials[k] * mu * (1 - mu)
        }
        @inline(__always) func x(_ k: Int, _ c: Int) -> Double {
            c == 0 ? 1 : design.value(pattern: k, feature: c - 1)
        }
        var h = [Double](repeating: 0, count: a * a)
        for r in 0..<a {
            for c in r..<a {
                var s = 0.0
                for k in 0..<design.patternCount where v[k] != 0 { s += v[k] * x(k, active[r]) * x(k, active[c]) }
                h[r * a + c] = s
                h[c * a + r] = s
            }
        }
        return finish(h, coefficients: coef, active: active, level: level)
    }

    /// The intervals from the restricted Hessian `h` of the `active` coefficients.
    static func finish(_ h: [Double], coefficients coef: [Double], active: [Int], level: Double) -> [WaldInterval?] {
        let a = active.count
        var result = [WaldInterval?](repeating: nil, count: coef.count)
        // Only the diagonal of the inverse is needed: from 64 coefficients on (wide fits, where
        // the full inverse took most of `lassoboot fit`) it is computed alone, a sixth of the work.
        let diagonal: [Double]
        if a >= 64 {
            guard let d = LinearAlgebra.inverseDiagonalSPD(h, size: a) else { return result }
            diagonal = d
        } else {
            guard let inverse = LinearAlgebra.inverseSPD(h, size: a) else { return result }
            diagonal = (0..<a).map { inverse[$0 * a + $0] }
        }
        let z = Normal.quantile(0.5 + level / 2)
        for (r, c) in active.enumerated() {
            let se = diagonal[r].squareRoot()
            result[c] = WaldInterval(standardError: se, low: coef[c] - z * se, high: coef[c] + z * se)
        }
        return result
    }

    /// The same intervals on a design held as sparse columns: the linear predictor by columns
    /// and the restricted Hessian by the patterns' nonzero entries (O(sum of active nnz^2)).
    static func sparseIntervals(
        design: CompressedDesign, columns: SparseColumns, cells: BinomialCells, coefficients coef: [Double], active: [Int], level: Double
    ) -> [WaldInterval?] {
        let m = design.patternCount, a = active.count
        var eta = [Double](repeating: coef[0], count: m)
        eta.withUnsafeMutableBufferPointer { e in
            for j in 0..<design.featureCount where coef[j + 1] != 0 { columns.addColumn(j, times: coef[j + 1], to: e.baseAddress!) }
        }
        // Index in `active` of each coefficient (-1: zero); the intercept is active[0] when nonzero.
        var slot = [Int](repeating: -1, count: coef.count)
        for (r, c) in active.enumerated() { slot[c] = r }
        let start = design.sparseStart, (feature, value) = design.sparseEntries.get()
        var h = [Double](repeating: 0, count: a * a)
        var entries: [(Int, Double)] = []
        for k in 0..<m where cells.trials[k] > 0 {
            let mu = Kernels.sigmoid(eta[k])
            let v = cells.trials[k] * mu * (1 - mu)
            guard v != 0 else { continue }
            entries.removeAll(keepingCapacity: true)
            if slot[0] >= 0 { entries.append((slot[0], 1)) }
            for e in Int(start[k])..<Int(start[k + 1]) where slot[Int(feature[e]) + 1] >= 0 {
                entries.append((slot[Int(feature[e]) + 1], value[e]))
            }
            for (r, x) in entries {
                for (c, y) in entries where c >= r { h[r * a + c] += v * x * y }
            }
        }
        for r in 0..<a {
            for c in 0..<r { h[r * a + c] = h[c * a + r] }
        }
        return finish(h, coefficients: coef, active: active, level: level)
    }
}

/// Small dense linear algebra for the Hessians of selected models.
enum LinearAlgebra {
    /// The diagonal of the inverse of a symmetric positive definite matrix (row-major), or `nil`
    /// if it is not one: a Cholesky factor L, then (A^-1)_ii = ||L^-1 e_i||^2, the columns of
    /// L^-1 shared among the cores (each by one core: the same bits whatever their number).
    ///
    /// Both steps work on four rows (columns of L^-1) at a time, so each row of L is read from
    /// memory once per four uses rather than once per use: the factor of a few thousand
    /// coefficients is bound by memory traffic, not arithmetic.
    static func inverseDiagonalSPD(_ a: [Double], size n: Int) -> [Double]? {
        var l = a
        let ok = l.withUnsafeMutableBufferPointer { lp -> Bool in
            let l = lp.baseAddress!
            for top in Swift.stride(from: 0, to: n, by: 4) {
                let m = min(4, n - top)
                let r0 = l + top * n
                if m == 4 {
                    // Columns left of the block: four rows against each finished row j.
                    let r1 = r0 + n, r2 = r1 + n, r3 = r2 + n
                    for j in 0..<top {
                        let other = l + j * n
                        let d = Self.dot4(r0, r1, r2, r3, other, j)
                        r0[j] = (r0[j] - d.0) / other[j]
                        r1[j] = (r1[j] - d.1) / other[j]
                        r2[j] = (r2[j] - d.2) / other[j]
                        r3[j] = (r3[j] - d.3) / other[j]
                    }
                } else {
                    for i in top..<(top + m) {
                        let row = l + i * n
                        for j in 0..<top {
                            let other = l + j * n
                            row[j] = (row[j] - Self.dot(row, other, j)) / other[j]
                        }
                    }
                }
                // The block's own triangle.
                for j in top..<(top + m) {
                    let other = l + j * n
                    for i in j..<(top + m) {
                        let row = l + i * n
                        let s = row[j] - Self.dot(row, other, j)
                        if i == j {
                            guard s > 0, s.isFinite else { return false }
                            row[j] = s.squareRoot()
                        } else {
                            row[j] = s / other[j]
                        }
                    }
                }
            }
            return true
        }
        guard ok else { return nil }
        var diagonal = [Double](repeating: 0, count: n)
        let workers = n >= 64 ? ProcessInfoCores.count : 1
        l.withUnsafeBufferPointer { lp in
            diagonal.withUnsafeMutableBufferPointer { out in
                let factor = UnsafeSendablePointer(lp.baseAddress!), o = UnsafeMutableSendablePointer(out.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let l = factor.pointer
                    // Four columns of L^-1 at a time (this worker's next four), each zero above
                    // its own column: every dot starts at the first of the four.
                    let y = UnsafeMutablePointer<Double>.allocate(capacity: 4 * n)
                    defer { y.deallocate() }
                    let mine = Array(Swift.stride(from: worker, to: n, by: workers))
                    for group in Swift.stride(from: 0, to: mine.count, by: 4) {
                        let columns = Array(mine[group..<min(group + 4, mine.count)])
                        let c0 = columns[0]
                        y.initialize(repeating: 0, count: 4 * n)
                        // Missing columns (the last group) are n: never reached.
                        let ca = columns[0], cb = columns.count > 1 ? columns[1] : n
                        let cc = columns.count > 2 ? columns[2] : n, cd = columns.count > 3 ? columns[3] : n
                        let y0 = y, y1 = y + n, y2 = y + 2 * n, y3 = y + 3 * n
                        var q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0
                        for i in c0..<n {
                            let row = l + i * n
                            let d = Self.dot4(y0 + c0, y1 + c0, y2 + c0, y3 + c0, row + c0, i - c0)
                            let pivot = row[i]
                            Self.substitute(i, column: ca, dot: d.0, pivot: pivot, into: y0, squares: &q0)
                            Self.substitute(i, column: cb, dot: d.1, pivot: pivot, into: y1, squares: &q1)
                            Self.substitute(i, column: cc, dot: d.2, pivot: pivot, into: y2, squares: &q2)
                            Self.substitute(i, column: cd, dot: d.3, pivot: pivot, into: y3, squares: &q3)
                        }
                        let total = [q0, q1, q2, q3]
                        for (q, c) in columns.enumerated() { o.pointer[c] = total[q] }
                    }
                }
            }
        }
        return diagonal
    }

    /// One forward-substitution step of L y = e_c at row `i` (from row c on), its square added.
    @inline(__always)
    static func substitute(_ i: Int, column c: Int, dot: Double, pivot: Double, into y: UnsafeMutablePointer<Double>, squares: inout Double) {
        guard i >= c else { return }
        let v = ((i == c ? 1.0 : 0.0) - dot) / pivot
        y[i] = v
        squares += v * v
    }

    /// Four dot products of `a0`...`a3` with the same `b` over `n` elements, `b` read once:
    /// per product one SIMD accumulator, then the tail, in a fixed order.
    @inline(__always)
    static func dot4(
        _ a0: UnsafePointer<Double>, _ a1: UnsafePointer<Double>, _ a2: UnsafePointer<Double>, _ a3: UnsafePointer<Double>,
        _ b: UnsafePointer<Double>, _ n: Int
    ) -> (Double, Double, Double, Double) {
        typealias V = SIMD8<Double>
        var s0 = V(repeating: 0), s1 = V(repeating: 0), s2 = V(repeating: 0), s3 = V(repeating: 0)
        var k = 0
        while k + 8 <= n {
            let x = UnsafeRawPointer(b + k).loadUnaligned(as: V.self)
            s0 += UnsafeRawPointer(a0 + k).loadUnaligned(as: V.self) * x
            s1 += UnsafeRawPointer(a1 + k).loadUnaligned(as: V.self) * x
            s2 += UnsafeRawPointer(a2 + k).loadUnaligned(as: V.self) * x
            s3 += UnsafeRawPointer(a3 + k).loadUnaligned(as: V.self) * x
            k += 8
        }
        var t = (s0.sum(), s1.sum(), s2.sum(), s3.sum())
        while k < n {
            t.0 += a0[k] * b[k]
            t.1 += a1[k] * b[k]
            t.2 += a2[k] * b[k]
            t.3 += a3[k] * b[k]
            k += 1
        }
        return t
    }

    /// `sum_k a[k] b[k]` over `n` elements (any `n`, no padding): two SIMD accumulators, then
    /// the tail, in a fixed order (the same bits run to run).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        typealias V = SIMD8<Double>
        var acc0 = V(repeating: 0), acc1 = V(repeating: 0)
        var k = 0
        while k + 16 <= n {
            acc0 += UnsafeRawPointer(a + k).loadUnaligned(as: V.self) * UnsafeRawPointer(b + k).loadUnaligned(as: V.self)
            acc1 += UnsafeRawPointer(a + k + 8).loadUnaligned(as: V.self) * UnsafeRawPointer(b + k + 8).loadUnaligned(as: V.self)
            k += 16
        }
        var tail = 0.0
        while k < n {
            tail += a[k] * b[k]
            k += 1
        }
        return (acc0 + acc1).sum() + tail
    }

    /// Inverse of a symmetric positive definite matrix (row-major), or `nil` if it is not.
    static func inverseSPD(_ a: [Double], size n: Int) -> [Double]? {
        // Cholesky a = L L'.
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
        // inv = L'^-1 L^-1, column by column.
        var inv = [Double](repeating: 0, count: n * n)
        var y = [Double](repeating: 0, count: n)
        for col in 0..<n {
            for i in 0..<n {
                var s = i == col ? 1.0 : 0.0
                for k in 0..<i { s -= l[i * n + k] * y[k] }
                y[i] = s / l[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = y[i]
                for k in (i + 1)..<max(i + 1, n) { s -= l[k * n + i] * inv[k * n + col] }
                inv[i * n + col] = s / l[i * n + i]
            }
        }
        return inv
    }
}

/// The standard normal distribution.
public enum Normal {
    /// Cumulative distribution function.
    public static func cdf(_ x: Double) -> Double {
        0.5 * Double.erfc(-x / 2.0.squareRoot())
    }

    /// Quantile function (Wichura's AS 241, about 1e-16 relative accuracy).
    public static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "quantile needs 0 < p < 1")
        let q = p - 0.5
        if abs(q) <= 0.425 {
            let r = 0.180625 - q * q
            let num =
                (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
                    + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
                    + 133.14166789178437745) * r + 3.387132872796366608)
            let den =
                (((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
                    + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
                    + 42.313330701600911252) * r + 1.0)
            return q * num / den
        }
        var r = q < 0 ? p : 1 - p
        r = (-Double.log(r)).squareRoot()
        var value: Double
        if r <= 5 {
            r -= 1.6
            value =
                (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
                    + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                    + 4.6303378461565452959) * r + 1.42343711074968357734)
                / (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
                    + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                    + 2.05319162663775882187) * r + 1.0)
        } else {
            r -= 5
            value =
                (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r
                    + 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                    + 5.4637849111641143699) * r + 6.6579046435011037772)
                / (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r
                    + 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                    + 0.59983220655588793769) * r + 1.0)
        }
        return q < 0 ? -value : value
    }
}

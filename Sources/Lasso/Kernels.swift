import RealModule

/// SIMD inner kernels over padded pattern columns.
///
/// Every buffer has a length that is a multiple of ``width``, so no kernel has a tail loop.
/// Reductions accumulate in a fixed order, so results are bit-identical run to run.
public enum Kernels {
    /// Lanes per SIMD vector.
    public static let width = 8
    typealias V = SIMD8<Double>

    /// Smallest multiple of ``width`` that holds `n` elements (at least one vector).
    public static func paddedLength(_ n: Int) -> Int {
        max(width, (n + width - 1) / width * width)
    }

    @inline(__always) static func load(_ p: UnsafePointer<Double>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Double>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
    }

    /// `sum_k a[k] * b[k]` over `n` (padded) elements.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var acc0 = V(repeating: 0), acc1 = V(repeating: 0)
        var k = 0
        while k + 2 * width <= n {
            acc0 += load(a, k) * load(b, k)
            acc1 += load(a, k + width) * load(b, k + width)
            k += 2 * width
        }
        if k < n { acc0 += load(a, k) * load(b, k) }
        return (acc0 + acc1).sum()
    }

    /// Sum of any array: eight interleaved partial sums, then the tail, in a fixed order.
    static func total(_ a: [Double]) -> Double {
        a.withUnsafeBufferPointer { p in
            let n = p.count
            var acc = V(repeating: 0)
            var k = 0
            if let base = p.baseAddress {
                while k + width <= n {
                    acc += load(base, k)
                    k += width
                }
            }
            var s = acc.sum()
            while k < n { s += p[k]; k += 1 }
            return s
        }
    }

    /// `sum_k a[k]` over `n` (padded) elements.
    @inline(__always)
    static func sum(_ a: UnsafePointer<Double>, _ n: Int) -> Double {
        var acc = V(repeating: 0)
        var k = 0
        while k < n { acc += load(a, k); k += width }
        return acc.sum()
    }

    /// `out[k] = a[k] * b[k]`.
    @inline(__always)
    static func multiply(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, _ n: Int) {
        var k = 0
        while k < n {
            store(load(a, k) * load(b, k), out, k)
            k += width
        }
    }

    /// Numerically stable `log(1 + exp(x))`.
    @inline(__always) public static func softplus(_ x: Double) -> Double {
        max(x, 0) + Double.log(onePlus: Double.exp(-abs(x)))
    }

    /// Numerically stable logistic function `1 / (1 + exp(-x))`.
    @inline(__always) public static func sigmoid(_ x: Double) -> Double {
        let e = Double.exp(-abs(x))
        return x >= 0 ? 1 / (1 + e) : e / (1 + e)
    }

    @inline(__always) static func load4(_ p: UnsafePointer<Double>, _ i: Int) -> SIMD4<Double> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD4<Double>.self)
    }

    @inline(__always) static func store4(_ v: SIMD4<Double>, _ p: UnsafeMutablePointer<Double>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD4<Double>.self)
    }

    /// Eight values gathered through an index vector.
    @inline(__always) static func gather(_ values: UnsafePointer<Double>, _ index: UnsafePointer<Int32>, _ i: Int) -> V {
        V(
            values[Int(index[i])], values[Int(index[i + 1])], values[Int(index[i + 2])], values[Int(index[i + 3])],
            values[Int(index[i + 4])], values[Int(index[i + 5])], values[Int(index[i + 6])], values[Int(index[i + 7])])
    }

    /// Summary of a linear predictor pass: `max |out|`, and with weights `v`, `sum v out^2` and
    /// `sum v |out|^3` (all over entries with `t > 0`).
    struct LinearSummary {
        var maxAbs = 0.0
        var quadratic = 0.0
        var cubic = 0.0
    }

    /// `out = intercept + groupValue[group] + sum_a c[general[a]] * column_a` over `n` (padded) entries.
    static func linearPredictor(
        intercept: Double, general: [Int], coefficients c: UnsafePointer<Double>, columns: UnsafePointer<Double>,
        groupValue: UnsafePointer<Double>?, patternGroup: UnsafePointer<Int32>,
        t: UnsafePointer<Double>, weights v: UnsafePointer<Double>?, out: UnsafeMutablePointer<Double>, _ n: Int
    ) -> LinearSummary {
        var largest = V(repeating: 0), quadratic = V(repeating: 0), cubic = V(repeating: 0)
        let b0 = V(repeating: intercept)
        general.withUnsafeBufferPointer { gen in
            var i = 0
            while i < n {
                var acc = b0
                if let gv = groupValue { acc += gather(gv, patternGroup, i) }
                for a in 0..<gen.count {
                    let ca = c[gen[a]]
                    if ca != 0 { acc += ca * load(columns + a * n, i) }
                }
                store(acc, out, i)
                let magnitude = SIMDMath.abs(acc).replacing(with: 0, where: load(t, i) .<= 0)
                largest = largest.replacing(with: magnitude, where: magnitude .> largest)
                if let v {
                    let w = load(v, i) * magnitude * magnitude
                    quadratic += w
                    cubic += w * magnitude
                }
                i += width
            }
        }
        return LinearSummary(maxAbs: largest.max(), quadratic: quadratic.sum(), cubic: cubic.sum())
    }

    /// At `x = eta` (after `eta += step * deta` if a step is given): `mu = 1 / (1 + e^-x)`,
    /// `omu = 1 - mu` (each without cancellation), `r = t mu - s`, `v = t mu (1 - mu)`.
    /// One vectorized `exp` per pattern; entries with `t = 0` get `r = v = 0`.
    static func evaluate(
        eta: UnsafeMutablePointer<Double>, deta: UnsafePointer<Double>, step: Double?,
        t: UnsafePointer<Double>, s: UnsafePointer<Double>,
        mu muOut: UnsafeMutablePointer<Double>, omu omuOut: UnsafeMutablePointer<Double>,
        r: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>, _ n: Int
    ) {
        let table = SIMDMath.exp2Table
        @inline(__always) func point(_ x: V, _ i: Int) {
            let e = SIMDMath.expNonPositive(-SIMDMath.abs(x), table: table)
            let p = 1 / (1 + e)
            let ep = e * p
            let positive = x .>= 0
            let mu = ep.replacing(with: p, where: positive)
            let omu = p.replacing(with: ep, where: positive)
            let tt = load(t, i)
            store(mu, muOut, i)
            store(omu, omuOut, i)
            store(tt * mu - load(s, i), r, i)
            store(tt * mu * omu, v, i)
        }
        var i = 0
        if let step {
            let a = V(repeating: step)
            while i < n {
                let x = load(eta, i) + a * load(deta, i)
                store(x, eta, i)
                point(x, i)
                i += width
            }
        } else {
            while i < n {
                point(load(eta, i), i)
                i += width
            }
        }
    }

    /// `evaluate` after a small step (`max |step * deta| <= 1e-4`): `eta += step * deta` and `mu`
    /// moves by `mu w x (1 + x ((1 - 2 mu) / 2 + x (1 - 6 w) / 6))`, `w = 1 - mu`: its Taylor
    /// series to third order, whose remainder is below `0.128 |x|^4 / 24 <= 5.4e-19` (more
    /// accurate than `exp`); no exponential.
    static func evaluateTaylor(
        eta: UnsafeMutablePointer<Double>, deta: UnsafePointer<Double>, step: Double,
        t: UnsafePointer<Double>, s: UnsafePointer<Double>,
        mu muIO: UnsafeMutablePointer<Double>, omu omuIO: UnsafeMutablePointer<Double>,
        r: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>, _ n: Int
    ) {
        let a = V(repeating: step)
        var i = 0
        while i < n {
            let x = a * load(deta, i)
            store(load(eta, i) + x, eta, i)
            let mu = load(muIO, i), omu = load(omuIO, i)
            let w = mu * omu
            let third: V = (1 - 6 * w) * (1.0 / 6.0)
            let second: V = 0.5 * (omu - mu) + x * third
            let change: V = w * x * (1 + x * second)
            let mu1 = mu + change, omu1 = omu - change
            let tt = load(t, i)
            store(mu1, muIO, i)
            store(omu1, omuIO, i)
            store(tt * mu1 - load(s, i), r, i)
            store(tt * mu1 * omu1, v, i)
            i += width
        }
    }

    /// `out[g * width ..< (g + 1) * width] = sum over group g of v_k * rows[k]` (width a multiple of 4).
    static func groupRowSums(
        v: UnsafePointer<Double>, rows: UnsafePointer<Double>, width: Int,
        groupStart: UnsafePointer<Int32>, groupCount: Int, into out: UnsafeMutablePointer<Double>
    ) {
        if width == 8 {
            for g in 0..<groupCount {
                var acc = V(repeating: 0)
                for k in Int(groupStart[g])..<Int(groupStart[g + 1]) {
                    acc += V(repeating: v[k]) * load(rows, k * 8)
                }
                store(acc, out, g * 8)
            }
            return
        }
        var piece = 0
        while piece < width {
            for g in 0..<groupCount {
                var acc = SIMD4<Double>(repeating: 0)
                for k in Int(groupStart[g])..<Int(groupStart[g + 1]) {
                    acc += SIMD4<Double>(repeating: v[k]) * load4(rows, k * width + piece)
                }
                store4(acc, out, g * width + piece)
            }
            piece += 4
        }
    }

    /// Change of the loss when `eta` moves by `step * deta`, computed without cancellation:
    /// `softplus(a + x) - softplus(a) = log1p(mu(a) * expm1(x))`, so tiny steps near the
    /// optimum are still measured accurately (the loss itself is only known to ~1e-16 relative).
    /// Where `mu * expm1(x) <= -1/2` it uses `log(1 - mu + mu e^x)`, which stays accurate
    /// when `mu` rounds to 1. Entries with `t = 0` are skipped.
    static func lossChange(
        mu: UnsafePointer<Double>, omu: UnsafePointer<Double>, deta: UnsafePointer<Double>, step: Double,
        s: UnsafePointer<Double>, t: UnsafePointer<Double>, _ n: Int
    ) -> Double {
        var acc = V(repeating: 0)
        let a = V(repeating: step)
        let expTable = SIMDMath.exp2Table, logTable = SIMDMath.logTable
        var i = 0
        while i < n {
            let tt = load(t, i)
            let x = a * load(deta, i)
            let m = load(mu, i)
            let y = m * SIMDMath.expm1(x)
            var l = SIMDMath.log1p(y)
            let far = (y .<= -0.5) .& (tt .> 0)
            if any(far) {
                let z = (load(omu, i) + m * SIMDMath.exp(x, table: expTable)).replacing(with: .leastNormalMagnitude, where: .!(far))
                let direct = SIMDMath.log(
                    z.replacing(with: .leastNormalMagnitude, where: z .< .leastNormalMagnitude),
                    table: logTable)
                l.replace(with: direct, where: far)
            }
            let term = tt * l - load(s, i) * x
            acc += term.replacing(with: 0, where: tt .<= 0)
            i += width
        }
        return acc.sum()
    }

    /// `r` and `v` of the quadratic model at the smoothed saturated logits
    /// `log((s + 1/2) / (t - s + 1/2))`, shifted so that the model's gradient at zero
    /// coefficients is `X' r` (the cold start's first Newton step).
    static func saturatedQuadratic(
        t: UnsafePointer<Double>, s: UnsafePointer<Double>, v: UnsafeMutablePointer<Double>, r: UnsafeMutablePointer<Double>, _ n: Int
    ) {
        var i = 0
        while i < n {
            let tt = Kernels.load(t, i), ss = Kernels.load(s, i)
            let a = ss + 0.5, b = (tt - ss) + 0.5
            let inv = 1 / (tt + 1)
            let mu0 = a * inv
            let eta0 = SIMDMath.logApprox(a / b)
            let w = tt * mu0 * (b * inv)
            Kernels.store(w, v, i)
            Kernels.store(tt * mu0 - ss - w * eta0, r, i)
            i += 8
        }
    }

    /// Binomial negative log-likelihood `sum_k t_k softplus(eta_k) - s_k eta_k` over entries with
    /// `t > 0`, from `mu` and `omu = 1 - mu` as evaluated at `eta`: one logarithm of a number in
    /// [1/2, 1] per pattern (absolute error ~1e-16 per unit weight).
    static func loss(
        eta: UnsafePointer<Double>, mu: UnsafePointer<Double>, omu: UnsafePointer<Double>, s: UnsafePointer<Double>,
        t: UnsafePointer<Double>, _ n: Int
    ) -> Double {
        var acc = V(repeating: 0)
        let table = SIMDMath.logTable
        var i = 0
        while i < n {
            let tt = load(t, i)
            let x = load(eta, i)
            let o = load(omu, i)
            // softplus(x) = max(x, 0) + log1p(e^-|x|) = max(x, 0) - log(max(mu, 1 - mu)).
            let m = load(mu, i)
            let larger = o.replacing(with: m, where: m .> o)
            let softplus = x.replacing(with: 0, where: x .< 0) - SIMDMath.log(larger, table: table)
            let term = tt * softplus - load(s, i) * x
            acc += term.replacing(with: 0, where: tt .<= 0)
            i += width
        }
        return acc.sum()
    }
}

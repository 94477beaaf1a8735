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

    /// `sum_k a[k]` over `n` (padded) elements.
    @inline(__always)
    static func sum(_ a: UnsafePointer<Double>, _ n: Int) -> Double {
        var acc = V(repeating: 0)
        var k = 0
        while k < n { acc += load(a, k); k += width }
        return acc.sum()
    }

    /// `y[k] += alpha * x[k]`.
    @inline(__always)
    static func axpy(_ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        let a = V(repeating: alpha)
        var k = 0
        while k < n {
            var v = load(y, k)
            v += a * load(x, k)
            store(v, y, k)
            k += width
        }
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

    /// `out[k] = c`.
    @inline(__always)
    static func fill(_ c: Double, _ out: UnsafeMutablePointer<Double>, _ n: Int) {
        let v = V(repeating: c)
        var k = 0
        while k < n { store(v, out, k); k += width }
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

    /// Change of the loss when `eta` moves by `step * deta`, computed without cancellation:
    /// `softplus(a + x) - softplus(a) = log1p(mu(a) * expm1(x))`, so tiny steps near the
    /// optimum are still measured accurately (the loss itself is only known to ~1e-16 relative).
    static func lossChange(
        mu: UnsafePointer<Double>, deta: UnsafePointer<Double>, step: Double,
        s: UnsafePointer<Double>, t: UnsafePointer<Double>, _ m: Int
    ) -> Double {
        var total = 0.0
        for k in 0..<m where t[k] > 0 {
            let x = step * deta[k]
            total += t[k] * Double.log(onePlus: mu[k] * Double.expMinusOne(x)) - s[k] * x
        }
        return total
    }

    /// Binomial negative log-likelihood `sum_k t_k softplus(eta_k) - s_k eta_k`.
    static func loss(eta: UnsafePointer<Double>, s: UnsafePointer<Double>, t: UnsafePointer<Double>, _ m: Int) -> Double {
        var total = 0.0
        for k in 0..<m where t[k] > 0 {
            total += t[k] * softplus(eta[k]) - s[k] * eta[k]
        }
        return total
    }

    /// Fills the fitted probabilities `mu`, the working residual `r = t * mu - s` and weights
    /// `v = t * mu * (1 - mu)`: one `exp` per pattern, the loss is not needed inside the iteration.
    static func evaluate(
        eta: UnsafePointer<Double>, s: UnsafePointer<Double>, t: UnsafePointer<Double>,
        mu muOut: UnsafeMutablePointer<Double>,
        residual r: UnsafeMutablePointer<Double>, weight v: UnsafeMutablePointer<Double>, _ m: Int
    ) {
        for k in 0..<m {
            let tk = t[k]
            if tk > 0 {
                let x = eta[k]
                let e = Double.exp(-abs(x))
                let mu = x >= 0 ? 1 / (1 + e) : e / (1 + e)
                muOut[k] = mu
                r[k] = tk * mu - s[k]
                v[k] = tk * mu * (1 - mu)
            } else {
                muOut[k] = 0
                r[k] = 0
                v[k] = 0
            }
        }
    }
}

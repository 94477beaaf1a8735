import RealModule

/// Exact binomial variates: inversion when the mode is small, Hörmann's BTRD otherwise.
///
/// Both methods are exact up to floating-point rounding (no normal or Poisson approximation), so
/// bootstrap cell counts have exactly the multinomial law however large or small a cell is.
enum BinomialSampler {
    /// log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi) / 2] for k = 0...9.
    private static let stirlingTail: [Double] = [
        0.08106146679532726, 0.0413406959554093, 0.02767792568499834, 0.020790672103765093,
        0.016644691189821193, 0.013876128823070748, 0.01189670994589177, 0.010411265261972096,
        0.009255462182712733, 0.00833056343336287,
    ]

    /// The Stirling-series correction fc(k): table below 10, five series terms above
    /// (truncation error below 2e-14).
    @inline(__always)
    static func fc(_ k: Double) -> Double {
        if k < 10 { return stirlingTail[Int(k)] }
        let z = k + 1
        let z2 = z * z
        return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - 1.0 / (1188 * z2)) / z2) / z2) / z2) / z
    }

    /// One draw from Binomial(n, p).
    static func sample(trials n: Int, probability p: Double, stream: inout RandomStream) -> Int {
        precondition(n >= 0, "binomial trials must be >= 0")
        precondition(p >= 0 && p <= 1, "binomial probability must be in [0, 1]")
        if n == 0 || p == 0 { return 0 }
        if p == 1 { return n }
        if p > 0.5 { return n - draw(n: n, p: 1 - p, stream: &stream) }
        return draw(n: n, p: p, stream: &stream)
    }

    /// Binomial(n, p) for 0 < p <= 1/2.
    private static func draw(n: Int, p: Double, stream: inout RandomStream) -> Int {
        let nd = Double(n)
        let mode = ((nd + 1) * p).rounded(.down)
        return mode < 11 ? inversion(n: nd, p: p, stream: &stream) : btrd(n: nd, p: p, mode: mode, stream: &stream)
    }

    /// Sequential search of the CDF from 0 (expected cost about n p + 1 steps).
    /// Restarts in the astronomically unlikely case that rounding leaves the uniform above the
    /// accumulated probabilities (no truncation of the support).
    private static func inversion(n: Double, p: Double, stream: inout RandomStream) -> Int {
        let q = 1 - p
        let s = p / q
        let a = (n + 1) * s
        let p0 = Double.exp(n * Double.log(onePlus: -p))
        search: while true {
            var u = stream.nextUniform()
            var x = 0.0
            var px = p0
            while u > px {
                u -= px
                x += 1
                if x > n { continue search }
                px *= a / x - s
                if !(px > 0) { continue search }
            }
            return Int(x)
        }
    }

    /// Algorithm BTRD (W. Hörmann 1993, "The generation of binomial random variates", J. Stat.
    /// Comput. Simul. 46): transformed rejection with a decomposition, for a mode >= 11.
    private static func btrd(n: Double, p: Double, mode m: Double, stream: inout RandomStream) -> Int {
        let q = 1 - p
        let r = p / q
        let nr = (n + 1) * r
        let npq = n * p * q
        let spq = npq.squareRoot()
        let b = 1.15 + 2.53 * spq
        let a = -0.0873 + 0.0248 * b + 0.01 * p
        let c = n * p + 0.5
        let alpha = (2.83 + 5.1 / b) * spq
        let vr = 0.92 - 4.2 / b
        let urvr = 0.86 * vr
        while true {
            // Step 1: the triangle-free centre, accepted immediately.
            var v = stream.nextUniform()
            var u: Double
            if v <= urvr {
                u = v / vr - 0.43
                let k = ((2 * a / (0.5 - abs(u)) + b) * u + c).rounded(.down)
                // Always inside the support (Hörmann); the check only guards the conversion.
                if k >= 0 && k <= n { return Int(k) }
                continue
            }
            // Step 2: generate (u, v) in the remaining region.
            if v >= vr {
                u = stream.nextUniform() - 0.5
            } else {
                u = v / vr - 0.93
                u = (u < 0 ? -0.5 : 0.5) - u
                v = stream.nextUniform() * vr
            }
            // Step 3: transformed rejection.
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + c).rounded(.down)
            if !(k >= 0 && k <= n) { continue }
            v = v * alpha / (a / (us * us) + b)
            let km = abs(k - m)
            if km <= 15 {
                // Step 3.1: recursive evaluation of f(k) / f(m).
                var f = 1.0
                if m < k {
                    var i = m
                    repeat {
                        i += 1
                        f *= nr / i - r
                    } while i != k
                } else if m > k {
                    var i = k
                    repeat {
                        i += 1
                        v *= nr / i - r
                    } while i != m
                }
                if v <= f { return Int(k) }
                continue
            }
            // Step 3.2: squeeze on the log scale.
            v = Double.log(v)
            let rho = (km / npq) * (((km / 3 + 0.625) * km + 1.0 / 6) / npq + 0.5)
            let t = -km * km / (2 * npq)
            if v < t - rho { return Int(k) }
            if v > t + rho { continue }
            // Step 3.3: the exact log-ratio with Stirling corrections.
            let nm = n - m + 1
            let h = (m + 0.5) * Double.log((m + 1) / (r * nm)) + fc(m) + fc(n - m)
            let nk = n - k + 1
            if v <= h + (n + 1) * Double.log(nm / nk) + (k + 0.5) * Double.log(nk * r / (k + 1)) - fc(k) - fc(n - k) {
                return Int(k)
            }
        }
    }
}

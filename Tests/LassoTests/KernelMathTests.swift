import Foundation
import TestSupport
import Testing

@testable import Lasso

/// The vectorized elementary functions against the C library: largest error in ulp over many
/// points, wide ranges, extremes and special values.
@Suite("SIMD exp, expm1, log1p, log against libm")
struct KernelMathTests {
    typealias V = SIMD8<Double>
    static let subnormal = Double(sign: .plus, exponent: -1030, significand: 1.25)

    /// Distance in units in the last place between two finite doubles (0 when both are equal).
    static func ulps(_ a: Double, _ b: Double) -> Double {
        if a == b { return 0 }
        if a.isNaN || b.isNaN || a.isInfinite || b.isInfinite { return .infinity }
        @inline(__always) func ordered(_ x: Double) -> Int64 {
            let i = Int64(bitPattern: x.bitPattern)
            return i < 0 ? Int64.min &- i : i
        }
        return Double(abs(ordered(a) &- ordered(b)))
    }

    /// Applies `simd` to `xs` (in vectors of 8) and returns the largest ulp error against `reference`,
    /// with the worst argument; special results (inf, NaN, signed zeros) must match exactly.
    static func worst(_ xs: [Double], _ simd: (V) -> V, _ reference: (Double) -> Double) -> (ulps: Double, at: Double) {
        var worst = (ulps: 0.0, at: 0.0)
        var i = 0
        while i < xs.count {
            var v = V(repeating: 0)
            for l in 0..<8 { v[l] = xs[min(i + l, xs.count - 1)] }
            let y = simd(v)
            for l in 0..<8 {
                let x = v[l], want = reference(x), got = y[l]
                let e: Double
                if want.isNaN {
                    e = got.isNaN ? 0 : .infinity
                } else if want.isInfinite || got.isInfinite {
                    e = want == got ? 0 : .infinity
                } else {
                    e = ulps(got, want)
                }
                if e > worst.ulps { worst = (e, x) }
            }
            i += 8
        }
        return worst
    }

    /// Uniform points in [lo, hi], log-uniform magnitudes in [1e-300, hi] of both signs, and edges.
    static func points(_ lo: Double, _ hi: Double, count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        var xs: [Double] = []
        for _ in 0..<count { xs.append(Double.random(in: lo...hi, using: &rng)) }
        for _ in 0..<count {
            let m = Foundation.exp(Double.random(in: Foundation.log(1e-300)...Foundation.log(max(abs(lo), abs(hi))), using: &rng))
            if m >= lo && m <= hi { xs.append(m) }
            if -m >= lo && -m <= hi { xs.append(-m) }
        }
        // Around the reduction boundaries (k ln2 +- ln2/2) and small integers.
        for k in -60...60 {
            for off in [-0.5, 0.5] {
                let x = (Double(k) + off) * M_LN2
                for d in [-1e-15, 0, 1e-15] where x + d >= lo && x + d <= hi { xs.append(x + d) }
            }
        }
        return xs
    }

    @Test("exp: at most 2 ulp on [-745, 709.7]; overflow, underflow and specials as libm")
    func exp() {
        let xs = Self.points(-745.1, 709.78, count: 200_000, seed: 1)
        let w = Self.worst(xs, { SIMDMath.exp($0) }, Foundation.exp)
        #expect(w.ulps <= 2, "max error \(w.ulps) ulp at \(w.at)")
        let specials: [Double] = [
            0, -0.0, 1, -1, 709.78, 709.8, 710, 800, .infinity, -745.2, -746, -800, -.infinity, .nan,
            1e-300, -1e-300, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 0.5 * M_LN2, -0.5 * M_LN2, -708.5, -720,
        ]
        let s = Self.worst(specials, { SIMDMath.exp($0) }, Foundation.exp)
        // Results in the subnormal range may differ by one rounding of the subnormal.
        #expect(s.ulps <= 2, "max error \(s.ulps) ulp at \(s.at)")
    }

    @Test("exp for the logistic function: at most 2 ulp on [-707.7, 0]; below, about 2^-1021")
    func expNonPositive() {
        var xs = Self.points(-707.7, 0, count: 200_000, seed: 5)
        xs += [0, -0.0, -707.7, -1e-300, -.leastNonzeroMagnitude]
        let w = Self.worst(xs, { SIMDMath.expNonPositive($0) }, Foundation.exp)
        #expect(w.ulps <= 2, "max error \(w.ulps) ulp at \(w.at)")
        let floor = SIMDMath.expNonPositive(V(repeating: -707.7))[0]
        let below = SIMDMath.expNonPositive(V(-708, -745, -746, -1e4, -1e300, -.infinity, -720, -800))
        for l in 0..<8 { #expect(below[l] == floor && floor > 0 && floor < 4.5e-308) }
    }

    @Test("expm1: at most 3 ulp on [-50, 709.7], relative accuracy near zero; specials as libm")
    func expm1() {
        let xs = Self.points(-50, 709.78, count: 200_000, seed: 2)
        let w = Self.worst(xs, SIMDMath.expm1, Foundation.expm1)
        #expect(w.ulps <= 3, "max error \(w.ulps) ulp at \(w.at)")
        let specials: [Double] = [
            0, -0.0, Self.subnormal, -Self.subnormal, 1e-20, -1e-20, 1e-8, -1e-8, 0.3465, -0.3465, 709.78, 709.8, 710, 1000,
            .infinity, -40, -41, -1000, -.infinity, .nan, .leastNonzeroMagnitude,
        ]
        let s = Self.worst(specials, SIMDMath.expm1, Foundation.expm1)
        #expect(s.ulps <= 3, "max error \(s.ulps) ulp at \(s.at)")
    }

    @Test("log1p: at most 2 ulp on (-1, 1e300], relative accuracy near zero; -1, below -1 and specials as libm")
    func log1p() {
        var xs = Self.points(-1, 1e300, count: 200_000, seed: 3).filter { $0 > -1 }
        var rng = SplitMix64(seed: 33)
        for _ in 0..<50_000 { xs.append(-1 + Foundation.exp(Double.random(in: -36...0, using: &rng))) }  // close to -1
        for _ in 0..<50_000 { xs.append(Double.random(in: -0.3...0.42, using: &rng)) }  // k = 0 path
        let w = Self.worst(xs, SIMDMath.log1p, Foundation.log1p)
        #expect(w.ulps <= 2, "max error \(w.ulps) ulp at \(w.at)")
        let specials: [Double] = [
            0, -0.0, Self.subnormal, -Self.subnormal, 1e-20, -1e-20, -0.5, -1 + 1e-16, -1, -1.5, -.infinity, 1e300, 1e308,
            .greatestFiniteMagnitude, .infinity, .nan, 0.41421356237309503, -0.2928932188134524, 1, 2, 3, 9.007199254740992e15,
        ]
        let s = Self.worst(specials, SIMDMath.log1p, Foundation.log1p)
        #expect(s.ulps <= 2, "max error \(s.ulps) ulp at \(s.at)")
    }

    @Test("the starting-value log is within 2e-5 of log everywhere in the normal range")
    func logApprox() {
        var rng = SplitMix64(seed: 6)
        var worst = 0.0
        for _ in 0..<20_000 {
            var v = V(repeating: 1)
            for l in 0..<8 { v[l] = Foundation.exp(Double.random(in: -708...709, using: &rng)) }
            let y = SIMDMath.logApprox(v)
            for l in 0..<8 { worst = max(worst, abs(y[l] - Foundation.log(v[l]))) }
        }
        #expect(worst < 2e-5, "max absolute error \(worst)")
    }

    @Test("log: at most 2 ulp over the normal range")
    func log() {
        var rng = SplitMix64(seed: 4)
        var xs: [Double] = []
        for _ in 0..<200_000 { xs.append(Foundation.exp(Double.random(in: -708...709, using: &rng))) }
        for _ in 0..<50_000 { xs.append(Double.random(in: 0.5...2, using: &rng)) }
        xs += [1, 2, 0.5, .leastNormalMagnitude, .greatestFiniteMagnitude, 0.7071067811865476, 1.4142135623730951]
        let w = Self.worst(xs, { SIMDMath.log($0) }, Foundation.log)
        #expect(w.ulps <= 2, "max error \(w.ulps) ulp at \(w.at)")
    }
}

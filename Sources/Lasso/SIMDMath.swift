import RealModule

/// Vectorized `exp`, `expm1`, `log1p` and `log` for `SIMD8<Double>`, accurate to 1-2 ulp.
///
/// Written with multiplies, adds, compares, bit operations and small table lookups that the
/// portable x86-64 baseline (SSE2) executes as packed instructions (the lookups as scalar loads):
/// no FMA, no rounding instructions, no branches. Results are deterministic (the same inputs give
/// the same bits). `KernelMathTests` checks them against the C library over wide ranges,
/// extremes and special values.
enum SIMDMath {
    typealias V = SIMD8<Double>
    typealias U = SIMD8<UInt64>

    // ln 2 split so that `k * ln2Hi` is exact for |k| < 2^11 (fdlibm's constants).
    static let ln2Hi = 6.93147180369123816490e-01
    static let ln2Lo = 1.90821492927058770002e-10
    static let invLn2 = 1.44269504088896338700e+00
    // ln2 / 64 split so that `k * ln2Over64Hi` is exact for |k| < 2^20.
    static let ln2Over64Hi = 0.010830424695086549
    static let ln2Over64Lo = 1.162596423439437e-12
    static let sixtyFourOverLn2 = 92.33248261689366
    /// 1.5 * 2^52: adding it rounds to an integer that then sits in the low mantissa bits.
    static let shifter = 6755399441055744.0
    static let shifterBits: UInt64 = 0x4338_0000_0000_0000

    @inline(__always) static func bits(_ x: V) -> U { unsafeBitCast(x, to: U.self) }
    @inline(__always) static func double(_ u: U) -> V { unsafeBitCast(u, to: V.self) }

    /// `x` limited to `[lo, hi]` (NaN stays NaN).
    @inline(__always) static func clamp(_ x: V, _ lo: Double, _ hi: Double) -> V {
        x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    }

    /// `|x|` by clearing the sign bit.
    @inline(__always) static func abs(_ x: V) -> V {
        double(bits(x) & U(repeating: 0x7FFF_FFFF_FFFF_FFFF))
    }

    // MARK: - exp

    /// `2^(j/64)` for j in 0..<64.
    nonisolated(unsafe) static let exp2Table: UnsafePointer<Double> = {
        let p = UnsafeMutablePointer<Double>.allocate(capacity: 64)
        for j in 0..<64 { p[j] = Double.exp2(Double(j) / 64) }
        return UnsafePointer(p)
    }()

    /// `x = (64 e + j) ln2/64 + r` with |r| <= ln2/128: returns `2^(j/64)`, `e^r - 1` (degree-6
    /// series, truncation below 0.01 ulp) and the bit pattern `eb = e + 2048` (x in [-746, 710]).
    @inline(__always) static func expParts(_ x: V, _ table: UnsafePointer<Double>) -> (t: V, em: V, eb: U) {
        let shifted = x * sixtyFourOverLn2 + V(repeating: shifter)
        let kd = shifted - V(repeating: shifter)
        let r = (x - kd * ln2Over64Hi) - kd * ln2Over64Lo
        // kb = k + 2^17 >= 0 keeps the shifts logical; j = k mod 64, e = floor(k / 64).
        let kb = bits(shifted) &- U(repeating: shifterBits &- 131_072)
        let j = kb & U(repeating: 63)
        let t = V(
            table[Int(j[0])], table[Int(j[1])], table[Int(j[2])], table[Int(j[3])],
            table[Int(j[4])], table[Int(j[5])], table[Int(j[6])], table[Int(j[7])])
        var p = V(repeating: 1.0 / 720.0)
        p = p * r + V(repeating: 1.0 / 120.0)
        p = p * r + V(repeating: 1.0 / 24.0)
        p = p * r + V(repeating: 1.0 / 6.0)
        p = p * r + V(repeating: 0.5)
        return (t, r + (r * r) * p, kb &>> 6)
    }

    /// `e^x`: `+inf` above ~709.78, `0` below ~-745.13 (subnormal results in between), NaN for NaN.
    @inline(__always) static func exp(_ x: V, table: UnsafePointer<Double> = exp2Table) -> V {
        let (t, em, eb) = expParts(clamp(x, -746, 710), table)
        // 2^e = 2^e1 * 2^e2 with e1 = floor(e / 2): both factors normal over the whole range.
        let e1b = eb &>> 1  // e1 + 1024
        let scaled = double(bits(t) &+ ((e1b &- U(repeating: 1024)) &<< 52))  // 2^(j/64 + e1)
        let s2 = double((eb &- e1b &- U(repeating: 1)) &<< 52)  // 2^e2
        return (scaled + scaled * em) * s2
    }

    /// `e^x` for `x <= 0` as the logistic function needs it: like ``exp(_:table:)``, but results
    /// below 2^-1021 (x < -707.7) are replaced by about 2^-1021, saving the second scaling.
    @inline(__always) static func expNonPositive(_ x: V, table: UnsafePointer<Double> = exp2Table) -> V {
        let (t, em, eb) = expParts(x.replacing(with: -707.7, where: x .< -707.7), table)
        let scaled = double(bits(t) &+ ((eb &- U(repeating: 2048)) &<< 52))
        return scaled + scaled * em
    }

    // MARK: - expm1

    /// `e^r - 1` for |r| <= ln2/2 by its Taylor series to r^13 (truncation < 0.05 ulp).
    @inline(__always) static func expm1Core(_ r: V) -> V {
        var p = V(repeating: 1.0 / 6_227_020_800.0)  // 1/13!
        p = p * r + V(repeating: 1.0 / 479_001_600.0)  // 1/12!
        p = p * r + V(repeating: 1.0 / 39_916_800.0)  // 1/11!
        p = p * r + V(repeating: 1.0 / 3_628_800.0)  // 1/10!
        p = p * r + V(repeating: 1.0 / 362_880.0)  // 1/9!
        p = p * r + V(repeating: 1.0 / 40_320.0)  // 1/8!
        p = p * r + V(repeating: 1.0 / 5_040.0)  // 1/7!
        p = p * r + V(repeating: 1.0 / 720.0)  // 1/6!
        p = p * r + V(repeating: 1.0 / 120.0)  // 1/5!
        p = p * r + V(repeating: 1.0 / 24.0)  // 1/4!
        p = p * r + V(repeating: 1.0 / 6.0)  // 1/3!
        p = p * r + V(repeating: 0.5)  // 1/2!
        return r + (r * r) * p
    }

    /// `e^x - 1`, accurate relative to the result also for tiny `x` (then `r = x` exactly);
    /// `-1` below -40, `+inf` above ~709.78, NaN for NaN.
    @inline(__always) static func expm1(_ x: V) -> V {
        let xc = clamp(x, -40, 710)
        let shifted = xc * invLn2 + V(repeating: shifter)
        let kd = shifted - V(repeating: shifter)
        let r = (xc - kd * ln2Hi) - kd * ln2Lo
        let em = expm1Core(r)
        // e^x - 1 = 2 (h em + (h - 1/2)) with h = 2^(k-1): exact scalings, one rounding each.
        let h = double((bits(shifted) &- U(repeating: shifterBits &- 1022)) &<< 52)
        let result = 2 * (h * em + (h - 0.5))
        return result.replacing(with: x, where: x .!= x)
    }

    // MARK: - log

    /// Per subinterval `i` of [0.6875, 1.375) (128, equal in bit patterns): its center `c` (exactly
    /// 1 for the two next to 1), then the 128 values `1 / c`, then the 128 `log(c)`.
    nonisolated(unsafe) static let logTable: UnsafePointer<Double> = {
        let p = UnsafeMutablePointer<Double>.allocate(capacity: 3 * 128)
        let off: UInt64 = 0x3FE6_0000_0000_0000
        for i in 0..<128 {
            let lo = Double(bitPattern: off + (UInt64(i) << 45))
            let hi = Double(bitPattern: off + (UInt64(i + 1) << 45))
            // Next to 1, c = 1 (log(c) = 0 exactly): no cancellation for results near 0.
            let c = hi == 1 || lo == 1 ? 1 : (lo + hi) / 2
            p[i] = c
            p[128 + i] = 1 / c
            p[256 + i] = c == 1 ? 0 : Double.log(c)
        }
        return UnsafePointer(p)
    }()

    /// `log(x)` for positive normal `x`, without a division: `x = 2^k z` with `z` in
    /// [0.6875, 1.375), `log(x) = k ln2 + log(c) + log1p((z - c) / c)` with `c` the center of
    /// `z`'s subinterval (`z - c` is exact) and a degree-8 series for |r| < 0.008.
    @inline(__always) static func log(_ x: V, table: UnsafePointer<Double> = logTable) -> V {
        let b = bits(x)
        let tmp = b &- U(repeating: 0x3FE6_0000_0000_0000)
        let i = (tmp &>> 45) & U(repeating: 127)
        // k = tmp >> 52 (arithmetic): biased by 2^63 so the shift can be logical.
        let kd =
            double(((tmp &+ U(repeating: 0x8000_0000_0000_0000)) &>> 52) &+ U(repeating: shifterBits &- 2048))
            - V(repeating: shifter)
        let z = double(b &- (tmp & U(repeating: 0xFFF0_0000_0000_0000)))
        let (i0, i1, i2, i3, i4, i5, i6, i7) = (
            Int(i[0]), Int(i[1]), Int(i[2]), Int(i[3]),
            Int(i[4]), Int(i[5]), Int(i[6]), Int(i[7])
        )
        let c = V(table[i0], table[i1], table[i2], table[i3], table[i4], table[i5], table[i6], table[i7])
        let t1 = table + 128, t2 = table + 256
        let invc = V(t1[i0], t1[i1], t1[i2], t1[i3], t1[i4], t1[i5], t1[i6], t1[i7])
        let logc = V(t2[i0], t2[i1], t2[i2], t2[i3], t2[i4], t2[i5], t2[i6], t2[i7])
        let r = (z - c) * invc
        var p = V(repeating: -1.0 / 8.0)
        p = p * r + V(repeating: 1.0 / 7.0)
        p = p * r + V(repeating: -1.0 / 6.0)
        p = p * r + V(repeating: 1.0 / 5.0)
        p = p * r + V(repeating: -0.25)
        p = p * r + V(repeating: 1.0 / 3.0)
        p = p * r + V(repeating: -0.5)
        return (kd * ln2Hi + logc) + (kd * ln2Lo + (r + (r * r) * p))
    }

    /// A cheap `log(x)` for positive normal `x`, absolute error below 2e-5 (a degree-5 fit on the
    /// mantissa): for starting values, where only determinism matters.
    @inline(__always) static func logApprox(_ x: V) -> V {
        let b = bits(x)
        let k = double((b &>> 52) &+ U(repeating: shifterBits &- 1023)) - V(repeating: shifter)
        let f = double((b & U(repeating: 0x000F_FFFF_FFFF_FFFF)) | U(repeating: 0x3FF0_0000_0000_0000)) - 1
        var p = V(repeating: 0.030449658164682487)
        p = p * f + V(repeating: -0.1315845699213775)
        p = p * f + V(repeating: 0.2852763732842808)
        p = p * f + V(repeating: -0.49023275322864324)
        p = p * f + V(repeating: 0.9992359203110841)
        p = p * f + V(repeating: 9.949508032371895e-06)
        return k * 0.6931471805599453 + p
    }

    // MARK: - log1p

    // fdlibm's minimax coefficients for log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f).
    static let lg1 = 6.666666666666735130e-01
    static let lg2 = 3.999999999940941908e-01
    static let lg3 = 2.857142874366239149e-01
    static let lg4 = 2.222219843214978396e-01
    static let lg5 = 1.818357216161805012e-01
    static let lg6 = 1.531383769920937332e-01
    static let lg7 = 1.479819860511658591e-01

    /// `log(1 + x)`, accurate relative to the result also for tiny `x`; `-inf` at -1, NaN below
    /// (musl's algorithm: `u = 1 + x = 2^k (1 + f)` with `1 + f` in [sqrt(2)/2, sqrt(2)), the
    /// rounding error of `u` carried as a correction, `f = x` exactly when `k = 0`).
    @inline(__always) static func log1p(_ x: V) -> V {
        let one = V(repeating: 1)
        // Keep the bit manipulations in range; special values are patched at the end.
        let xs = clamp(x, -0.999_999_999_999_999_9, .greatestFiniteMagnitude)
        let u = one + xs
        let ub = bits(u)
        // High word adjusted so that the mantissa lands in [sqrt(2)/2, sqrt(2)).
        let hu = (ub &>> 32) &+ U(repeating: 0x3FF0_0000 - 0x3FE6_A09E)
        let kRaw = hu &>> 20  // k + 1023
        let mant = ((hu & U(repeating: 0x000F_FFFF)) &+ U(repeating: 0x3FE6_A09E)) &<< 32
        var f = double(mant | (ub & U(repeating: 0xFFFF_FFFF))) - 1
        var dk = double(kRaw &+ U(repeating: shifterBits &- 1023)) - V(repeating: shifter)
        // Rounding error of u = 1 + x, divided by u; negligible from k = 53 on.
        var c = (xs - (u - one)).replacing(with: one - (u - xs), where: u .>= 2) / u
        c.replace(with: 0, where: u .>= 9.007_199_254_740_992e15)
        // Near zero (k = 0) f = x exactly.
        let small = (xs .> -0.292_893_218_813_452_4) .& (xs .< 0.414_213_562_373_095_03)
        f.replace(with: xs, where: small)
        c.replace(with: 0, where: small)
        dk.replace(with: 0, where: small)
        let hfsq = 0.5 * f * f
        let s = f / (2 + f)
        let z = s * s
        let w = z * z
        let t1 = w * (lg2 + w * (lg4 + w * lg6))
        let t2 = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7)))
        var result = s * (hfsq + (t2 + t1)) + (dk * ln2Lo + c) - hfsq + f + dk * ln2Hi
        result.replace(with: V(repeating: -.infinity), where: x .== -1)
        result.replace(with: V(repeating: .nan), where: x .< -1)
        result.replace(with: x, where: (x .== .infinity) .| (x .!= x))
        return result
    }
}

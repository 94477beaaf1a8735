import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The weighted Gram matrix X~' diag(w) X~ (X~ = [1, X]) of a dense design, the Hessian of the
/// debiased estimators at large p.
///
/// The sparse-row accumulation that suits discrete designs costs an indexed scatter per
/// product; for dense data of many features the p^2 n / 2 products are the report step's whole
/// cost. Here they are register-tiled (4 x 2 entries of H per pass over a block of 128 patterns,
/// two doubles per vector), blocks small enough to stay in the core's cache, and the rows of tiles
/// shared among the cores. Each entry of H is summed by one core in one fixed order (pattern
/// blocks in turn), so the result does not depend on the number of cores.
enum DenseGram {
    /// Patterns per block: 128 patterns of 1,000 features are 1 MB, inside one core's L2.
    static let block = 128

    /// Whether `design`'s Hessians go through this kernel: dense designs (where the sparse rows
    /// would also cost 1.5x the design's memory) of at least 64 features.
    static func applies(to design: CompressedDesign) -> Bool {
        !design.isSparse && design.featureCount >= 64 && design.density > CompressedDesign.sparseDensity
    }

    /// H (row-major, (f + 1) x (f + 1), intercept first) with H_jl = sum_k w_k x~_kj x~_kl.
    ///
    /// - Parameters:
    ///   - x: column-major features, column j at `x + j * stride`, zero-padded to `stride`.
    ///   - w: `stride` weights, zero beyond the patterns.
    static func gram(x: UnsafePointer<Double>, stride: Int, features f: Int, weights w: UnsafePointer<Double>) -> [Double] {
        let q = f + 1
        var h = [Double](repeating: 0, count: q * q)
        // The intercept's row: sum w and sum w x_j.
        h[0] = Kernels.sum(w, stride)
        for j in 0..<f { h[j + 1] = Kernels.dot(w, x + j * stride, stride) }
        let tileRows = (f + 3) / 4
        let workers = max(1, min(tileRows, ProcessInfoCores.count))
        h.withUnsafeMutableBufferPointer { hb in
            let hp = UnsafeMutableSendablePointer(hb.baseAddress!)
            let xs = UnsafeSendablePointer(x), ws = UnsafeSendablePointer(w)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                accumulate(
                    x: xs.pointer, stride: stride, features: f, weights: ws.pointer, into: hp.pointer, size: q,
                    tileRows: Swift.stride(from: worker, to: tileRows, by: workers))
            }
        }
        // Mirror the upper triangle (and the intercept's row) into the lower.
        for j in 0..<q {
            for l in (j + 1)..<max(j + 1, q) { h[l * q + j] = h[j * q + l] }
        }
        return h
    }

    /// Adds the feature block's upper-triangle entries of `tileRows` (rows 4t ..< 4t + 4) into `h`.
    private static func accumulate(
        x: UnsafePointer<Double>, stride: Int, features f: Int, weights w: UnsafePointer<Double>,
        into h: UnsafeMutablePointer<Double>, size q: Int, tileRows: StrideTo<Int>
    ) {
        let nb = block
        // w * x_j of the tile row's four features over one block (rows past f stay zero).
        let vx = UnsafeMutablePointer<Double>.allocate(capacity: 4 * nb)
        defer { vx.deallocate() }
        var start = 0
        while start < stride {
            let len = min(nb, stride - start)  // even: stride is a multiple of the SIMD width
            for t in tileRows {
                let j0 = 4 * t
                for a in 0..<4 {
                    let row = vx + a * nb
                    if j0 + a < f {
                        let xj = x + (j0 + a) * stride + start
                        for r in 0..<len { row[r] = w[start + r] * xj[r] }
                    } else {
                        for r in 0..<len { row[r] = 0 }
                    }
                }
                var l0 = j0
                while l0 < f {
                    let x0 = x + l0 * stride + start
                    let x1 = l0 + 1 < f ? x + (l0 + 1) * stride + start : x0
                    let s = tile(vx, nb, x0, x1, len)
                    for a in 0..<4 where j0 + a < f {
                        let hr = h + (j0 + a + 1) * q + 1
                        if l0 >= j0 + a { hr[l0] += s[2 * a] }
                        if l0 + 1 < f && l0 + 1 >= j0 + a { hr[l0 + 1] += s[2 * a + 1] }
                    }
                    l0 += 2
                }
            }
            start += nb
        }
    }

    /// The 4 x 2 dot products of rows vx[a] (a < 4, `nb` apart) with x0 and x1 over `len` patterns.
    @inline(__always)
    private static func tile(
        _ vx: UnsafePointer<Double>, _ nb: Int, _ x0: UnsafePointer<Double>, _ x1: UnsafePointer<Double>, _ len: Int
    ) -> SIMD8<Double> {
        typealias V = SIMD2<Double>
        var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
        let u0p = vx, u1p = vx + nb, u2p = vx + 2 * nb, u3p = vx + 3 * nb
        var r = 0
        while r < len {
            let y0 = UnsafeRawPointer(x0 + r).loadUnaligned(as: V.self)
            let y1 = UnsafeRawPointer(x1 + r).loadUnaligned(as: V.self)
            let u0 = UnsafeRawPointer(u0p + r).loadUnaligned(as: V.self)
            let u1 = UnsafeRawPointer(u1p + r).loadUnaligned(as: V.self)
            a00 += u0 * y0
            a01 += u0 * y1
            a10 += u1 * y0
            a11 += u1 * y1
            let u2 = UnsafeRawPointer(u2p + r).loadUnaligned(as: V.self)
            let u3 = UnsafeRawPointer(u3p + r).loadUnaligned(as: V.self)
            a20 += u2 * y0
            a21 += u2 * y1
            a30 += u3 * y0
            a31 += u3 * y1
            r += 2
        }
        return SIMD8(a00.sum(), a01.sum(), a10.sum(), a11.sum(), a20.sum(), a21.sum(), a30.sum(), a31.sum())
    }
}

/// The number of cores the dense kernels share their work among.
enum ProcessInfoCores {
    static let count: Int = {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()
}

/// A pointer handed to `concurrentPerform`'s workers, each of which writes disjoint entries.
struct UnsafeMutableSendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// A read-only pointer shared with `concurrentPerform`'s workers.
struct UnsafeSendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}

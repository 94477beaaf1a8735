import Foundation
import Testing

@testable import Resampling

@Suite("Exact binomial sampler and multinomial bootstrap draws")
struct BootstrapDrawTests {
    /// Chi-square goodness of fit of `draws` binomial variates against the exact pmf, with bins
    /// merged so each expects at least 20 observations.
    func binomialFit(n: Int, p: Double, draws: Int, index: UInt64) -> (statistic: Double, df: Int, mean: Double) {
        let mean = Double(n) * p
        let sd = (mean * (1 - p)).squareRoot()
        let lo = max(0, Int((mean - 12 * sd - 10).rounded(.down)))
        let hi = min(n, Int((mean + 12 * sd + 10).rounded(.up)))
        // Bin edges over lo...hi.
        var binOf = [Int](repeating: 0, count: hi - lo + 1)
        var expected: [Double] = []
        var acc = 0.0
        let minimum = 20.0 / Double(draws)
        for k in lo...hi {
            binOf[k - lo] = expected.count
            acc += exp(Stat.binomialLogPMF(k, n: n, p: p))
            if acc >= minimum {
                expected.append(acc)
                acc = 0
            }
        }
        if acc > 0 {
            if expected.isEmpty { expected.append(acc) } else { expected[expected.count - 1] += acc }
            for k in lo...hi where binOf[k - lo] == expected.count { binOf[k - lo] = expected.count - 1 }
        }
        var observed = [Int](repeating: 0, count: expected.count)
        var stream = RandomStream(seed: 77, purpose: .simulation, index: index)
        var sum = 0.0
        for _ in 0..<draws {
            let x = BootstrapDraw.binomial(trials: n, probability: p, stream: &stream)
            precondition(x >= 0 && x <= n)
            sum += Double(x)
            observed[binOf[min(max(x, lo), hi) - lo]] += 1
        }
        var chi = 0.0
        for (o, e) in zip(observed, expected) {
            let ee = e * Double(draws)
            chi += (Double(o) - ee) * (Double(o) - ee) / ee
        }
        return (chi, expected.count - 1, sum / Double(draws))
    }

    @Test(arguments: [
        (10, 0.3), (1000, 0.001), (200_000, 0.000_01), (40, 0.28), (41, 0.27), (50, 0.5), (60, 0.9),
        (500, 0.04), (1000, 0.37), (100_000, 0.3), (1_000_000_000, 0.42), (7, 0.999),
    ])
    func binomialMatchesExactPMF(n: Int, p: Double) {
        let draws = 100_000
        let fit = binomialFit(n: n, p: p, draws: draws, index: UInt64(n) &* 31 &+ UInt64(p * 1e6))
        let critical = Stat.chiSquareCritical(df: max(fit.df, 1))
        #expect(fit.statistic < critical, "n=\(n) p=\(p): chi2 \(fit.statistic) on \(fit.df) df")
        let sdMean = (Double(n) * p * (1 - p) / Double(draws)).squareRoot()
        #expect(abs(fit.mean - Double(n) * p) < 5 * sdMean + 1e-12)
    }

    @Test func binomialEdgeCases() {
        var s = RandomStream(seed: 1, purpose: .simulation, index: 0)
        #expect(BootstrapDraw.binomial(trials: 0, probability: 0.4, stream: &s) == 0)
        #expect(BootstrapDraw.binomial(trials: 25, probability: 0, stream: &s) == 0)
        #expect(BootstrapDraw.binomial(trials: 25, probability: 1, stream: &s) == 25)
        for n in [1, 2, 3, 21, 22, 23, 10_000] {
            for p in [1e-12, 0.5, 1 - 1e-12] {
                let x = BootstrapDraw.binomial(trials: n, probability: p, stream: &s)
                #expect(x >= 0 && x <= n)
            }
        }
    }

    @Test func multinomialBasics() {
        let counts = [0, 3, 0, 10, 1, 0, 86]
        var s = RandomStream(seed: 5, purpose: .bootstrap, index: 0)
        var buffer: [Int] = []
        for r in 0..<500 {
            var stream = RandomStream(seed: 5, purpose: .bootstrap, index: UInt64(r))
            let draw = BootstrapDraw.multinomial(counts: counts, stream: &stream)
            #expect(draw.reduce(0, +) == 100)
            #expect(draw[0] == 0 && draw[2] == 0 && draw[5] == 0)
            var again = RandomStream(seed: 5, purpose: .bootstrap, index: UInt64(r))
            BootstrapDraw.multinomial(counts: counts, stream: &again, into: &buffer)
            #expect(buffer == draw)
        }
        let other = BootstrapDraw.multinomial(counts: counts, total: 1000, stream: &s)
        #expect(other.reduce(0, +) == 1000 && other[0] == 0)
        #expect(BootstrapDraw.multinomial(counts: counts, total: 0, stream: &s) == [Int](repeating: 0, count: 7))
        #expect(BootstrapDraw.multinomial(counts: [0, 5, 0], stream: &s) == [0, 5, 0])
        #expect(BootstrapDraw.multinomial(counts: [], total: 0, stream: &s) == [])
        // Different resample indices give different resamples.
        var a = RandomStream(seed: 5, purpose: .bootstrap, index: 1)
        var b = RandomStream(seed: 5, purpose: .bootstrap, index: 2)
        #expect(BootstrapDraw.multinomial(counts: counts, stream: &a) != BootstrapDraw.multinomial(counts: counts, stream: &b))
    }

    /// Per-cell means n p and variances n p (1 - p), and the covariance -n p_i p_j, within
    /// five standard errors over many draws.
    @Test func multinomialMoments() {
        let counts = [1, 0, 5, 20, 74, 300, 2, 0, 98]
        let n = counts.reduce(0, +)
        let draws = 20_000
        let cells = counts.count
        var sum = [Double](repeating: 0, count: cells)
        var sum2 = [Double](repeating: 0, count: cells)
        var cross = 0.0
        var buffer: [Int] = []
        for r in 0..<draws {
            var s = RandomStream(seed: 11, purpose: .bootstrap, index: UInt64(r))
            BootstrapDraw.multinomial(counts: counts, stream: &s, into: &buffer)
            for i in 0..<cells {
                sum[i] += Double(buffer[i])
                sum2[i] += Double(buffer[i] * buffer[i])
            }
            cross += Double(buffer[3] * buffer[5])
        }
        let d = Double(draws)
        let nd = Double(n)
        for i in 0..<cells {
            let p = Double(counts[i]) / nd
            let mu = nd * p
            let variance = nd * p * (1 - p)
            let mean = sum[i] / d
            let sampleVar = (sum2[i] - d * mean * mean) / (d - 1)
            if counts[i] == 0 {
                #expect(sum[i] == 0)
                continue
            }
            #expect(abs(mean - mu) < 5 * (variance / d).squareRoot(), "cell \(i) mean \(mean) vs \(mu)")
            let mu4 = variance * (1 + 3 * (nd - 2) * p * (1 - p))
            #expect(
                abs(sampleVar - variance) < 5 * ((mu4 - variance * variance) / d).squareRoot(),
                "cell \(i) variance \(sampleVar) vs \(variance)")
        }
        let (p3, p5) = (Double(counts[3]) / nd, Double(counts[5]) / nd)
        let cov = cross / d - (sum[3] / d) * (sum[5] / d)
        let expectedCov = -nd * p3 * p5
        // SD of the product moment, approximated with independent normal margins.
        let sdCov = ((nd * p3 * (1 - p3)) * (nd * p5 * (1 - p5)) + expectedCov * expectedCov).squareRoot() / d.squareRoot()
        #expect(abs(cov - expectedCov) < 5 * sdCov, "covariance \(cov) vs \(expectedCov)")
    }

    /// The O(cells) draw and naive O(n) sampling of rows have the same distribution of cell counts.
    @Test func agreesWithNaiveRowSampling() {
        let counts = [2, 30, 1, 67]
        let rowCell = counts.enumerated().flatMap { cell, c in [Int32](repeating: Int32(cell), count: c) }
        let n = rowCell.count
        let draws = 20_000
        // Histograms of cell 1 (moderate) and cell 0 (small), clipped at 8 for cell 0.
        var fastMid = [Int](repeating: 0, count: n + 1), naiveMid = fastMid
        var fastSmall = [Int](repeating: 0, count: 9), naiveSmall = fastSmall
        var fastLarge = [Int](repeating: 0, count: n + 1), naiveLarge = fastLarge
        for r in 0..<draws {
            var s = RandomStream(seed: 3, purpose: .bootstrap, index: UInt64(r))
            let fast = BootstrapDraw.multinomial(counts: counts, stream: &s)
            var t = RandomStream(seed: 4, purpose: .simulation, index: UInt64(r))
            let rows = (0..<n).map { _ in t.nextIndex(below: n) }
            let naive = try! BootstrapDraw.fromIndices(rows, rowCell: rowCell, cellCount: counts.count)
            fastMid[fast[1]] += 1; naiveMid[naive[1]] += 1
            fastSmall[min(fast[0], 8)] += 1; naiveSmall[min(naive[0], 8)] += 1
            fastLarge[fast[3]] += 1; naiveLarge[naive[3]] += 1
        }
        for (a, b) in [(fastMid, naiveMid), (fastSmall, naiveSmall), (fastLarge, naiveLarge)] {
            // Merge sparse bins so the chi-square approximation holds.
            var ma: [Int] = [], mb: [Int] = []
            var (ca, cb) = (0, 0)
            for (x, y) in zip(a, b) {
                ca += x; cb += y
                if ca + cb >= 40 { ma.append(ca); mb.append(cb); ca = 0; cb = 0 }
            }
            if ca + cb > 0, !ma.isEmpty { ma[ma.count - 1] += ca; mb[mb.count - 1] += cb }
            let h = Stat.homogeneity(ma, mb)
            #expect(h.statistic < Stat.chiSquareCritical(df: max(h.df, 1)), "chi2 \(h.statistic) on \(h.df) df")
        }
    }

    @Test func fromIndices() throws {
        let rowCell: [Int32] = [0, 0, 1, 2, 2, 2]
        #expect(try BootstrapDraw.fromIndices([0, 0, 5, 3, 2, 1], rowCell: rowCell, cellCount: 3) == [3, 1, 2])
        #expect(try BootstrapDraw.fromIndices([], rowCell: rowCell, cellCount: 3) == [0, 0, 0])
        #expect(throws: ResamplingError.rowOutOfRange(position: 1, row: 6, rowCount: 6)) {
            try BootstrapDraw.fromIndices([0, 6], rowCell: rowCell, cellCount: 3)
        }
        #expect(throws: ResamplingError.rowOutOfRange(position: 0, row: -1, rowCount: 6)) {
            try BootstrapDraw.fromIndices([-1], rowCell: rowCell, cellCount: 3)
        }
        #expect(throws: ResamplingError.cellOutOfRange(row: 3, cell: 2, cellCount: 2)) {
            try BootstrapDraw.fromIndices([3], rowCell: rowCell, cellCount: 2)
        }
        #expect(ResamplingError.rowOutOfRange(position: 1, row: 6, rowCount: 6).description.contains("0-based"))
    }
}

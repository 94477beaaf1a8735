import Foundation
import Lasso
import Testing

@testable import Resampling

@Suite("Per-feature bootstrap summaries")
struct FeatureSummaryTests {
    /// Mean, median, SE and the sign fractions against numpy on the fixture replicates.
    @Test func matchesNumpy() throws {
        for c in try CIFixture.load().cases {
            let s = FeatureSummary.make(replicates: c.replicates, estimate: c.estimate)
            let e = c.summary
            #expect(close(s.mean, e.mean, 1e-12) && close(s.median, e.median, 1e-12), "\(c.name)")
            #expect(close(s.standardError, e.standardError, 1e-10), "\(c.name)")
            #expect(
                s.zeroFraction == e.zeroFraction && s.positiveFraction == e.positiveFraction
                    && s.negativeFraction == e.negativeFraction, "\(c.name)")
            #expect(abs(s.selectionFrequency - (1 - e.zeroFraction)) < 1e-15)
            #expect(close(s.bias, e.mean - c.estimate, 1e-12))
            #expect(s.replicateCount == c.replicates.count)
            #expect(s.flags.contains(.mostlyZero) == (e.zeroFraction > 0.5), "\(c.name)")
            // The percentile endpoints agree with the scipy-convention percentile interval.
            let ci = BootstrapCI.interval(method: .percentile, replicates: c.replicates, estimate: c.estimate, level: 0.95)
            #expect(s.percentileLow == ci.low && s.percentileHigh == ci.high)
            #expect(s.monteCarloSELow >= 0 && s.monteCarloSEHigh >= 0)
        }
        let zero = try #require(try CIFixture.load().cases.first { $0.name == "lasso_zero" })
        #expect(FeatureSummary.make(replicates: zero.replicates, estimate: 0).flags == .mostlyZero)
    }

    /// The Monte-Carlo SE of a percentile endpoint predicts the spread of that endpoint over
    /// independent sets of B replicates, and is near the asymptotic sqrt(q(1-q)/B) / phi(z_q).
    @Test func monteCarloStandardErrorIsCalibrated() {
        let b = 1999
        let sets = 300
        var lows: [Double] = [], highs: [Double] = []
        var seLow = 0.0, seHigh = 0.0
        for r in 0..<sets {
            var s = RandomStream(seed: 12, purpose: .simulation, index: UInt64(r))
            let reps = (0..<b).map { _ in Stat.normal(&s) }
            let f = FeatureSummary.make(replicates: reps, estimate: 0, level: 0.95)
            lows.append(f.percentileLow); highs.append(f.percentileHigh)
            seLow += f.monteCarloSELow / Double(sets); seHigh += f.monteCarloSEHigh / Double(sets)
        }
        func sd(_ x: [Double]) -> Double {
            let m = x.reduce(0, +) / Double(x.count)
            return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
        }
        let q = 0.025
        let z = Normal.quantile(q)
        let asymptotic = (q * (1 - q) / Double(b)).squareRoot() / (exp(-z * z / 2) / (2 * Double.pi).squareRoot())
        for (se, spread) in [(seLow, sd(lows)), (seHigh, sd(highs))] {
            #expect(abs(se / asymptotic - 1) < 0.15, "mean MCSE \(se) vs asymptotic \(asymptotic)")
            // The SD of 300 draws is itself uncertain by about 4%.
            #expect(abs(se / spread - 1) < 0.2, "mean MCSE \(se) vs observed spread \(spread)")
        }
    }

    @Test func atomAtZeroAndDegenerateInputs() {
        // 80% zeros: the lower endpoint sits in the atom, so it does not move between runs.
        let reps = [Double](repeating: 0, count: 800) + (1...200).map { Double($0) / 100 }
        let s = FeatureSummary.make(replicates: reps, estimate: 0.1)
        #expect(s.flags == .mostlyZero && s.percentileLow == 0 && s.monteCarloSELow == 0 && s.monteCarloSEHigh > 0)
        #expect(s.selectionFrequency == 0.2 && s.positiveFraction == 0.2 && s.negativeFraction == 0 && s.median == 0)

        let equal = FeatureSummary.make(replicates: [Double](repeating: -0.7, count: 50), estimate: -0.7)
        #expect(equal.flags == .allReplicatesEqual && equal.standardError == 0 && equal.bias == 0)
        #expect(equal.monteCarloSELow == 0 && equal.negativeFraction == 1 && equal.median == -0.7)

        let empty = FeatureSummary.make(replicates: [.nan], estimate: 1)
        #expect(empty.flags == [.noReplicates, .nonFiniteReplicatesDropped] && empty.mean.isNaN && empty.replicateCount == 0)
        #expect(empty.flags.names == ["noReplicates", "nonFiniteReplicatesDropped"])

        let one = FeatureSummary.make(replicates: [2], estimate: 1)
        #expect(one.standardError == 0 && one.bias == 1 && one.flags == .allReplicatesEqual)
        #expect(one.monteCarloSELow == 0 && one.monteCarloSEHigh == 0)
    }
}

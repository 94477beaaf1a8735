import Foundation
import Testing

@testable import Resampling

@Suite("Bootstrap confidence intervals against scipy and R boot")
struct BootstrapCITests {
    func jackknife(_ c: CIFixture.Case) throws -> Jackknife {
        try Jackknife(values: c.jackknife.values, multiplicities: c.jackknife.counts)
    }

    /// Every fixture endpoint that scipy or R computed, to 1e-10 (relative, absolute near 0).
    @Test func matchesScipyAndRBoot() throws {
        let fixture = try CIFixture.load()
        #expect(fixture.cases.count == 8)
        var compared = 0
        for c in fixture.cases {
            let d = BootstrapDistribution(replicates: c.replicates)
            let jk = try jackknife(c)
            for iv in c.intervals {
                let checks: [(CIMethod, QuantileConvention, [Double?]?)] = [
                    (.percentile, .scipy, iv.scipy["percentile"]), (.basic, .scipy, iv.scipy["basic"]),
                    (.bca, .scipy, iv.scipy["bca"]), (.normal, .scipy, iv.r["normal"]),
                    (.percentile, .rBoot, iv.r["percentile"]), (.basic, .rBoot, iv.r["basic"]),
                    (.bca, .rBoot, iv.r["bca"]), (.normal, .rBoot, iv.r["normal"]),
                ]
                for (method, convention, expected) in checks {
                    let e = try #require(expected)
                    let got = BootstrapCI.interval(
                        method: method, distribution: d, estimate: c.estimate, level: iv.level,
                        jackknife: jk, convention: convention)
                    #expect(got.low.isFinite && got.high.isFinite, "\(c.name) \(method) \(convention)")
                    guard let lo = e[0], let hi = e[1] else { continue }  // NaN / error upstream: see degenerate tests
                    compared += 1
                    #expect(
                        close(got.low, lo) && close(got.high, hi),
                        "\(c.name) level \(iv.level) \(method) \(convention): (\(got.low), \(got.high)) vs (\(lo), \(hi))")
                }
            }
        }
        #expect(compared >= 100)
    }

    @Test func jackknifeAccelerationAndBiasCorrection() throws {
        for c in try CIFixture.load().cases {
            let jk = try jackknife(c)
            #expect(jk.rowCount == c.rows)
            if let a = c.acceleration {
                let got = try #require(jk.acceleration, "\(c.name)")
                #expect(abs(got - a) <= 1e-12 * max(1, abs(a)), "\(c.name): a \(got) vs \(a)")
            } else {
                #expect(jk.acceleration == nil, "\(c.name)")
            }
            let r = BootstrapCI.interval(method: .bca, replicates: c.replicates, estimate: c.estimate, jackknife: jk)
            if let z0 = c.z0 {
                #expect(abs(r.z0! - z0) < 1e-12, "\(c.name)")
            } else {
                #expect(r.z0!.isInfinite && r.flags.contains(.estimateOutsideReplicates), "\(c.name)")
            }
        }
    }

    /// Compressing the row-level jackknife into (value, multiplicity) pairs gives the row-level a.
    @Test func compressedJackknifeEqualsRowLevel() throws {
        var s = RandomStream(seed: 6, purpose: .simulation, index: 0)
        let distinct = (0..<12).map { _ in Stat.normal(&s) * 0.3 + 1 }
        let mult = (0..<12).map { _ in 1 + s.nextIndex(below: 40) }
        var rows: [Double] = []
        for (v, m) in zip(distinct, mult) { rows += [Double](repeating: v, count: m) }
        let compressed = try Jackknife(values: distinct, multiplicities: mult)
        let n = Double(rows.count)
        let mean = rows.reduce(0, +) / n
        let u = rows.map { (n - 1) * (mean - $0) }
        let s3: Double = u.reduce(0) { $0 + $1 * $1 * $1 }
        let s2: Double = u.reduce(0) { $0 + $1 * $1 }
        let a = s3 / (6 * pow(s2, 1.5))
        #expect(abs(compressed.acceleration! - a) < 1e-13)
        let fromRows = try Jackknife(rowValues: rows)
        #expect(abs(fromRows.acceleration! - a) < 1e-13)
        #expect(fromRows.rowCount == rows.count && fromRows.values.count == 12)
    }

    @Test func jackknifeValidation() throws {
        #expect(throws: ResamplingError.self) { try Jackknife(values: [1, 2], multiplicities: [1]) }
        #expect(throws: ResamplingError.self) { try Jackknife(values: [1, 2], multiplicities: [1, 0]) }
        #expect(throws: ResamplingError.self) { try Jackknife(values: [1, .nan], multiplicities: [1, 1]) }
        #expect(throws: ResamplingError.self) { try Jackknife(values: [1], multiplicities: [1]) }
        #expect(try Jackknife(values: [0.1], multiplicities: [7]).acceleration == nil)
        #expect(try Jackknife(rowValues: [Double](repeating: 0.1, count: 9)).acceleration == nil)
    }

    /// All replicates equal: every method returns a point, flagged, for both conventions, with
    /// or without a jackknife. (scipy: percentile/basic the point, BCa NaN; R's bca.ci stops.)
    @Test func allReplicatesEqual() throws {
        let c = try #require(try CIFixture.load().cases.first { $0.name == "all_equal" })
        let jk = try jackknife(c)
        for convention in QuantileConvention.allCases {
            for method in CIMethod.allCases {
                for j in [jk, nil] {
                    let r = BootstrapCI.interval(
                        method: method, replicates: c.replicates, estimate: 2.5, level: 0.95,
                        jackknife: j, convention: convention)
                    #expect(r.low == 2.5 && r.high == 2.5, "\(method) \(convention)")
                    #expect(r.flags.contains(.allReplicatesEqual))
                }
            }
            let bca = BootstrapCI.interval(method: .bca, replicates: c.replicates, estimate: 2.5, jackknife: jk, convention: convention)
            #expect(bca.flags.contains(.jackknifeDegenerate) && bca.acceleration == 0)
        }
        // Estimate off the common value: percentile and BCa give the value, basic and normal its reflection.
        let reps = [Double](repeating: 0.1, count: 999)  // their floating-point sum is not 999 * 0.1
        for convention in QuantileConvention.allCases {
            let p = BootstrapCI.interval(method: .percentile, replicates: reps, estimate: 0.3, convention: convention)
            let b = BootstrapCI.interval(method: .basic, replicates: reps, estimate: 0.3, convention: convention)
            let n = BootstrapCI.interval(method: .normal, replicates: reps, estimate: 0.3, convention: convention)
            let a = BootstrapCI.interval(method: .bca, replicates: reps, estimate: 0.3, convention: convention)
            #expect(p.low == 0.1 && p.high == 0.1 && a.low == 0.1 && a.high == 0.1)
            #expect(b.low == 2 * 0.3 - 0.1 && b.high == b.low && n.low == b.low && n.high == b.low)
            #expect(a.flags.contains(.estimateOutsideReplicates) && a.flags.contains(.allReplicatesEqual))
        }
        let single = BootstrapCI.interval(method: .normal, replicates: [1.5], estimate: 1)
        #expect(single.low == 0.5 && single.high == 0.5 && single.flags.contains(.allReplicatesEqual))
    }

    @Test func estimateOutsideReplicates() throws {
        let c = try #require(try CIFixture.load().cases.first { $0.name == "estimate_below" })
        let jk = try jackknife(c)
        for convention in QuantileConvention.allCases {
            let r = BootstrapCI.interval(method: .bca, replicates: c.replicates, estimate: c.estimate, jackknife: jk, convention: convention)
            #expect(r.flags.contains(.estimateOutsideReplicates))
            #expect(r.low == c.replicates.min()! && r.high == r.low && r.z0 == -.infinity)
            let above = BootstrapCI.interval(
                method: .bca, replicates: c.replicates, estimate: c.replicates.max()! + 1,
                jackknife: jk, convention: convention)
            #expect(above.low == c.replicates.max()! && above.high == above.low && above.z0 == .infinity)
        }
        // sample_min: scipy's z0 is finite (ties split), R's is -inf (bca.ci stops): flagged fallback.
        let m = try #require(try CIFixture.load().cases.first { $0.name == "sample_min" })
        let r = BootstrapCI.interval(method: .bca, replicates: m.replicates, estimate: m.estimate, jackknife: try jackknife(m), convention: .rBoot)
        #expect(r.flags.contains(.estimateOutsideReplicates) && r.low == m.estimate && r.high == m.estimate)
    }

    @Test func fewReplicatesAreFlagged() throws {
        let c = try #require(try CIFixture.load().cases.first { $0.name == "estimate_below" })  // B = 30
        for convention in QuantileConvention.allCases {
            let wide = BootstrapCI.interval(method: .percentile, replicates: c.replicates, estimate: c.estimate, level: 0.95, convention: convention)
            #expect(wide.flags.contains(.extremeOrderStatistics))  // 31 * 0.025 < 1
            let narrow = BootstrapCI.interval(method: .percentile, replicates: c.replicates, estimate: c.estimate, level: 0.9, convention: convention)
            #expect(!narrow.flags.contains(.extremeOrderStatistics))  // 31 * 0.05 > 1
        }
        let big = try #require(try CIFixture.load().cases.first { $0.name == "mean_lognormal" })
        #expect(BootstrapCI.interval(method: .percentile, replicates: big.replicates, estimate: big.estimate).flags.isEmpty)
    }

    @Test func missingJackknifeMeansZeroAcceleration() throws {
        let c = try #require(try CIFixture.load().cases.first { $0.name == "mean_lognormal" })
        let r = BootstrapCI.interval(method: .bca, replicates: c.replicates, estimate: c.estimate, jackknife: nil)
        #expect(r.flags == .jackknifeDegenerate && r.acceleration == 0)
        // With a = 0 and the estimate at the replicates' median, BCa is the percentile interval.
        let d = BootstrapDistribution(replicates: c.replicates)
        let median = d.quantile(0.5)
        let sym = (0..<999).map { Double($0) }
        let bca = BootstrapCI.interval(method: .bca, replicates: sym, estimate: 499, jackknife: nil)
        let pct = BootstrapCI.interval(method: .percentile, replicates: sym, estimate: 499)
        #expect(close(bca.low, pct.low, 1e-12) && close(bca.high, pct.high, 1e-12) && median.isFinite)
    }

    @Test func invalidInputAndEmpty() {
        for method in CIMethod.allCases {
            let empty = BootstrapCI.interval(method: method, replicates: [], estimate: 1)
            #expect(empty.low.isNaN && empty.flags.contains(.noReplicates))
            let onlyNaN = BootstrapCI.interval(method: method, replicates: [.nan, .infinity], estimate: 1)
            #expect(onlyNaN.flags.contains(.noReplicates) && onlyNaN.flags.contains(.nonFiniteReplicatesDropped))
            for level in [0, 1, -0.5, 1.5, .nan] {
                let r = BootstrapCI.interval(method: method, replicates: [1, 2, 3], estimate: 2, level: level)
                #expect(r.flags.contains(.invalidInput) && r.low.isNaN)
            }
            let badEstimate = BootstrapCI.interval(method: method, replicates: [1, 2, 3], estimate: .nan)
            #expect(badEstimate.flags.contains(.invalidInput))
            let dropped = BootstrapCI.interval(method: method, replicates: [1, .nan, 2, 3, 4, 5], estimate: 3, level: 0.5)
            #expect(dropped.low.isFinite && dropped.flags.contains(.nonFiniteReplicatesDropped))
        }
        #expect(CIFlags([.allReplicatesEqual, .noReplicates]).names == ["allReplicatesEqual", "noReplicates"])
    }

    /// Random small, tied, skewed inputs: endpoints are finite or the NaN is flagged, never a trap.
    @Test func neverAnUnflaggedNaN() throws {
        var s = RandomStream(seed: 31, purpose: .simulation, index: 0)
        var checked = 0
        for _ in 0..<3000 {
            let b = s.nextIndex(below: 40)
            let reps = (0..<b).map { _ -> Double in
                switch s.nextIndex(below: 4) {
                case 0: return 0
                case 1: return Double(s.nextIndex(below: 3))
                case 2: return Stat.normal(&s)
                default: return s.nextUniform() < 0.05 ? .nan : exp(3 * Stat.normal(&s))
                }
            }
            let t0 = [0, 1, Stat.normal(&s), reps.first ?? 0][s.nextIndex(below: 4)]
            let level = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999999][s.nextIndex(below: 6)]
            let jkRows = (0..<(2 + s.nextIndex(below: 10))).map { _ in s.nextUniform() < 0.5 ? 1.0 : Stat.normal(&s) }
            let jk = try Jackknife(rowValues: jkRows)
            for method in CIMethod.allCases {
                for convention in QuantileConvention.allCases {
                    let r = BootstrapCI.interval(
                        method: method, replicates: reps, estimate: t0.isFinite ? t0 : 0, level: level,
                        jackknife: jk, convention: convention)
                    if !(r.low.isFinite && r.high.isFinite) {
                        #expect(r.flags.contains(CIFlags.noReplicates) || r.flags.contains(CIFlags.invalidInput))
                    }
                    checked += 1
                }
            }
        }
        #expect(checked == 3000 * 8)
    }
}

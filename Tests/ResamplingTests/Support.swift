import Foundation
import Lasso

@testable import Resampling

/// Locations of the committed fixtures (repo root = three levels above this file).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/\(name)"))
        return try JSONDecoder().decode(T.self, from: data)
    }
}

/// `Tests/Fixtures/resampling_ci.json` (scripts/reference/resampling/make_ci_fixtures.py).
struct CIFixture: Decodable {
    struct Case: Decodable {
        struct JackknifeData: Decodable {
            let values: [Double]
            let counts: [Int]
        }
        struct Summary: Decodable {
            let mean, median, standardError, zeroFraction, positiveFraction, negativeFraction: Double
        }
        struct Interval: Decodable {
            let level: Double
            let scipy: [String: [Double?]]
            let r: [String: [Double?]]
        }
        let name: String
        let rows: Int
        let estimate: Double
        let replicates: [Double]
        let jackknife: JackknifeData
        let acceleration: Double?
        let z0: Double?
        let summary: Summary
        let intervals: [Interval]
    }
    let cases: [Case]

    static func load() throws -> CIFixture { try Fixtures.load("resampling_ci.json", as: CIFixture.self) }
}

/// `Tests/Fixtures/resampling_stream.json` (scripts/reference/resampling/make_stream_fixture.py).
struct StreamFixture: Decodable {
    struct KAT: Decodable {
        let counter: [UInt32]
        let key: [UInt32]
        let result: [UInt32]
    }
    struct Stream: Decodable {
        let seed: String
        let purpose: UInt32
        let index: String
        let next: [String]
        let uniform: [Double]
    }
    let kat: [KAT]
    let streams: [Stream]
}

/// Small statistics helpers for the distribution tests.
enum Stat {
    /// Upper critical value of chi-square(df) at tail probability `tail` (Wilson-Hilferty).
    static func chiSquareCritical(df: Int, tail: Double = 1e-4) -> Double {
        let z = Normal.quantile(1 - tail)
        let d = Double(df)
        let t = 1 - 2 / (9 * d) + z * (2 / (9 * d)).squareRoot()
        return d * t * t * t
    }

    /// log P(X = k) for X ~ Binomial(n, p).
    static func binomialLogPMF(_ k: Int, n: Int, p: Double) -> Double {
        let (nd, kd) = (Double(n), Double(k))
        return lgamma(nd + 1) - lgamma(kd + 1) - lgamma(nd - kd + 1) + kd * log(p) + (nd - kd) * log1p(-p)
    }

    /// Chi-square homogeneity statistic of two histograms over the same bins (empty bins skipped).
    static func homogeneity(_ a: [Int], _ b: [Int]) -> (statistic: Double, df: Int) {
        let na = Double(a.reduce(0, +))
        let nb = Double(b.reduce(0, +))
        var stat = 0.0
        var bins = 0
        for (x, y) in zip(a, b) where x + y > 0 {
            let tot = Double(x + y)
            let ea = tot * na / (na + nb)
            let eb = tot * nb / (na + nb)
            stat += (Double(x) - ea) * (Double(x) - ea) / ea + (Double(y) - eb) * (Double(y) - eb) / eb
            bins += 1
        }
        return (stat, bins - 1)
    }

    /// Standard normal variate by Box-Muller from a stream.
    static func normal(_ s: inout RandomStream) -> Double {
        let u1 = 1 - s.nextUniform()
        let u2 = s.nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// Whether `x` equals `expected` to `tol`, absolutely near 0 and relatively otherwise.
func close(_ x: Double, _ expected: Double, _ tol: Double = 1e-10) -> Bool {
    abs(x - expected) <= tol * max(1, abs(expected))
}

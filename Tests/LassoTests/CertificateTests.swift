import Foundation
import Lasso
import TestSupport
import Testing

/// A random logistic problem with a known generating model.
struct RandomProblem: Sendable, CustomTestStringConvertible {
    let seed: UInt64
    let columns: [[Double]]
    let outcome: [Double]
    let weights: [Double]?
    let penalizeIntercept: Bool
    let factors: [Double]?
    let alphaFraction: Double

    init(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        self.seed = seed
        let n = Int.random(in: 20...400, using: &rng)
        let p = Int.random(in: 1...12, using: &rng)
        var cols: [[Double]] = []
        for _ in 0..<p {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: cols.append((0..<n).map { _ in rng.normal() })  // continuous
            case 1: cols.append((0..<n).map { _ in Double.random(in: 0..<1, using: &rng) < 0.3 ? 1 : 0 })  // binary
            default: cols.append((0..<n).map { _ in Double(Int.random(in: 0...4, using: &rng)) })  // ordinal
            }
        }
        let beta = (0..<p).map { _ in Double.random(in: 0..<1, using: &rng) < 0.5 ? 0 : 1.5 * rng.normal() }
        let b0 = rng.normal()
        outcome = (0..<n).map { i in
            var eta = b0
            for j in 0..<p { eta += beta[j] * cols[j][i] }
            return Double.random(in: 0..<1, using: &rng) < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0
        }
        columns = cols
        weights =
            Bool.random(using: &rng) ? (0..<n).map { _ in Double(Int.random(in: 0...3, using: &rng)) + Double.random(in: 0..<1, using: &rng) } : nil
        penalizeIntercept = Bool.random(using: &rng)
        factors = Bool.random(using: &rng) ? (0..<p).map { _ in [0.5, 1, 2, 1][Int.random(in: 0..<4, using: &rng)] } : nil
        alphaFraction = [0.001, 0.01, 0.05, 0.2, 0.5, 0.9, 1.1][Int.random(in: 0..<7, using: &rng)]
    }

    var names: [String] { columns.indices.map { "x\($0)" } }
    var testDescription: String { "seed \(seed)" }
}

@Suite("KKT certificates on random problems")
struct CertificateTests {
    @Test("every fit satisfies the KKT conditions, checked row by row without the solver", arguments: (1...150).map { UInt64($0) })
    func kkt(seed: UInt64) throws {
        let problem = RandomProblem(seed: seed)
        let design = try CompressedDesign(featureNames: problem.names, columns: problem.columns)
        let cells = try design.cells(outcome: problem.outcome, weights: problem.weights)
        let s = cells.totalSuccesses, w = cells.totalWeight
        guard s > 0 && s < w else { return }  // constant outcome: covered by its own test
        let penalty = Penalty(scale: .sum, penalizeIntercept: problem.penalizeIntercept, factors: problem.factors)
        let alphaMax = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        let alpha = alphaMax * problem.alphaFraction
        let fit = try LogisticLasso.fit(design: design, cells: cells, alpha: alpha, penalty: penalty)
        #expect(fit.kktViolation <= 1e-12)
        let cert = Certificate(
            columns: problem.columns, outcome: problem.outcome, weights: problem.weights,
            intercept: fit.intercept, coefficients: fit.coefficients, alpha: alpha,
            penalizeIntercept: problem.penalizeIntercept, factors: problem.factors)
        #expect(cert.kktViolation <= 1e-9, "independent KKT check \(cert.kktViolation)")
        #expect(abs(cert.objective - fit.objective) <= 1e-9 * max(1, abs(cert.objective)))
        if problem.alphaFraction > 1 {
            // Above alpha_max every penalized coefficient is exactly zero.
            for (j, c) in fit.coefficients.enumerated() where (problem.factors?[j] ?? 1) > 0 { #expect(c == 0) }
        }
        // Convexity: no random perturbation does better.
        var rng = SplitMix64(seed: seed &* 31)
        for _ in 0..<10 {
            let scale = [1e-3, 1e-2, 0.1][Int.random(in: 0..<3, using: &rng)]
            let b0 = fit.intercept + scale * rng.normal()
            let b = fit.coefficients.map { $0 + scale * rng.normal() }
            let other = Certificate(
                columns: problem.columns, outcome: problem.outcome, weights: problem.weights,
                intercept: b0, coefficients: b, alpha: alpha,
                penalizeIntercept: problem.penalizeIntercept, factors: problem.factors)
            #expect(other.objective >= cert.objective - 1e-9 * abs(cert.objective))
        }
    }

    @Test("weights are row counts: integer weights equal repeated rows")
    func weightsAreCounts() throws {
        let p = RandomProblem(seed: 7)
        var rng = SplitMix64(seed: 99)
        let counts = p.outcome.map { _ in Double(Int.random(in: 0...3, using: &rng)) }
        let design = try CompressedDesign(featureNames: p.names, columns: p.columns)
        let weighted = try LogisticLasso.fit(design: design, cells: try design.cells(outcome: p.outcome, weights: counts), alpha: 1)
        var cols = p.columns.map { _ in [Double]() }
        var y: [Double] = []
        for i in p.outcome.indices {
            for _ in 0..<Int(counts[i]) {
                for j in cols.indices { cols[j].append(p.columns[j][i]) }
                y.append(p.outcome[i])
            }
        }
        let expanded = try CompressedDesign(featureNames: p.names, columns: cols)
        let repeated = try LogisticLasso.fit(design: expanded, cells: try expanded.cells(outcome: y), alpha: 1)
        for (a, b) in zip(weighted.allCoefficients, repeated.allCoefficients) { #expect(abs(a - b) <= 1e-9) }
        #expect(abs(weighted.objective - repeated.objective) <= 1e-9 * weighted.objective)
    }

    @Test("mean scale is the sum scale divided by the total weight")
    func meanScale() throws {
        let data = LoadedData.synthetic
        let cells = try data.design.cells(outcome: data.outcomes["y"]!)
        let W = cells.totalWeight
        let sum = try LogisticLasso.fit(design: data.design, cells: cells, alpha: 30)
        let mean = try LogisticLasso.fit(design: data.design, cells: cells, alpha: 30 / W, penalty: Penalty(scale: .mean))
        for (a, b) in zip(sum.allCoefficients, mean.allCoefficients) { #expect(abs(a - b) <= 1e-10) }
        #expect(abs(mean.objective * W - sum.objective) <= 1e-9 * sum.objective)
        let maxSum = try LogisticLasso.alphaMax(design: data.design, cells: cells)
        let maxMean = try LogisticLasso.alphaMax(design: data.design, cells: cells, penalty: Penalty(scale: .mean))
        #expect(abs(maxSum / W - maxMean) <= 1e-12 * maxMean)
    }

    @Test("a warm-started path equals cold fits, and alpha_max is the exact threshold")
    func path() throws {
        let data = LoadedData.synthetic
        let cells = try data.design.cells(outcome: data.outcomes["y"]!)
        let top = try LogisticLasso.alphaMax(design: data.design, cells: cells)
        let grid = LogisticLasso.geometricGrid(max: top, count: 20, minRatio: 1e-3)
        #expect(grid.count == 20 && grid[0] == top && abs(grid[19] - top * 1e-3) <= 1e-12 * top)
        let fits = try LogisticLasso.path(design: data.design, cells: cells, alphas: grid)
        #expect(fits[0].coefficients.allSatisfy { $0 == 0 })
        #expect(try LogisticLasso.fit(design: data.design, cells: cells, alpha: top * 0.999).coefficients.contains { $0 != 0 })
        for (a, f) in zip(grid, fits) {
            let cold = try LogisticLasso.fit(design: data.design, cells: cells, alpha: a)
            for (x, y) in zip(f.allCoefficients, cold.allCoefficients) { #expect(abs(x - y) <= 1e-8) }
        }
        // Warm starts pay: the whole path costs little more than a few cold fits.
        #expect(fits.map(\.iterations).reduce(0, +) < 20 * 8)
    }

    @Test("penalty factor 0 leaves a feature unpenalized; penalized intercept shrinks it")
    func penaltyFactors() throws {
        let data = LoadedData.synthetic
        let cells = try data.design.cells(outcome: data.outcomes["y"]!)
        let top = try LogisticLasso.alphaMax(design: data.design, cells: cells)
        var factors = [Double](repeating: 1, count: data.design.featureCount)
        factors[2] = 0
        let fit = try LogisticLasso.fit(design: data.design, cells: cells, alpha: top * 2, penalty: Penalty(factors: factors))
        #expect(fit.coefficients[2] != 0)
        #expect(fit.coefficients.enumerated().allSatisfy { $0.offset == 2 || $0.element == 0 })
        let huge = try LogisticLasso.fit(design: data.design, cells: cells, alpha: 1e6, penalty: Penalty(penalizeIntercept: true))
        #expect(huge.intercept == 0 && huge.coefficients.allSatisfy { $0 == 0 })
    }

    @Test("the solver's iteration is deterministic: identical bits on repeated fits")
    func deterministic() throws {
        let data = LoadedData.synthetic
        let cells = try data.design.cells(outcome: data.outcomes["y"]!)
        let a = try LogisticLasso.fit(design: data.design, cells: cells, alpha: 3)
        let b = try LogisticLasso.fit(design: data.design, cells: cells, alpha: 3)
        #expect(a == b)
    }
}

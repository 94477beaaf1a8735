import Foundation
import Lasso
import TestSupport
import Testing

/// The working-set strategy against the full Newton system and an independent certificate:
/// the same problem must have the same solution whichever features the Newton systems span.
@Suite("Working sets")
struct WorkingSetTests {
    /// AR(1)-correlated Gaussian features (rho 0.5), 8 true signals, uncentered and with mixed
    /// units; `binary` thresholds them at 0 so many rows share patterns.
    static func wide(n: Int, p: Int, binary: Bool = false, seed: UInt64 = 7) -> (columns: [[Double]], y: [Double]) {
        var rng = SplitMix64(seed: seed)
        var columns = [[Double]](repeating: [Double](repeating: 0, count: n), count: p)
        var y = [Double](repeating: 0, count: n)
        let signals = stride(from: 0, to: p, by: max(1, p / 8)).prefix(8)
        for i in 0..<n {
            var z = rng.normal()
            var eta = -0.3
            for j in 0..<p {
                if j > 0 { z = 0.5 * z + 0.75.squareRoot() * rng.normal() }
                let x = binary ? (z > 0 ? 1.0 : 0.0) : 3 + z * Double(1 + j % 5)
                columns[j][i] = x
                if signals.contains(j) { eta += (j % 2 == 0 ? 0.8 : -0.8) * (binary ? x : z) }
            }
            y[i] = Double.random(in: 0..<1, using: &rng) < 1 / (1 + exp(-eta)) ? 1 : 0
        }
        return (columns, y)
    }

    static func options(_ strategy: SolverOptions.Strategy) -> SolverOptions {
        var o = SolverOptions(tolerance: 1e-11)
        o.strategy = strategy
        return o
    }

    static func names(_ p: Int) -> [String] { (0..<p).map { "x\($0)" } }

    @Test("equals the full Newton system along a path, with bootstrap weights, factors and standardization")
    func matchesFullAlongPath() throws {
        let (columns, y) = Self.wide(n: 300, p: 150)
        let design = try CompressedDesign(featureNames: Self.names(150), columns: columns)
        var rng = SplitMix64(seed: 11)
        // A resample's counts: about a third of the rows get weight 0.
        var weights = [Double](repeating: 0, count: 300)
        for _ in 0..<300 { weights[Int.random(in: 0..<300, using: &rng)] += 1 }
        let cells = try design.cells(outcome: y, weights: weights)
        var factors = [Double](repeating: 1, count: 150)
        factors[3] = 0  // unpenalized: always in the set
        factors[40] = 2.5
        for standardize in [false, true] {
            var penalty = Penalty(scale: .sum, factors: factors)
            penalty.standardize = standardize
            let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
            let alphas = LogisticLasso.geometricGrid(max: top, count: 12, minRatio: 0.02)
            let full = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: Self.options(.full))
            let ws = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: Self.options(.workingSet))
            for (a, b) in zip(full, ws) {
                #expect(a.workingSetSize == nil)
                let size = try #require(b.workingSetSize)
                #expect(size < 150, "alpha \(b.alpha): the set spans every feature")
                #expect(b.kktViolation <= 1e-11)
                #expect(abs(a.objective - b.objective) <= 1e-10 * abs(a.objective), "alpha \(b.alpha)")
                for (u, v) in zip(a.allCoefficients, b.allCoefficients) {
                    #expect(abs(u - v) <= 1e-7 * max(1, abs(u)), "alpha \(b.alpha), standardize \(standardize)")
                }
                #expect(a.coefficients.map { $0 != 0 } == b.coefficients.map { $0 != 0 }, "same active set at alpha \(b.alpha)")
                // The coordinator's certificate, computed on the whole design.
                let kkt = try LogisticLasso.kktViolation(
                    design: design, cells: cells, alpha: b.alpha, penalty: penalty,
                    coefficients: b.allCoefficients)
                #expect(kkt <= 1e-10)
            }
            #expect(ws.last!.coefficients[3] != 0 || full.last!.coefficients[3] == 0)
        }
    }

    @Test("cold fits certified by an independent row-by-row KKT check; at alpha_max only the intercept")
    func coldFitsCertified() throws {
        let (columns, y) = Self.wide(n: 400, p: 120, seed: 3)
        let design = try CompressedDesign(featureNames: Self.names(120), columns: columns)
        let cells = try design.cells(outcome: y)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells)
        for ratio in [1.0, 0.5, 0.1, 0.01] {
            let fit = try LogisticLasso.fit(design: design, cells: cells, alpha: top * ratio, options: Self.options(.workingSet))
            let check = Certificate(
                columns: columns, outcome: y, weights: nil, intercept: fit.intercept,
                coefficients: fit.coefficients, alpha: top * ratio, penalizeIntercept: false)
            #expect(check.kktViolation <= 1e-10, "ratio \(ratio)")
            #expect(abs(check.objective - fit.objective) <= 1e-9 * check.objective)
            if ratio == 1.0 {
                #expect(fit.coefficients.allSatisfy { $0 == 0 })
                let ybar = y.reduce(0, +) / Double(y.count)
                #expect(abs(fit.intercept - log(ybar / (1 - ybar))) <= 1e-9)
            }
        }
    }

    @Test("binary wide design: patterns merged on the set's columns give the full solution; penalized intercept too")
    func binaryDesignAndPenalizedIntercept() throws {
        let (columns, y) = Self.wide(n: 2000, p: 80, binary: true, seed: 5)
        let design = try CompressedDesign(featureNames: Self.names(80), columns: columns)
        let cells = try design.cells(outcome: y)
        for penalty in [Penalty(scale: .mean), Penalty(scale: .sum, penalizeIntercept: true)] {
            let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
            for ratio in [0.3, 0.05] {
                let a = try LogisticLasso.fit(design: design, cells: cells, alpha: top * ratio, penalty: penalty, options: Self.options(.full))
                let b = try LogisticLasso.fit(design: design, cells: cells, alpha: top * ratio, penalty: penalty, options: Self.options(.workingSet))
                #expect(b.workingSetSize != nil)
                #expect(abs(a.objective - b.objective) <= 1e-10 * abs(a.objective))
                for (u, v) in zip(a.allCoefficients, b.allCoefficients) { #expect(abs(u - v) <= 1e-7 * max(1, abs(u))) }
            }
        }
    }

    @Test("p > n (100 rows, 300 features): the same path as the full system, certified on every feature")
    func moreFeaturesThanRows() throws {
        let (columns, y) = Self.wide(n: 100, p: 300, seed: 21)
        let design = try CompressedDesign(featureNames: Self.names(300), columns: columns)
        let cells = try design.cells(outcome: y)
        let penalty = Penalty(scale: .mean, standardize: true)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        // Down to 0.15 of alpha_max: below it the lasso saturates (n events) and nears separation.
        let alphas = LogisticLasso.geometricGrid(max: top, count: 8, minRatio: 0.15)
        let full = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: Self.options(.full))
        let ws = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: Self.options(.workingSet))
        for (a, b) in zip(full, ws) {
            #expect(abs(a.objective - b.objective) <= 1e-10 * abs(a.objective), "alpha \(b.alpha)")
            for (u, v) in zip(a.allCoefficients, b.allCoefficients) { #expect(abs(u - v) <= 1e-6 * max(1, abs(u))) }
            let kkt = try LogisticLasso.kktViolation(design: design, cells: cells, alpha: b.alpha, penalty: penalty, coefficients: b.allCoefficients)
            #expect(kkt <= 1e-10)
            #expect((b.workingSetSize ?? 300) < 300)
        }
        #expect(ws.last!.coefficients.filter { $0 != 0 }.count >= 5)
    }

    @Test("automatic: working sets from the threshold up, the full system below (the CTDC shape)")
    func automaticChoice() throws {
        for p in [LogisticLasso.workingSetThreshold - 1, LogisticLasso.workingSetThreshold] {
            let (columns, y) = Self.wide(n: 200, p: p, seed: 9)
            let design = try CompressedDesign(featureNames: Self.names(p), columns: columns)
            let cells = try design.cells(outcome: y)
            let top = try LogisticLasso.alphaMax(design: design, cells: cells)
            let fit = try LogisticLasso.fit(design: design, cells: cells, alpha: top / 4)
            #expect((fit.workingSetSize != nil) == (p >= LogisticLasso.workingSetThreshold))
        }
    }

    @Test("an unpenalized feature that separates the data: the same outcome as the full solver, error or fit")
    func separationLikeFull() throws {
        var (columns, y) = Self.wide(n: 200, p: 70, seed: 13)
        columns[10] = y.map { $0 == 1 ? 1.01 : -1 }  // perfect separator
        let design = try CompressedDesign(featureNames: Self.names(70), columns: columns)
        let cells = try design.cells(outcome: y)
        var factors = [Double](repeating: 1, count: 70)
        factors[10] = 0
        let penalty = Penalty(scale: .sum, factors: factors)
        func outcome(_ strategy: SolverOptions.Strategy) -> Result<LassoFit, LassoError> {
            do {
                return .success(try LogisticLasso.fit(design: design, cells: cells, alpha: 5, penalty: penalty, options: Self.options(strategy)))
            } catch let e as LassoError {
                return .failure(e)
            } catch {
                Issue.record("unexpected \(error)")
                return .failure(.noData)
            }
        }
        switch (outcome(.full), outcome(.workingSet)) {
        case (.failure(let a), .failure(let b)):
            #expect("\(a)" == "\(b)")
            #expect("\(b)".contains("x10"))
        case (.success(let a), .success(let b)):
            for (u, v) in zip(a.allCoefficients, b.allCoefficients) { #expect(abs(u - v) <= 1e-6 * max(1, abs(u))) }
        case (let a, let b):
            Issue.record("full: \(a); working set: \(b)")
        }
    }
}

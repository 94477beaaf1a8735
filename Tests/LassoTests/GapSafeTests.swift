import Foundation
import TestSupport
import Testing

@testable import Lasso

/// The gap-safe rule of the working-set solver: every feature it proves zero must be zero in
/// the solution, with its KKT inequality strict there (checked against fits solved to 1e-12 by
/// the full Newton system and a gradient computed here, row by row).
@Suite("Gap-safe screening")
struct GapSafeTests {
    /// x_j' (t pi - s) per feature at (b0, beta), pattern by pattern: independent of the solver's kernels.
    static func gradient(_ design: CompressedDesign, _ cells: BinomialCells, _ all: [Double]) -> [Double] {
        var g = [Double](repeating: 0, count: design.featureCount)
        for k in 0..<design.patternCount where cells.trials[k] > 0 {
            var eta = all[0]
            for j in 0..<design.featureCount { eta += all[j + 1] * design.value(pattern: k, feature: j) }
            let r = cells.trials[k] / (1 + exp(-eta)) - cells.successes[k]
            for j in 0..<design.featureCount { g[j] += r * design.value(pattern: k, feature: j) }
        }
        return g
    }

    @Test(
        "every feature proven zero is zero in the exact solution with |x_j' r| < lambda_j; from the previous alpha's fit, the solution itself and a perturbed point; p > n, binary with resample weights, unstandardized",
        arguments: [0, 1, 2])
    func provenFeaturesAreZero(kind: Int) throws {
        let (n, p) = kind == 0 ? (100, 300) : (kind == 1 ? (400, 60) : (300, 120))
        let (columns, y) = WorkingSetTests.wide(n: n, p: p, binary: kind == 1, seed: 31 + UInt64(kind))
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(p), columns: columns)
        var weights: [Double]?
        if kind == 1 {
            var rng = SplitMix64(seed: 5)
            weights = (0..<n).map { _ in Double(Int.random(in: 0..<3, using: &rng)) }
        }
        let cells = try design.cells(outcome: y, weights: weights)
        let penalty = kind == 2 ? Penalty(scale: .sum) : Penalty(scale: .mean, standardize: true)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        let alphas = LogisticLasso.geometricGrid(max: top, count: 8, minRatio: kind == 0 ? 0.2 : 0.05)
        var options = SolverOptions(tolerance: 1e-12)
        options.strategy = .full
        let exact = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: options)
        let solver = try WorkingSetSolver(design: design, cells: cells, penalty: penalty, options: SolverOptions())
        var proven = 0, checked = 0
        var rng = SplitMix64(seed: 9)
        for (i, fit) in exact.enumerated() {
            let lambda = penalty.scale == .sum ? fit.alpha : fit.alpha * solver.W
            let gStar = Self.gradient(design, cells, fit.allCoefficients)
            var points: [(Double, [Double])] = [(fit.intercept, fit.coefficients)]
            if i > 0 { points.append((exact[i - 1].intercept, exact[i - 1].coefficients)) }
            points.append((fit.intercept + 0.01, fit.coefficients.map { $0 == 0 ? 0 : $0 * (1 + 0.05 * rng.normal()) }))
            for (index, (b0, beta)) in points.enumerated() {
                let set = (0..<p).filter { beta[$0] != 0 }
                let inSet = (0..<p).map { beta[$0] != 0 }
                let g = solver.fullGradient(intercept: b0, beta: beta, skipping: inSet)
                let screened = [Bool](repeating: false, count: p)
                guard let zero = solver.gapSafe(lambda: lambda, intercept: b0, beta: beta, gradient: g, set: set, screened: screened) else {
                    // Off the solution (the perturbed point) the shifted dual point may leave the
                    // dual's domain; then the rule stands aside. At fits it must apply.
                    #expect(index == points.count - 1, "the rule did not apply at alpha \(fit.alpha), point \(index)")
                    continue
                }
                for j in zero {
                    #expect(fit.coefficients[j] == 0, "feature \(j) proven zero at alpha \(fit.alpha) but is \(fit.coefficients[j])")
                    #expect(
                        abs(gStar[j]) < lambda * solver.factors[j], "feature \(j): |g| \(abs(gStar[j])) vs lambda_j \(lambda * solver.factors[j])")
                }
                proven += zero.count
                checked += 1
            }
            // At the solution itself the gap is the solver's tolerance: the rule proves most of
            // the features well inside their bounds.
            let inside = (0..<p).filter { abs(gStar[$0]) < 0.5 * lambda * solver.factors[$0] }
            let set = (0..<p).filter { fit.coefficients[$0] != 0 }
            let g = solver.fullGradient(intercept: fit.intercept, beta: fit.coefficients, skipping: (0..<p).map { fit.coefficients[$0] != 0 })
            let atSolution =
                solver.gapSafe(
                    lambda: lambda, intercept: fit.intercept, beta: fit.coefficients, gradient: g, set: set,
                    screened: [Bool](repeating: false, count: p)) ?? []
            #expect(Set(inside).isSubset(of: Set(atSolution)), "alpha \(fit.alpha): \(inside.count) inside, \(atSolution.count) proven")
        }
        #expect(checked > 0 && proven > 0)
    }

    @Test("the rule stands aside for a penalized intercept and unpenalized features; fits with and without screening agree")
    func appliesWhereValid() throws {
        let (columns, y) = WorkingSetTests.wide(n: 200, p: 150, seed: 3)
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(150), columns: columns)
        let cells = try design.cells(outcome: y)
        let beta = [Double](repeating: 0, count: 150), none = [Bool](repeating: false, count: 150)
        for penalty in [Penalty(penalizeIntercept: true), Penalty(factors: [0] + [Double](repeating: 1, count: 149))] {
            let solver = try WorkingSetSolver(design: design, cells: cells, penalty: penalty, options: SolverOptions())
            let g = solver.fullGradient(intercept: 0, beta: beta, skipping: none)
            #expect(solver.gapSafe(lambda: 10, intercept: 0, beta: beta, gradient: g, set: [], screened: none) == nil)
        }
        let penalty = Penalty(scale: .mean, standardize: true)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        let alphas = LogisticLasso.geometricGrid(max: top, count: 12, minRatio: 0.05)
        var on = SolverOptions(tolerance: 1e-11)
        on.strategy = .workingSet
        var off = on
        off.screening = false
        let a = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: on)
        let b = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: off)
        for (u, v) in zip(a, b) {
            #expect(abs(u.objective - v.objective) <= 1e-11 * abs(v.objective), "alpha \(u.alpha)")
            #expect(zip(u.coefficients, v.coefficients).allSatisfy { ($0 == 0) == ($1 == 0) }, "alpha \(u.alpha): the same support")
        }
        #expect(a.contains { ($0.screenedFeatures ?? 0) > 0 }, "\(a.map { $0.screenedFeatures ?? -1 })")
    }
}

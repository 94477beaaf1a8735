import Foundation
import Lasso
import TestSupport
import Testing

/// The working-set solver with Hessian-free coordinate descent as its inner solver, against the
/// full Newton system (which forms the Hessian) and the coordinator's independent certificate.
@Suite("Hessian-free coordinate descent")
struct CoordinateDescentTests {
    static func options(_ strategy: SolverOptions.Strategy, inner: InnerSolver? = nil) -> SolverOptions {
        var o = SolverOptions(tolerance: 1e-11)
        o.strategy = strategy
        o.innerSolver = inner
        return o
    }

    /// Full-system and coordinate-descent fits agree: objective, coefficients, active set, and
    /// the coordinator's certificate on the whole design.
    static func expectSame(
        _ full: [LassoFit], _ cd: [LassoFit], design: CompressedDesign, cells: BinomialCells, penalty: Penalty,
        coefficientTolerance: Double = 1e-7, _ label: String
    ) throws {
        #expect(full.count == cd.count)
        for (a, b) in zip(full, cd) {
            #expect(a.innerSolver == .hessian)
            #expect(b.innerSolver == .coordinateDescent, "\(label) alpha \(b.alpha)")
            #expect(b.kktViolation <= 1e-11)
            #expect(abs(a.objective - b.objective) <= 1e-10 * abs(a.objective), "\(label) alpha \(b.alpha)")
            for (u, v) in zip(a.allCoefficients, b.allCoefficients) {
                #expect(abs(u - v) <= coefficientTolerance * max(1, abs(u)), "\(label) alpha \(b.alpha)")
            }
            #expect(a.coefficients.map { $0 != 0 } == b.coefficients.map { $0 != 0 }, "\(label): same active set at alpha \(b.alpha)")
            let kkt = try LogisticLasso.kktViolation(
                design: design, cells: cells, alpha: b.alpha, penalty: penalty, coefficients: b.allCoefficients)
            #expect(kkt <= 1e-10, "\(label) alpha \(b.alpha)")
        }
    }

    @Test("equals the full system along a path: bootstrap weights with zeros, an unpenalized feature, factors, standardize on and off")
    func matchesFullAlongPath() throws {
        let (columns, y) = WorkingSetTests.wide(n: 300, p: 150)
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(150), columns: columns)
        var rng = SplitMix64(seed: 17)
        var weights = [Double](repeating: 0, count: 300)
        for _ in 0..<300 { weights[Int.random(in: 0..<300, using: &rng)] += 1 }
        #expect(weights.contains(0))
        let cells = try design.cells(outcome: y, weights: weights)
        var factors = [Double](repeating: 1, count: 150)
        factors[3] = 0  // unpenalized
        factors[40] = 2.5
        factors[77] = 0.3
        for standardize in [false, true] {
            var penalty = Penalty(scale: .sum, factors: factors)
            penalty.standardize = standardize
            let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
            let alphas = LogisticLasso.geometricGrid(max: top, count: 12, minRatio: 0.02)
            let full = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: Self.options(.full))
            let cd = try LogisticLasso.path(
                design: design, cells: cells, alphas: alphas, penalty: penalty,
                options: Self.options(.workingSet, inner: .coordinateDescent))
            try Self.expectSame(full, cd, design: design, cells: cells, penalty: penalty, "standardize \(standardize)")
            #expect(cd.last!.coefficients[3] != 0)
            #expect(cd.last!.coefficients.filter { $0 != 0 }.count >= 20)
        }
    }

    @Test("p > n (120 rows, 400 features), standardized, mean scale: the full system's path")
    func moreFeaturesThanRows() throws {
        let (columns, y) = WorkingSetTests.wide(n: 120, p: 400, seed: 23)
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(400), columns: columns)
        let cells = try design.cells(outcome: y)
        let penalty = Penalty(scale: .mean, standardize: true)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        let alphas = LogisticLasso.geometricGrid(max: top, count: 8, minRatio: 0.15)
        let full = try LogisticLasso.path(design: design, cells: cells, alphas: alphas, penalty: penalty, options: Self.options(.full))
        let cd = try LogisticLasso.path(
            design: design, cells: cells, alphas: alphas, penalty: penalty,
            options: Self.options(.workingSet, inner: .coordinateDescent))
        try Self.expectSame(full, cd, design: design, cells: cells, penalty: penalty, "p > n")
        #expect(cd.last!.coefficients.filter { $0 != 0 }.count >= 5)
    }

    @Test("penalized intercept (no elimination: the intercept is a coordinate of its own), cold fits")
    func penalizedIntercept() throws {
        let (columns, y) = WorkingSetTests.wide(n: 400, p: 100, seed: 31)
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(100), columns: columns)
        let cells = try design.cells(outcome: y)
        let penalty = Penalty(scale: .sum, penalizeIntercept: true)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        for ratio in [0.5, 0.1, 0.02] {
            let a = try LogisticLasso.fit(design: design, cells: cells, alpha: top * ratio, penalty: penalty, options: Self.options(.full))
            let b = try LogisticLasso.fit(
                design: design, cells: cells, alpha: top * ratio, penalty: penalty,
                options: Self.options(.workingSet, inner: .coordinateDescent))
            try Self.expectSame([a], [b], design: design, cells: cells, penalty: penalty, "ratio \(ratio)")
            let check = Certificate(
                columns: columns, outcome: y, weights: nil, intercept: b.intercept,
                coefficients: b.coefficients, alpha: top * ratio, penalizeIntercept: true)
            #expect(check.kktViolation <= 1e-10, "ratio \(ratio)")
        }
    }

    @Test("automatic: coordinate descent exactly when the final working set reaches the threshold")
    func automaticChoice() throws {
        let (columns, y) = WorkingSetTests.wide(n: 300, p: 600, seed: 41)
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(600), columns: columns)
        let cells = try design.cells(outcome: y)
        let penalty = Penalty(scale: .mean)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        var seen: Set<String> = []
        for ratio in [0.5, 0.03] {
            let alpha = top * ratio
            let fit = try LogisticLasso.fit(design: design, cells: cells, alpha: alpha, penalty: penalty, options: Self.options(.automatic))
            let size = try #require(fit.workingSetSize)
            #expect(fit.innerSolver == (size >= LogisticLasso.coordinateDescentThreshold ? .coordinateDescent : .hessian), "ratio \(ratio)")
            seen.insert(fit.innerSolver.rawValue)
            let full = try LogisticLasso.fit(design: design, cells: cells, alpha: alpha, penalty: penalty, options: Self.options(.full))
            #expect(abs(full.objective - fit.objective) <= 1e-10 * abs(full.objective), "ratio \(ratio)")
            let kkt = try LogisticLasso.kktViolation(design: design, cells: cells, alpha: alpha, penalty: penalty, coefficients: fit.allCoefficients)
            #expect(kkt <= 1e-10)
        }
        #expect(seen == ["hessian", "coordinate-descent"])
    }

    @Test("indicator designs keep the formed Hessian even when coordinate descent is asked for")
    func indicatorsFallBack() throws {
        let (columns, y) = WorkingSetTests.wide(n: 2000, p: 80, binary: true, seed: 5)
        let design = try CompressedDesign(featureNames: WorkingSetTests.names(80), columns: columns)
        let cells = try design.cells(outcome: y)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells)
        let a = try LogisticLasso.fit(design: design, cells: cells, alpha: top * 0.3, options: Self.options(.full))
        let b = try LogisticLasso.fit(design: design, cells: cells, alpha: top * 0.3, options: Self.options(.workingSet, inner: .coordinateDescent))
        #expect(b.innerSolver == .hessian)
        #expect(abs(a.objective - b.objective) <= 1e-10 * abs(a.objective))
    }
}

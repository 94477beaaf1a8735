import Lasso
import Testing

/// A small deterministic generator for the tests' designs.
private struct Draws {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    mutating func normal() -> Double {
        let u = max(next(), 1e-300), v = next()
        return (-2 * Double.log(u)).squareRoot() * Double.cos(2 * .pi * v)
    }
}

@Suite("Nodewise regressions (desparsified lasso): KKT certificates and the one-step identity")
struct NodewiseTests {
    /// A correlated continuous design (n x p) and a 0/1 outcome from a sparse logistic model.
    static func problem(n: Int, p: Int, seed: UInt64) throws -> (CompressedDesign, BinomialCells, [Double]) {
        var draws = Draws(state: seed)
        var columns = [[Double]](repeating: [], count: p)
        var y: [Double] = []
        for _ in 0..<n {
            var previous = 0.0
            var eta = -0.3
            for j in 0..<p {
                let x = 0.6 * previous + 0.8 * draws.normal()
                previous = x
                columns[j].append(2 * x + 1)
                if j < 3 { eta += [1.0, -0.8, 0.5][j] * x }
            }
            y.append(draws.next() < 1 / (1 + Double.exp(-eta)) ? 1 : 0)
        }
        let design = try CompressedDesign(featureNames: (0..<p).map { "x\($0)" }, columns: columns)
        let cells = try design.cells(outcome: y)
        let fit = try LogisticLasso.fit(design: design, cells: cells, alpha: 4, penalty: Penalty(standardize: true))
        return (design, cells, fit.allCoefficients)
    }

    @Test("every nodewise regression along the grid satisfies its KKT conditions (p > n and p < n)", arguments: [(60, 120), (300, 20)])
    func kkt(shape: (Int, Int)) throws {
        let (design, cells, beta) = try Self.problem(n: shape.0, p: shape.1, seed: 7)
        let full = Nodewise.FullData(design: design, cells: cells, beta: beta)
        let r = full.standardized.correlation, p = design.featureCount
        let lambdas = Nodewise.lambdaGrid(full.standardized)
        #expect(lambdas.count == 20 && lambdas[0] > lambdas[19])
        for j in [0, 1, p / 2, p - 1] {
            let path = Nodewise.path(correlation: r, size: p, feature: j, lambdas: lambdas, tolerance: 1e-12)
            for (lambda, a) in zip(lambdas, path) {
                #expect(a[j] == 1)
                for l in 0..<p where l != j {
                    var ra = 0.0
                    for m in 0..<p { ra += r[l * p + m] * a[m] }
                    // gamma_l = -a_l: (R a)_l = lambda sign(gamma_l) on the support, |(R a)_l| <= lambda off it.
                    if a[l] == 0 {
                        #expect(abs(ra) <= lambda + 1e-9, "j \(j) l \(l) lambda \(lambda): |(Ra)_l| = \(abs(ra))")
                    } else {
                        #expect(abs(ra - lambda * (a[l] < 0 ? 1 : -1)) <= 1e-9, "j \(j) l \(l) lambda \(lambda): (Ra)_l = \(ra)")
                    }
                }
            }
            // At the top of the grid every regression is empty.
            #expect(path[0].enumerated().allSatisfy { $0.offset == j || $0.element == 0 })
        }
    }

    @Test("at lambda = 0 with n > p the desparsified estimate is one Newton step from the lasso fit, its SE sqrt((H^-1)_jj)")
    func oneStepIdentity() throws {
        let (design, cells, beta) = try Self.problem(n: 400, p: 10, seed: 11)
        let full = Nodewise.FullData(design: design, cells: cells, beta: beta)
        let step = try Debias(design: design).estimate(cells: cells, start: beta, newtonSteps: 1)
        let p = design.featureCount
        for j in 0..<p {
            let a = Nodewise.path(correlation: full.standardized.correlation, size: p, feature: j, lambdas: [0], tolerance: 1e-14)[0]
            let e = try #require(full.projection(feature: j, direction: a).estimate)
            #expect(abs(beta[j + 1] + e.shift - step.coefficients[j + 1]) <= 1e-9 * max(1, abs(step.coefficients[j + 1])), "feature \(j)")
            // One Newton step from beta: H (and M) at beta, as the nodewise weights.
            #expect(abs(e.se - step.standardErrors[j + 1]) <= 1e-9 * step.standardErrors[j + 1], "feature \(j) SE")
            #expect(abs(e.sandwichSE - step.sandwichStandardErrors[j + 1]) <= 1e-8 * step.sandwichStandardErrors[j + 1], "feature \(j) sandwich")
        }
    }

    @Test("the intercept: at lambda = 0 with n > p its desparsified estimate is the Newton step's intercept, its SEs the step's")
    func interceptOneStep() throws {
        let (design, cells, beta) = try Self.problem(n: 400, p: 10, seed: 13)
        let full = Nodewise.FullData(design: design, cells: cells, beta: beta)
        let step = try Debias(design: design).estimate(cells: cells, start: beta, newtonSteps: 1)
        let d = Nodewise.interceptPath(full.standardized, lambdas: [0], tolerance: 1e-14)[0]
        let e = try #require(full.interceptProjection(d).estimate)
        #expect(abs(beta[0] + e.shift - step.coefficients[0]) <= 1e-9 * max(1, abs(step.coefficients[0])))
        #expect(abs(e.se - step.standardErrors[0]) <= 1e-9 * step.standardErrors[0])
        #expect(abs(e.sandwichSE - step.sandwichStandardErrors[0]) <= 1e-8 * step.sandwichStandardErrors[0])
    }

    @Test("the intercept's nodewise regressions satisfy their KKT conditions along the grid (p > n)")
    func interceptKKT() throws {
        let (design, cells, beta) = try Self.problem(n: 60, p: 120, seed: 17)
        let full = Nodewise.FullData(design: design, cells: cells, beta: beta)
        let s = full.standardized, p = design.featureCount
        let lambdas = Nodewise.lambdaGrid(s)
        let v = (0..<p).map { s.sd[$0] > 0 ? s.mean[$0] / s.sd[$0] : 0 }
        for (lambda, d) in zip(lambdas, Nodewise.interceptPath(s, lambdas: lambdas, tolerance: 1e-12)) {
            // Gradient of (1/2)(1 - v'd)^2 + (1/2) d'Rd: -(1 - v'd) v + R d.
            let t = 1 - zip(v, d).map(*).reduce(0, +)
            for l in 0..<p where s.sd[l] > 0 {
                var g = -t * v[l]
                for m in 0..<p { g += s.correlation[l * p + m] * d[m] }
                if d[l] == 0 {
                    #expect(abs(g) <= lambda + 1e-9, "l \(l) lambda \(lambda): |g| = \(abs(g))")
                } else {
                    #expect(abs(g + lambda * (d[l] > 0 ? 1 : -1)) <= 1e-9, "l \(l) lambda \(lambda): g = \(g)")
                }
            }
            // The intercept's projection is finite and its SE positive wherever t != 0.
            let e = try #require(full.interceptProjection(d).estimate)
            #expect(e.se > 0 && e.sandwichSE > 0 && e.shift.isFinite)
        }
    }

    @Test("held-out moments: training plus held-out standardization reproduces the full data's error at the full fit")
    func heldOutAlgebra() throws {
        let (design, cells, beta) = try Self.problem(n: 200, p: 6, seed: 3)
        let full = Nodewise.FullData(design: design, cells: cells, beta: beta)
        // The held-out quadratic of the whole data around its own standardization is W times the correlation.
        let q = full.standardized.quadratic(full.moments)
        for (x, y) in zip(q, full.standardized.correlation) { #expect(abs(x - full.weight * y) <= 1e-9 * full.weight) }
        let a = Nodewise.path(correlation: full.standardized.correlation, size: 6, feature: 2, lambdas: [0.05])[0]
        let e = Nodewise.heldOutError(direction: a, quadratic: q)
        #expect(abs(e - full.projection(feature: 2, direction: a).variance) <= 1e-9 * e)
    }

    @Test("Zhang & Zhang's pick: the smallest lambda (highest index) under 1.25x the CV choice's variance factor")
    func zhangZhang() {
        // Variance factors growing as lambda falls (the grid descends).
        let factors = [0.8, 0.9, 1.0, 1.1, 1.2, 1.249, 1.25, 1.5]
        #expect(Nodewise.zhangZhangPick(factors, from: 2) == 5, "1.249 < 1.25 x 1.0; 1.25 is not below it")
        #expect(Nodewise.zhangZhangPick(factors, from: 7) == 7, "the last lambda: nothing smaller")
        #expect(Nodewise.zhangZhangPick([1, 2, 1.1, .infinity, 1.2], from: 0) == 4, "not contiguous, as hdi's which(M < 1.25 Mcv); infinite skipped")
        #expect(Nodewise.zhangZhangPick([1, 0.5, 0.4], from: 1) == 2)
        #expect(Nodewise.zhangZhangPick([.infinity, 1], from: 0) == 0, "no finite factor at the CV choice: keep it")
        #expect(Nodewise.zhangZhangPick([1, 3, 4], from: 0) == 0)
    }
}

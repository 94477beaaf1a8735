import Foundation
import TestSupport
import Testing

@testable import Lasso

/// The large-p kernels of the debiased estimators (dense Hessian tiles, the tridiagonal
/// eigenvalue solver, the column-parallel inverse) against the small-p ones they stand in for.
@Suite("Dense debias kernels")
struct DenseDebiasTests {
    static func symmetric(size n: Int, seed: UInt64, spread: Double) -> [Double] {
        var rng = SplitMix64(seed: seed)
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                let v = i == j ? spread * rng.normal() : rng.normal()
                a[i * n + j] = v
                a[j * n + i] = v
            }
        }
        return a
    }

    /// The Householder + QL eigenvalues equal Jacobi's on random symmetric matrices, including
    /// sizes at and near the switch, degenerate ones (a zero row, repeated eigenvalues) and 1 x 1.
    @Test(arguments: [1, 2, 3, 7, 20, 64, 65, 90])
    func eigenvaluesAgree(size n: Int) {
        for (seed, spread) in [(UInt64(1), 1.0), (2, 10.0), (3, 0.0)] {
            var a = Self.symmetric(size: n, seed: seed &+ UInt64(n), spread: spread)
            if n > 3 {
                for k in 0..<n { a[2 * n + k] = 0; a[k * n + 2] = 0 }  // a zero row and column
            }
            let tri = LinearAlgebra.tridiagonalEigenvalues(a, size: n).sorted()
            let jac = LinearAlgebra.jacobiEigenvalues(a, size: n).sorted()
            let scale = jac.map(abs).max() ?? 1
            for (x, y) in zip(tri, jac) { #expect(abs(x - y) <= 1e-11 * max(scale, 1), "n \(n) seed \(seed): \(x) vs \(y)") }
        }
        let identity = (0..<(n * n)).map { $0 % (n + 1) == 0 ? 3.0 : 0 }
        #expect(LinearAlgebra.tridiagonalEigenvalues(identity, size: n).allSatisfy { abs($0 - 3) < 1e-14 })
    }

    /// H times the column-parallel inverse is the identity.
    @Test func inverse() throws {
        let n = 80
        var rng = SplitMix64(seed: 9)
        let b = (0..<(n * n)).map { _ in rng.normal() }
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = i == j ? Double(n) : 0
                for k in 0..<n { s += b[i * n + k] * b[j * n + k] }
                h[i * n + j] = s
            }
        }
        let l = try #require(LinearAlgebra.cholesky(h, size: n))
        let inv = LinearAlgebra.choleskyInverse(l, size: n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += h[i * n + k] * inv[k * n + j] }
                #expect(abs(s - (i == j ? 1 : 0)) < 1e-11)
            }
        }
        // Each column is also the triangular solve of the unit vector.
        var e = [Double](repeating: 0, count: n)
        e[17] = 1
        let column = LinearAlgebra.choleskySolve(l, e, size: n)
        for i in 0..<n { #expect(abs(column[i] - inv[i * n + 17]) <= 1e-15 * abs(column[i]) + 1e-300) }
    }

    /// Gradient, Hessian and meat of a dense design with many features (the tiled kernel) equal
    /// the sparse-row accumulation's, with weights, empty patterns and an odd feature count.
    @Test(arguments: [(rows: 300, features: 67), (rows: 1001, features: 64), (rows: 400, features: 99)])
    func derivativesAgree(shape: (rows: Int, features: Int)) throws {
        var rng = SplitMix64(seed: UInt64(shape.rows * 1000 + shape.features))
        let columns = (0..<shape.features).map { j in
            (0..<shape.rows).map { _ in j % 5 == 0 ? Double(Int.random(in: 0...4, using: &rng)) : rng.normal() }
        }
        let design = try CompressedDesign(featureNames: columns.indices.map { "x\($0)" }, columns: columns)
        #expect(DenseGram.applies(to: design))
        let y = (0..<shape.rows).map { _ in Double(Int.random(in: 0...1, using: &rng)) }
        let weights = (0..<shape.rows).map { _ in Double(Int.random(in: 0...2, using: &rng)) }
        let cells = try design.cells(outcome: y, weights: weights)
        let beta = (0...shape.features).map { j in j % 3 == 0 ? 0 : 0.1 * rng.normal() }
        let debias = Debias(design: design)
        let dense = debias.denseDerivatives(cells: cells, beta: beta, withMeat: true)
        // The sparse-row path, forced.
        var sparse = (g: [Double](), h: [Double](), m: [Double]())
        let q = shape.features + 1
        sparse.g = [Double](repeating: 0, count: q)
        sparse.h = [Double](repeating: 0, count: q * q)
        sparse.m = [Double](repeating: 0, count: q * q)
        for k in 0..<design.patternCount where cells.trials[k] > 0 {
            let x = [1.0] + (0..<shape.features).map { design.value(pattern: k, feature: $0) }
            var eta = 0.0
            for j in 0..<q { eta += beta[j] * x[j] }
            let p = 1 / (1 + Foundation.exp(-eta)), m = cells.trials[k], e = cells.successes[k]
            #expect(abs(dense.pi[k] - p) < 1e-14)
            for j in 0..<q {
                sparse.g[j] += (e - m * p) * x[j]
                for l in 0..<q {
                    sparse.h[j * q + l] += m * p * (1 - p) * x[j] * x[l]
                    sparse.m[j * q + l] += (e * (1 - p) * (1 - p) + (m - e) * p * p) * x[j] * x[l]
                }
            }
        }
        func close(_ a: [Double], _ b: [Double], _ what: String) {
            let scale = b.map(abs).max() ?? 1
            #expect(a.count == b.count, "\(what) size")
            for i in a.indices where abs(a[i] - b[i]) > 1e-12 * scale {
                Issue.record("\(what)[\(i)]: \(a[i]) vs \(b[i])")
                return
            }
        }
        close(dense.g, sparse.g, "gradient")
        close(dense.h, sparse.h, "Hessian")
        close(dense.m, sparse.m, "meat")
        // And the estimate through it is the MLE: gradient 0 at the converged coefficients.
        let estimate = try debias.estimate(cells: cells, start: beta)
        let g = debias.derivatives(cells: cells, beta: estimate.coefficients, withMeat: false).g
        #expect(g.allSatisfy { abs($0) < 1e-7 })
        #expect(estimate.conditionNumber.isFinite && estimate.conditionNumber > 1)
    }
}

@Suite("The inverse's diagonal of a symmetric positive definite matrix (Wald SEs of large active sets)")
struct InverseDiagonalTests {
    @Test("four-row blocks and their remainders equal the full inverse's diagonal", arguments: [1, 2, 3, 5, 8, 63, 64, 66, 67, 131])
    func blockedEqualsInverse(n: Int) throws {
        var rng = SplitMix64(seed: UInt64(n))
        // A = B B' / n + I/2: well conditioned, dense.
        var b = [Double](repeating: 0, count: n * n)
        for i in b.indices { b[i] = Double.random(in: -1...1, using: &rng) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += b[i * n + k] * b[j * n + k] }
                a[i * n + j] = s / Double(n) + (i == j ? 0.5 : 0)
            }
        }
        let diagonal = try #require(LinearAlgebra.inverseDiagonalSPD(a, size: n))
        let inverse = try #require(LinearAlgebra.inverseSPD(a, size: n))
        for i in 0..<n { #expect(abs(diagonal[i] - inverse[i * n + i]) <= 1e-11 * inverse[i * n + i], "n \(n) i \(i)") }
        // Not positive definite: refused.
        var indefinite = a
        indefinite[(n - 1) * n + (n - 1)] = -1
        #expect(LinearAlgebra.inverseDiagonalSPD(indefinite, size: n) == nil)
    }
}

import Foundation
import TestSupport
import Testing

@testable import Lasso

/// The Hessian kernels (dense columns, sparse rows, indicator blocks) against each other:
/// the matrices they build and the fits they lead to.
@Suite("Hessian kernels agree")
struct KernelHessianTests {
    /// A random design mixing indicator, small-integer and continuous columns.
    struct Design: Sendable, CustomTestStringConvertible {
        let seed: UInt64
        let names: [String]
        let columns: [[Double]]
        let outcome: [Double]
        let weights: [Double]?
        let penalizeIntercept: Bool

        init(seed: UInt64, binary: Int, ordinal: Int, continuous: Int, rows: Int) {
            var rng = SplitMix64(seed: seed)
            self.seed = seed
            var cols: [[Double]] = []
            for j in 0..<binary {
                let rate = [0.03, 0.2, 0.5, 0.8][j % 4]
                cols.append((0..<rows).map { _ in Double.random(in: 0..<1, using: &rng) < rate ? 1 : 0 })
            }
            for _ in 0..<ordinal { cols.append((0..<rows).map { _ in Double(Int.random(in: 0...9, using: &rng)) }) }
            for _ in 0..<continuous { cols.append((0..<rows).map { _ in rng.normal() }) }
            let beta = cols.indices.map { _ in 0.6 * rng.normal() }
            outcome = (0..<rows).map { i in
                var eta = -0.3
                for j in cols.indices { eta += beta[j] * cols[j][i] * (j >= binary + ordinal ? 1 : 0.4) }
                return Double.random(in: 0..<1, using: &rng) < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0
            }
            columns = cols
            names = cols.indices.map { "x\($0)" }
            weights = Bool.random(using: &rng) ? (0..<rows).map { _ in Double(Int.random(in: 0...3, using: &rng)) } : nil
            penalizeIntercept = Bool.random(using: &rng)
        }

        var testDescription: String { "seed \(seed), \(columns.count) features" }
    }

    static let designs: [Design] = [
        Design(seed: 1, binary: 15, ordinal: 2, continuous: 0, rows: 3000),  // the CTDC shape
        Design(seed: 2, binary: 8, ordinal: 0, continuous: 0, rows: 500),  // one full chunk, no general
        Design(seed: 3, binary: 3, ordinal: 1, continuous: 0, rows: 400),
        Design(seed: 4, binary: 20, ordinal: 1, continuous: 3, rows: 1500),  // three chunks, products of 4
        Design(seed: 5, binary: 12, ordinal: 0, continuous: 6, rows: 800),  // general block by dot products
        Design(seed: 6, binary: 0, ordinal: 2, continuous: 4, rows: 600),  // no indicators
        Design(seed: 7, binary: 40, ordinal: 0, continuous: 1, rows: 2000),  // more indicators than chunks
        Design(seed: 8, binary: 9, ordinal: 3, continuous: 1, rows: 300),
    ]

    @Test("dense, sparse and blocked kernels build the same Hessian", arguments: designs)
    func matrices(design: Design) throws {
        let d = try CompressedDesign(featureNames: design.names, columns: design.columns)
        let cells = try d.cells(outcome: design.outcome, weights: design.weights)
        var rng = SplitMix64(seed: design.seed &* 977)
        let weights = (0..<d.patternCount).map { _ in Double.random(in: 0.01...3, using: &rng) }
        var reference: [Double]?
        for kernel in [SolverOptions.HessianKernel.dense, .sparse, .blocked, .automatic] {
            let solver = try Solver(design: d, cells: cells, penalty: Penalty(), options: SolverOptions(hessian: kernel))
            for i in 0..<solver.n { solver.v[i] = i < solver.m ? weights[i] : 0 }
            // Internal order: the same weight per design pattern whatever the kernel.
            if let order = d.layout.order {
                for i in 0..<solver.m { solver.v[i] = weights[Int(order[i])] }
            }
            solver.computeHessian()
            let h = Array(UnsafeBufferPointer(start: solver.H, count: solver.q * solver.q))
            if let ref = reference {
                for (a, b) in zip(h, ref) {
                    #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "kernel \(kernel): \(a) vs \(b)")
                }
            } else {
                reference = h
            }
        }
    }

    @Test("dense, sparse and blocked kernels give the same fit to 1e-10", arguments: designs)
    func fits(design: Design) throws {
        let d = try CompressedDesign(featureNames: design.names, columns: design.columns)
        let cells = try d.cells(outcome: design.outcome, weights: design.weights)
        let penalty = Penalty(penalizeIntercept: design.penalizeIntercept)
        let top = try LogisticLasso.alphaMax(design: d, cells: cells, penalty: penalty)
        for fraction in [0.5, 0.05, 0.002] {
            let alpha = top * fraction
            let dense = try LogisticLasso.fit(
                design: d, cells: cells, alpha: alpha, penalty: penalty,
                options: SolverOptions(hessian: .dense))
            #expect(dense.kktViolation <= 1e-12)
            for kernel in [SolverOptions.HessianKernel.sparse, .blocked, .automatic] {
                let other = try LogisticLasso.fit(
                    design: d, cells: cells, alpha: alpha, penalty: penalty,
                    options: SolverOptions(hessian: kernel))
                #expect(other.kktViolation <= 1e-12)
                for (a, b) in zip(other.allCoefficients, dense.allCoefficients) {
                    #expect(abs(a - b) <= 1e-10, "\(kernel) at \(fraction) alpha_max: \(a) vs \(b)")
                }
                #expect(abs(other.objective - dense.objective) <= 1e-12 * abs(dense.objective))
            }
        }
    }

    @Test("warm starts on reweighted cells are certified and bit-for-bit repeatable")
    func warmStarts() throws {
        let design = Self.designs[0]
        let d = try CompressedDesign(featureNames: design.names, columns: design.columns)
        let full = try LogisticLasso.fit(
            design: d, cells: try d.cells(outcome: design.outcome), alpha: 2,
            penalty: Penalty(penalizeIntercept: true))
        var rng = SplitMix64(seed: 42)
        for _ in 0..<10 {
            var counts = [Double](repeating: 0, count: d.rowCount)
            for _ in 0..<d.rowCount { counts[Int.random(in: 0..<d.rowCount, using: &rng)] += 1 }
            let cells = try d.cells(outcome: design.outcome, weights: counts)
            let penalty = Penalty(penalizeIntercept: true)
            let warm = try LogisticLasso.fit(design: d, cells: cells, alpha: 2, penalty: penalty, warmStart: full)
            let again = try LogisticLasso.fit(design: d, cells: cells, alpha: 2, penalty: penalty, warmStart: full)
            let cold = try LogisticLasso.fit(design: d, cells: cells, alpha: 2, penalty: penalty)
            #expect(warm == again)
            #expect(warm.kktViolation <= 1e-12)
            let cert = Certificate(
                columns: design.columns, outcome: design.outcome, weights: counts,
                intercept: warm.intercept, coefficients: warm.coefficients, alpha: 2,
                penalizeIntercept: true)
            #expect(cert.kktViolation <= 1e-11)
            for (a, b) in zip(warm.allCoefficients, cold.allCoefficients) { #expect(abs(a - b) <= 1e-9) }
        }
    }
}

import Foundation
import Lasso
import TestSupport
import Testing

/// Designs held as sparse columns (one-hot encodings of many levels) against the same data held
/// densely: the same patterns, the same fits and certificates, the same Wald intervals.
@Suite("Sparse designs")
struct SparseDesignTests {
    /// Three categorical variables one-hot encoded (reference level dropped), a sparse numeric
    /// column with unstandardized values and a binary outcome driven by a few levels.
    static func oneHot(n: Int, levels: [Int], seed: UInt64) -> (names: [String], columns: [[Double]], y: [Double]) {
        var rng = SplitMix64(seed: seed)
        var names: [String] = []
        var columns: [[Double]] = []
        var eta = [Double](repeating: -0.4, count: n)
        for (v, count) in levels.enumerated() {
            // Skewed level frequencies, as real categorical data: level i with weight 1 / (i + 1).
            let weights = (0..<count).map { 1.0 / Double($0 + 1) }
            let total = weights.reduce(0, +)
            var codes = [Int](repeating: 0, count: n)
            for i in 0..<n {
                var u = Double.random(in: 0..<total, using: &rng)
                var level = 0
                while level < count - 1 && u >= weights[level] {
                    u -= weights[level]
                    level += 1
                }
                codes[i] = level
            }
            for level in 1..<count {
                names.append("c\(v):\(level)")
                columns.append(codes.map { $0 == level ? 1 : 0 })
                let effect = level % 7 == 1 ? (level % 2 == 0 ? 0.9 : -1.1) : 0
                for i in 0..<n where codes[i] == level { eta[i] += effect }
            }
        }
        // A sparse numeric column (90% zeros) in large units.
        var numeric = [Double](repeating: 0, count: n)
        for i in 0..<n where Double.random(in: 0..<1, using: &rng) < 0.1 {
            numeric[i] = (Double.random(in: 1..<400, using: &rng)).rounded()
            eta[i] += 0.004 * numeric[i]
        }
        names.append("amount")
        columns.append(numeric)
        let y = eta.map { Double.random(in: 0..<1, using: &rng) < 1 / (1 + exp(-$0)) ? 1.0 : 0.0 }
        return (names, columns, y)
    }

    /// The columns as compressed sparse columns over rows.
    static func csc(_ columns: [[Double]]) -> (start: [Int], rows: [Int32], values: [Double]) {
        var start = [0], rows: [Int32] = [], values: [Double] = []
        for col in columns {
            for (i, v) in col.enumerated() where v != 0 {
                rows.append(Int32(i))
                values.append(v)
            }
            start.append(rows.count)
        }
        return (start, rows, values)
    }

    static func sparseDesign(_ names: [String], _ columns: [[Double]]) throws -> CompressedDesign {
        let c = csc(columns)
        return try CompressedDesign(featureNames: names, rowCount: columns[0].count, start: c.start, rows: c.rows, values: c.values)
    }

    @Test("the same patterns as the dense design, with the same numbering")
    func samePatterns() throws {
        let (names, columns, _) = Self.oneHot(n: 3000, levels: [12, 40, 5], seed: 1)
        let dense = try CompressedDesign(featureNames: names, columns: columns)
        let sparse = try Self.sparseDesign(names, columns)
        #expect(sparse.isSparse && !dense.isSparse)
        #expect(sparse.patternCount == dense.patternCount)
        #expect(sparse.patternCount < 3000)
        #expect(sparse.rowPattern == dense.rowPattern)
        #expect(abs(sparse.density - dense.density) < 1e-15)
        for k in stride(from: 0, to: dense.patternCount, by: 7) {
            for j in 0..<names.count { #expect(sparse.value(pattern: k, feature: j) == dense.value(pattern: k, feature: j)) }
        }
    }

    @Test("fits agree with the dense design along a path: standardize on and off, bootstrap weights with zeros")
    func fitsAgree() throws {
        let n = 2500
        let (names, columns, y) = Self.oneHot(n: n, levels: [25, 50, 20], seed: 2)
        let dense = try CompressedDesign(featureNames: names, columns: columns)
        let sparse = try Self.sparseDesign(names, columns)
        var rng = SplitMix64(seed: 5)
        var weights = [Double](repeating: 0, count: n)
        for _ in 0..<n { weights[Int.random(in: 0..<n, using: &rng)] += 1 }
        for standardize in [false, true] {
            var penalty = Penalty(scale: .sum)
            penalty.standardize = standardize
            let denseCells = try dense.cells(outcome: y, weights: weights)
            let sparseCells = try sparse.cells(outcome: y, weights: weights)
            #expect(denseCells == sparseCells)
            let top = try LogisticLasso.alphaMax(design: sparse, cells: sparseCells, penalty: penalty)
            let denseTop = try LogisticLasso.alphaMax(design: dense, cells: denseCells, penalty: penalty)
            #expect(abs(top - denseTop) <= 1e-12 * denseTop)
            let alphas = LogisticLasso.geometricGrid(max: top, count: 10, minRatio: 0.01)
            var options = SolverOptions(tolerance: 1e-11)
            options.strategy = .workingSet
            let a = try LogisticLasso.path(design: dense, cells: denseCells, alphas: alphas, penalty: penalty, options: options)
            let b = try LogisticLasso.path(design: sparse, cells: sparseCells, alphas: alphas, penalty: penalty, options: options)
            for (u, v) in zip(a, b) {
                #expect(v.kktViolation <= 1e-11)
                #expect(abs(u.objective - v.objective) <= 1e-11 * abs(u.objective), "standardize \(standardize) alpha \(v.alpha)")
                for (x, z) in zip(u.allCoefficients, v.allCoefficients) { #expect(abs(x - z) <= 1e-7 * max(1, abs(x))) }
                // The independent certificate, on both designs.
                for design in [dense, sparse] {
                    let kkt = try LogisticLasso.kktViolation(
                        design: design, cells: sparseCells, alpha: v.alpha, penalty: penalty, coefficients: v.allCoefficients)
                    #expect(kkt <= 1e-10)
                }
            }
            // Unstandardized, the large-unit numeric column sets alpha_max and the indicators stay out.
            #expect(b.last!.coefficients.filter { $0 != 0 }.count > (standardize ? 60 : 0), "the path reaches a sizeable active set")
        }
    }

    @Test(
        "a large working set on a wide sparse design: the sparse restricted problem agrees with the dense one",
        arguments: [(false, false), (true, false), (false, true)])
    func largeWorkingSet(penalizeIntercept: Bool, unpenalizedLevel: Bool) throws {
        // Wide and sparse: about 350 indicators over 2,000 rows, so a small alpha puts hundreds
        // of them in the working set while each covers a few rows (the restricted problem is
        // held as sparse columns). An unpenalized feature sends it back to the dense one.
        let n = 2000
        let (names, columns, y) = Self.oneHot(n: n, levels: [150, 120, 80], seed: 6)
        let dense = try CompressedDesign(featureNames: names, columns: columns)
        let sparse = try Self.sparseDesign(names, columns)
        var rng = SplitMix64(seed: 8)
        var weights = [Double](repeating: 0, count: n)
        for _ in 0..<n { weights[Int.random(in: 0..<n, using: &rng)] += 1 }
        let cells = try sparse.cells(outcome: y, weights: weights)
        var penalty = Penalty(scale: .sum)
        penalty.standardize = true
        penalty.penalizeIntercept = penalizeIntercept
        if unpenalizedLevel {
            var factors = [Double](repeating: 1, count: names.count)
            factors[0] = 0
            penalty.factors = factors
        }
        let top = try LogisticLasso.alphaMax(design: sparse, cells: cells, penalty: penalty)
        var options = SolverOptions(tolerance: 1e-10)
        options.strategy = .workingSet
        let alphas = LogisticLasso.geometricGrid(max: top, count: 4, minRatio: 0.03)
        let a = try LogisticLasso.path(design: dense, cells: cells, alphas: alphas, penalty: penalty, options: options)
        let b = try LogisticLasso.path(design: sparse, cells: cells, alphas: alphas, penalty: penalty, options: options)
        for (u, v) in zip(a, b) {
            #expect(v.kktViolation <= 1e-10)
            #expect(abs(u.objective - v.objective) <= 1e-10 * abs(u.objective), "alpha \(v.alpha)")
            // (Supports may differ by a coefficient within the tolerance of zero.)
            let worst = zip(u.allCoefficients, v.allCoefficients).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
            #expect(worst <= 1e-5, "alpha \(v.alpha)")
            let kkt = try LogisticLasso.kktViolation(
                design: sparse, cells: cells, alpha: v.alpha, penalty: penalty, coefficients: v.allCoefficients)
            #expect(kkt <= 1e-9)
        }
        let last = try #require(b.last)
        #expect((last.workingSetSize ?? 0) >= LogisticLasso.coordinateDescentThreshold, "the set is in the coordinate-descent regime")
        #expect(last.innerSolver == .coordinateDescent)
        #expect(last.coefficients.filter { $0 != 0 }.count > 70)
        // A cold start at the smallest alpha reaches the same optimum.
        let cold = try LogisticLasso.fit(design: sparse, cells: cells, alpha: alphas.last!, penalty: penalty, options: options)
        #expect(abs(cold.objective - last.objective) <= 1e-10 * abs(last.objective))
    }

    @Test("screened features are provably zero: the same fit with and without the gap-safe rule")
    func screening() throws {
        let (names, columns, y) = Self.oneHot(n: 3000, levels: [200, 150], seed: 3)
        let sparse = try Self.sparseDesign(names, columns)
        let cells = try sparse.cells(outcome: y)
        let top = try LogisticLasso.alphaMax(design: sparse, cells: cells)
        let alphas = LogisticLasso.geometricGrid(max: top, count: 8, minRatio: 0.1)
        var on = SolverOptions(tolerance: 1e-11)
        on.strategy = .workingSet
        var off = on
        off.screening = false
        let a = try LogisticLasso.path(design: sparse, cells: cells, alphas: alphas, options: on)
        let b = try LogisticLasso.path(design: sparse, cells: cells, alphas: alphas, options: off)
        #expect(a.contains { ($0.screenedFeatures ?? 0) > 0 }, "the rule drops features on this path")
        for (u, v) in zip(a, b) {
            #expect(abs(u.objective - v.objective) <= 1e-11 * abs(u.objective))
            #expect(u.coefficients.map { $0 != 0 } == v.coefficients.map { $0 != 0 })
        }
    }

    @Test("Wald intervals, constant, absent and duplicate features as on the dense design")
    func helpersAgree() throws {
        var (names, columns, y) = Self.oneHot(n: 2500, levels: [20, 8], seed: 4)
        // A duplicate of one level, a constant zero column and a level present in 3 rows only.
        names.append("copy of c0:3")
        columns.append(columns[2])
        names.append("never")
        columns.append([Double](repeating: 0, count: 2500))
        let dense = try CompressedDesign(featureNames: names, columns: columns)
        let sparse = try Self.sparseDesign(names, columns)
        #expect(sparse.duplicateFeatureGroups() == dense.duplicateFeatureGroups())
        #expect(sparse.duplicateFeatureGroups().contains([2, names.count - 2]))
        var weights = [Double](repeating: 1, count: 2500)
        for i in 0..<1200 { weights[i] = 0 }
        let cells = try sparse.cells(outcome: y, weights: weights)
        #expect(sparse.constantFeatures(in: cells) == dense.constantFeatures(in: cells))
        #expect(sparse.absentFeatures(in: cells) == dense.absentFeatures(in: cells))
        #expect(sparse.constantFeatures(in: cells).contains(names.count - 1))
        let full = try sparse.cells(outcome: y)
        var penalty = Penalty()
        penalty.standardize = true
        let top = try LogisticLasso.alphaMax(design: sparse, cells: full, penalty: penalty)
        let fit = try LogisticLasso.fit(design: sparse, cells: full, alpha: 0.05 * top, penalty: penalty)
        let u = Wald.intervals(design: dense, cells: full, fit: fit)
        let v = Wald.intervals(design: sparse, cells: full, fit: fit)
        #expect(u.compactMap { $0 }.count > 3)
        for (a, b) in zip(u, v) {
            #expect((a == nil) == (b == nil))
            if let a, let b { #expect(abs(a.standardError - b.standardError) <= 1e-12 * a.standardError) }
        }
    }

    @Test("Wald SEs of a large active set (the inverse's diagonal alone) equal an independent full inverse")
    func waldLargeActiveSet() throws {
        // 100 coefficients (intercept included): the diagonal-only path; the reference inverts
        // the same Fisher information by Gauss-Jordan elimination with partial pivoting.
        let n = 3000
        let (names, columns, y) = Self.oneHot(n: n, levels: [60, 40], seed: 12)
        let sparse = try Self.sparseDesign(names, columns)
        let cells = try sparse.cells(outcome: y)
        var rng = SplitMix64(seed: 13)
        var coef = [Double](repeating: 0, count: names.count + 1)
        coef[0] = -0.3
        for j in 1..<min(100, coef.count) { coef[j] = Double.random(in: -0.5...0.5, using: &rng) }
        let active = coef.indices.filter { coef[$0] != 0 }
        #expect(active.count >= 64)
        let wald = Wald.intervals(design: sparse, cells: cells, coefficients: coef)
        // The Fisher information over the rows, then its inverse.
        let a = active.count
        var h = [Double](repeating: 0, count: a * a)
        for i in 0..<n {
            let x = active.map { $0 == 0 ? 1.0 : columns[$0 - 1][i] }
            let eta = zip(active, x).reduce(0.0) { $0 + coef[$1.0] * $1.1 }
            let mu = 1 / (1 + exp(-eta))
            let v = mu * (1 - mu)
            for r in 0..<a where x[r] != 0 { for c in 0..<a where x[c] != 0 { h[r * a + c] += v * x[r] * x[c] } }
        }
        var m = h, inv = [Double](repeating: 0, count: a * a)
        for i in 0..<a { inv[i * a + i] = 1 }
        for col in 0..<a {
            let pivot = (col..<a).max { abs(m[$0 * a + col]) < abs(m[$1 * a + col]) }!
            for k in 0..<a {
                m.swapAt(col * a + k, pivot * a + k)
                inv.swapAt(col * a + k, pivot * a + k)
            }
            let d = m[col * a + col]
            for k in 0..<a {
                m[col * a + k] /= d
                inv[col * a + k] /= d
            }
            for r in 0..<a where r != col {
                let f = m[r * a + col]
                guard f != 0 else { continue }
                for k in 0..<a {
                    m[r * a + k] -= f * m[col * a + k]
                    inv[r * a + k] -= f * inv[col * a + k]
                }
            }
        }
        for (r, c) in active.enumerated() {
            let se = try #require(wald[c]).standardError
            let expected = inv[r * a + r].squareRoot()
            #expect(abs(se - expected) <= 1e-9 * expected, "coefficient \(c): \(se) vs \(expected)")
        }
    }

    @Test("malformed columns and the full strategy give errors that say what is wrong")
    func errors() throws {
        let names = ["a", "b"]
        func message(_ body: () throws -> Void) -> String {
            do {
                try body()
                return ""
            } catch { return "\(error)" }
        }
        let unordered = message {
            _ = try CompressedDesign(featureNames: names, rowCount: 4, start: [0, 2, 3], rows: [2, 1, 0], values: [1, 1, 1])
        }
        #expect(unordered.contains("sparse column 'a'") && unordered.contains("out of order"))
        let outside = message {
            _ = try CompressedDesign(featureNames: names, rowCount: 4, start: [0, 1, 2], rows: [0, 4], values: [1, 1])
        }
        #expect(outside.contains("sparse column 'b'") && outside.contains("row count 4"))
        let starts = message { _ = try CompressedDesign(featureNames: names, rowCount: 4, start: [0, 1], rows: [0], values: [1]) }
        #expect(starts.contains("3 column starts"))
        let nan = message {
            _ = try CompressedDesign(featureNames: names, rowCount: 4, start: [0, 1, 2], rows: [0, 3], values: [1, .nan])
        }
        #expect(nan.contains("'b'") && nan.contains("row 3"))
        let design = try CompressedDesign(featureNames: names, rowCount: 4, start: [0, 2, 3], rows: [0, 1, 3], values: [1, 2, 1])
        let cells = try design.cells(outcome: [0, 1, 1, 0])
        var options = SolverOptions()
        options.strategy = .full
        let full = message { _ = try LogisticLasso.fit(design: design, cells: cells, alpha: 0.1, options: options) }
        #expect(full.contains("needs a dense design"))
        // The automatic strategy fits it with working sets, whatever the feature count.
        let fit = try LogisticLasso.fit(design: design, cells: cells, alpha: 0.1)
        #expect(fit.workingSetSize != nil)
    }
}

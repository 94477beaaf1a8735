import Foundation
import Lasso
import Testing

/// `Penalty.standardize` (glmnet's standardize=TRUE) against its definition: the lasso on
/// columns divided by their SD, mapped back to the original scale.
@Suite("Standardized penalty")
struct StandardizeTests {
    /// A deterministic problem with features on very different units, one indicator, weights.
    static func problem() -> (columns: [[Double]], y: [Double], weights: [Double]) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        let n = 400
        let units = [0.003, 1, 250, 40_000]
        var columns = [[Double]](repeating: [], count: 5)
        var y: [Double] = [], weights: [Double] = []
        for _ in 0..<n {
            let z = (0..<4).map { _ in uniform() * 2 - 1 }
            for j in 0..<4 { columns[j].append(2 + z[j] * units[j]) }  // uncentered
            let indicator: Double = uniform() < 0.15 ? 1 : 0
            columns[4].append(indicator)
            let eta = -0.2 + 1.5 * z[0] - z[1] + 0.8 * z[2] + 0.9 * indicator
            y.append(uniform() < 1 / (1 + exp(-eta)) ? 1 : 0)
            weights.append(Double(1 + Int(uniform() * 3)))
        }
        return (columns, y, weights)
    }

    static func weightedSD(_ c: [Double], _ w: [Double]) -> Double {
        let W = w.reduce(0, +)
        let mean = zip(c, w).map(*).reduce(0, +) / W
        return (zip(c, w).map { ($0 - mean) * ($0 - mean) * $1 }.reduce(0, +) / W).squareRoot()
    }

    @Test("equals the lasso on SD-scaled columns mapped back, with weights; scales are weighted population SDs")
    func definition() throws {
        let (columns, y, w) = Self.problem()
        let names = (0..<columns.count).map { "x\($0)" }
        let design = try CompressedDesign(featureNames: names, columns: columns)
        let cells = try design.cells(outcome: y, weights: w)
        let penalty = Penalty(scale: .mean, standardize: true)
        let sds = columns.map { Self.weightedSD($0, w) }
        let scales = LogisticLasso.featureScales(design: design, cells: cells, penalty: penalty)
        for j in 0..<columns.count { #expect(abs(scales[j] - sds[j]) <= 1e-12 * sds[j], "x\(j)") }

        let scaledColumns = zip(columns, sds).map { c, s in c.map { $0 / s } }
        let scaledDesign = try CompressedDesign(featureNames: names, columns: scaledColumns)
        let scaledCells = try scaledDesign.cells(outcome: y, weights: w)
        let top = try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty)
        let topScaled = try LogisticLasso.alphaMax(design: scaledDesign, cells: scaledCells, penalty: Penalty(scale: .mean))
        #expect(abs(top - topScaled) <= 1e-12 * top, "alpha_max is the scaled problem's")
        for ratio in [0.5, 0.1, 0.01] {
            let fit = try LogisticLasso.fit(
                design: design, cells: cells, alpha: top * ratio, penalty: penalty,
                options: SolverOptions(tolerance: 1e-13))
            let reference = try LogisticLasso.fit(
                design: scaledDesign, cells: scaledCells, alpha: top * ratio,
                penalty: Penalty(scale: .mean), options: SolverOptions(tolerance: 1e-13))
            #expect(abs(fit.intercept - reference.intercept) <= 1e-8, "ratio \(ratio) intercept")
            for j in 0..<columns.count {
                let mapped = reference.coefficients[j] / sds[j]
                #expect(abs(fit.coefficients[j] - mapped) <= 1e-8 * max(1, abs(mapped)), "ratio \(ratio) x\(j): \(fit.coefficients[j]) vs \(mapped)")
            }
            // The certificate a coordinator recomputes (libm exp, uncentered columns) agrees with the
            // solver's 1e-13 up to its rounding floor, about eps * |mean| / sd per feature (1200 x eps
            // for x0 = 2 +- 0.003 here), far inside the default tolerance 1e-10.
            let kkt = try LogisticLasso.kktViolation(
                design: design, cells: cells, alpha: top * ratio, penalty: penalty,
                coefficients: fit.allCoefficients)
            #expect(kkt <= 1e-10, "ratio \(ratio): certified \(kkt)")
        }
    }

    @Test("\"continuous\": indicators keep their raw unit; constant columns keep factor 1")
    func indicators() throws {
        var (columns, y, w) = Self.problem()
        columns.append([Double](repeating: 3, count: y.count))
        let design = try CompressedDesign(featureNames: (0..<columns.count).map { "x\($0)" }, columns: columns)
        let cells = try design.cells(outcome: y, weights: w)
        var penalty = Penalty(standardize: true)
        let all = LogisticLasso.featureScales(design: design, cells: cells, penalty: penalty)
        #expect(abs(all[4] - Self.weightedSD(columns[4], w)) <= 1e-12)
        #expect(all[5] == 1)
        penalty.standardizeIndicators = false
        let continuous = LogisticLasso.featureScales(design: design, cells: cells, penalty: penalty)
        #expect(continuous[4] == 1)
        #expect(continuous[0] == all[0])
        #expect(LogisticLasso.featureScales(design: design, cells: cells, penalty: Penalty()) == [Double](repeating: 1, count: 6))
    }
}

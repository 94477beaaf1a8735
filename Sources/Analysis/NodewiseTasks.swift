import Foundation
import Lasso
import Plan
import Synchronization

extension RunData {
    /// How this run debiases: the spec's method, with `auto` resolved by shape: the desparsified
    /// lasso where p + 1 >= n, or from ``RunData/wideCoefficients`` coefficients (Newton steps and
    /// Firth's estimate in every resample cost O(p^3) each: hours at a few thousand); Firth's estimate while n < 50 (p + 1), where the maximum-likelihood
    /// estimate's O(p/n) bias spoils Wald coverage of large coefficients (Benchmarks/README.md),
    /// or while a two-valued feature has fewer than 10 events or non-events at its rarer value
    /// (near separation: the MLE diverges in some data sets and its intervals under-cover; the
    /// CTDC plasmode at 2,000 and 10,000 rows); Newton steps to the MLE beyond, where the two
    /// differ by a fraction of a standard error (CTDC: at most 0.14 SE) and the MLE's bootstrap
    /// replicates cost less than half as much.
    public var debiasMethod: DebiasSpec.Method? {
        guard spec.intervals == .debiased else { return nil }
        switch spec.debias.method {
        case .auto:
            let coefficients = design.featureCount + 1
            if isWide || coefficients > Self.wideCoefficients { return .nodewise }
            if rowCount < Self.firthRowsPerCoefficient * coefficients { return .firth }
            if let rarest = rarestBinaryCount, rarest < Self.firthBinaryCount { return .firth }
            return .newton
        case let m: return m
        }
    }

    /// Whether the coefficients (intercept included) are at least as many as the rows (p + 1 >= n):
    /// the maximum-likelihood estimate does not exist, so `auto` takes the desparsified lasso, and
    /// its intercept's interval is flagged `interceptUnderCovers`.
    public var isWide: Bool { design.featureCount + 1 >= rowCount }

    /// `auto` uses the desparsified lasso beyond this many coefficients, whatever the rows.
    public static let wideCoefficients = 2_000
    /// The desparsified lasso holds several p x p matrices: beyond this many coefficients a
    /// debiased run is refused (with `"intervals": "penalized"` as the way out).
    public static let nodewiseCoefficientLimit = 6_000

    /// `auto` uses Firth's estimate below this many rows per coefficient.
    public static let firthRowsPerCoefficient = 50
    /// `auto` uses Firth's estimate when a two-valued feature has fewer events or non-events
    /// than this at its rarer value.
    public static let firthBinaryCount = 10.0

    /// Whether bootstrap tasks carry debiased replicates (Newton steps or Firth's estimate per resample).
    public var debiasesReplicates: Bool { debiasMethod == .newton || debiasMethod == .firth }
}

/// The prepared nodewise problem of one outcome at one alpha: the full data at the lasso fit,
/// and per CV fold the training standardization and the held-out error matrix.
struct NodewisePreparation: Sendable {
    let full: Nodewise.FullData
    let training: [Nodewise.Standardized]
    let heldOut: [[Double]]
    let lambdas: [Double]
}

/// The nodewise preparations of one executor, made once per process.
final class NodewiseCache: Sendable {
    struct Key: Hashable { let outcome: Int, alpha: UInt64 }
    let entries = Mutex<[Key: NodewisePreparation]>([:])
}

extension TaskExecutor {
    /// Features per nodewise task.
    static let nodewiseBatch = 16

    /// Numbers per lambda in a nodewise result row: held-out error, numerator, denominator,
    /// model variance, sandwich variance.
    static let nodewiseWidth = 5

    /// The nodewise problem of `outcome` at `alpha` (nil: the full-data lasso fit failed).
    func nodewisePreparation(outcome o: Int, alpha: Double) -> NodewisePreparation? {
        let key = NodewiseCache.Key(outcome: o, alpha: alpha.bitPattern)
        if let p = nodewiseCache.entries.withLock({ $0[key] }) { return p }
        guard let lasso = anchor(outcome: o, alpha: alpha, debiased: false).lasso,
            let cells = try? data.cells(outcome: o, counts: data.cellCount)
        else { return nil }
        let full = Nodewise.FullData(design: data.design, cells: cells, beta: lasso.allCoefficients)
        var training: [Nodewise.Standardized] = [], heldOut: [[Double]] = []
        let lambdas: [Double]
        if let fixed = data.spec.debias.nodewiseLambda {
            lambdas = [fixed]
        } else {
            lambdas = Nodewise.lambdaGrid(full.standardized)
            for fold in data.foldCellCount {
                var weights = [Double](repeating: 0, count: data.design.patternCount)
                for (c, count) in fold.enumerated() where count > 0 {
                    weights[data.cellPattern[c]] += Double(count) * full.unitWeight[data.cellPattern[c]]
                }
                let held = Nodewise.Moments(design: data.design, weights: weights)
                let standardized = Nodewise.Standardized(full.moments.subtracting(held))
                training.append(standardized)
                heldOut.append(standardized.quadratic(held))
            }
        }
        let prepared = NodewisePreparation(full: full, training: training, heldOut: heldOut, lambdas: lambdas)
        nodewiseCache.entries.withLock { $0[key] = prepared }
        return prepared
    }

    /// The nodewise task: for each row of `start ..< end` (features 0 ..< p, the intercept p) and
    /// each lambda of the grid, the held-out error summed over the CV folds (0 with a fixed lambda,
    /// and for the intercept, which takes the features' lambda) and the full-data projection.
    func nodewise(outcome o: Int, start: Int, end: Int, alpha: Double) -> TaskResult {
        guard let prep = nodewisePreparation(outcome: o, alpha: alpha) else {
            return .nodewise(lambdas: [], features: Array(repeating: [], count: end - start))
        }
        return .nodewise(lambdas: prep.lambdas, features: (start..<end).map { nodewiseRow(prep, feature: $0) })
    }

    func nodewiseRow(_ prep: NodewisePreparation, feature j: Int) -> [Double] {
        let p = data.design.featureCount
        if j == p {
            return Nodewise.interceptPath(prep.full.standardized, lambdas: prep.lambdas).flatMap { d in
                let q = prep.full.interceptProjection(d)
                return [0, q.numerator, q.denominator, q.variance, q.sandwichVariance]
            }
        }
        var errors = [Double](repeating: 0, count: prep.lambdas.count)
        for (training, held) in zip(prep.training, prep.heldOut) {
            let directions = Nodewise.path(correlation: training.correlation, size: p, feature: j, lambdas: prep.lambdas)
            for (i, a) in directions.enumerated() { errors[i] += Nodewise.heldOutError(direction: a, quadratic: held) }
        }
        let directions = Nodewise.path(correlation: prep.full.standardized.correlation, size: p, feature: j, lambdas: prep.lambdas)
        var row: [Double] = []
        row.reserveCapacity(Self.nodewiseWidth * prep.lambdas.count)
        for (i, a) in directions.enumerated() {
            let q = prep.full.projection(feature: j, direction: a)
            row += [errors[i], q.numerator, q.denominator, q.variance, q.sandwichVariance]
        }
        return row
    }
}

/// The desparsified estimate of one outcome, from its nodewise results.
struct NodewiseOutcome {
    /// The features' lambda (pooled CV, moved by Zhang & Zhang's rule with `znz`, or the spec's).
    var lambda: Double
    /// The intercept's lambda: Zhang & Zhang's pick from the pooled-CV lambda.
    var interceptLambda: Double
    /// Per design feature: correction, SE and sandwich SE (nil: the denominator vanished).
    var projections: [(shift: Double, se: Double, sandwichSE: Double)?]
    /// The intercept's correction, SE and sandwich SE at its lambda.
    var intercept: (shift: Double, se: Double, sandwichSE: Double)?

    /// Pools the held-out errors of every feature over the grid and takes the minimizing lambda
    /// (the first on ties); with `znz` the features then move to Zhang & Zhang's pick by their
    /// mean variance factor. The intercept always takes Zhang & Zhang's pick from the CV lambda
    /// by its own variance factor: at the features' lambda its projection keeps more of a
    /// one-sided bias (Benchmarks/README.md, p > n cell). Nil when the task found no lasso fit
    /// to project at.
    init?(results: [TaskKey: TaskResult], outcome o: Int, featureCount p: Int, znz: Bool) throws {
        var lambdas: [Double]?
        var rows: [[Double]] = []
        for key in results.keys.sorted() {
            guard case let .nodewise(ko, _, _) = key, ko == o, case let .nodewise(grid, features)? = results[key] else { continue }
            if lambdas == nil {
                lambdas = grid
            } else if lambdas != grid {
                throw AnalysisError.missingResult("\(key): a different nodewise lambda grid")
            }
            rows += features
        }
        guard rows.count == p + 1 else {
            throw AnalysisError.missingResult("nodewise/o\(o): \(rows.count) of \(p + 1) rows (features and intercept)")
        }
        guard let grid = lambdas, !grid.isEmpty else { return nil }
        let width = TaskExecutor.nodewiseWidth
        var pooled = [Double](repeating: 0, count: grid.count)
        for row in rows.prefix(p) { for i in grid.indices where row[width * i].isFinite { pooled[i] += row[width * i] } }
        var best = 0
        for i in grid.indices where pooled[i] < pooled[best] { best = i }
        func projection(_ row: [Double], _ i: Int) -> Nodewise.Projection {
            let b = width * i
            return Nodewise.Projection(numerator: row[b + 1], denominator: row[b + 2], variance: row[b + 3], sandwichVariance: row[b + 4])
        }
        /// The variance factor var / denominator^2 (the SE squared) of a row at each lambda.
        func factors(_ row: [Double]) -> [Double] {
            grid.indices.map { i in
                let q = projection(row, i)
                return q.denominator != 0 ? q.variance / (q.denominator * q.denominator) : .infinity
            }
        }
        var featureLambda = best
        if znz {
            // hdi's calcM: the mean over the features of their variance factors.
            var mean = [Double](repeating: 0, count: grid.count)
            for row in rows.prefix(p) { for (i, f) in factors(row).enumerated() { mean[i] += f / Double(p) } }
            featureLambda = Nodewise.zhangZhangPick(mean, from: best)
        }
        let interceptIndex = Nodewise.zhangZhangPick(factors(rows[p]), from: best)
        lambda = grid[featureLambda]
        interceptLambda = grid[interceptIndex]
        projections = rows.prefix(p).map { projection($0, featureLambda).estimate }
        intercept = projection(rows[p], interceptIndex).estimate
    }
}

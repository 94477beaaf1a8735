import Foundation
import Lasso
import Tabular

// MARK: - path

/// The design of every column but `outcome` of a numeric CSV, its cells, the sum-scale penalty
/// with a free intercept, and alpha_max.
func sumScaleProblem(path: String, outcome: String) throws -> (CompressedDesign, BinomialCells, Penalty, Double) {
    let table = try CSVReader().read(path: path)
    let features = table.columnNames.filter { $0 != outcome }
    let y = try table.binary(outcome)
    let design = try CompressedDesign(featureNames: features, columns: try features.map { try table.numeric($0) })
    let cells = try design.cells(outcome: y)
    let penalty = Penalty(scale: .sum)
    return (design, cells, penalty, try LogisticLasso.alphaMax(design: design, cells: cells, penalty: penalty))
}

/// `lassoboot-bench path --data CSV --outcome COL [--count 100] [--min-ratio 0.01] [--repeat 3]
/// [--out PATH]`: a whole regularization path (issue 12's "100-alpha path"), the L1 logistic
/// regression with a free intercept, unstandardized, at `count` alphas geometric from alpha_max
/// down to `min-ratio` x alpha_max, each fit warm-started from the previous one (as glmnet's path
/// is). Times the path (median of `repeat`, design built beforehand), and writes one line per
/// alpha to `out` (lambda on the mean scale, then the intercept and coefficients) so
/// `scaling/path_peers.py` can evaluate every solver's objective in one place.
func runPath(_ args: Arguments) throws {
    let path = try args.required("data")
    let outcome = try args.required("outcome")
    let count = try args.int("count") ?? 100
    let minRatio = try args.double("min-ratio") ?? 0.01
    let repeats = try args.int("repeat") ?? 3
    var options = SolverOptions()
    options.screening = try args.string("screening") != "off"
    if let inner = try args.string("inner-solver") {
        guard let solver = InnerSolver(rawValue: inner) else {
            throw UsageError(description: "--inner-solver: \(InnerSolver.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.innerSolver = solver
    }
    let clock = ContinuousClock()
    let (design, cells, penalty, alphaMax) = try sumScaleProblem(path: path, outcome: outcome)
    let grid = LogisticLasso.geometricGrid(max: alphaMax, count: count, minRatio: minRatio)
    var fits: [LassoFit] = []
    var times: [Double] = []
    for _ in 0..<max(1, repeats) {
        times.append(
            try clock.measure {
                let fitter = try PathFitter(design: design, cells: cells, penalty: penalty, options: options)
                var previous: LassoFit?
                var out: [LassoFit] = []
                out.reserveCapacity(grid.count)
                for alpha in grid {
                    let fit = try fitter.fit(alpha: alpha, warmStart: previous)
                    out.append(fit)
                    previous = fit
                }
                fits = out
            }.seconds)
    }
    if let file = try args.string("out") {
        let n = Double(design.rowCount)
        var text = ""
        for (alpha, fit) in zip(grid, fits) {
            text += ([alpha / n] + fit.allCoefficients).map { String(format: "%.17g", $0) }.joined(separator: ",") + "\n"
        }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }
    var j = JSONLine()
    j.add("tool", "lassoboot")
    j.add("label", "path")
    j.add("rows", design.rowCount)
    j.add("features", design.featureCount)
    j.add("alphas", grid.count)
    j.add("minRatio", minRatio)
    j.add("repeat", repeats)
    j.add("medianSeconds", median(times))
    j.add("maxKKT", fits.map(\.kktViolation).max() ?? .nan)
    j.add("lastNonzero", fits.last?.coefficients.filter { $0 != 0 }.count ?? 0)
    j.add("meanScreened", Double(fits.reduce(0) { $0 + ($1.screenedFeatures ?? 0) }) / Double(max(fits.count, 1)))
    j.add("innerSolvers", Array(Set(fits.map { "\($0.innerSolver)" })).sorted())
    print(j.text)
}

// MARK: - debias

/// `lassoboot-bench debias --data CSV --outcome COL [--alpha-fraction 0.05] [--steps N]
/// [--repeat 1]`: the full-data debiased estimate of the report step (Newton steps from the lasso
/// fit to the unpenalized MLE, with standard errors, sandwich and condition number), timed apart
/// from the lasso fit; and the condition number alone. Shows what the report step costs at
/// large p.
func runDebias(_ args: Arguments) throws {
    let path = try args.required("data")
    let outcome = try args.required("outcome")
    let fraction = try args.double("alpha-fraction") ?? 0.05
    let repeats = try args.int("repeat") ?? 1
    let steps = try args.int("steps")
    let clock = ContinuousClock()
    let (design, cells, penalty, alphaMax) = try sumScaleProblem(path: path, outcome: outcome)
    var fit: LassoFit?
    let fitSeconds = try clock.measure { fit = try LogisticLasso.fit(design: design, cells: cells, alpha: fraction * alphaMax, penalty: penalty) }
        .seconds
    let start = fit!.allCoefficients
    var estimate: DebiasedEstimate?
    var times: [Double] = []
    for _ in 0..<max(1, repeats) {
        times.append(try clock.measure { estimate = try Debias(design: design).estimate(cells: cells, start: start, newtonSteps: steps) }.seconds)
    }
    let plain = try clock.measure {
        _ = try Debias(design: design).estimate(cells: cells, start: start, newtonSteps: steps, errors: false)
    }.seconds
    var j = JSONLine()
    j.add("tool", "lassoboot")
    j.add("label", "debias")
    j.add("rows", design.rowCount)
    j.add("patterns", design.patternCount)
    j.add("features", design.featureCount)
    j.add("density", design.density)
    j.add("fitSeconds", fitSeconds)
    j.add("debiasSeconds", median(times))
    j.add("withoutErrorsSeconds", plain)
    j.add("steps", estimate?.steps ?? 0)
    j.add("conditionNumber", estimate?.conditionNumber ?? .nan)
    j.add("maxSE", estimate?.standardErrors.max() ?? .nan)
    j.add("checksum", (estimate?.coefficients ?? []).reduce(0, +))
    print(j.text)
}

import Analysis
import Foundation
import Lasso

/// One outcome's fit with everything `lassoboot fit` reports about it.
struct FitResult {
    let outcome: String
    let featureNames: [String]
    let fit: LassoFit
    /// Intercept first, then features; `nil` for zero coefficients.
    let wald: [WaldInterval?]
    let level: Double
    let rows: Int
    let patterns: Int
    let fitSeconds: Double
    let testAUC: Double?
    let testRows: Int?
    /// `dense` or `sparse` (the design's nonzero values only).
    let storage: String

    /// "const" then the feature names (built once: the outputs index it per coefficient).
    let names: [String]

    init(
        outcome: String, featureNames: [String], fit: LassoFit, wald: [WaldInterval?], level: Double, rows: Int, patterns: Int,
        fitSeconds: Double, testAUC: Double?, testRows: Int?, storage: String = "dense"
    ) {
        (self.outcome, self.featureNames, self.fit, self.wald, self.level) = (outcome, featureNames, fit, wald, level)
        (self.rows, self.patterns, self.fitSeconds, self.testAUC, self.testRows) = (rows, patterns, fitSeconds, testAUC, testRows)
        self.storage = storage
        self.names = ["const"] + featureNames
    }
}

/// The JSON contract of `lassoboot fit --format json` (one object per outcome).
struct FitJSON: Encodable {
    struct Coefficient: Encodable {
        let name: String
        let coef: Double
        /// `nil` (left out) where exp overflows: JSON has no infinity.
        let oddsRatio: Double?
        let standardError: Double?
        let waldLow: Double?
        let waldHigh: Double?
        let oddsRatioLow: Double?
        let oddsRatioHigh: Double?
    }
    let outcome: String
    let alpha: Double
    let scale: String
    let penalizeIntercept: Bool
    /// Penalty per SD of each feature (glmnet's standardize=TRUE); coefficients are per unit.
    let standardize: Bool
    let n: Int
    let patterns: Int
    let objective: Double
    let loss: Double
    let kktViolation: Double
    let iterations: Int
    /// Which Newton system the solver used: `full` (every feature) or `working-set`.
    let solver: String
    /// Features in the final working set (`working-set` only).
    let workingSet: Int?
    /// Features the working-set solver proved zero by the gap-safe rule.
    let screened: Int?
    /// How the Newton iterations solved their quadratic models: `hessian` (formed) or
    /// `coordinate-descent` (Hessian-free; large working sets).
    let innerSolver: String
    /// How the design was held: `dense` or `sparse` (nonzero values by column; one-hot encodings).
    let storage: String
    let fitSeconds: Double
    let intervals: String
    let level: Double
    let testAUC: Double?
    let testRows: Int?
    let coefficients: [Coefficient]

    init(_ r: FitResult) {
        outcome = r.outcome
        alpha = r.fit.alpha
        scale = r.fit.penalty.scale.rawValue
        penalizeIntercept = r.fit.penalty.penalizeIntercept
        standardize = r.fit.penalty.standardize
        n = r.rows
        patterns = r.patterns
        objective = r.fit.objective
        loss = r.fit.loss
        kktViolation = r.fit.kktViolation
        iterations = r.fit.iterations
        solver = r.fit.workingSetSize == nil ? SolverOptions.Strategy.full.rawValue : SolverOptions.Strategy.workingSet.rawValue
        workingSet = r.fit.workingSetSize
        screened = r.fit.screenedFeatures
        innerSolver = r.fit.innerSolver.rawValue
        storage = r.storage
        fitSeconds = r.fitSeconds
        intervals = Wald.label
        level = r.level
        testAUC = r.testAUC
        testRows = r.testRows
        let coef = r.fit.allCoefficients
        coefficients = r.names.indices.map { i in
            let w = r.wald[i]
            // Near separation an SE or an odds ratio can overflow: such a value is left out.
            func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
            return Coefficient(
                name: r.names[i], coef: coef[i], oddsRatio: finite(Foundation.exp(coef[i])),
                standardError: finite(w?.standardError), waldLow: finite(w?.low), waldHigh: finite(w?.high),
                oddsRatioLow: finite(w.map { Foundation.exp($0.low) }), oddsRatioHigh: finite(w.map { Foundation.exp($0.high) }))
        }
    }
}

/// Renders fits as a human table, JSON or CSV.
enum FitOutput {
    static func render(_ results: [FitResult], format: FitCommand.Format) -> String {
        switch format {
        case .table: return results.map(table).joined(separator: "\n")
        case .json: return json(results)
        case .csv: return csv(results)
        }
    }

    static func json(_ results: [FitResult]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Coefficient values that overflow are left out above; any other non-finite number is
        // written as a string rather than stopping the program.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let objects = results.map(FitJSON.init)
        let data: Data
        if objects.count == 1 {
            data = try! encoder.encode(objects[0])
        } else {
            data = try! encoder.encode(objects)
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func csv(_ results: [FitResult]) -> String {
        var out = "outcome,feature,coef,oddsRatio,waldLow,waldHigh,oddsRatioLow,oddsRatioHigh\n"
        for r in results {
            let coef = r.fit.allCoefficients
            for i in r.names.indices {
                let w = r.wald[i]
                let interval: [String] =
                    w.map { x -> [String] in
                        ["\(x.low)", "\(x.high)", "\(Foundation.exp(x.low))", "\(Foundation.exp(x.high))"]
                    } ?? ["", "", "", ""]
                let fields: [String] = [csvField(r.outcome), csvField(r.names[i]), "\(coef[i])", "\(Foundation.exp(coef[i]))"] + interval
                out += fields.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    static func table(_ r: FitResult) -> String {
        let fit = r.fit
        let pct = Int((r.level * 100).rounded())
        let intercept: String = fit.penalty.penalizeIntercept ? "penalized" : "unpenalized"
        let scale: String = fit.penalty.scale.rawValue
        let objective: String = String(format: "%.10g", fit.objective)
        let kkt: String = String(format: "%.1e", fit.kktViolation)
        let ms: String = String(format: "%.2f", r.fitSeconds * 1000)
        let standardized = fit.penalty.standardize ? ", penalty per SD of each feature (standardized; coefficients per unit)" : ""
        var out = "\(r.outcome): L1 logistic regression, alpha = \(fit.alpha) (\(scale) scale, intercept \(intercept)\(standardized))\n"
        out += "  \(r.rows) rows in \(r.patterns) covariate patterns; objective \(objective); "
        let screened = fit.screenedFeatures.map { $0 > 0 ? ", \($0) proven zero by the gap-safe rule" : "" } ?? ""
        let workingSet = fit.workingSetSize.map { " (working set of \($0) features\(screened))" } ?? ""
        out += "KKT violation \(kkt); \(fit.iterations) iterations\(workingSet); fit \(ms) ms\n"
        if let auc = r.testAUC, let n = r.testRows {
            out += "  test AUC \(String(format: "%.4f", auc)) on \(n) rows\n"
        }
        out += "\n"
        let nameWidth = max(8, r.names.map(\.count).max() ?? 0)
        let header =
            "feature".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            + "      coef  odds ratio  \(pct)% CI, \(Wald.label)"
        out += header + "\n" + String(repeating: "-", count: header.count) + "\n"
        let coef = fit.allCoefficients
        for i in r.names.indices {
            let name = r.names[i].padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let c = String(format: "%10.4f", coef[i])
            let or = String(format: "%12.2f", Foundation.exp(coef[i]))
            let ci: String
            if let w = r.wald[i] {
                ci = String(format: "[%.2f, %.2f]", Foundation.exp(w.low), Foundation.exp(w.high))
            } else {
                ci = coef[i] == 0 ? "(not selected)" : "(singular Hessian)"
            }
            out += "\(name)\(c)\(or)  \(ci)\n"
        }
        return out
    }
}

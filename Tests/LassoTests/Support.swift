import Foundation
import Lasso
import Tabular
import TestSupport
import Testing

/// Paths of the repository, its committed fixtures, and the shared data directory beside it.
enum Paths {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func fixture(_ name: String) -> String { repoRoot.appendingPathComponent("Tests/Fixtures/\(name)").path }
    static let ctdc = repoRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/data/madiforman_CTDC_analysis_final_data.csv").path
    static var ctdcAvailable: Bool { FileManager.default.fileExists(atPath: ctdc) }
    static let ctdcSkipMessage: Comment = "skipped: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent (see ../shared/data/SOURCES.md)"
}

/// A data set loaded once for many tests.
struct LoadedData: Sendable {
    let design: CompressedDesign
    let outcomes: [String: [Double]]

    init(path: String, outcomes names: [String], features: [String]? = nil) throws {
        let table = try CSVReader().read(path: path)
        let features = features ?? table.columnNames.filter { !names.contains($0) }
        design = try CompressedDesign(featureNames: features, columns: features.map { try table.numeric($0) })
        var outcomes: [String: [Double]] = [:]
        for n in names { outcomes[n] = try table.binary(n) }
        self.outcomes = outcomes
    }

    static let ctdc: LoadedData? = try? LoadedData(path: Paths.ctdc, outcomes: ["isForcedLabour", "isSexualExploit"])
    static let synthetic: LoadedData = try! LoadedData(path: Paths.fixture("synthetic_logistic.csv"), outcomes: ["y"])
}

/// Independent (row-by-row, no compression) evaluation of the objective and KKT conditions,
/// so solver certificates are checked by code that shares nothing with the solver.
struct Certificate {
    let objective: Double
    let kktViolation: Double

    init(
        columns: [[Double]], outcome: [Double], weights: [Double]?, intercept: Double, coefficients: [Double],
        alpha: Double, penalizeIntercept: Bool, factors: [Double]? = nil
    ) {
        let n = outcome.count, p = columns.count
        var loss = 0.0
        var g = [Double](repeating: 0, count: p + 1)
        var wsum = 0.0
        for i in 0..<n {
            let w = weights?[i] ?? 1
            wsum += w
            var eta = intercept
            for j in 0..<p { eta += coefficients[j] * columns[j][i] }
            let mu = 1 / (1 + Foundation.exp(-eta))
            loss += w * (max(eta, 0) + Foundation.log1p(Foundation.exp(-abs(eta))) - outcome[i] * eta)
            g[0] += w * (mu - outcome[i])
            for j in 0..<p { g[j + 1] += w * (mu - outcome[i]) * columns[j][i] }
        }
        let coef = [intercept] + coefficients
        let lam = [penalizeIntercept ? alpha : 0] + (0..<p).map { alpha * (factors?[$0] ?? 1) }
        var pen = 0.0, worst = 0.0
        for j in 0...p {
            pen += lam[j] * abs(coef[j])
            let v: Double
            if lam[j] == 0 {
                v = abs(g[j])
            } else if coef[j] == 0 {
                v = max(0, abs(g[j]) - lam[j])
            } else {
                v = abs(g[j] + (coef[j] > 0 ? lam[j] : -lam[j]))
            }
            worst = max(worst, v)
        }
        objective = loss + pen
        kktViolation = worst / wsum
    }
}

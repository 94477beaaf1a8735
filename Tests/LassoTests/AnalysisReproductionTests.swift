import Foundation
import Lasso
import Tabular
import Testing

/// The statsmodels fit of the original analysis (fixture by scripts/reference/make_statsmodels.py).
struct StatsmodelsFixture: Decodable, Sendable {
    struct Coefficient: Decodable, Sendable { let name: String; let coef: Double; let waldLow: Double; let waldHigh: Double }
    struct Outcome: Decodable, Sendable { let outcome: String; let coefficients: [Coefficient]; let objective: Double; let testAUC: Double }
    let alpha: Double
    let penalizeIntercept: Bool
    let outcomes: [Outcome]

    static let value: StatsmodelsFixture = try! JSONDecoder().decode(
        StatsmodelsFixture.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("ctdc_statsmodels_split.json"))))
}

@Suite("The analysis' statsmodels fit on its 80% split", .enabled(if: Paths.ctdcAvailable, Paths.ctdcSkipMessage))
struct AnalysisReproductionTests {
    @Test(
        "coefficients, Wald intervals and objective agree with statsmodels l1_cvxopt_cp",
        arguments: ["isForcedLabour", "isSexualExploit"])
    func statsmodels(outcome: String) throws {
        let table = try CSVReader().read(path: Paths.ctdc)
        let train = try RowIndices.read(path: Paths.fixture("ctdc_split_train_rows.txt"), rowCount: table.rowCount)
        let test = try RowIndices.read(path: Paths.fixture("ctdc_split_test_rows.txt"), rowCount: table.rowCount)
        #expect(train.count == 72_834 && test.count == 18_209 && Set(train + test).count == table.rowCount)
        let features = table.columnNames.filter { $0 != "isForcedLabour" && $0 != "isSexualExploit" }
        let columns = try features.map { name in try table.numeric(name) }
        let design = try CompressedDesign(featureNames: features, columns: columns.map { c in train.map { c[$0] } })
        let y = try table.binary(outcome)
        let cells = try design.cells(outcome: train.map { y[$0] })
        let reference = try #require(StatsmodelsFixture.value.outcomes.first { $0.outcome == outcome })
        let fixture = StatsmodelsFixture.value

        let fit = try LogisticLasso.fit(
            design: design, cells: cells, alpha: fixture.alpha,
            penalty: Penalty(scale: .sum, penalizeIntercept: fixture.penalizeIntercept))
        // cvxopt stops early, so compare it by objective: ours is at least as good, and close.
        #expect(fit.objective <= reference.objective + 1e-9 * reference.objective)
        #expect(reference.objective - fit.objective <= 1e-8 * reference.objective)
        let wald = Wald.intervals(design: design, cells: cells, fit: fit)
        let names = ["const"] + features
        for (j, name) in names.enumerated() {
            let r = try #require(reference.coefficients.first { $0.name == name })
            let w = try #require(wald[j])
            // statsmodels' own coefficients are accurate to ~5e-6 (see the fixture's exactCheck).
            #expect(abs(fit.allCoefficients[j] - r.coef) <= 2e-5, "\(name)")
            #expect(abs(w.low - r.waldLow) <= 2e-5 && abs(w.high - r.waldHigh) <= 2e-5, "\(name)")
        }
        let x = test.map { i in columns.map { $0[i] } }
        let auc = try #require(Metrics.auc(scores: x.map { fit.linearPredictor($0) }, outcomes: test.map { y[$0] }))
        #expect(abs(auc - reference.testAUC) <= 1e-4)
    }
}

@Suite("Wald intervals")
struct WaldTests {
    @Test("zero coefficients get no interval; the label says what they are")
    func trimmed() throws {
        let data = LoadedData.synthetic
        let cells = try data.design.cells(outcome: data.outcomes["y"]!)
        let top = try LogisticLasso.alphaMax(design: data.design, cells: cells)
        let fit = try LogisticLasso.fit(design: data.design, cells: cells, alpha: top * 0.3)
        let wald = Wald.intervals(design: data.design, cells: cells, fit: fit)
        #expect(fit.coefficients.contains(0))
        for (j, c) in fit.allCoefficients.enumerated() {
            #expect((c == 0) == (wald[j] == nil))
            if let w = wald[j] { #expect(w.low < c && c < w.high && abs((w.high - w.low) / 2 - 1.959963984540054 * w.standardError) < 1e-12) }
        }
        #expect(Wald.label.contains("conditional on selection"))
    }
}

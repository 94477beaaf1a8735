import Analysis
import Foundation
import Tabular
import Testing

@Suite("predict: one-hot levels scored from their row slots")
struct PredictionTests {
    /// Training rows with a numeric feature (drop-row when missing) and a one-hot feature (own
    /// level when missing); the new rows reuse some and drop others.
    static func csv(rows: Int, shift: Int) -> String {
        var s = "x,g,y\n"
        let levels = ["red", "green", "blue", "cyan", "gray"]
        for i in 0..<rows {
            let k = i + shift
            s += "\(k % 13 == 0 ? "" : "\(Double(k % 17) / 4 - 2)"),\(k % 9 == 0 ? "" : levels[(k * 7 + k / 3) % 5]),\(k % 3 == 0 ? 1 : 0)\n"
        }
        return s
    }

    @Test("probabilities and replicate intervals equal the dense computation (b0 + x.b, type-7 quantiles) on every row")
    func equalsDense() throws {
        let spec = DataSpec(
            csv: "train.csv",
            features: [
                FeatureSpec(name: "x", column: "x", encoding: .numeric, missing: .dropRow, group: "x"),
                FeatureSpec(name: "g", column: "g", encoding: .onehot(reference: "red", levels: nil), missing: .ownLevel, group: "g"),
            ],
            outcomes: [OutcomeSpec(name: "y", column: "y", missing: .error)])
        let training = try DataEncoder.encode(try CSVReader(textColumns: ["g"]).parse(Self.csv(rows: 200, shift: 0), source: "train.csv"), spec: spec)
        let p = training.featureNames.count
        #expect(p == 6)
        var state: UInt64 = 9
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        let coefficients = (0..<p).map { $0 == 2 ? 0 : uniform() * 3 }
        // Rows are scored in chunks of 1,024: 1,300 new rows make two.
        let replicates = (0..<400).map { _ in (0...p).map { _ in uniform() } }
        let model = PredictionModel(
            source: "run", software: "test", data: "train.csv", dataHash: "", encoded: training, standardize: true, scale: "sum",
            level: 0.9, missingTokens: [], delimiter: nil,
            outcomes: [.init(name: "y", alpha: 1, intercept: 0.3, coefficients: coefficients, replicates: replicates)])
        let newRows = Self.csv(rows: 1300, shift: 7)
        let table = try CSVReader(textColumns: ["g"]).parse(newRows, source: "new.csv")
        let predicted = try model.predict(try CSVReader(textColumns: ["g"]).parse(newRows, source: "new.csv"))
        // The reference: the dense encoding of the same rows and the textbook formulas.
        let dense = try DataEncoder.encode(table, spec: try model.recipe(source: "new.csv"))
        #expect(dense.rowCount > 1024 && dense.rowCount < 1300 && predicted.rows.count == 1300)
        var scored = 0
        for (k, r) in dense.sourceRows.enumerated() {
            func eta(_ b: [Double]) -> Double { (0..<p).reduce(b[0]) { $0 + b[$1 + 1] * dense.columns[$1][k] } }
            let probability = try #require(predicted.probability[0][r])
            #expect(abs(probability - PredictionModel.logistic(eta([0.3] + coefficients))) <= 1e-14, "row \(r)")
            let etas = replicates.map(eta).sorted()
            func quantile(_ q: Double) -> Double {
                let h = Double(etas.count - 1) * q, lo = Int(h.rounded(.down))
                return etas[lo] + (h - Double(lo)) * (etas[min(lo + 1, etas.count - 1)] - etas[lo])
            }
            #expect(abs(try #require(predicted.low?[0][r]) - PredictionModel.logistic(quantile(0.05))) <= 1e-14, "row \(r) low")
            #expect(abs(try #require(predicted.high?[0][r]) - PredictionModel.logistic(quantile(0.95))) <= 1e-14, "row \(r) high")
            scored += 1
        }
        // Dropped rows (x missing) have no prediction.
        let droppedRows = Set(0..<1300).subtracting(dense.sourceRows)
        #expect(!droppedRows.isEmpty && droppedRows.allSatisfy { predicted.probability[0][$0] == nil })
        #expect(scored == dense.rowCount)
    }
}

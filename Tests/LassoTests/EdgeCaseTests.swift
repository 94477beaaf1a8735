import Foundation
import Lasso
import TestSupport
import Testing

@Suite("Defined behaviour on degenerate input")
struct EdgeCaseTests {
    let x1: [Double] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    let x2: [Double] = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0]
    let y: [Double] = [0, 0, 1, 0, 1, 0, 1, 1, 1, 0]

    func design(_ cols: [[Double]]) throws -> CompressedDesign {
        try CompressedDesign(featureNames: cols.indices.map { "x\($0 + 1)" }, columns: cols)
    }

    @Test func constantOutcome() throws {
        let d = try design([x1])
        let cells = try d.cells(outcome: [Double](repeating: 1, count: 10))
        #expect(throws: LassoError.constantOutcome(value: 1)) { try LogisticLasso.fit(design: d, cells: cells, alpha: 1) }
        let zeros = try d.cells(outcome: [Double](repeating: 0, count: 10))
        #expect(throws: LassoError.constantOutcome(value: 0)) { try LogisticLasso.fit(design: d, cells: zeros, alpha: 1) }
        #expect(LassoError.constantOutcome(value: 1).description.contains("both 0s and 1s"))
    }

    @Test func invalidAlpha() throws {
        let d = try design([x1])
        let cells = try d.cells(outcome: y)
        for a in [-1.0, .nan, .infinity] {
            #expect(throws: LassoError.self) { try LogisticLasso.fit(design: d, cells: cells, alpha: a) }
        }
        #expect(throws: LassoError.invalidAlpha(-1)) { try LogisticLasso.fit(design: d, cells: cells, alpha: -1) }
    }

    @Test func nonFiniteInput() throws {
        var bad = x1
        bad[3] = .nan
        do { _ = try design([bad]); Issue.record("expected an error") } catch let e as LassoError {
            guard case let .nonFiniteValue(feature, row, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(feature == "x1" && row == 3)
        }
        bad[3] = .infinity
        #expect(throws: LassoError.nonFiniteValue(feature: "x1", row: 3, value: .infinity)) { try design([bad]) }
        let d = try design([x1])
        var yy = y
        yy[2] = 0.5
        #expect(throws: LassoError.outcomeNotBinary(row: 2, value: 0.5)) { try d.cells(outcome: yy) }
        yy[2] = .nan
        #expect(throws: LassoError.self) { try d.cells(outcome: yy) }
        var w = [Double](repeating: 1, count: 10)
        w[4] = -1
        #expect(throws: LassoError.invalidWeight(row: 4, value: -1)) { try d.cells(outcome: y, weights: w) }
        #expect(throws: LassoError.lengthMismatch(what: "outcome", expected: 10, found: 3)) { try d.cells(outcome: [0, 1, 0]) }
        #expect(throws: LassoError.noData) {
            try LogisticLasso.fit(design: d, cells: try d.cells(outcome: y, weights: [Double](repeating: 0, count: 10)), alpha: 1)
        }
    }

    @Test("a constant column gets coefficient 0 when penalized; is an error when not")
    func constantColumn() throws {
        let ones = [Double](repeating: 1, count: 10)
        let zeros = [Double](repeating: 0, count: 10)
        let d = try design([x1, ones, zeros])
        let cells = try d.cells(outcome: y)
        #expect(d.constantFeatures(in: cells) == [1, 2])
        let fit = try LogisticLasso.fit(design: d, cells: cells, alpha: 0.01)
        #expect(fit.coefficients[1] == 0 && fit.coefficients[2] == 0 && fit.coefficients[0] != 0)
        #expect(fit.kktViolation <= 1e-12)
        // Same fit as without the constant columns.
        let plain = try LogisticLasso.fit(design: try design([x1]), cells: try design([x1]).cells(outcome: y), alpha: 0.01)
        #expect(abs(plain.coefficients[0] - fit.coefficients[0]) <= 1e-12)
        #expect(abs(plain.intercept - fit.intercept) <= 1e-12)
        // Unpenalized (alpha = 0): not identifiable, named.
        #expect(throws: LassoError.notIdentifiable(feature: "x2", reason: "it is constant (1.0) like the intercept")) {
            try LogisticLasso.fit(design: d, cells: cells, alpha: 0)
        }
    }

    @Test("duplicated columns are reported by the design")
    func duplicates() throws {
        let d = try design([x1, x2, x1, x2, x2])
        #expect(d.duplicateFeatureGroups() == [[0, 2], [1, 3, 4]])
        #expect(try design([x1, x2]).duplicateFeatureGroups().isEmpty)
    }

    @Test("perfect separation at alpha = 0 is an error naming the feature; alpha > 0 fits")
    func separation() throws {
        let sep: [Double] = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
        let xs: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        let d = try design([xs])
        let cells = try d.cells(outcome: sep)
        #expect(throws: LassoError.separation(features: ["x1"])) { try LogisticLasso.fit(design: d, cells: cells, alpha: 0) }
        let fit = try LogisticLasso.fit(design: d, cells: cells, alpha: 0.5)
        #expect(fit.kktViolation <= 1e-12 && fit.coefficients[0] > 0)
    }

    @Test("alpha = 0 without separation is plain maximum likelihood")
    func maximumLikelihood() throws {
        let d = try design([x1, x2])
        let fit = try LogisticLasso.fit(design: d, cells: try d.cells(outcome: y), alpha: 0)
        #expect(fit.kktViolation <= 1e-12)
        #expect(fit.coefficients.allSatisfy { $0 != 0 })
    }

    @Test func compression() throws {
        let a: [Double] = [1, 1, 2, 2, 1, -0.0, 0]
        let b: [Double] = [0, 0, 1, 1, 0, 5, 5]
        let d = try design([a, b])
        #expect(d.patternCount == 3)  // (1,0), (2,1), (0,5) with -0.0 == 0
        #expect(d.rowPattern == [0, 0, 1, 1, 0, 2, 2])
        let cells = try d.cells(outcome: [1, 0, 1, 1, 1, 0, 1], weights: [1, 2, 1, 1, 0.5, 1, 1])
        #expect(Array(cells.trials.prefix(3)) == [3.5, 2, 2])
        #expect(Array(cells.successes.prefix(3)) == [1.5, 2, 1])
        #expect(d.stride % Kernels.width == 0 && cells.trials.count == d.stride)
        #expect(throws: LassoError.raggedColumns(feature: "x2", expected: 7, found: 2)) { try design([a, [1, 2]]) }
    }
}

@Suite("Metrics and the normal distribution")
struct MetricTests {
    @Test func auc() {
        #expect(Metrics.auc(scores: [0.1, 0.4, 0.35, 0.8], outcomes: [0, 0, 1, 1]) == 0.75)  // sklearn's doc example
        #expect(Metrics.auc(scores: [1, 1, 1, 1], outcomes: [0, 1, 0, 1]) == 0.5)  // all tied
        #expect(Metrics.auc(scores: [0.2, 0.2, 0.9], outcomes: [0, 1, 1]) == 0.75)  // one tie
        #expect(Metrics.auc(scores: [0.1, 0.2], outcomes: [1, 1]) == nil)
        // Weights act as repeated rows.
        #expect(
            Metrics.auc(scores: [0.1, 0.4, 0.35, 0.8], outcomes: [0, 0, 1, 1], weights: [1, 2, 1, 1])
                == Metrics.auc(scores: [0.1, 0.4, 0.4, 0.35, 0.8], outcomes: [0, 0, 0, 1, 1]))
        // Grouped observations (compressed cells) give the AUC of the rows they stand for.
        #expect(
            Metrics.auc(scores: [0.1, 0.4, 0.35, 0.8], positives: [0, 0, 1, 1], negatives: [1, 2, 0, 0])
                == Metrics.auc(scores: [0.1, 0.4, 0.4, 0.35, 0.8], outcomes: [0, 0, 0, 1, 1]))
        // 1000 distinct scores (the radix sort's 2048-bucket branch) against a quadratic count.
        var rng = SplitMix64(seed: 7)
        let scores = (0..<1000).map { _ in Double.random(in: -3..<3, using: &rng).rounded(toPlaces: 2) }
        let outcomes = scores.map { s in Double.random(in: 0..<1, using: &rng) < 1 / (1 + Foundation.exp(-s)) ? 1.0 : 0.0 }
        var wins = 0.0, pairs = 0.0
        for i in scores.indices where outcomes[i] == 1 {
            for j in scores.indices where outcomes[j] == 0 {
                pairs += 1
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
            }
        }
        #expect(abs(Metrics.auc(scores: scores, outcomes: outcomes)! - wins / pairs) <= 1e-12)
    }

    @Test("deviance: one scale (mean per row, cv.glmnet's), the same over rows and over grouped cells")
    func deviance() {
        // Two rows at pi = 1/2: each contributes 2 log 2.
        #expect(abs(Metrics.deviance(linearPredictors: [0, 0], outcomes: [1, 0])! - 2 * Foundation.log(2)) <= 1e-15)
        // y = 1 at eta = 2 and y = 0 at eta = -1: 2 * (log(1 + e^-2) + log(1 + e^-1)) / 2.
        let expected = Foundation.log(1 + Foundation.exp(-2.0)) + Foundation.log(1 + Foundation.exp(-1.0))
        #expect(abs(Metrics.deviance(linearPredictors: [2, -1], outcomes: [1, 0])! - expected) <= 1e-15)
        let rows = Metrics.deviance(linearPredictors: [0.3, 0.3, 0.3, -1.2], outcomes: [1, 0, 1, 0])!
        let cells = Metrics.deviance(linearPredictors: [0.3, -1.2], positives: [2, 0], negatives: [1, 1])!
        #expect(abs(rows - cells) <= 1e-15)
        #expect(Metrics.deviance(linearPredictors: [1], positives: [0], negatives: [0]) == nil)
    }

    @Test func normalQuantile() {
        #expect(abs(Normal.quantile(0.975) - 1.959963984540054) <= 1e-15)
        #expect(abs(Normal.quantile(0.5)) <= 1e-16)
        #expect(abs(Normal.quantile(1e-10) + 6.361340902404056) <= 1e-12)
        #expect(abs(Normal.quantile(0.05) + 1.6448536269514729) <= 1e-15)
        for p in stride(from: 0.001, to: 0.999, by: 0.0137) {
            #expect(abs(Normal.cdf(Normal.quantile(p)) - p) <= 1e-14)
        }
    }
}

private extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = Foundation.pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}

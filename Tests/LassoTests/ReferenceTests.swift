import Foundation
import Lasso
import Testing

/// Agreement with R glmnet and scikit-learn liblinear (fixtures made by scripts/reference/).
struct ReferenceFixture: Decodable, Sendable {
    struct Record: Decodable, Sendable, CustomTestStringConvertible {
        let dataset: String
        let outcome: String
        let tool: String
        let alpha: Double
        let penalizeIntercept: Bool
        let weights: String?
        let coefficients: [String: Double]
        let objective: Double
        let kktViolation: Double
        var testDescription: String { "\(tool) \(dataset)/\(outcome) alpha=\(alpha)\(weights.map { " weights=\($0)" } ?? "")" }
    }
    let records: [Record]

    static let all: ReferenceFixture = try! JSONDecoder().decode(
        ReferenceFixture.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("reference_fits.json"))))
    static func records(_ dataset: String) -> [Record] { all.records.filter { $0.dataset == dataset } }
}

@Suite("Agreement with glmnet and liblinear")
struct ReferenceTests {
    static func check(_ r: ReferenceFixture.Record, data: LoadedData) throws {
        let weights: [Double]? = r.weights == nil ? nil : (0..<data.design.rowCount).map { Double(1 + $0 % 3) }
        if let w = r.weights { #expect(w == "1+(i mod 3)") }
        let cells = try data.design.cells(outcome: data.outcomes[r.outcome]!, weights: weights)
        let fit = try LogisticLasso.fit(
            design: data.design, cells: cells, alpha: r.alpha,
            penalty: Penalty(scale: .sum, penalizeIntercept: r.penalizeIntercept))
        #expect(fit.kktViolation <= 1e-12)
        let names = ["const"] + data.design.featureNames
        let ours = fit.allCoefficients
        var worst = 0.0
        for (j, name) in names.enumerated() {
            let theirs = try #require(r.coefficients[name], "fixture lacks \(name)")
            worst = max(worst, abs(ours[j] - theirs))
        }
        #expect(worst <= 1e-6, "max |coef difference| \(worst)")
        let relative = abs(fit.objective - r.objective) / abs(r.objective)
        #expect(relative <= 1e-9, "objective \(fit.objective) vs \(r.objective)")
        // Ours is the better (or equal) minimizer up to rounding.
        #expect(fit.objective <= r.objective * (1 + 1e-13))
    }

    @Test("synthetic data with many distinct rows", arguments: ReferenceFixture.records("synthetic"))
    func synthetic(record: ReferenceFixture.Record) throws {
        try Self.check(record, data: LoadedData.synthetic)
    }

    @Test(
        "CTDC table, both outcomes, alpha from almost none to almost all coefficients zero",
        .enabled(if: Paths.ctdcAvailable, Paths.ctdcSkipMessage),
        arguments: ReferenceFixture.records("ctdc"))
    func ctdc(record: ReferenceFixture.Record) throws {
        try Self.check(record, data: try #require(LoadedData.ctdc))
    }

    @Test("the fixtures cover both tools, weights and the sparse end of the path")
    func coverage() {
        let r = ReferenceFixture.all.records
        #expect(Set(r.map(\.tool)) == ["glmnet", "liblinear"])
        #expect(r.contains { $0.weights != nil })
        #expect(r.contains { $0.coefficients.filter { $0.key != "const" && $0.value == 0 }.count >= 5 })
        #expect(r.allSatisfy { $0.kktViolation < 1e-10 })
    }
}

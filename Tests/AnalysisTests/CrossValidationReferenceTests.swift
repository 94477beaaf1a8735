import Analysis
import Foundation
import Tabular
import Testing

/// Files of the cv.glmnet comparison: the shipped CTDC spec, the shared data it reads, the fixture.
private enum CVGlmnetFiles {
    /// Repository root: Tests/AnalysisTests/<this file> -> ../..
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let spec = root.appendingPathComponent("jobs/ctdc-north-america.json").path
    static let fixture = root.appendingPathComponent("Tests/Fixtures/run_cvglmnet_ctdc.json").path
    static let data = root.deletingLastPathComponent()
        .appendingPathComponent("shared/data/madiforman_CTDC_analysis_final_data.csv").path
    static var dataPresent: Bool { FileManager.default.fileExists(atPath: data) }
    /// Release builds compare the whole grid; debug builds a subset (see the test).
    #if DEBUG
    static let fullGrid = false
    #else
    static let fullGrid = true
    #endif
}

/// `Tests/Fixtures/run_cvglmnet_ctdc.json`, written by `scripts/reference/run/cvglmnet.py`.
private struct CVGlmnetFixture: Decodable {
    struct Outcome: Decodable {
        let name: String
        let alpha: [Double]
        let lambda: [Double]
        let cvm: [Double]
        let cvsd: [Double]
        /// cv.glmnet's AUC of each fold: `foldScores[fold][alpha]`.
        let foldScores: [[Double]]
        let lambdaMinIndex: Int
        let alphaMin: Double
        /// The most any fold's AUC can move when held-out rows whose link values differ by at most
        /// `tieDelta` are re-ordered, per alpha.
        let tieBound: [Double]
    }
    let seed: UInt64
    let dataHash: String
    let rows: Int
    let folds: Int
    let foldHash: String
    let foldSizes: [Int]
    let tieDelta: Double
    let jointIndex: Int
    let jointAlpha: Double
    let outcomes: [Outcome]

    /// Grid indices for a debug run: first, middle and last alpha, and every outcome's and the joint
    /// best alpha with its neighbours.
    func subset(count: Int) -> [Int] {
        var picked: Set<Int> = [0, count / 2, count - 1]
        for best in outcomes.map(\.lambdaMinIndex) + [jointIndex] {
            for i in best - 1...best + 1 where i >= 0 && i < count { picked.insert(i) }
        }
        return picked.sorted()
    }
}

/// The CV acceptance check: on the CTDC table, lassoboot's AUC curve and chosen alpha agree
/// with R cv.glmnet given the same fold ids and lambda grid (lambda = alpha / n on the sum scale).
///
/// Tolerance, per alpha: 1e-12 + tieBound. glmnet's AUC (survival::concordance on the fitted
/// probabilities: x-ties count 1/2, y-ties ignored) is the weighted Mann-Whitney AUC that lassoboot
/// computes on the link scale (the fixture script checks glmnet's fold AUCs against a Mann-Whitney
/// computation to 1e-12; they agree to 1.1e-16). So, with the same held-out ordering, the two agree to
/// rounding (cvm, cvsd and fold AUCs agreed to 2.2e-16 when the fixture was made). The only way the
/// curves may differ is a different order of two held-out predictions that the two solvers put within
/// their disagreement of each other; tieBound bounds the AUC change of any re-ordering of pairs closer
/// than 1e-6 on the link scale (at most 7.1e-7, zero at most alphas), and the same bound holds for
/// the fold-weighted mean and, since |sd(s + d) - sd(s)| <= max|d_f - mean d| / sqrt(K - 1), for the se.
@Suite(
    "Cross-validation against R cv.glmnet on the CTDC table",
    .enabled(
        if: CVGlmnetFiles.dataPresent,
        "skipped: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent (see ../shared/data/SOURCES.md)"))
struct CrossValidationReferenceTests {
    @Test("same folds and grid; cvm, cvsd and fold AUCs within the near-tie bound; same chosen alpha")
    func againstCvGlmnet() throws {
        let bytes = try #require(FileManager.default.contents(atPath: CVGlmnetFiles.fixture), "cannot read \(CVGlmnetFiles.fixture)")
        let fixture = try JSONDecoder().decode(CVGlmnetFixture.self, from: bytes)
        let spec = try RunSpec.load(path: CVGlmnetFiles.spec)
        let data = try RunData.load(spec: spec)

        // The same run: seed, data, rows and fold assignment as the fixture was made from.
        #expect(spec.seed == fixture.seed, "the spec's seed changed: regenerate with scripts/reference/run/cvglmnet.py")
        try #require(data.dataHash == fixture.dataHash, "the CTDC file is not the one the fixture was made from")
        try #require(data.rowCount == fixture.rows && spec.cv.folds == fixture.folds)
        let foldText = data.folds.map { "\($0)\n" }.joined()
        try #require(
            SHA256.hex(Array(foldText.utf8)) == fixture.foldHash,
            "the fold assignment differs from the one R was given: regenerate with scripts/reference/run/cvglmnet.py")
        #expect((0..<fixture.folds).map { f in data.folds.filter { $0 == f }.count } == fixture.foldSizes)
        try #require(data.outcomeCount == fixture.outcomes.count)
        for (o, ref) in fixture.outcomes.enumerated() {
            #expect(data.encoded.outcomeNames[o] == ref.name)
            try #require(data.grids[o].count == ref.alpha.count)
            for (a, alpha) in data.grids[o].enumerated() {
                #expect(abs(alpha - ref.alpha[a]) <= 1e-13 * ref.alpha[a], "\(ref.name) alpha[\(a)]")
                #expect(abs(ref.alpha[a] / Double(fixture.rows) - ref.lambda[a]) <= 1e-15 * ref.lambda[a])
            }
        }

        // Phase 1 through the public API. A debug build is ~10x slower (about 0.5 s per alpha for both
        // outcomes and 5 folds, 15 s for the grid), so it runs the spec on a subset of the grid: both
        // ends, the middle, and cv.glmnet's best alphas with their neighbours. Each alpha's fit is the
        // certified optimum whatever the warm start, so its scores are those of the full path.
        let indices = CVGlmnetFiles.fullGrid ? Array(data.grids[0].indices) : fixture.subset(count: data.grids[0].count)
        var runData = data
        if !CVGlmnetFiles.fullGrid {
            var subsetSpec = spec
            subsetSpec.alphas = .values(indices.map { data.grids[0][$0] })
            runData = try RunData.load(spec: subsetSpec)
            try #require(runData.folds == data.folds)
        }
        let executor = TaskExecutor(data: runData)
        let runner = LocalRunner(executor: executor, threads: ProcessInfo.processInfo.activeProcessorCount)
        let results = runner.execute(executor.phaseOneKeys(), phase: 1, input: nil, progress: { _ in })
        let (input, table) = try Aggregation.phaseTwoInput(data: runData, results: results)

        var worst = (cvm: 0.0, cvsd: 0.0, fold: 0.0)
        for (o, ref) in fixture.outcomes.enumerated() {
            try #require(table[o].count == indices.count)
            for (row, a) in zip(table[o], indices) {
                #expect(abs(row.alpha - ref.alpha[a]) <= 1e-13 * ref.alpha[a])
                let tolerance = 1e-12 + ref.tieBound[a]
                let mean = try #require(row.mean, "\(ref.name) alpha[\(a)]: no mean")
                let se = try #require(row.se, "\(ref.name) alpha[\(a)]: no se")
                #expect(abs(mean - ref.cvm[a]) <= tolerance, "\(ref.name) alpha[\(a)] = \(row.alpha): cvm \(mean) vs cv.glmnet \(ref.cvm[a])")
                #expect(abs(se - ref.cvsd[a]) <= tolerance, "\(ref.name) alpha[\(a)] = \(row.alpha): cvsd \(se) vs cv.glmnet \(ref.cvsd[a])")
                worst.cvm = max(worst.cvm, abs(mean - ref.cvm[a]))
                worst.cvsd = max(worst.cvsd, abs(se - ref.cvsd[a]))
                for f in 0..<fixture.folds {
                    let score = try #require(row.folds[f], "\(ref.name) alpha[\(a)] fold \(f): no score")
                    #expect(
                        abs(score - ref.foldScores[f][a]) <= tolerance,
                        "\(ref.name) alpha[\(a)] fold \(f): AUC \(score) vs cv.glmnet \(ref.foldScores[f][a])")
                    worst.fold = max(worst.fold, abs(score - ref.foldScores[f][a]))
                }
            }
        }
        print(
            "cv.glmnet vs lassoboot on CTDC (\(indices.count) of \(data.grids[0].count) alphas): max |cvm| diff \(worst.cvm), "
                + "max |cvsd| diff \(worst.cvsd), max |fold AUC| diff \(worst.fold)")

        // The choice: the spec's joint rule, and cv.glmnet's per-outcome lambda.min. (The subset holds
        // cv.glmnet's best alphas, so the choice on it is the choice on the whole grid.)
        try #require(spec.cv.choice == .joint && data.grids.allSatisfy { $0 == data.grids[0] }, "the spec no longer chooses jointly on one grid")
        #expect(
            input.alphas == Array(repeating: data.grids[0][fixture.jointIndex], count: data.outcomeCount),
            "joint choice \(input.alphas) vs best mean of cv.glmnet's cvm: \(fixture.jointAlpha)")
        var perOutcome = spec.cv
        perOutcome.choice = .perOutcome
        let chosen = CrossValidation.choose(table: table, spec: perOutcome)
        for (o, ref) in fixture.outcomes.enumerated() {
            #expect(
                chosen[o] == data.grids[o][ref.lambdaMinIndex], "\(ref.name): chose \(chosen[o]), cv.glmnet's lambda.min is alpha \(ref.alphaMin)")
        }
    }
}

import Analysis
import Foundation
import Testing

/// Files of the replay check: the committed spec and data, and what scipy and R boot made of the run.
private enum ReplayFiles {
    /// Repository root: Tests/AnalysisTests/<this file> -> ../..
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let spec = root.appendingPathComponent("scripts/reference/run/replay.json")
    static let data = root.appendingPathComponent("Tests/Fixtures/run_replay_data.csv")
    static let expected = root.appendingPathComponent("Tests/Fixtures/run_replay_expected.json")
}

/// `Tests/Fixtures/run_replay_expected.json`, written by `scripts/reference/run/replay_scipy.py`.
private struct ReplayFixture: Decodable {
    struct Feature: Decodable {
        let name: String
        let coef: Double
        let zeroFraction: Double
        /// `percentile`, `basic`, `bca` (scipy.stats.bootstrap), `normal` (R boot::norm.ci), and
        /// `bcaZeroAcceleration` (scipy's BCa with a = 0) where scipy's BCa is NaN because the
        /// jackknife is constant. `[null, null]` stands for scipy's NaN.
        let intervals: [String: [Double?]]
    }
    struct Outcome: Decodable {
        let name: String
        let alpha: Double
        let resamples: Int
        let failedResamples: Int
        let features: [Feature]
    }
    let dataHash: String
    let seed: UInt64
    let rows: Int
    let level: Double
    let outcomes: [Outcome]
}

/// The replay check: percentile, basic and BCa endpoints equal scipy.stats.bootstrap on the
/// exported replicates (BCa with paired=True and the same row-level jackknife) to 1e-10, and normal
/// equals R boot's norm.ci. The committed spec is run in-process on the committed data, exactly as
/// `lassoboot run` ran it when the fixture was made.
@Suite("Bootstrap intervals replayed with scipy.stats.bootstrap and R boot")
struct ReplayReferenceTests {
    /// The committed spec with its data path pointing at the fixture CSV, in a temporary directory.
    func temporarySpec() throws -> (spec: String, directory: URL) {
        let bytes = try Data(contentsOf: ReplayFiles.spec)
        var object = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        var data = try #require(object["data"] as? [String: Any])
        data["csv"] = ReplayFiles.data.path
        object["data"] = data
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("replay.json")
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: path)
        return (path.path, directory)
    }

    @Test("every endpoint of the report equals scipy's (percentile, basic, BCa) and R boot's (normal) to 1e-10")
    func replay() throws {
        let fixture = try JSONDecoder().decode(ReplayFixture.self, from: try Data(contentsOf: ReplayFiles.expected))
        let (path, directory) = try temporarySpec()
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = try RunSpec.load(path: path)
        let data = try RunData.load(spec: spec)
        try #require(data.dataHash == fixture.dataHash, "Tests/Fixtures/run_replay_data.csv changed: rerun scripts/reference/run/replay_scipy.py")
        #expect(spec.seed == fixture.seed && data.rowCount == fixture.rows && spec.bootstrap.level == fixture.level)
        let executor = TaskExecutor(data: data)
        let results = try LocalRunner(executor: executor, threads: ProcessInfo.processInfo.activeProcessorCount).run()
        let report = try Aggregation.report(data: data, executor: executor, results: results, software: "test")

        let tolerance = 1e-10
        var compared = 0, worst = 0.0
        try #require(report.outcomes.map(\.name) == fixture.outcomes.map(\.name))
        for (outcome, expected) in zip(report.outcomes, fixture.outcomes) {
            #expect(abs(outcome.alpha - expected.alpha) <= 1e-12 * expected.alpha, "\(outcome.name): chosen alpha")
            #expect(outcome.resamples == expected.resamples && outcome.failedResamples == expected.failedResamples)
            try #require(outcome.features.map(\.name) == expected.features.map(\.name))
            for (feature, ref) in zip(outcome.features, expected.features) {
                let label = "\(outcome.name) \(feature.name)"
                #expect(abs(feature.coef - ref.coef) <= tolerance, "\(label): estimate \(feature.coef) vs \(ref.coef)")
                #expect(feature.zeroFraction == ref.zeroFraction, "\(label): zero fraction")
                for method in ["percentile", "basic", "normal", "bca"] {
                    let interval = try #require(feature.ci[method], "\(label): no \(method) interval")
                    var reference = try #require(ref.intervals[method])
                    if method == "bca" && reference.contains(where: { $0 == nil }) {
                        // scipy: NaN (a = 0/0, constant jackknife). lassoboot: a = 0, flagged.
                        #expect(interval.flags.contains("jackknifeDegenerate"), "\(label): BCa with a constant jackknife must be flagged")
                        reference = try #require(ref.intervals["bcaZeroAcceleration"], "\(label): no a = 0 reference")
                    }
                    let low = try #require(reference[0]), high = try #require(reference[1])
                    let got = (try #require(interval.low, "\(label) \(method): no low"), try #require(interval.high, "\(label) \(method): no high"))
                    #expect(abs(got.0 - low) <= tolerance, "\(label) \(method) low: \(got.0) vs \(low)")
                    #expect(abs(got.1 - high) <= tolerance, "\(label) \(method) high: \(got.1) vs \(high)")
                    worst = max(worst, abs(got.0 - low), abs(got.1 - high))
                    compared += 2
                }
            }
        }
        #expect(compared == 2 * 4 * fixture.outcomes.map(\.features.count).reduce(0, +))
        print("replay: \(compared) endpoints, max |lassoboot - scipy/R boot| = \(worst)")
    }
}

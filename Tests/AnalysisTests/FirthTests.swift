import Analysis
import Foundation
import Lasso
import Plan
import Testing

/// `Tests/Fixtures/firth_brglm2.json` (written by `scripts/reference/firth/make_brglm2_firth.R`):
/// R brglm2's Firth fit per data set.
private struct Brglm2Firth: Decodable {
    struct Fit: Decodable {
        let csv: String
        let rows: Int
        let names: [String]
        let params: [Double]
        let bse: [Double]
        let low: [Double]
        let high: [Double]
    }
    let level: Double
    let fits: [String: Fit]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        level = try c.decode(Double.self, forKey: Key(stringValue: "level"))
        var fits: [String: Fit] = [:]
        for key in c.allKeys where !["level", "brglm2", "R"].contains(key.stringValue) {
            fits[key.stringValue] = try c.decode(Fit.self, forKey: key)
        }
        self.fits = fits
    }

    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func load() throws -> Brglm2Firth {
        try JSONDecoder().decode(Brglm2Firth.self, from: Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/firth_brglm2.json")))
    }
    static func csv(_ name: String) -> String { root.appendingPathComponent("Tests/Fixtures/\(name)").path }
}

/// A job on one fixture: every column but `y` a numeric feature, the lasso at `alpha`.
private func firthJob(_ fit: Brglm2Firth.Fit, alpha: Double, extra: [String: Any] = [:]) -> [String: Any] {
    var object: [String: Any] = [
        "name": "firth \(fit.csv)", "data": ["csv": Brglm2Firth.csv(fit.csv)], "outcomes": ["y"],
        "features": fit.names.dropFirst().map { ["name": $0, "encoding": "numeric"] },
        "alphas": [alpha], "cv": ["folds": 2], "bootstrap": ["resamples": 40, "methods": ["percentile", "normal"]], "seed": 11,
    ]
    for (k, v) in extra { object[k] = v }
    return object
}

@Suite("Firth's bias-reduced debiased estimate against R brglm2")
struct FirthTests {
    @Test(
        "method firth equals brglm2's Firth fit, SEs and Wald ends to 1e-6, from a penalized start",
        arguments: ["synthetic_logistic", "separated", "p20"])
    func brglm2(dataset: String) throws {
        let fixture = try Brglm2Firth.load()
        let reference = try #require(fixture.fits[dataset])
        let report = try runSpec(firthJob(reference, alpha: dataset == "separated" ? 2.0 : 10.0, extra: ["debiased": ["method": "firth"]]))
        let outcome = report.outcomes[0]
        #expect(report.data.rows == reference.rows)
        #expect(outcome.debiasing?.method == "firth")
        #expect(zip(outcome.features, reference.params).contains { abs($0.coef - $1) > 0.05 }, "the start is a penalized fit, away from Firth's")
        #expect(outcome.features.map(\.name) == reference.names)
        var worst = 0.0
        for (j, f) in outcome.features.enumerated() {
            let d = try #require(f.debiased, "\(f.name): no debiased block")
            #expect(d.flags.isEmpty, "\(f.name): \(d.flags)")
            let wald = try #require(d.ci["wald"])
            let pairs: [(String, Double?, Double)] = [
                ("estimate", d.estimate, reference.params[j]), ("se", d.se, reference.bse[j]),
                ("low", wald.low, reference.low[j]), ("high", wald.high, reference.high[j]),
            ]
            for (what, got, want) in pairs {
                let value = try #require(got, "\(dataset) \(f.name): no \(what)")
                #expect(abs(value - want) <= 1e-6, "\(dataset) \(f.name) \(what): \(value) vs brglm2 \(want)")
                worst = max(worst, abs(value - want))
            }
        }
        print("\(dataset): max |lassoboot Firth - brglm2| = \(worst)")
    }

    @Test("under quasi-separation Newton steps diverge (flagged fallback) while Firth's estimate is finite and every resample has one")
    func separation() throws {
        let reference = try #require(try Brglm2Firth.load().fits["separated"])
        let newton = try runSpec(firthJob(reference, alpha: 2.0, extra: ["debiased": ["method": "newton"]]))
        #expect(newton.outcomes[0].debiasing?.flags.contains("fallbackPenalizedPercentile") == true)
        let firth = try runSpec(firthJob(reference, alpha: 2.0))
        let debiasing = try #require(firth.outcomes[0].debiasing)
        #expect(debiasing.flags.isEmpty && debiasing.failedResamples == 0 && debiasing.resamples == 40, "\(debiasing)")
        let x2 = try #require(firth.outcomes[0].features.first { $0.name == "x2" }?.debiased)
        #expect((x2.ci["percentile"]?.high ?? .infinity) < Debias.divergenceLimit)
    }

    @Test(
        "bootstrap tasks carry each resample's Firth estimate (to 1e-7 of a 1e-12 fit from the same start); the certificate accepts it and refuses a moved one"
    )
    func replicates() throws {
        let reference = try #require(try Brglm2Firth.load().fits["p20"])
        var object = firthJob(reference, alpha: 10.0)
        object["bootstrap"] = ["resamples": 8, "batch": 4, "methods": ["percentile"]]
        let spec = try RunSpec.parse(try JSONSerialization.data(withJSONObject: object), source: "job.json", baseDirectory: "/")
        let executor = TaskExecutor(data: try RunData.load(spec: spec))
        let data = executor.data
        #expect(data.debiasMethod == .firth && data.debiasesReplicates)
        let input = PhaseTwoInput(alphas: [10.0])
        let key = TaskKey.bootstrap(start: 4, end: 8)
        guard case let .bootstrap(fits, _, debiased?) = executor.run(key, input: input) else {
            Issue.record("no debiased replicates in the bootstrap result"); return
        }
        let debias = Debias(design: data.design)
        for i in 0..<4 {
            let cells = try data.cells(outcome: 0, counts: executor.resampleCounts(4 + i))
            guard case let .coefficients(b) = debiased[i][0] else { Issue.record("resample \(4 + i): \(debiased[i][0])"); continue }
            let tight = try debias.estimate(cells: cells, start: b, tolerance: 1e-12, biasReduction: true)
            for (x, y) in zip(b, tight.coefficients) { #expect(abs(x - y) <= 1e-7 * max(1, abs(y)), "resample \(4 + i): \(x) vs \(y)") }
            let score = try debias.firthScore(cells: cells, beta: b).score
            #expect(score.allSatisfy { abs($0) < 1e-6 }, "modified score \(score)")
            let mle = try debias.estimate(cells: cells, start: b, errors: false)
            #expect(zip(b, mle.coefficients).contains { abs($0 - $1) > 1e-3 }, "Firth's estimate differs from the resample's MLE")
        }
        let honest = TaskResult.bootstrap(fits: fits, chosenAlphas: nil, debiased: debiased)
        #expect(executor.validate(honest, key: key) == nil)
        #expect(executor.certify(honest, key: key, input: input) == nil)
        var moved = debiased
        if case var .coefficients(c) = moved[1][0] { c[5] += 1e-4; moved[1][0] = .coefficients(c) }
        #expect(executor.certify(.bootstrap(fits: fits, chosenAlphas: nil, debiased: moved), key: key, input: input) != nil)
    }

    @Test(
        "auto resolves by shape: Firth below 50 rows per coefficient (200 x 20, 80 x 3), Newton steps above (1500 x 8)",
        arguments: [("p20", DebiasSpec.Method.firth), ("separated", .firth), ("synthetic_logistic", .newton)])
    func autoByShape(dataset: String, expected: DebiasSpec.Method) throws {
        let reference = try #require(try Brglm2Firth.load().fits[dataset])
        let spec = try RunSpec.parse(
            try JSONSerialization.data(withJSONObject: firthJob(reference, alpha: 10.0)), source: "job.json", baseDirectory: "/")
        let data = try RunData.load(spec: spec)
        #expect(spec.debias.method == .auto && data.debiasMethod == expected)
        #expect((data.rowCount < RunData.firthRowsPerCoefficient * (data.design.featureCount + 1)) == (expected == .firth))
    }

    @Test(
        "auto picks Firth for a two-valued feature with fewer than 10 events or non-events at its rarer value, however many rows; Newton steps with 10 or more"
    )
    func autoByRareFeature() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-rare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // 4,000 rows, 2 features (1,333 rows per coefficient); `rare` is 1 in `ones` rows, all of
        // them events except 3 (or 12): the fewest at its rarer value are those non-events.
        func resolve(rareNonEvents: Int) throws -> (DebiasSpec.Method?, Double?) {
            var csv = "x,rare,y\n"
            var state: UInt64 = 11
            for i in 0..<4_000 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let x = (Double(state >> 11) / Double(1 << 53) * 2000).rounded() / 1000 - 1
                let rare = i < 40
                let y = rare ? i >= rareNonEvents : ((state >> 5) & 1) == 1
                csv += "\(x),\(rare ? 1 : 0),\(y ? 1 : 0)\n"
            }
            let path = directory.appendingPathComponent("rare\(rareNonEvents).csv").path
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
            let spec = try RunSpec.parse(
                Data(
                    #"{"name": "r", "data": {"csv": "\#(path)"}, "outcomes": ["y"], "features": [{"name": "x"}, {"name": "rare", "encoding": "binary"}], "alphas": [1]}"#
                        .utf8), source: "job.json", baseDirectory: "/")
            let data = try RunData.load(spec: spec)
            return (data.debiasMethod, data.rarestBinaryCount)
        }
        let few = try resolve(rareNonEvents: 3), enough = try resolve(rareNonEvents: 12)
        #expect(few.0 == .firth && few.1 == 3)
        #expect(enough.0 == .newton && enough.1 == 12)
    }

    @Test("spec: method firth with a step count is refused, naming the field; a step count alone means Newton steps")
    func spec() throws {
        func parse(_ debiased: String) throws -> RunSpec {
            try RunSpec.parse(
                Data(#"{"name": "s", "data": {"csv": "x.csv"}, "outcomes": ["y"], "features": [{"name": "a"}], "debiased": \#(debiased)}"#.utf8),
                source: "job.json", baseDirectory: "/")
        }
        #expect(throws: (any Error).self) { try parse(#"{"method": "firth", "newtonSteps": 2}"#) }
        do {
            _ = try parse(#"{"method": "firth", "newtonSteps": 2}"#)
        } catch {
            #expect("\(error)".contains("newtonSteps") && "\(error)".contains("firth"), "\(error)")
        }
        #expect(try parse(#"{"newtonSteps": 1}"#).debias.method == .newton)
        #expect(try parse(#"{"method": "firth"}"#).debias.method == .firth)
        #expect(try parse(#"{}"#).debias.method == .auto)
    }
}

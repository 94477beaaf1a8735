import Analysis
import Foundation
import Lasso
import Testing

/// A job with a one-hot feature of many levels (power-law frequencies) and two numeric features.
private func oneHotJob(rows n: Int, levels: Int, storage: String, extra: [String: Any] = [:]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-sparse-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var state: UInt64 = 2026
    func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    var csv = "y,g,x1,x2\n"
    for _ in 0..<n {
        // Level l with probability proportional to 1 / (l + 1).
        let level = min(levels - 1, Int(Foundation.pow(Double(levels + 1), uniform())) - 1)
        let x1 = uniform() * 4 - 2, x2 = uniform() < 0.3 ? 1.0 : 0.0
        let eta = -0.5 + 0.8 * x1 - 0.6 * x2 + (level % 7 == 1 ? 1.2 : 0)
        let y = uniform() < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0
        csv += "\(y),L\(level),\(String(format: "%.4f", x1)),\(Int(x2))\n"
    }
    try csv.write(to: directory.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
    let spec: [String: Any] = [
        "name": "onehot", "data": ["csv": "d.csv", "storage": storage], "outcomes": ["y"],
        "features": [["name": "g", "encoding": ["type": "onehot", "reference": "L0"]], ["name": "x1"], ["name": "x2"]],
        "alphas": ["count": 8, "minRatio": 0.05], "cv": ["folds": 3], "bootstrap": ["resamples": 20, "batch": 10, "methods": ["percentile"]],
        "intervals": "penalized", "seed": 11,
    ]
    return try writeJob(spec, extra: extra, named: "job.json", in: directory)
}

@Suite("Sparse designs in a run: one-hot levels held as sparse columns")
struct SparseRunTests {
    @Test(
        "automatic storage holds a wide one-hot design sparse; the report equals the dense design's to solver tolerance; 1 and 2 threads give the same bytes"
    )
    func sparseEqualsDense() throws {
        let sparsePath = try oneHotJob(rows: 900, levels: 150, storage: "automatic")
        let data = try RunData.load(spec: try RunSpec.load(path: sparsePath))
        #expect(data.design.isSparse && data.design.featureCount > 100)
        #expect(try RunData.load(spec: try RunSpec.load(path: try oneHotJob(rows: 900, levels: 150, storage: "dense"))).design.isSparse == false)
        let one = try runJob(sparsePath, threads: 1), two = try runJob(sparsePath, threads: 2)
        #expect(one.json == two.json)
        let dense = try runJob(try oneHotJob(rows: 900, levels: 150, storage: "dense"), threads: 2)
        let a = one.report.outcomes[0], b = dense.report.outcomes[0]
        // The grids agree to rounding (alpha_max read through sparse or dense columns).
        #expect(abs(a.alpha - b.alpha) <= 1e-12 * b.alpha && a.features.count == b.features.count)
        var worst = 0.0
        for (x, y) in zip(a.features, b.features) {
            #expect(x.name == y.name)
            worst = max(worst, abs(x.coef - y.coef))
            #expect(abs(x.coef - y.coef) <= 1e-6, "\(x.name): \(x.coef) vs \(y.coef)")
            #expect(x.selectionFrequency == y.selectionFrequency, "\(x.name) selection")
            if let l = x.ci["percentile"]?.low, let m = y.ci["percentile"]?.low { #expect(abs(l - m) <= 1e-5, "\(x.name) low") }
        }
        print("sparse vs dense run: largest coefficient difference \(worst)")
    }

    @Test("two one-hot columns whose rare levels share rows: refused with a hint to pool them; minCount pools them and the run loads")
    func rareLevelsPooled() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-pool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Row i: a in (i % 40), b in (i % 30), except rows 0 and 1, which carry levels seen nowhere
        // else (in both columns), and rows 2 and 3, with a rare level of b alone.
        var csv = "y,a,b\n"
        for i in 0..<400 {
            csv += "\(i % 3 == 0 ? 1 : 0),\(i < 2 ? "solo" : "A\(i % 40)"),\(i < 2 ? "lone" : (i < 4 ? "rare" : "B\(i % 30)"))\n"
        }
        try csv.write(to: directory.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
        func job(minCount: Int?) throws -> String {
            var a: [String: Any] = ["type": "onehot", "reference": "A2"], b: [String: Any] = ["type": "onehot", "reference": "B2"]
            if let minCount { a["minCount"] = minCount; b["minCount"] = minCount }
            let spec: [String: Any] = [
                "name": "pool", "data": ["csv": "d.csv"], "outcomes": ["y"],
                "features": [["name": "a", "encoding": a], ["name": "b", "encoding": b]],
                "alphas": ["count": 4], "cv": ["folds": 3], "bootstrap": ["resamples": 10, "methods": ["percentile"]], "intervals": "penalized",
            ]
            let path = directory.appendingPathComponent("job-\(minCount ?? 0).json")
            try JSONSerialization.data(withJSONObject: spec).write(to: path)
            return path.path
        }
        #expect {
            try RunData.load(spec: try RunSpec.load(path: try job(minCount: nil)))
        } throws: { error in
            "\(error)".contains("'a: solo' and 'b: lone' are identical") && "\(error)".contains("minCount")
        }
        let data = try RunData.load(spec: try RunSpec.load(path: try job(minCount: 3)))
        #expect(data.encoded.featureNames.contains("a: (infrequent)") && !data.encoded.featureNames.contains("a: solo"))
    }

    @Test("wide data: auto debiases by the desparsified lasso from 2,000 coefficients; beyond 6,000 a debiased run is refused, naming the way out")
    func wideDebiasRule() throws {
        func data(levels: Int) throws -> Result<RunData, Error> {
            // Every level in two rows: no identical columns, n > p.
            let path = try oneHotJob(rows: 2 * levels + 500, levels: 1, storage: "sparse", extra: ["intervals": "debiased"])
            var csv = "y,g,x1,x2\n"
            for i in 0..<(2 * levels + 2) { csv += "\(i % 3 == 0 ? 1 : 0),L\(i / 2),\(Double(i % 17) / 8 - 1),\(i % 5 == 0 ? 1 : 0)\n" }
            try csv.write(
                to: URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
            return Result { try RunData.load(spec: try RunSpec.load(path: path)) }
        }
        let wide = try data(levels: 2_100).get()
        #expect(wide.rowCount > wide.design.featureCount + 1 && wide.debiasMethod == .nodewise)
        let narrow = try data(levels: 1_500).get()
        #expect(narrow.debiasMethod != .nodewise)
        guard case let .failure(error) = try data(levels: 6_100) else { Issue.record("6,102 coefficients were not refused"); return }
        #expect("\(error)".contains("coefficients: debiased intervals would need") && "\(error)".contains("\"intervals\": \"penalized\""))
    }

    @Test("a debiased run on a sparse design: finite intervals for the numeric features, one-hot levels flagged or estimated")
    func debiasedSparse() throws {
        let path = try oneHotJob(rows: 600, levels: 80, storage: "sparse", extra: ["intervals": "debiased"])
        let data = try RunData.load(spec: try RunSpec.load(path: path))
        #expect(data.design.isSparse)
        let run = try runJob(path, threads: 2)
        let x1 = try #require(run.report.outcomes[0].features.first { $0.name == "x1" })
        let wald = try #require(x1.debiased?.ci["wald"])
        #expect((wald.low ?? .nan) < 0.8 && (wald.high ?? .nan) > 0.8, "x1's interval \(wald) misses its true 0.8")
    }
}

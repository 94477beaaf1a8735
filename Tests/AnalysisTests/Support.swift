import Analysis
import Foundation
import Testing

/// A small synthetic run written to a temporary directory: CSV + spec.
struct TemporaryJob {
    let directory: URL
    var specPath: String { directory.appendingPathComponent("job.json").path }

    /// `rows` rows with text and numeric columns, two outcomes from a logistic model.
    init(rows: Int = 400, seed: UInt64 = 7, spec: (String) -> String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-analysis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        var csv = "id,gender,age,citizenship,country,m1,m2,m3,x,yA,yB\n"
        let genders = ["Female", "Male", "Transgender", "Unknown"]
        let ages = ["0--8", "9--17", "18--20", "30--38", ""]
        let countries = ["US", "MX", "CA", "PH"]
        for i in 0..<rows {
            let g = genders[Int(uniform() * 4)], a = ages[Int(uniform() * 5)]
            let country = countries[Int(uniform() * 4)]
            let citizen = uniform() < 0.6 ? country : (uniform() < 0.5 ? "" : "RO")
            let m1 = uniform() < 0.4, m2 = uniform() < 0.3, m3 = uniform() < 0.5
            let x = (uniform() * 4 - 2 * 1000).rounded() / 1000
            let etaA = -0.5 + (g == "Female" ? -1.2 : 0.4) + (m1 ? 1.5 : 0) + (citizen == country ? -0.7 : 0) + 0.3 * x
            let etaB = 0.2 + (g == "Female" ? 1.4 : -0.3) + (m2 ? -1.0 : 0) + (m3 ? 0.8 : 0)
            let yA = uniform() < 1 / (1 + Foundation.exp(-etaA)) ? "1" : "0"
            let yB = uniform() < 0.05 ? "" : (uniform() < 1 / (1 + Foundation.exp(-etaB)) ? "1" : "0")
            csv += "\(i),\(g),\(a),\(citizen),\(country),\(m1 ? "1" : ""),\(m2 ? "1" : ""),\(m3 ? "1" : "0"),\(x),\(yA),\(yB)\n"
        }
        try csv.write(to: directory.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
        try spec("data.csv").write(toFile: specPath, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    static func standardSpec(_ csv: String) -> String {
        """
        {
          "name": "test job",
          "data": {"csv": "\(csv)", "filter": [{"column": "country", "in": ["US", "MX", "CA"]}],
                   "includeIfAnyPresent": ["yA", "yB"], "missingTokens": ["Unknown"]},
          "outcomes": [{"name": "yA"}, {"name": "yB", "missing": "zero"}],
          "features": [
            {"name": "gender", "encoding": {"type": "onehot", "reference": "Male"}, "missing": "own-level", "group": "Demographics"},
            {"name": "age", "encoding": {"type": "ordinal", "levels": ["0--8", "9--17", "18--20", "30--38"]}, "missing": "zero", "group": "Demographics"},
            {"name": "citizen", "column": "citizenship", "encoding": {"type": "equals", "other": "country"}, "group": "Demographics"},
            {"name": "m1", "encoding": "binary", "group": "Means"},
            {"name": "m2", "encoding": "binary", "group": "Means"},
            {"name": "m3", "encoding": "binary", "group": "Means"},
            {"name": "x", "group": "Other"}
          ],
          "alphas": {"count": 8, "minRatio": 0.01},
          "cv": {"folds": 4, "metric": "auc", "rule": "min", "choose": "per-outcome"},
          "bootstrap": {"resamples": 60, "batch": 7, "methods": ["percentile", "basic", "normal", "bca"]},
          "seed": 11
        }
        """
    }
}

/// Runs a spec with the local runner and returns its report and replicate matrix.
func runJob(_ path: String, threads: Int) throws -> (report: Report, json: String, replicates: String) {
    let spec = try RunSpec.load(path: path)
    let data = try RunData.load(spec: spec)
    let executor = TaskExecutor(data: data)
    let results = try LocalRunner(executor: executor, threads: threads).run()
    let report = try Aggregation.report(data: data, executor: executor, results: results, software: "test")
    return (report, Render.json(report), Aggregation.replicatesCSV(data: data, results: results))
}

/// Writes a job spec (`spec` with `extra`'s members laid over it) as `name` in `directory`, keys
/// sorted; returns its path.
func writeJob(_ spec: [String: Any], extra: [String: Any], named name: String, in directory: URL) throws -> String {
    var spec = spec
    for (k, v) in extra { spec[k] = v }
    let path = directory.appendingPathComponent(name)
    try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]).write(to: path)
    return path.path
}

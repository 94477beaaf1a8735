import Analysis
import Foundation
import Lasso
import Plan
import Resampling
import Tabular
import Testing

@Suite("lassoboot run: plan, execution, aggregation")
struct RunTests {
    @Test("byte-identical reports with 1, 3 and 8 threads")
    func determinism() throws {
        let job = try TemporaryJob(spec: TemporaryJob.standardSpec)
        defer { job.remove() }
        let one = try runJob(job.specPath, threads: 1)
        for threads in [3, 8] {
            let other = try runJob(job.specPath, threads: threads)
            #expect(other.json == one.json)
            #expect(other.replicates == one.replicates)
        }
        #expect(Render.csv(one.report) == Render.csv(try runJob(job.specPath, threads: 2).report))
    }

    @Test("the report follows the contract and accounts for every row")
    func contract() throws {
        let job = try TemporaryJob(spec: TemporaryJob.standardSpec)
        defer { job.remove() }
        let (report, json, replicates) = try runJob(job.specPath, threads: 2)
        // Row accounting: read = kept + dropped.
        #expect(report.data.rowsRead == 400)
        #expect(report.data.rows + report.data.dropped.map(\.rows).reduce(0, +) == 400)
        #expect(report.data.dropped.first?.reason == "country not in [US, MX, CA]")
        #expect(report.seed == 11)
        #expect(report.outcomes.map(\.name) == ["yA", "yB"])
        let names = report.outcomes[0].features.map(\.name)
        #expect(names == ["const", "gender: Female", "gender: Transgender", "gender: missing", "age", "citizen", "m1", "m2", "m3", "x"])
        for o in report.outcomes {
            #expect(o.resamples + o.failedResamples == 60)
            #expect(o.cv.count == 8)
            #expect(o.cv.contains { $0.alpha == o.alpha })
            for f in o.features {
                #expect(Set(f.ci.keys) == ["percentile", "basic", "normal", "bca"])
                #expect(abs(f.oddsRatio - Foundation.exp(f.coef)) <= 1e-15 * f.oddsRatio)
                if let p = f.ci["percentile"], let low = p.low, let high = p.high { #expect(low <= high) }
            }
        }
        // The JSON contract read by other tools.
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        #expect(object["seed"] as? Int == 11)
        #expect((object["dataHash"] as? String)?.count == 64)
        let outcome = (object["outcomes"] as! [[String: Any]])[0]
        #expect(outcome["name"] as? String == "yA" && outcome["alpha"] is Double && outcome["resamples"] is Int)
        let feature = (outcome["features"] as! [[String: Any]])[1]
        for key in ["name", "coef", "oddsRatio", "selectionFrequency", "zeroFraction", "ci"] { #expect(feature[key] != nil, "\(key)") }
        let ci = feature["ci"] as! [String: [String: Any]]
        #expect(ci["percentile"]?["low"] is Double && ci["percentile"]?["high"] is Double)
        // replicates.csv: header and one row per outcome and valid resample.
        let lines = replicates.split(separator: "\n")
        #expect(lines[0] == "outcome,resample,const,gender: Female,gender: Transgender,gender: missing,age,citizen,m1,m2,m3,x")
        #expect(lines.count == 1 + report.outcomes.map(\.resamples).reduce(0, +))
    }

    @Test("percentile intervals are the type-7 quantiles of the exported replicates")
    func replicatesBehindIntervals() throws {
        let job = try TemporaryJob(spec: TemporaryJob.standardSpec)
        defer { job.remove() }
        let (report, _, replicates) = try runJob(job.specPath, threads: 2)
        let rows = replicates.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        for (o, outcome) in report.outcomes.enumerated() {
            for (j, feature) in outcome.features.enumerated() {
                let column = rows.filter { $0[0] == outcome.name }.map { Double($0[2 + j])! }.sorted()
                func q(_ p: Double) -> Double {
                    let h = Double(column.count - 1) * p
                    let lo = Int(h.rounded(.down)), hi = min(lo + 1, column.count - 1)
                    return column[lo] + (h - Double(lo)) * (column[hi] - column[lo])
                }
                let ci = feature.ci["percentile"]!
                #expect(abs(ci.low! - q(0.025)) <= 1e-12 && abs(ci.high! - q(0.975)) <= 1e-12, "\(o) \(feature.name)")
                #expect(feature.selectionFrequency == Double(column.filter { $0 != 0 }.count) / Double(column.count))
            }
        }
    }

    @Test("cross-validation: folds stratified, scores as cv.glmnet summarizes them, choice by rule")
    func crossValidation() throws {
        let job = try TemporaryJob(spec: TemporaryJob.standardSpec)
        defer { job.remove() }
        let data = try RunData.load(spec: try RunSpec.load(path: job.specPath))
        // Stratified: every fold gets a near-equal share of each outcome combination.
        for stratum in 0..<4 {
            let rows = (0..<data.rowCount).filter { i in Int(data.encoded.outcomes[0][i]) * 2 + Int(data.encoded.outcomes[1][i]) == stratum }
            let sizes = (0..<4).map { f in rows.filter { data.folds[$0] == f }.count }
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
        let rows: [[CVRow]] = [
            [
                CVRow(alpha: 3, mean: 0.70, se: 0.01, folds: []), CVRow(alpha: 2, mean: 0.705, se: 0.01, folds: []),
                CVRow(alpha: 1, mean: 0.71, se: 0.005, folds: []), CVRow(alpha: 0.5, mean: nil, se: nil, folds: []),
            ]
        ]
        #expect(CrossValidation.choose(table: rows, spec: CVSpec(folds: 4, metric: .auc, rule: .min, choice: .perOutcome)) == [1])
        #expect(CrossValidation.choose(table: rows, spec: CVSpec(folds: 4, metric: .auc, rule: .oneSE, choice: .perOutcome)) == [2])
        #expect(CrossValidation.choose(table: rows, spec: CVSpec(folds: 4, metric: .deviance, rule: .min, choice: .perOutcome)) == [3])
        let other: [CVRow] = [
            CVRow(alpha: 3, mean: 0.9, se: 0, folds: []), CVRow(alpha: 2, mean: 0.6, se: 0, folds: []),
            CVRow(alpha: 1, mean: 0.6, se: 0, folds: []), CVRow(alpha: 0.5, mean: 0.6, se: 0, folds: []),
        ]
        #expect(CrossValidation.choose(table: rows + [other], spec: CVSpec(folds: 4, metric: .auc, rule: .min, choice: .joint)) == [3, 3])
        // Summaries: weighted mean and cv.glmnet's se.
        let results: [[TaskResult]] = [
            [
                .cv(scores: [0.6], failures: [nil], heldOutWeight: 10),
                .cv(scores: [0.8], failures: [nil], heldOutWeight: 30),
            ]
        ]
        let t = CrossValidation.summarize(results: results, grids: [[1.0]], metric: .auc)[0][0]
        #expect(abs(t.mean! - 0.75) < 1e-15)
        #expect(abs(t.se! - (((10 * 0.0225 + 30 * 0.0025) / 40) / 1).squareRoot()) < 1e-15)
    }

    @Test("an imported resample index matrix replaces the generator")
    func importedResamples() throws {
        let job = try TemporaryJob(spec: TemporaryJob.standardSpec)
        defer { job.remove() }
        let spec = try RunSpec.load(path: job.specPath)
        let data = try RunData.load(spec: spec)
        let generated = TaskExecutor(data: data)
        // Write the generator's own resamples as row indices, then replay them.
        var lines: [String] = []
        for r in 0..<5 {
            let counts = generated.resampleCounts(r)
            var indices: [Int] = []
            var remaining = counts
            for i in 0..<data.rowCount where remaining[Int(data.rowCell[i])] > 0 {
                let c = Int(data.rowCell[i])
                indices.append(contentsOf: repeatElement(i, count: remaining[c]))
                remaining[c] = 0
            }
            lines.append(indices.map(String.init).joined(separator: ","))
        }
        let imported = try TaskExecutor.importResamples(text: lines.joined(separator: "\n"), source: "idx.csv", data: data)
        let replay = TaskExecutor(data: data, importedResamples: imported)
        #expect(replay.resampleCount == 5)
        for r in 0..<5 { #expect(replay.resampleCounts(r) == generated.resampleCounts(r)) }
        #expect(
            throws: TabularError(
                file: "idx.csv", line: 2, column: 3,
                message: "expected a row index in 0...\(data.rowCount - 1) (rows kept by the spec), found '99999'")
        ) {
            try TaskExecutor.importResamples(text: "1,2\n3,4,99999\n", source: "idx.csv", data: data)
        }
    }
}

@Suite("Job specs: errors name the key path")
struct SpecErrorTests {
    func error(_ json: String) -> String? {
        do { _ = try RunSpec.parse(Data(json.utf8), source: "job.json", baseDirectory: "/tmp"); return nil } catch { return "\(error)" }
    }

    let base = #"{"data": {"csv": "d.csv"}, "outcomes": ["y"], "features": [{"name": "x"}]"#

    @Test func keyPaths() {
        #expect(error(base + "}") == nil)
        #expect(error(base + #", "bogus": 1}"#)?.contains("job.json: bogus: unknown key; allowed keys here are") == true)
        #expect(error(base + #", "cv": {"folds": "five"}}"#) == "job.json: cv.folds: expected a number, found a string")
        #expect(error(base + #", "cv": {"folds": 1}}"#) == "job.json: cv.folds: folds must be between 2 and 100")
        #expect(
            error(base + #", "bootstrap": {"methods": ["percentile", "studentized"]}}"#)
                == "job.json: bootstrap.methods[1]: 'studentized' is not one of percentile, basic, normal, bca")
        #expect(
            error(#"{"data": {"csv": "d.csv"}, "outcomes": ["y"], "features": [{"name": "x", "encoding": {"type": "onehot"}}]}"#)
                == "job.json: features[0].encoding: missing required key 'reference'")
        #expect(
            error(
                #"{"data": {"csv": "d.csv"}, "outcomes": ["y"], "features": [{"name": "x", "encoding": {"type": "ordinal", "levels": ["a"], "reference": "a"}}]}"#
            )
                == "job.json: features[0].encoding.reference: not a parameter of the 'ordinal' encoding; it takes type, levels, start")
        #expect(
            error(#"{"data": {"csv": "d.csv"}, "outcomes": ["y"], "features": [{"name": "x", "missing": "impute"}]}"#)
                == "job.json: features[0].missing: 'impute' is not one of zero, drop-row, own-level, error")
        #expect(error(base + #", "penalty": {"factors": {"z": 1}}}"#)?.contains("penalty.factors.z: no feature named 'z'") == true)
        #expect(error("{") != nil)
        #expect(error(#"{"data": {"csv": "d.csv"}, "features": [{"name": "x"}]}"#) == "job.json: (top level): missing required key 'outcomes'")
    }

    @Test("unknown columns and levels name the file, line and column")
    func dataErrors() throws {
        let job = try TemporaryJob(rows: 50) { csv in
            TemporaryJob.standardSpec(csv).replacingOccurrences(
                of: #""levels": ["0--8", "9--17", "18--20", "30--38"]"#, with: #""levels": ["0--8", "9--17", "18--20"]"#)
        }
        defer { job.remove() }
        let spec = try RunSpec.load(path: job.specPath)
        do {
            _ = try RunData.load(spec: spec)
            Issue.record("expected an error")
        } catch let e as TabularError {
            #expect(e.message.contains("level '30--38' is not among the ordinal levels"))
            #expect(e.line != nil && e.columnName == "age")
        }
        let job2 = try TemporaryJob(rows: 50) { csv in
            TemporaryJob.standardSpec(csv).replacingOccurrences(of: #"{"name": "x", "group": "Other"}"#, with: #"{"name": "xx", "group": "Other"}"#)
        }
        defer { job2.remove() }
        #expect(throws: TabularError.self) { try RunData.load(spec: try RunSpec.load(path: job2.specPath)) }
    }
}

@Suite("Job spec data rules")
struct DataRuleTests {
    func encode(_ csv: String, _ spec: String) throws -> EncodedData {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try csv.write(to: dir.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
        try spec.write(to: dir.appendingPathComponent("j.json"), atomically: true, encoding: .utf8)
        return try RunData.load(spec: try RunSpec.load(path: dir.appendingPathComponent("j.json").path)).encoded
    }

    let csv = """
        note,g,age,country,y
        free text,Female,9--17,US,1
        more text,Male,Unknown,MX,0
        x,Unknown,18--20,US,1
        y,Male,9--17,PH,0
        z,Female,18--20,CA,0
        w,Male,18--20,US,1

        """

    @Test("unused columns are not read; notIn keeps missing cells; recode and per-feature missing tokens")
    func rules() throws {
        let e = try encode(
            csv,
            """
            {"data": {"csv": "d.csv", "filter": [{"column": "country", "notIn": ["PH"]}]},
             "outcomes": ["y"],
             "features": [
               {"name": "gender", "column": "g", "encoding": {"type": "onehot", "reference": "Male"}, "recode": {"Unknown": "Male"}},
               {"name": "age", "encoding": {"type": "ordinal", "levels": ["9--17", "18--20"]}, "missingTokens": ["Unknown"], "missing": "own-level"}
             ]}
            """)
        #expect(e.rowCount == 5)
        #expect(e.dropped.map(\.reason) == ["country in [PH]"] && e.dropped[0].rows == 1)
        #expect(e.featureNames == ["gender: Female", "age", "age: missing"])
        #expect(e.columns[0] == [1, 0, 0, 1, 0])  // Unknown merged into the reference Male
        #expect(e.columns[1] == [1, 0, 2, 2, 2])
        #expect(e.columns[2] == [0, 1, 0, 0, 0])
    }

    @Test("outcome misuse and unmatched penalty factors are errors")
    func misuse() throws {
        #expect(throws: TabularError.self) {
            try encode(
                csv,
                #"{"data": {"csv": "d.csv"}, "outcomes": ["y", "y"], "features": [{"name": "g", "encoding": {"type": "equals", "value": "Female"}}]}"#
            )
        }
        #expect(throws: TabularError.self) {
            try encode(csv, #"{"data": {"csv": "d.csv"}, "outcomes": ["y"], "features": [{"name": "y", "encoding": "binary"}]}"#)
        }
        let factors =
            #"{"data": {"csv": "d.csv"}, "outcomes": ["y"], "features": [{"name": "gender", "column": "g", "encoding": {"type": "onehot", "reference": "Male"}}], "penalty": {"factors": {"gender: Female": 0}}}"#
        #expect(try encode(csv, factors).featureNames == ["gender: Female", "gender: Unknown"])
        do {
            _ = try encode(csv, factors.replacingOccurrences(of: "gender: Female", with: "gender: Other"))
            Issue.record("expected an error")
        } catch let e as TabularError {
            #expect(e.message.contains("penalty.factors.gender: Other: no encoded feature column is named so"))
        }
    }
}

import Foundation
import Tabular
import Testing

/// Issue 11, "your data in five minutes": standardization as glmnet does it, `run --data` without
/// a job file, ordinary CSVs (pandas/R exports, text outcomes, gzip, other separators), `predict`,
/// and one clear line for every new kind of bad input. The breast cancer table and its
/// references come from scripts/reference/standardize/make_breast_cancer.py.
@Suite("Your data in five minutes (issue 11)")
struct YourDataTests {
    static let table = CLI.fixture("breast_cancer.csv")

    struct GlmnetFit: Decodable { let lambda: Double; let intercept: Double; let coefficients: [String: Double] }
    struct GlmnetReference: Decodable { let lambdaMax: Double; let fits: [GlmnetFit] }
    struct SklearnReference: Decodable { let rows: [Int]; let probability: [Double] }

    static func glmnet() throws -> GlmnetReference {
        try JSONDecoder().decode(GlmnetReference.self, from: Data(contentsOf: URL(fileURLWithPath: CLI.fixture("breast_cancer_glmnet.json"))))
    }

    /// The breast cancer table as (header, rows), the first (index) column kept.
    static func rows() throws -> (header: [String], rows: [[String]]) {
        let lines = try String(contentsOfFile: table, encoding: .utf8).split(separator: "\n").map(String.init)
        return (
            lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init),
            lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        )
    }

    @Test("fit --standardize --scale mean equals R glmnet standardize=TRUE to 1e-6 in every coefficient (original scale)")
    func fitEqualsGlmnet() throws {
        let reference = try Self.glmnet()
        #expect(reference.fits.count == 3)
        for ref in reference.fits {
            let r = try CLI.run([
                "fit", "--data", Self.table, "--outcome", "malignant", "--alpha", "\(ref.lambda)", "--scale", "mean",
                "--standardize", "--tolerance", "1e-13", "--format", "json",
            ])
            try #require(r.status == 0, "\(r.stderr)")
            let fit = try JSONDecoder().decode(FitOutputJSON.self, from: Data(r.stdout.utf8))
            let coef = Dictionary(uniqueKeysWithValues: fit.coefficients.map { ($0.name, $0.coef) })
            #expect(coef.count == 31, "30 features and the intercept (the pandas index column is not a feature)")
            #expect(abs(coef["const"]! - ref.intercept) <= 1e-6, "lambda \(ref.lambda): intercept \(coef["const"]!) vs glmnet \(ref.intercept)")
            for (name, value) in ref.coefficients {
                let ours = try #require(coef[name], "no coefficient for \(name)")
                #expect(abs(ours - value) <= 1e-6, "lambda \(ref.lambda), \(name): \(ours) vs glmnet \(value)")
                #expect((ours == 0) == (value == 0), "lambda \(ref.lambda), \(name): the same active set")
            }
        }
    }

    @Test("run --data on a pandas to_csv export with a True/False outcome: no job file, > 4 features, alpha inside the grid")
    func runWithoutJob() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run([
            "run", "--data", Self.table, "--outcome", "malignant", "--resamples", "40", "--threads", "2",
            "--quiet", "--format", "json", "--out", dir.path,
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let settings = try #require(report["settings"] as? [String: Any])
        #expect(settings["standardize"] as? Bool == true)
        #expect(settings["folds"] as? Int == 10)
        let outcome = try #require((report["outcomes"] as? [[String: Any]])?.first)
        let features = try #require(outcome["features"] as? [[String: Any]])
        let selected = features.filter { ($0["name"] as? String) != "const" && ($0["coef"] as? Double ?? 0) != 0 }
        #expect(selected.count > 4, "selected \(selected.count) features")
        #expect(features.count == 31)
        let warnings = outcome["warnings"] as? [String] ?? []
        #expect(!warnings.contains { $0.contains("smallest on the grid") || $0.contains("largest on the grid") }, "\(warnings)")
        // Continuous features carry their SD (odds ratio per SD beside per unit).
        #expect(features.first { $0["name"] as? String == "mean area" }?["sd"] as? Double ?? 0 > 300)
        for file in ["report.json", "report.csv", "report.html", "model.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file) written")
        }
        // The table prints per-SD odds ratios and never an exponent.
        let table = try CLI.run(["run", "--data", Self.table, "--outcome", "malignant", "--resamples", "40", "--threads", "2", "--quiet"])
        try #require(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("per SD"))
        #expect(!table.stdout.contains("e+"), "no exponent notation in the table")
    }

    @Test("--data replaces a job spec's data file")
    func dataOverridesJob() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("copy.csv").path
        try FileManager.default.copyItem(atPath: CLI.repoRoot.appendingPathComponent("jobs/demo/demo.csv").path, toPath: copy)
        let a = try CLI.run(["run", "jobs/demo.json", "--resamples", "20", "--threads", "2", "--quiet", "--format", "csv"])
        let b = try CLI.run(["run", "jobs/demo.json", "--data", copy, "--resamples", "20", "--threads", "2", "--quiet", "--format", "csv"])
        try #require(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout == b.stdout)
        let missing = try CLI.run(["run", "jobs/demo.json", "--data", dir.appendingPathComponent("nope.csv").path, "--quiet"])
        #expect(missing.status != 0 && missing.stderr.contains("nope.csv"), "\(missing.stderr)")
    }

    @Test("the grid-edge warning fires when the grid is too short, in the table and report.json")
    func gridEdgeWarning() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("short.json")
        try Data(
            """
            {"data": {"csv": "\(Self.table)"}, "features": "all", "outcomes": ["malignant"],
             "alphas": {"count": 3, "minRatio": 0.5}, "bootstrap": {"resamples": 20, "methods": ["percentile"]}, "intervals": "penalized"}
            """.utf8
        ).write(to: spec)
        let r = try CLI.run(["run", spec.path, "--threads", "2", "--quiet"])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("warning: the chosen alpha is the smallest on the grid"), "\(r.stdout.prefix(600))")
        #expect(r.stdout.contains("lower alphas.minRatio (now 0.5)"))
    }

    @Test("predict equals 1/(1+exp(-(b0 + x.b))) and scikit-learn's predict_proba on held-out rows")
    func predictMatchesReferences() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (header, rows) = try Self.rows()
        let sklearn = try JSONDecoder().decode(
            SklearnReference.self, from: Data(contentsOf: URL(fileURLWithPath: CLI.fixture("breast_cancer_predict.json"))))
        // Held-out rows 500..568 in the same pandas layout, without the outcome column.
        let outcomeColumn = try #require(header.firstIndex(of: "malignant"))
        let keep = header.indices.filter { $0 != outcomeColumn }
        let held = sklearn.rows.map { rows[$0] }
        let heldPath = dir.appendingPathComponent("held.csv")
        try Data(
            ([keep.map { header[$0] }.joined(separator: ",")] + held.map { r in keep.map { r[$0] }.joined(separator: ",") })
                .joined(separator: "\n").utf8
        ).write(to: heldPath)

        // 1. A model fitted on rows 0..499 by `fit --save-model`, applied to the held-out rows.
        let train = dir.appendingPathComponent("train.csv")
        try Data(([header.joined(separator: ",")] + rows.prefix(500).map { $0.joined(separator: ",") }).joined(separator: "\n").utf8).write(to: train)
        let modelPath = dir.appendingPathComponent("model.json").path
        let fit = try CLI.run([
            "fit", "--data", train.path, "--outcome", "malignant", "--alpha", "0.02", "--scale", "mean", "--standardize",
            "--save-model", modelPath, "--format", "json",
        ])
        try #require(fit.status == 0, "\(fit.stderr)")
        let fitted = try JSONDecoder().decode(FitOutputJSON.self, from: Data(fit.stdout.utf8))
        let b = Dictionary(uniqueKeysWithValues: fitted.coefficients.map { ($0.name, $0.coef) })
        // The model names its training file by the hash of its bytes.
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: modelPath))) as? [String: Any])
        #expect(saved["dataHash"] as? String == SHA256.hex(try Data(contentsOf: train)), "\(saved["dataHash"] ?? "none")")
        let out = dir.appendingPathComponent("preds.csv").path
        let p = try CLI.run(["predict", "--model", modelPath, "--data", heldPath.path, "--out", out])
        try #require(p.status == 0, "\(p.stderr)")
        #expect(p.stderr.contains("column 1 has no name"), "the pandas index column is noted: \(p.stderr)")
        let predicted = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2])! }
        #expect(predicted.count == held.count)
        for (k, r) in held.enumerated() {
            var eta = b["const"]!
            for c in keep where header[c] != "" { eta += b[header[c]]! * Double(r[c])! }
            let expected = 1 / (1 + exp(-eta))
            #expect(abs(predicted[k] - expected) <= 1e-12 * max(1, expected), "row \(sklearn.rows[k]): \(predicted[k]) vs \(expected)")
        }

        // 2. glmnet's coefficients in a model file: predict equals scikit-learn's predict_proba for them.
        let ref = try Self.glmnet().fits[0]
        var model = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: modelPath))) as? [String: Any])
        let columns = try #require(model["columns"] as? [[String: Any]]).map { $0["name"] as! String }
        model["outcomes"] = [
            [
                "name": "malignant", "alpha": ref.lambda, "intercept": ref.intercept,
                "coefficients": columns.map { ref.coefficients[$0]! },
            ] as [String: Any]
        ]
        let glmnetModel = dir.appendingPathComponent("glmnet-model.json").path
        try JSONSerialization.data(withJSONObject: model).write(to: URL(fileURLWithPath: glmnetModel))
        let q = try CLI.run(["predict", "--model", glmnetModel, "--data", heldPath.path])
        try #require(q.status == 0, "\(q.stderr)")
        let lines = q.stdout.split(separator: "\n")
        #expect(lines.first == "row,line,malignant")
        let probabilities = lines.dropFirst().map { Double($0.split(separator: ",")[2])! }
        #expect(probabilities.count == sklearn.probability.count)
        for (k, v) in probabilities.enumerated() {
            #expect(abs(v - sklearn.probability[k]) <= 1e-12, "row \(sklearn.rows[k]): \(v) vs sklearn \(sklearn.probability[k])")
        }
    }

    @Test("predict from a run model gives bootstrap intervals that bracket the probability")
    func predictFromRun() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run([
            "run", "--data", Self.table, "--outcome", "malignant", "--resamples", "30", "--threads", "2",
            "--quiet", "--out", dir.path, "--format", "csv",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let p = try CLI.run(["predict", "--model", dir.appendingPathComponent("model.json").path, "--data", Self.table])
        try #require(p.status == 0, "\(p.stderr)")
        let lines = p.stdout.split(separator: "\n")
        #expect(lines.first == "row,line,malignant,malignantLow,malignantHigh")
        #expect(lines.count == 570)
        for line in lines.dropFirst() {
            let c = line.split(separator: ",").map { Double($0)! }
            #expect(c[3] <= c[4] && c[3] >= 0 && c[4] <= 1, "\(line)")
        }
    }

    @Test("R write.csv (quoted header, TRUE/FALSE, NA), semicolons, gzip and a text outcome with --positive all run")
    func ordinaryCSVs() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // R's write.csv: row names in an unnamed first column, quoted names, TRUE/FALSE, NA.
        var r = "\"\",\"x1\",\"x2\",\"y\",\"label\"\n"
        var semi = "x1;x2;y\n"
        for i in 0..<120 {
            let x1 = Double(i % 17) / 4 - 2, x2 = Double((i * 7) % 13) / 3 - 2
            let y = x1 + 0.5 * x2 + Double((i * 5) % 11) / 5 - 1 > 0
            r += "\"\(i + 1)\",\(i == 3 ? "NA" : "\(x1)"),\(x2),\(y ? "TRUE" : "FALSE"),\"\(y ? "yes" : "no")\"\n"
            semi += "\(x1);\(x2);\(y ? 1 : 0)\n"
        }
        let rPath = dir.appendingPathComponent("r.csv").path
        try Data(r.utf8).write(to: URL(fileURLWithPath: rPath))
        let semiPath = dir.appendingPathComponent("semi.csv").path
        try Data(semi.utf8).write(to: URL(fileURLWithPath: semiPath))
        // The R file has one NA in x1: the run stops on it, naming the place (features missing = error by default).
        let na = try CLI.run(["run", "--data", rPath, "--outcome", "y", "--exclude", "label", "--resamples", "10", "--quiet"])
        #expect(na.status != 0)
        #expect(na.stderr.contains("r.csv:5:2: column 'x1'"), "\(na.stderr)")
        // Drop the NA row and run: TRUE/FALSE outcome.
        let fixed = r.split(separator: "\n").enumerated().filter { $0.offset != 4 }.map(\.element).joined(separator: "\n") + "\n"
        try Data(fixed.utf8).write(to: URL(fileURLWithPath: rPath))
        let ok = try CLI.run(["run", "--data", rPath, "--outcome", "y", "--exclude", "label", "--resamples", "10", "--quiet", "--format", "csv"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("y,Features,x1,"))
        // The text column as the outcome with --positive.
        let text = try CLI.run([
            "run", "--data", rPath, "--outcome", "label", "--positive", "yes", "--exclude", "y", "--resamples", "10", "--quiet", "--format", "csv",
        ])
        #expect(text.status == 0, "\(text.stderr)")
        // Semicolons, detected; and the same file gzip-compressed.
        let s = try CLI.run(["run", "--data", semiPath, "--outcome", "y", "--resamples", "10", "--quiet", "--format", "csv"])
        #expect(s.status == 0, "\(s.stderr)")
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", semiPath]
        try gzip.run()
        gzip.waitUntilExit()
        let g = try CLI.run(["run", "--data", semiPath + ".gz", "--outcome", "y", "--resamples", "10", "--quiet", "--format", "csv"])
        #expect(g.status == 0, "\(g.stderr)")
        // Same data, same seed: the same table whether compressed or not (the data hash differs, the numbers do not).
        #expect(g.stdout == s.stdout)
    }

    @Test("each new bad input gets one clear line naming the file, the line or column, and what was expected")
    func badInputs() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let text = try write("text.csv", "x,diagnosis\n1,M\n2,B\n3,M\n4,B\n")
        let twice = try write("twice.csv", "x,x,y\n1,2,0\n2,3,1\n")
        let empty = try write("empty.csv", "x,z,y\n1,,0\n2,,1\n3,NA,0\n")
        // 3 events in 60 rows: 10-fold CV by AUC cannot score 7 folds (this used to hang a run).
        let rare = try write("rare.csv", "x,y\n" + (1...60).map { "\($0 % 7),\($0 <= 3 ? 1 : 0)" }.joined(separator: "\n") + "\n")
        let cases: [(args: [String], expected: [String])] = [
            (["run", "--data", text, "--outcome", "diagnosis"], ["text.csv:2:2: column 'diagnosis'", "expected a number, found 'M'", "--positive"]),
            (
                ["run", "--data", text, "--outcome", "diagnosis", "--positive", "malignant"],
                ["text.csv:1:2: column 'diagnosis'", "positive level 'malignant' never occurs", "levels are B, M"]
            ),
            (["run", "--data", twice, "--outcome", "y"], ["twice.csv:1:2: column 'x'", "duplicate column name (also column 1)"]),
            (["run", "--data", empty, "--outcome", "y"], ["empty.csv:1:2: column 'z'", "every kept row is missing"]),
            (["run", "--data", rare, "--outcome", "y"], ["only 3 rows have its rarer level", "7 of the 10 cross-validation folds", "--folds"]),
            (
                ["fit", "--data", text, "--outcome", "diagnosis", "--alpha", "1"],
                ["text.csv:2:2: column 'diagnosis'", "expected a number, found 'M'"]
            ),
        ]
        for c in cases {
            let r = try CLI.run(c.args + ["--quiet"].filter { _ in c.args[0] == "run" })
            #expect(r.status != 0, "\(c.args) must fail")
            let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("note:") }
            #expect(lines.count == 1, "one line for \(c.args): \(r.stderr)")
            for e in c.expected { #expect(r.stderr.contains(e), "\(c.args): '\(e)' in \(r.stderr)") }
        }
    }
}

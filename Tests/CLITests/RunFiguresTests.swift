import Foundation
import Testing

/// The parts of `lassoboot run --format json` these tests read.
private struct RunReportJSON: Decodable {
    struct Wald: Decodable { let standardError: Double; let low: Double; let high: Double; let oddsRatioLow: Double?; let oddsRatioHigh: Double? }
    struct Feature: Decodable { let name: String; let coef: Double; let wald: Wald? }
    struct Outcome: Decodable { let name: String; let alpha: Double; let features: [Feature] }
    struct Settings: Decodable { let wald: Bool? }
    let outcomes: [Outcome]
    let settings: Settings
}

/// Runs `spec` with `report.wald` and checks every Wald interval against `lassoboot fit` on the
/// same CSV at the report's alpha. Both solve to a KKT tolerance of 1e-12.
private func checkWaldAgainstFit(spec: [String: Any], csv: String, outcomes: [String], dir: URL) throws {
    var spec = spec
    spec["report"] = ["wald": true]
    spec["solver"] = ["tolerance": 1e-12]
    let path = dir.appendingPathComponent("job.json").path
    try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    let r = try CLI.run(["run", path, "--format", "json", "--quiet", "--threads", "2"])
    try #require(r.status == 0, "\(r.stderr)")
    let report = try JSONDecoder().decode(RunReportJSON.self, from: Data(r.stdout.utf8))
    #expect(report.settings.wald == true)
    #expect(report.outcomes.map(\.name) == outcomes)
    var compared = 0
    for o in report.outcomes {
        let others = outcomes.filter { $0 != o.name }.flatMap { ["--exclude", $0] }
        let f = try CLI.run(
            ["fit", "--data", csv, "--outcome", o.name, "--alpha", "\(o.alpha)", "--tolerance", "1e-12", "--format", "json"] + others)
        try #require(f.status == 0, "\(f.stderr)")
        let fit = try JSONDecoder().decode(FitOutputJSON.self, from: Data(f.stdout.utf8))
        #expect(fit.intervals == "Wald (conditional on selection)")
        for c in fit.coefficients {
            let mine = try #require(o.features.first { $0.name == c.name }, "\(o.name): \(c.name) not in the report")
            #expect(abs(mine.coef - c.coef) <= 1e-9, "\(o.name) \(c.name): coef \(mine.coef) vs fit \(c.coef)")
            #expect((mine.wald == nil) == (c.waldLow == nil), "\(o.name) \(c.name): Wald interval present in one only")
            if let w = mine.wald, let low = c.waldLow, let high = c.waldHigh {
                #expect(
                    abs(w.low - low) <= 1e-8 && abs(w.high - high) <= 1e-8,
                    "\(o.name) \(c.name): Wald [\(w.low), \(w.high)] vs fit [\(low), \(high)]")
                #expect(w.oddsRatioLow.map { abs($0 - c.oddsRatioLow!) <= 1e-8 * max(1, $0) } ?? false)
                compared += 1
            }
        }
        #expect(fit.coefficients.count == o.features.count)
    }
    #expect(compared >= outcomes.count * 2, "some nonzero coefficients to compare")
}

@Suite("lassoboot run: figures, HTML and Wald intervals")
struct RunFiguresTests {
    @Test("run --out writes report.html, cv.svg and one forest SVG per outcome; --format html prints the same page")
    func outFiles() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path
        let r = try CLI.run(["run", "jobs/demo.json", "--resamples", "40", "--quiet", "--threads", "2", "--out", out, "--format", "html"])
        try #require(r.status == 0, "\(r.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
        for name in ["report.json", "report.csv", "report.html", "cv.svg", "forest-isForcedLabour.svg", "forest-isSexualExploit.svg"] {
            #expect(files.contains(name), "\(name) missing from \(files.sorted())")
        }
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(r.stdout == html)
        #expect(html.hasPrefix("<!DOCTYPE html>") && !html.lowercased().contains("http"))
        let report = try JSONDecoder().decode(RunReportJSON.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/report.json")))
        for o in report.outcomes {
            let svg = try String(contentsOfFile: out + "/forest-\(o.name).svg", encoding: .utf8)
            #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(svg.components(separatedBy: "class=\"forest-row\"").count - 1 == o.features.count - 1, "\(o.name): a row per feature")
            #expect(html.contains("data-outcome=\"\(o.name)\""))
        }
        #expect(report.settings.wald == nil)
        // A second run gives the same bytes.
        let again = try CLI.run(["run", "jobs/demo.json", "--resamples", "40", "--quiet", "--threads", "1", "--format", "html"])
        #expect(again.stdout == html)
    }

    @Test("report.wald: the report's Wald intervals equal lassoboot fit's on the same data and alpha (synthetic data)")
    func waldSynthetic() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = CLI.fixture("synthetic_logistic.csv")
        let spec: [String: Any] = [
            "name": "synthetic Wald check",
            "data": ["csv": csv],
            "penalty": ["standardize": false],  // lassoboot fit's default: the same problem
            "outcomes": ["y"],
            "features": (1...8).map { ["name": "x\($0)", "group": $0 <= 5 ? "continuous" : "binary"] },
            "alphas": ["count": 12, "minRatio": 0.01],
            "cv": ["folds": 4],
            "bootstrap": ["resamples": 10, "methods": ["percentile"]],
            "seed": 3,
        ]
        try checkWaldAgainstFit(spec: spec, csv: csv, outcomes: ["y"], dir: dir)
    }

    @Test(
        "report.wald: the report's Wald intervals equal lassoboot fit's on the CTDC table at the CV alpha",
        .enabled(if: CLI.ctdcAvailable, CLI.ctdcSkipMessage))
    func waldCTDC() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shipped = try Data(contentsOf: CLI.repoRoot.appendingPathComponent("jobs/ctdc-north-america.json"))
        var spec = try #require(try JSONSerialization.jsonObject(with: shipped) as? [String: Any])
        spec["data"] = ["csv": CLI.ctdc]
        spec["bootstrap"] = ["resamples": 10, "methods": ["percentile"]]
        try checkWaldAgainstFit(spec: spec, csv: CLI.ctdc, outcomes: ["isForcedLabour", "isSexualExploit"], dir: dir)
    }
}

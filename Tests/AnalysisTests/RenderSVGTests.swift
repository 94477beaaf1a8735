import Analysis
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Files behind the figure tests: the shipped demo and CTDC specs.
private enum FigureFiles {
    /// Repository root: Tests/AnalysisTests/<this file> -> ../..
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let demo = root.appendingPathComponent("jobs/demo.json").path
    static let ctdc = root.appendingPathComponent("jobs/ctdc-north-america.json").path
    static let ctdcData = root.deletingLastPathComponent()
        .appendingPathComponent("shared/data/madiforman_CTDC_analysis_final_data.csv").path
    static var ctdcPresent: Bool { FileManager.default.fileExists(atPath: ctdcData) }
    static let ctdcSkipMessage: Comment =
        "skipped: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent (see ../shared/data/SOURCES.md)"
}

/// Runs a spec in process, optionally changed first, and returns its report.
private func runSpec(_ path: String, change: (inout RunSpec) -> Void = { _ in }) throws -> Report {
    var spec = try RunSpec.load(path: path)
    change(&spec)
    let data = try RunData.load(spec: spec)
    let executor = TaskExecutor(data: data)
    let results = try LocalRunner(executor: executor, threads: 2).run()
    return try Aggregation.report(data: data, executor: executor, results: results, software: "test")
}

/// The demo job as shipped, and with `report.wald` on (each run once per test process).
private let demoReport = Result { try runSpec(FigureFiles.demo) }
private let demoWaldReport = Result { try runSpec(FigureFiles.demo) { $0.report.wald = true } }

/// An SVG or XHTML document parsed back: every element with its attributes and text.
private struct ParsedDocument {
    struct Element {
        let name: String
        let attributes: [String: String]
        var text: String
        /// Index of the enclosing `forest-row` group, if any.
        let row: Int?
    }
    var elements: [Element] = []

    var forestRows: [Element] { elements.filter { $0.attributes["class"] == "forest-row" } }

    /// Elements inside the `i`-th element (a forest row).
    func children(ofRow index: Int) -> [Element] { elements.filter { $0.row == index } }

    func elements(class name: String) -> [Element] { elements.filter { $0.attributes["class"] == name } }

    /// Parses `text`; a document that is not well-formed XML is an error with the parser's reason.
    static func parse(_ text: String) throws -> ParsedDocument {
        let delegate = Collector()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = delegate
        guard parser.parse() else {
            throw ParseFailure(
                reason: "\(parser.parserError.map { "\($0)" } ?? "unknown") at line \(parser.lineNumber), column \(parser.columnNumber)")
        }
        return ParsedDocument(elements: delegate.elements)
    }

    struct ParseFailure: Error, CustomStringConvertible {
        let reason: String
        var description: String { "not well-formed XML: \(reason)" }
    }

    final class Collector: NSObject, XMLParserDelegate {
        var elements: [Element] = []
        var stack: [Int] = []
        var rowStack: [Int] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            elements.append(Element(name: elementName, attributes: attributes, text: "", row: rowStack.last))
            stack.append(elements.count - 1)
            if attributes["class"] == "forest-row" { rowStack.append(elements.count - 1) }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if let i = stack.last { elements[i].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            let i = stack.removeLast()
            if rowStack.last == i { rowStack.removeLast() }
        }
    }
}

/// `Double` of a round-trip attribute; empty means `nil`.
private func value(_ s: String?) -> Double?? {
    guard let s else { return .none }
    if s.isEmpty { return .some(nil) }
    guard let d = Double(s) else { return .none }
    return .some(d)
}

/// Where a value sits between the first and last tick of a log axis, from the ticks' x.
private func logPosition(_ v: Double, ticks: [(value: Double, x: Double)]) -> Double {
    let a = ticks.first!, b = ticks.last!
    return a.x + (Foundation.log10(v) - Foundation.log10(a.value)) / (Foundation.log10(b.value) - Foundation.log10(a.value)) * (b.x - a.x)
}

/// Ticks of the forest plot's axis: value and x, in order.
private func axisTicks(_ doc: ParsedDocument) -> [(value: Double, x: Double)] {
    var ticks: [(Double, Double)] = []
    for (i, e) in doc.elements.enumerated() where e.attributes["class"]?.hasPrefix("axis-tick") == true {
        let line = doc.elements[i + 1]
        ticks.append((Double(e.attributes["data-value"]!)!, Double(line.attributes["x1"]!)!))
    }
    return ticks
}

/// Whether `v` is m * 10^k for m in {1, 2, 5}.
private func isOneTwoFive(_ v: Double) -> Bool {
    let k = Foundation.log10(v).rounded(.down)
    let m = v / Foundation.pow(10, k)
    return [1.0, 2, 5, 10].contains { abs(m - $0) < 1e-9 }
}

/// Checks one outcome's forest plot against the report and the CSV table: one row per feature
/// (intercept excepted) in group order, the same odds ratios and CI ends bit for bit.
private func checkForest(_ report: Report, outcome: Report.Outcome, method: String) throws {
    let svg = Render.forestSVG(report, outcome: outcome.name, method: method)
    let doc = try ParsedDocument.parse(svg)
    let rows = doc.forestRows
    let expected = report.groups.flatMap { g in outcome.features.filter { $0.group == g } }
    #expect(rows.count == outcome.features.count - 1, "\(outcome.name): one row per feature except the intercept")
    #expect(rows.map { $0.attributes["data-feature"]! } == expected.map(\.name), "\(outcome.name): rows in the spec's groups")

    // The CSV table, keyed by (outcome, feature).
    let csv = Render.csv(report).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    let header = csv[0]
    func column(_ name: String) -> Int { header.firstIndex(of: name)! }
    let table = Dictionary(uniqueKeysWithValues: csv.dropFirst().filter { $0[0] == outcome.name }.map { ($0[column("feature")], $0) })
    let textTable = Render.text(report, method: method)

    for (row, f) in zip(rows, expected) {
        let a = row.attributes
        #expect(a["data-outcome"] == outcome.name)
        #expect(a["data-group"] == f.group)
        #expect(value(a["data-odds-ratio"]) == .some(f.oddsRatio), "\(f.name)")
        #expect(value(a["data-coef"]) == .some(f.coef), "\(f.name)")
        #expect(value(a["data-low"]) == .some(f.ci[method]?.oddsRatioLow), "\(f.name)")
        #expect(value(a["data-high"]) == .some(f.ci[method]?.oddsRatioHigh), "\(f.name)")
        #expect(value(a["data-selection-frequency"]) == .some(f.selectionFrequency), "\(f.name)")
        // Against the CSV table (coefficient scale there).
        let line = try #require(table[f.name], "\(f.name) not in report.csv")
        #expect(Double(line[column("oddsRatio")]) == f.oddsRatio)
        #expect(value(a["data-odds-ratio"]) == .some(Double(line[column("oddsRatio")])))
        if let low = Double(line[column("\(method)Low")]), let high = Double(line[column("\(method)High")]) {
            #expect(value(a["data-low"]) == .some(Foundation.exp(low)), "\(f.name) low")
            #expect(value(a["data-high"]) == .some(Foundation.exp(high)), "\(f.name) high")
        }
        // The printed label: the table's odds ratio and interval (3 significant digits).
        let index = doc.elements.firstIndex { $0.attributes == a }!
        let label = try #require(doc.children(ofRow: index).first { $0.attributes["class"] == "odds-ratio-label" }?.text)
        func sig3(_ x: Double) -> String { String(format: "%.\(max(0, 2 - Int(Foundation.floor(Foundation.log10(x)))))f", x) }
        let or2 = sig3(f.oddsRatio)
        #expect(label.hasPrefix(or2), "\(f.name): label '\(label)'")
        if let ci = f.ci[method], let low = ci.oddsRatioLow, let high = ci.oddsRatioHigh {
            let interval = "[\(sig3(low)), \(sig3(high))]"
            #expect(label.contains(interval), "\(f.name): label '\(label)'")
            #expect(
                textTable.split(separator: "\n").contains { $0.contains(f.name) && $0.contains(or2) && $0.contains(interval) },
                "\(f.name): the text table shows \(or2) \(interval)")
        }
    }

    // The axis: 1-2-5 ticks, evenly spaced in log10, covering every drawn value; the reference
    // line sits on the tick at 1; each estimate mark sits at its log position.
    let ticks = axisTicks(doc)
    #expect(ticks.count >= 3 && ticks.count <= 9, "ticks \(ticks.map(\.value))")
    #expect(ticks.allSatisfy { isOneTwoFive($0.value) }, "ticks \(ticks.map(\.value))")
    #expect(zip(ticks, ticks.dropFirst()).allSatisfy { $0.value < $1.value && $0.x < $1.x })
    for t in ticks { #expect(abs(logPosition(t.value, ticks: ticks) - t.x) <= 0.02, "tick \(t.value) at \(t.x)") }
    let reference = try #require(doc.elements(class: "reference-line").first)
    let one = try #require(ticks.first { $0.value == 1 }, "a tick at 1")
    #expect(Double(reference.attributes["x1"]!)! == one.x)
    for (index, e) in doc.elements.enumerated() where e.attributes["class"] == "forest-row" {
        let or = Double(e.attributes["data-odds-ratio"]!)!
        guard or >= ticks.first!.value && or <= ticks.last!.value else { continue }
        let mark = try #require(doc.children(ofRow: index).first { $0.attributes["class"]?.hasPrefix("estimate") == true })
        let centre = Double(mark.attributes["x"]!)! + 4
        #expect(abs(centre - logPosition(or, ticks: ticks)) <= 0.02, "\(e.attributes["data-feature"]!): mark at \(centre)")
    }
}

/// The report as JSON with one edit to its object tree (to make names and values no run makes).
private func edited(_ report: Report, _ edit: (inout [String: Any]) -> Void) throws -> Report {
    var object = try #require(JSONSerialization.jsonObject(with: Data(Render.json(report).utf8)) as? [String: Any])
    edit(&object)
    let data = try JSONSerialization.data(withJSONObject: object)
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try decoder.decode(Report.self, from: data)
}

/// Applies `change` to feature `index` of outcome 0 in a report's JSON tree.
private func editFeature(_ object: inout [String: Any], _ index: Int, _ change: (inout [String: Any]) -> Void) {
    var outcomes = object["outcomes"] as! [[String: Any]]
    var features = outcomes[0]["features"] as! [[String: Any]]
    change(&features[index])
    outcomes[0]["features"] = features
    object["outcomes"] = outcomes
}

@Suite("Figures and the HTML report")
struct RenderSVGTests {
    @Test("demo job: the forest plot of each outcome reads back as the report's and the table's odds ratios and intervals")
    func demoForest() throws {
        let report = try demoReport.get()
        for o in report.outcomes {
            for method in report.settings.methods { try checkForest(report, outcome: o, method: method) }
        }
    }

    @Test(
        "CTDC job: the forest plot shows the same odds ratios as the table",
        .enabled(if: FigureFiles.ctdcPresent, FigureFiles.ctdcSkipMessage))
    func ctdcForest() throws {
        // The full-data odds ratios do not depend on B; 100 resamples keep the test short.
        let report = try runSpec(FigureFiles.ctdc) {
            $0.bootstrap.resamples = 100; $0.bootstrap.methods = [.percentile, .normal]
        }
        #expect(report.outcomes.map(\.name) == ["isForcedLabour", "isSexualExploit"])
        for o in report.outcomes {
            #expect(o.features.count == 18)
            try checkForest(report, outcome: o, method: "percentile")
            try checkForest(report, outcome: o, method: "normal")
        }
        let html = try ParsedDocument.parse(Render.html(report))
        #expect(html.forestRows.count == 2 * 17)
    }

    @Test("the default method is the debiased Wald interval (the honest one); an unknown outcome gives a figure that says so")
    func defaults() throws {
        let report = try demoReport.get()
        let name = report.outcomes[0].name
        #expect(report.defaultMethod == "debiased:wald")
        #expect(Render.forestSVG(report, outcome: name) == Render.forestSVG(report, outcome: name, method: "debiased:wald"))
        let missing = Render.forestSVG(report, outcome: "no such outcome")
        let doc = try ParsedDocument.parse(missing)
        #expect(doc.forestRows.isEmpty)
        #expect(missing.contains("No outcome named"))
    }

    @Test("Wald intervals (report.wald): stored only when asked, drawn as a second mark, same bootstrap numbers")
    func wald() throws {
        let plain = try demoReport.get(), wald = try demoWaldReport.get()
        // (`debiased.ci.wald` is the debiased Wald interval, present by default; the selection-conditional
        // `wald` key of a feature and `settings.wald` appear only when asked.)
        let plainObject = try #require(try JSONSerialization.jsonObject(with: Data(Render.json(plain).utf8)) as? [String: Any])
        let plainOutcomes = try #require(plainObject["outcomes"] as? [[String: Any]])
        #expect(
            plainOutcomes.allSatisfy { ($0["features"] as? [[String: Any]])?.allSatisfy { $0["wald"] == nil } == true },
            "a report that did not ask for Wald intervals has no wald keys")
        #expect((plainObject["settings"] as? [String: Any])?["wald"] == nil)
        #expect(plain.settings.wald == nil && wald.settings.wald == true)
        for (p, w) in zip(plain.outcomes, wald.outcomes) {
            #expect(p.alpha == w.alpha)
            for (a, b) in zip(p.features, w.features) {
                #expect(a.coef == b.coef && a.ci == b.ci && a.selectionFrequency == b.selectionFrequency)
                #expect(a.wald == nil)
                if b.coef == 0 {
                    #expect(b.wald == nil, "\(b.name): no Wald interval for a zero coefficient")
                } else {
                    let i = try #require(b.wald, "\(w.name) \(b.name): Wald interval missing")
                    #expect(i.low < b.coef && b.coef < i.high && i.standardError > 0)
                    #expect(abs((i.low + i.high) / 2 - b.coef) <= 1e-12 * max(1, abs(b.coef)))
                    #expect(i.oddsRatioLow == Foundation.exp(i.low) && i.oddsRatioHigh == Foundation.exp(i.high))
                }
            }
        }
        let csvHeader = Render.csv(wald).prefix { $0 != "\n" }
        #expect(csvHeader.contains(",waldLow,waldHigh,"))
        #expect(!Render.csv(plain).contains(",waldLow"))
        for o in wald.outcomes {
            let svg = Render.forestSVG(wald, outcome: o.name)
            let doc = try ParsedDocument.parse(svg)
            #expect(svg.contains("Wald CI, conditional on selection"), "legend entry")
            for (row, f) in zip(doc.forestRows, o.features.dropFirst()) {
                #expect(value(row.attributes["data-wald-low"]) == .some(f.wald?.oddsRatioLow))
                #expect(value(row.attributes["data-wald-high"]) == .some(f.wald?.oddsRatioHigh))
            }
            // Plain reports draw no Wald column.
            #expect(!Render.forestSVG(plain, outcome: o.name).contains("data-wald-low"))
        }
        #expect(Render.html(wald).contains("Wald (conditional on selection)"))
    }

    @Test("SVG and HTML are well-formed XML, self-contained, and byte-identical when rendered again")
    func wellFormedAndStable() throws {
        let report = try demoWaldReport.get()
        let html = Render.html(report)
        let documents = [html, Render.cvSVG(report)] + report.outcomes.map { Render.forestSVG(report, outcome: $0.name) }
        for d in documents { _ = try ParsedDocument.parse(d) }
        let lower = html.lowercased()
        for forbidden in ["http", "<script", "src=", "href=", "url(", "@import", "<link"] {
            #expect(!lower.contains(forbidden), "the HTML contains '\(forbidden)'")
        }
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains(Render.htmlStyle) && html.contains(Render.htmlFragment(report)))
        #expect(!Render.htmlFragment(report).contains("<html") && !Render.htmlFragment(report).contains("<head"))
        // The standalone SVG files carry their namespace.
        #expect(Render.cvSVG(report).hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        // Same report, same bytes; and the same bytes from report.json read back (what `results --out` does).
        let again = try JSONDecoder().decode(Report.self, from: Data(Render.json(report).utf8))
        #expect(Render.html(again) == html)
        #expect(Render.html(report) == html)
        for o in report.outcomes { #expect(Render.forestSVG(again, outcome: o.name) == Render.forestSVG(report, outcome: o.name)) }
        #expect(Render.cvSVG(again) == Render.cvSVG(report))
        let files = Render.figureFiles(report)
        #expect(files.map(\.name) == ["report.html", "cv.svg", "forest-isForcedLabour.svg", "forest-isSexualExploit.svg"])
        #expect(files[0].text == html)
    }

    @Test("the CV figure: one series per outcome, 1-2-5 alpha ticks on a log axis, the chosen alpha marked")
    func cvFigure() throws {
        let report = try demoReport.get()
        let doc = try ParsedDocument.parse(Render.cvSVG(report))
        let series = doc.elements(class: "cv-series")
        #expect(series.map { $0.attributes["data-outcome"]! } == report.outcomes.map(\.name))
        var ticks: [(value: Double, x: Double)] = []
        for (i, e) in doc.elements.enumerated() where e.attributes["class"] == "axis-tick x-tick" {
            ticks.append((Double(e.attributes["data-value"]!)!, Double(doc.elements[i + 1].attributes["x1"]!)!))
        }
        #expect(ticks.count >= 2 && ticks.allSatisfy { isOneTwoFive($0.value) }, "\(ticks.map(\.value))")
        let points = doc.elements(class: "cv-point")
        for o in report.outcomes {
            let mine = points.filter { $0.attributes["data-outcome"] == o.name }
            #expect(mine.count == o.cv.filter { $0.mean != nil }.count)
            for p in mine {
                let alpha = Double(p.attributes["data-alpha"]!)!
                let row = try #require(o.cv.first { $0.alpha == alpha })
                #expect(value(p.attributes["data-mean"]) == .some(row.mean))
                #expect(abs(Double(p.attributes["cx"]!)! - logPosition(alpha, ticks: ticks)) <= 0.02)
            }
            let chosen = mine.filter { $0.attributes["data-chosen"] == "true" }
            #expect(chosen.count == 1 && Double(chosen[0].attributes["data-alpha"]!) == o.alpha)
        }
        #expect(doc.elements(class: "chosen-alpha").count == report.outcomes.count)
    }

    @Test("feature and group names with <, &, \" and ' are escaped and read back unchanged")
    func escaping() throws {
        let name = "Means <threats> & \"co\" 'x'"
        let group = "Group <&\">"
        let report = try edited(try demoReport.get()) { object in
            var groups = object["groups"] as! [String]
            let old = groups[1]
            groups[1] = group
            object["groups"] = groups
            var outcomes = object["outcomes"] as! [[String: Any]]
            for o in outcomes.indices {
                var features = outcomes[o]["features"] as! [[String: Any]]
                for j in features.indices {
                    if features[j]["group"] as? String == old { features[j]["group"] = group }
                    if features[j]["name"] as? String == "Means threats" { features[j]["name"] = name }
                }
                outcomes[o]["features"] = features
            }
            object["outcomes"] = outcomes
            object["name"] = "Report <b>&amp;</b>"
        }
        let svg = Render.forestSVG(report, outcome: report.outcomes[0].name)
        #expect(svg.contains("Means &lt;threats&gt; &amp; &quot;co&quot; &#39;x&#39;"))
        #expect(!svg.contains("<threats>"))
        let doc = try ParsedDocument.parse(svg)
        #expect(doc.forestRows.contains { $0.attributes["data-feature"] == name && $0.attributes["data-group"] == group })
        #expect(doc.elements.contains { $0.attributes["class"] == "feature-label" && $0.text == name })
        let html = Render.html(report)
        let page = try ParsedDocument.parse(html)
        #expect(page.elements.contains { $0.name == "h1" && $0.text == "Report <b>&amp;</b>" })
        #expect(page.elements.contains { $0.name == "td" && $0.text == name })
    }

    @Test("rows without an interval, with no estimate, or with odds ratios beyond the axis still render, clearly marked")
    func awkwardValues() throws {
        let report = try edited(try demoReport.get()) { object in
            editFeature(&object, 1) { f in  // no interval at all
                f["ci"] = [String: Any]()
            }
            editFeature(&object, 2) { f in  // an estimate beyond Double's range, interval end overflowing
                f["coef"] = 800.0
                f["oddsRatio"] = "inf"
                var ci = f["ci"] as! [String: Any]
                var p = ci["percentile"] as! [String: Any]
                p["high"] = 900.0
                p["oddsRatioHigh"] = NSNull()
                ci["percentile"] = p
                f["ci"] = ci
            }
            editFeature(&object, 3) { f in  // a huge but finite odds ratio and interval
                f["coef"] = 20.0
                f["oddsRatio"] = Foundation.exp(20.0)
                var ci = f["ci"] as! [String: Any]
                ci["percentile"] = [
                    "low": -30.0, "high": 30.0, "oddsRatioLow": Foundation.exp(-30.0), "oddsRatioHigh": Foundation.exp(30.0),
                    "flags": [String](),
                ]
                f["ci"] = ci
            }
            editFeature(&object, 4) { f in  // not a number
                f["coef"] = "nan"
                f["oddsRatio"] = "nan"
                f["selectionFrequency"] = NSNull()
            }
        }
        let o = report.outcomes[0]
        let svg = Render.forestSVG(report, outcome: o.name, method: "percentile")
        let doc = try ParsedDocument.parse(svg)
        let rows = doc.forestRows
        #expect(rows.count == o.features.count - 1)
        func row(_ j: Int) throws -> (ParsedDocument.Element, [ParsedDocument.Element]) {
            let index = try #require(
                doc.elements.firstIndex { $0.attributes["class"] == "forest-row" && $0.attributes["data-feature"] == o.features[j].name })
            return (doc.elements[index], doc.children(ofRow: index))
        }
        let (noCI, noCIChildren) = try row(1)
        #expect(noCI.attributes["data-low"] == "" && noCI.attributes["data-high"] == "")
        #expect(noCIChildren.contains { $0.text == "no CI" })
        let (infinite, infiniteChildren) = try row(2)
        #expect(infinite.attributes["data-odds-ratio"] == "inf")
        #expect(infiniteChildren.filter { $0.name == "polygon" }.count >= 2, "arrows for the estimate and the open end")
        #expect(infiniteChildren.contains { $0.attributes["class"] == "odds-ratio-label" && $0.text.hasPrefix("∞") })
        let (_, hugeChildren) = try row(3)
        #expect(hugeChildren.filter { $0.name == "polygon" }.count == 3, "estimate and both interval ends clamped to the axis")
        let (nan, nanChildren) = try row(4)
        #expect(nan.attributes["data-odds-ratio"] == "nan" && nan.attributes["data-selection-frequency"] == "")
        #expect(nanChildren.contains { $0.text == "no estimate" })
        #expect(
            hugeChildren.contains { $0.attributes["class"] == "odds-ratio-label" && $0.text.hasPrefix(">10000 [<0.0001, >10000]") },
            "huge and tiny odds ratios as bounds, as in the table: \(hugeChildren.map(\.text))")
        // The axis stays within 1e-3 ... 1e3.
        let ticks = axisTicks(doc)
        #expect(ticks.first!.value >= 1e-3 && ticks.last!.value <= 1e3, "\(ticks.map(\.value))")
        _ = try ParsedDocument.parse(Render.html(report))
    }
}

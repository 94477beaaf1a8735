import Foundation

/// Layout and drawing of the cross-validation curves.
struct CVPlot {
    let report: Report

    func svg(standalone: Bool) -> String {
        let higherIsBetter = report.settings.metric == "auc"
        let metric = higherIsBetter ? "AUC" : "deviance"
        let pad = 16.0
        let series = report.outcomes.enumerated().map { i, o in
            (
                outcome: o, colour: Palette.series[i % Palette.series.count],
                points: o.cv.filter { $0.alpha > 0 && $0.alpha.isFinite }
            )
        }
        let alphas = series.flatMap { $0.points.map(\.alpha) }
        var scores: [Double] = []
        for sr in series {
            for p in sr.points {
                guard let m = p.mean, m.isFinite else { continue }
                scores.append(m)
                if let se = p.se, se.isFinite { scores += [m - se, m + se] }
            }
        }
        let title = "Cross-validation: held-out \(metric) against alpha"
        let legendEntries = series.map { "\($0.outcome.name)" }
        let legendWidth = min(max((legendEntries.map { SVG.textWidth($0, size: 12) }.max() ?? 0) + 40, 190), 280)
        let width = 760.0
        let subtitle = SVG.flow(
            [
                "\(report.settings.folds)-fold cross-validation, mean ± 1 SE across folds", "rule \(report.settings.rule)",
                "\(report.settings.choose) choice", "\(higherIsBetter ? "higher" : "lower") is better",
            ], width: width - 2 * pad, size: 11)
        let plotLeft = 72.0, plotTop = 64.0 + Double(subtitle.count - 1) * 15
        // Tall enough for the legend: 40 px per outcome and 80 px of keys.
        let height = max(440, plotTop + Double(series.count) * 40 + 80 + 58)
        let plotRight = width - pad - legendWidth - 12
        let plotBottom = height - 58
        var s = SVG.open(width: width, height: height, standalone: standalone, label: title)
        s += SVG.text(title, x: pad, y: 24, size: 15, weight: "600")
        for (i, line) in subtitle.enumerated() {
            s += SVG.text(line, x: pad, y: 43 + Double(i) * 15, size: 11, fill: Palette.muted)
        }
        guard let aMin = alphas.min(), let aMax = alphas.max(), let sMin = scores.min(), let sMax = scores.max() else {
            s += SVG.text("no cross-validation scores to plot", x: width / 2, y: height / 2, anchor: "middle", fill: Palette.muted)
            return s + "</svg>\n"
        }
        let x = LogAxis(covering: aMin, aMax, maxTicks: 8)
        let y = LinearAxis(covering: sMin, sMax, targetTicks: 6, padding: 0.03)
        func px(_ a: Double) -> Double { x.position(a, plotLeft, plotRight)! }
        func py(_ v: Double) -> Double { y.position(v, plotBottom, plotTop) }

        // Grid and axes.
        for t in x.ticks {
            let xx = px(t.value)
            s += SVG.line(xx, plotTop, xx, plotBottom, stroke: Palette.grid)
            s += "<g class=\"axis-tick x-tick\" data-value=\"\(SVG.exact(t.value))\">"
            s += SVG.line(xx, plotBottom, xx, plotBottom + 5, stroke: Palette.ink).dropLast()
            s += SVG.text(t.label, x: xx, y: plotBottom + 18, anchor: "middle", size: 11).dropLast()
            s += "</g>\n"
        }
        for t in y.ticks {
            let yy = py(t.value)
            s += SVG.line(plotLeft, yy, plotRight, yy, stroke: Palette.grid)
            s += "<g class=\"axis-tick y-tick\" data-value=\"\(SVG.exact(t.value))\">"
            s += SVG.line(plotLeft - 5, yy, plotLeft, yy, stroke: Palette.ink).dropLast()
            s += SVG.text(t.label, x: plotLeft - 8, y: SVG.baseline(yy, size: 11), anchor: "end", size: 11).dropLast()
            s += "</g>\n"
        }
        s += SVG.rect(plotLeft, plotTop, plotRight - plotLeft, plotBottom - plotTop, fill: "none", stroke: Palette.ink)
        s += SVG.text(
            "alpha (penalty on the \(report.settings.scale) scale, log axis)", x: (plotLeft + plotRight) / 2,
            y: plotBottom + 40, anchor: "middle", fill: Palette.muted)
        let yMid = (plotTop + plotBottom) / 2
        s += "<text x=\"18\" y=\"\(SVG.n(yMid))\" text-anchor=\"middle\" fill=\"\(Palette.muted)\" transform=\"rotate(-90 18 \(SVG.n(yMid)))\">"
        s += SVG.escape("mean held-out \(metric)") + "</text>\n"

        // Series.
        for sr in series {
            let c = sr.colour
            s += "<g class=\"cv-series\" data-outcome=\"\(SVG.escape(sr.outcome.name))\">\n"
            if sr.outcome.alpha > 0, sr.outcome.alpha.isFinite {
                let xx = px(sr.outcome.alpha)
                s += SVG.line(xx, plotTop, xx, plotBottom, stroke: c, width: 1.2, dash: "5 4", extra: " class=\"chosen-alpha\"")
            }
            // SE bars, then the line (broken where a score is missing), then the points.
            for p in sr.points {
                guard let m = p.mean, m.isFinite, let se = p.se, se.isFinite, se > 0 else { continue }
                let xx = px(p.alpha)
                s += SVG.line(xx, py(m - se), xx, py(m + se), stroke: c, width: 1, extra: " stroke-opacity=\"0.55\"")
                s += SVG.line(xx - 2.5, py(m - se), xx + 2.5, py(m - se), stroke: c, width: 1, extra: " stroke-opacity=\"0.55\"")
                s += SVG.line(xx - 2.5, py(m + se), xx + 2.5, py(m + se), stroke: c, width: 1, extra: " stroke-opacity=\"0.55\"")
            }
            var segment: [String] = []
            func flush() {
                if segment.count > 1 {
                    s += "<polyline points=\"\(segment.joined(separator: " "))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"/>\n"
                }
                segment = []
            }
            for p in sr.points.sorted(by: { $0.alpha < $1.alpha }) {
                if let m = p.mean, m.isFinite { segment.append("\(SVG.n(px(p.alpha))),\(SVG.n(py(m)))") } else { flush() }
            }
            flush()
            for p in sr.points {
                guard let m = p.mean, m.isFinite else { continue }
                let chosen = p.alpha == sr.outcome.alpha
                var t = "<circle class=\"cv-point\" data-outcome=\"\(SVG.escape(sr.outcome.name))\" data-alpha=\"\(SVG.exact(p.alpha))\""
                t += " data-mean=\"\(SVG.exact(m))\" data-se=\"\(SVG.exact(p.se))\" data-chosen=\"\(chosen)\""
                t += " cx=\"\(SVG.n(px(p.alpha)))\" cy=\"\(SVG.n(py(m)))\" r=\"2.6\" fill=\"\(c)\"/>\n"
                s += t
                if chosen {
                    s += "<circle cx=\"\(SVG.n(px(p.alpha)))\" cy=\"\(SVG.n(py(m)))\" r=\"6\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"/>\n"
                }
            }
            s += "</g>\n"
        }

        // Legend.
        let lx = plotRight + 20
        var ly = plotTop + 8
        for sr in series {
            s += SVG.line(lx, ly, lx + 22, ly, stroke: sr.colour, width: 2)
            s += "<circle cx=\"\(SVG.n(lx + 11))\" cy=\"\(SVG.n(ly))\" r=\"2.6\" fill=\"\(sr.colour)\"/>\n"
            s += SVG.text(SVG.fit(sr.outcome.name, width: legendWidth - 30, size: 12), x: lx + 30, y: SVG.baseline(ly))
            s += SVG.text(
                "chosen alpha \(String(format: "%.4g", sr.outcome.alpha))", x: lx + 30, y: SVG.baseline(ly + 16, size: 11),
                size: 11, fill: Palette.muted)
            ly += 40
        }
        ly += 4
        s += SVG.line(lx + 11, ly - 11, lx + 11, ly + 11, stroke: Palette.ink, width: 1.2, dash: "4 3")
        s += "<circle cx=\"\(SVG.n(lx + 11))\" cy=\"\(SVG.n(ly))\" r=\"6\" fill=\"#ffffff\" stroke=\"\(Palette.ink)\" stroke-width=\"2\"/>\n"
        s += SVG.text("chosen alpha", x: lx + 30, y: SVG.baseline(ly), size: 11)
        ly += 26
        s += SVG.line(lx + 11, ly - 7, lx + 11, ly + 7, stroke: Palette.ink, width: 1)
        s += SVG.line(lx + 8.5, ly - 7, lx + 13.5, ly - 7, stroke: Palette.ink, width: 1)
        s += SVG.line(lx + 8.5, ly + 7, lx + 13.5, ly + 7, stroke: Palette.ink, width: 1)
        s += SVG.text("±1 SE across folds", x: lx + 30, y: SVG.baseline(ly), size: 11)
        if report.outcomes.contains(where: { $0.cv.contains { !($0.alpha > 0) } }) {
            ly += 24
            s += SVG.text("alpha 0 not shown (log axis)", x: lx, y: SVG.baseline(ly), size: 10, fill: Palette.muted, style: "italic")
        }
        s += "</svg>\n"
        return s
    }
}

extension Render {
    /// The cross-validation curves: mean held-out score against alpha (log axis) with ±1 SE
    /// bars, one line per outcome, the chosen alpha of each outcome marked. Each point is a
    /// `<circle class="cv-point">` with `data-outcome`, `data-alpha`, `data-mean`, `data-se` and
    /// `data-chosen`.
    public static func cvSVG(_ report: Report) -> String {
        CVPlot(report: report).svg(standalone: true)
    }
}

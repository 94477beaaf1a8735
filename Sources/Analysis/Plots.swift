import Foundation

/// Figures of a report as SVG text: pure functions of the ``Report``, byte-stable.
extension Render {
    /// The forest plot of one outcome: odds ratio and confidence interval of every feature on a
    /// log axis with a reference line at 1, features in the spec's groups, the bootstrap
    /// selection frequency beside each row, and the Wald interval as a second mark when the spec
    /// asked for it (`report.wald`). The intercept is left out (it is in the table).
    ///
    /// Every row is a `<g class="forest-row">` carrying its numbers with full round-trip
    /// precision (`data-outcome`, `data-group`, `data-feature`, `data-coef`, `data-odds-ratio`,
    /// `data-low`, `data-high` on the odds-ratio scale, `data-method`,
    /// `data-selection-frequency`, and `data-wald-low`/`data-wald-high` when present; empty
    /// where the report has no value), so tests and browsers can read the plot back.
    ///
    /// - Parameters:
    ///   - outcome: an outcome name of the report; an unknown name gives a figure saying so.
    ///   - method: the CI method to draw; defaults to the report's first.
    /// - Returns: a standalone SVG document (with the SVG namespace, no XML declaration).
    public static func forestSVG(_ report: Report, outcome: String, method: String? = nil) -> String {
        ForestPlot(report: report, outcome: outcome, method: method).svg(standalone: true)
    }

    /// Features of one outcome as the forest plot and the tables group them: the report's
    /// groups in spec order, then any other group in order of appearance; the intercept is
    /// left out.
    static func groupedFeatures(_ report: Report, _ o: Report.Outcome) -> [(group: String, features: [Report.Feature])] {
        let features = o.features.filter { !isIntercept($0) }
        var order = report.groups
        for f in features where !order.contains(f.group) { order.append(f.group) }
        return order.compactMap { g in
            let rows = features.filter { $0.group == g }
            return rows.isEmpty ? nil : (g, rows)
        }
    }

    static func isIntercept(_ f: Report.Feature) -> Bool { f.name == "const" && f.group == "Intercept" }

    /// An odds ratio for a label: as in the text table (3 significant digits, ends beyond 10^+-4
    /// as `>10000` / `<0.0001`), `∞` past Double's range.
    static func ratioLabel(_ x: Double?) -> String {
        guard let x else { return "–" }
        if x.isNaN { return "n/a" }
        if x == .infinity { return "∞" }
        return odds(x, digits: 3)
    }

    static func percent(_ level: Double) -> String { String(format: "%g", level * 100) }
}

/// Layout and drawing of one outcome's forest plot.
struct ForestPlot {
    let report: Report
    let outcomeName: String
    let method: String

    init(report: Report, outcome: String, method: String?) {
        self.report = report
        self.outcomeName = outcome
        self.method = method ?? report.defaultMethod
    }

    // Sizes (px).
    static let font = 12.0
    static let rowHeight = 22.0
    static let pad = 16.0
    static let plotWidth = 380.0
    static let arrow = 7.0

    struct Row {
        let feature: Report.Feature
        let group: String
        /// The interval's ends on the odds-ratio scale, as the report has them.
        let low: Double?
        let high: Double?
        /// The ends to draw: an end whose exp overflowed (`nil` in the report, finite on the
        /// coefficient scale) is infinite, so it is drawn as an arrow rather than dropped.
        let drawLow: Double?
        let drawHigh: Double?
        /// The point drawn: exp of the debiased estimate for a debiased interval, else of the fit.
        let point: Double
        var wald: Report.WaldInterval? { feature.wald }

        init(feature: Report.Feature, group: String, method: String) {
            self.feature = feature
            self.group = group
            let ci = feature.interval(method)
            point = method.hasPrefix(Report.debiasedPrefix) ? (feature.debiased?.oddsRatio ?? feature.oddsRatio) : feature.oddsRatio
            low = ci?.oddsRatioLow
            high = ci?.oddsRatioHigh
            drawLow = ci?.oddsRatioLow ?? (ci?.low != nil ? .infinity : nil)
            drawHigh = ci?.oddsRatioHigh ?? (ci?.high != nil ? .infinity : nil)
        }
    }

    func svg(standalone: Bool) -> String {
        guard let outcome = report.outcomes.first(where: { $0.name == outcomeName }) else {
            return message(
                "No outcome named \u{201C}\(outcomeName)\u{201D} in this report (outcomes: "
                    + report.outcomes.map(\.name).joined(separator: ", ") + ").", standalone: standalone)
        }
        let groups = Render.groupedFeatures(report, outcome)
        let rows = groups.flatMap { g in
            g.features.map { f in Row(feature: f, group: g.group, method: method) }
        }
        let showWald = report.settings.wald == true
        let pct = Render.percent(report.settings.level)
        let font = Self.font, pad = Self.pad, rowH = Self.rowHeight

        // Axis: every finite positive value, limited to 1e-3 ... 1e3 (beyond: arrows), with 1 in view.
        var values: [Double] = [1]
        for r in rows {
            values += [r.point, r.drawLow, r.drawHigh].compactMap { $0 }
            if showWald, let w = r.wald { values += [w.oddsRatioLow, w.oddsRatioHigh].compactMap { $0 } }
        }
        let usable = values.filter { $0 > 0 && $0.isFinite }.map { min(max($0, 1e-3), 1e3) }
        let axis = LogAxis(covering: usable.min()!, usable.max()!, maxTicks: 9)

        // Columns.
        let orTexts = rows.map { orText($0) }
        let waldTexts = rows.map { waldText($0) }
        let orHeader = "odds ratio [\(pct)% CI]"
        let waldHeader = "Wald \(pct)% CI"
        let labelWidth = min(
            max(
                (rows.map { SVG.textWidth($0.feature.name, size: font) + 14 }
                    + groups.map { SVG.textWidth($0.group, size: font, bold: true) }).max() ?? 0,
                120) + pad, 340)
        let orWidth = ((orTexts + [orHeader]).map { SVG.textWidth($0, size: font) }.max() ?? 0) + 20
        let waldWidth = showWald ? ((waldTexts + [waldHeader]).map { SVG.textWidth($0, size: font) }.max() ?? 0) + 20 : 0
        let selectionWidth = 100.0
        let plotLeft = pad + labelWidth + 10
        let plotRight = plotLeft + Self.plotWidth
        let orLeft = plotRight + 18
        let waldLeft = orLeft + orWidth
        let selectionLeft = waldLeft + waldWidth
        let width = selectionLeft + selectionWidth + pad

        // Legend items (flowed into lines).
        let anyZero = rows.contains { $0.feature.coef == 0 }
        let anyClamped = rows.contains { r in
            ([r.point, r.drawLow, r.drawHigh] + (showWald ? [r.wald?.oddsRatioLow, r.wald?.oddsRatioHigh] : []))
                .contains { v in v.map { $0 <= 0 || $0.isInfinite || $0 < axis.low || $0 > axis.high } ?? false }
        }
        var legend: [(kind: String, label: String)] = [("estimate", "odds ratio (full-data fit at the chosen alpha)")]
        if anyZero { legend.append(("zero", "coefficient exactly 0")) }
        legend.append(("ci", "\(pct)% CI (\(Report.describe(method)))"))
        if showWald { legend.append(("wald", "\(pct)% Wald CI, conditional on selection")) }
        if anyClamped { legend.append(("arrow", "beyond the axis")) }
        var legendLines: [[(kind: String, label: String, x: Double)]] = [[]]
        var cursor = pad
        for item in legend {
            let w = 26 + SVG.textWidth(item.label, size: 11) + 24
            if cursor + w > width - pad && !legendLines[legendLines.count - 1].isEmpty {
                legendLines.append([])
                cursor = pad
            }
            legendLines[legendLines.count - 1].append((item.kind, item.label, cursor))
            cursor += w
        }

        // Vertical layout.
        let titleY = 24.0
        let subtitleY = 43.0
        let subtitle = SVG.flow(
            [
                "alpha \(String(format: "%.4g", outcome.alpha)) chosen by \(report.settings.folds)-fold CV",
                "\(outcome.resamples) bootstrap resamples", "\(method) intervals",
                "selected: share of resamples with a nonzero coefficient", "intercept not shown",
            ], width: width - 2 * pad, size: 11)
        let legendTop = subtitleY + Double(subtitle.count - 1) * 15 + 15
        let headerY = legendTop + Double(legendLines.count) * 18 + 14
        let rowsTop = headerY + 8
        let rowCount = Double(rows.count + groups.count)
        let plotBottom = rowsTop + rowCount * rowH + 4
        let height = plotBottom + 50

        let title = "\(outcome.name): odds ratios with \(pct)% CIs (\(Report.describe(method)))"
        var s = SVG.open(width: width, height: height, standalone: standalone, label: title)
        s += SVG.text(SVG.fit(title, width: width - 2 * pad, size: 15, bold: true), x: pad, y: titleY, size: 15, weight: "600")
        for (i, line) in subtitle.enumerated() {
            s += SVG.text(line, x: pad, y: subtitleY + Double(i) * 15, size: 11, fill: Palette.muted)
        }

        // Legend.
        for (i, line) in legendLines.enumerated() {
            let cy = legendTop + Double(i) * 18 + 6
            for item in line {
                let x = item.x
                switch item.kind {
                case "estimate": s += SVG.rect(x + 9, cy - 4, 8, 8, fill: Palette.estimate)
                case "zero": s += SVG.rect(x + 9, cy - 4, 8, 8, fill: "#ffffff", stroke: Palette.estimate, strokeWidth: 1.5)
                case "ci":
                    s += SVG.line(x, cy, x + 22, cy, stroke: Palette.estimate, width: 2)
                    s += SVG.line(x, cy - 4, x, cy + 4, stroke: Palette.estimate, width: 1.5)
                    s += SVG.line(x + 22, cy - 4, x + 22, cy + 4, stroke: Palette.estimate, width: 1.5)
                case "wald":
                    s += SVG.line(x + 2, cy, x + 20, cy, stroke: Palette.wald, width: 1.5)
                    s += SVG.diamond(x: x + 2, y: cy, r: 3.2, fill: Palette.wald)
                    s += SVG.diamond(x: x + 20, y: cy, r: 3.2, fill: Palette.wald)
                default:
                    s += SVG.line(x, cy, x + 14, cy, stroke: Palette.estimate, width: 2)
                    s += SVG.arrow(tipX: x + 22, y: cy, direction: 1, fill: Palette.estimate)
                }
                s += SVG.text(item.label, x: x + 26, y: SVG.baseline(cy, size: 11), size: 11, fill: Palette.ink)
            }
        }

        // Column headers.
        s += SVG.text("feature", x: pad, y: headerY, size: 11, weight: "600", fill: Palette.muted)
        s += SVG.text(orHeader, x: orLeft, y: headerY, size: 11, weight: "600", fill: Palette.muted)
        if showWald { s += SVG.text(waldHeader, x: waldLeft, y: headerY, size: 11, weight: "600", fill: Palette.wald) }
        s += SVG.text("selected", x: selectionLeft, y: headerY, size: 11, weight: "600", fill: Palette.muted)

        // Background: row stripes, grid, reference line at 1 (under every mark).
        var stripeTop = rowsTop
        var striped = false
        for g in groups {
            stripeTop += rowH
            for _ in g.features {
                if striped { s += SVG.rect(0, stripeTop, width, rowH, fill: Palette.stripe) }
                striped.toggle()
                stripeTop += rowH
            }
        }
        for t in axis.ticks {
            let x = axis.position(t.value, plotLeft, plotRight)!
            s += SVG.line(x, rowsTop, x, plotBottom, stroke: Palette.grid)
        }
        if let one = axis.position(1, plotLeft, plotRight) {
            s += SVG.line(one, rowsTop, one, plotBottom, stroke: Palette.reference, width: 1.2, extra: " class=\"reference-line\"")
        }

        // Rows.
        var y = rowsTop
        var rowIndex = 0
        for g in groups {
            s += "<g class=\"forest-group\" data-group=\"\(SVG.escape(g.group))\">\n"
            s += SVG.text(
                SVG.fit(g.group, width: labelWidth, size: font, bold: true), x: pad, y: SVG.baseline(y + rowH / 2),
                weight: "600")
            s += "</g>\n"
            y += rowH
            for _ in g.features {
                let r = rows[rowIndex]
                s += row(
                    r, top: y, axis: axis, plotLeft: plotLeft, plotRight: plotRight, labelWidth: labelWidth,
                    orLeft: orLeft, orText: orTexts[rowIndex], waldLeft: showWald ? waldLeft : nil, waldText: waldTexts[rowIndex],
                    selectionLeft: selectionLeft, outcome: outcome.name)
                rowIndex += 1
                y += rowH
            }
        }
        // Axis.
        s += SVG.line(plotLeft, plotBottom, plotRight, plotBottom, stroke: Palette.ink)
        for t in axis.ticks {
            let x = axis.position(t.value, plotLeft, plotRight)!
            s += "<g class=\"axis-tick\" data-value=\"\(SVG.exact(t.value))\">"
            s += SVG.line(x, plotBottom, x, plotBottom + 5, stroke: Palette.ink).dropLast()
            s += SVG.text(t.label, x: x, y: plotBottom + 18, anchor: "middle", size: 11).dropLast()
            s += "</g>\n"
        }
        s += SVG.text(
            "odds ratio (log scale)", x: (plotLeft + plotRight) / 2, y: plotBottom + 38, anchor: "middle",
            fill: Palette.muted)
        s += SVG.text("← lower odds", x: plotLeft, y: plotBottom + 38, size: 10, fill: Palette.muted)
        s += SVG.text("higher odds →", x: plotRight, y: plotBottom + 38, anchor: "end", size: 10, fill: Palette.muted)
        s += "</svg>\n"
        return s
    }

    func orText(_ r: Row) -> String {
        var t = Render.ratioLabel(r.point)
        if r.drawLow == nil && r.drawHigh == nil {
            t += "  no CI"
        } else {
            t += " [\(Render.ratioLabel(r.drawLow)), \(Render.ratioLabel(r.drawHigh))]"
        }
        return t + Render.marker(r.feature, method: method)
    }

    func waldText(_ r: Row) -> String {
        guard let w = r.wald else { return r.feature.coef == 0 ? "not selected" : "–" }
        return "[\(Render.ratioLabel(w.oddsRatioLow)), \(Render.ratioLabel(w.oddsRatioHigh))]"
    }

    func row(
        _ r: Row, top: Double, axis: LogAxis, plotLeft: Double, plotRight: Double, labelWidth: Double,
        orLeft: Double, orText: String, waldLeft: Double?, waldText: String, selectionLeft: Double,
        outcome: String
    ) -> String {
        let f = r.feature
        let rowH = Self.rowHeight
        let cy = top + rowH / 2
        let hasWald = waldLeft != nil
        let ciY = hasWald ? cy - 3 : cy
        let waldY = cy + 5
        var attributes = "class=\"forest-row\" data-outcome=\"\(SVG.escape(outcome))\" data-group=\"\(SVG.escape(r.group))\""
        attributes += " data-feature=\"\(SVG.escape(f.name))\" data-coef=\"\(SVG.exact(f.coef))\""
        attributes += " data-odds-ratio=\"\(SVG.exact(f.oddsRatio))\" data-low=\"\(SVG.exact(r.low))\" data-high=\"\(SVG.exact(r.high))\""
        attributes += " data-method=\"\(SVG.escape(method))\" data-selection-frequency=\"\(SVG.exact(f.selectionFrequency))\""
        if hasWald {
            attributes += " data-wald-low=\"\(SVG.exact(f.wald?.oddsRatioLow))\" data-wald-high=\"\(SVG.exact(f.wald?.oddsRatioHigh))\""
        }
        var s = "<g \(attributes)>\n"
        let selected = f.selectionFrequency.map { String(format: "%.0f%%", $0 * 100) } ?? "–"
        s += "<title>\(SVG.escape("\(f.name): \(orText); selected in \(selected) of resamples"))</title>\n"
        s += SVG.text(
            SVG.fit(f.name, width: labelWidth - 14, size: Self.font), x: Self.pad + 14, y: SVG.baseline(cy),
            extra: " class=\"feature-label\"")

        // Maps a value onto the plot, clamped to the axis; `side` is -1/+1 when clamped.
        func place(_ v: Double) -> (x: Double, side: Int)? {
            if v.isNaN { return nil }
            if v <= axis.low * (1 - 1e-12) { return (plotLeft, -1) }
            if v >= axis.high * (1 + 1e-12) { return (plotRight, 1) }
            return (axis.position(v, plotLeft, plotRight)!, 0)
        }
        // An interval: a line with end caps (or arrows where clamped) and optional end marks.
        func interval(_ low: Double, _ high: Double, y: Double, colour: String, width: Double, diamonds: Bool) -> String {
            guard let a = place(low), let b = place(high) else { return "" }
            var t = ""
            let x1 = a.side == -1 ? a.x + Self.arrow : a.x
            let x2 = b.side == 1 ? b.x - Self.arrow : b.x
            t += SVG.line(x1, y, max(x1, x2), y, stroke: colour, width: width)
            for (end, x, direction) in [(a, a.x, -1), (b, b.x, 1)] {
                if end.side != 0 {
                    t += SVG.arrow(tipX: x, y: y, direction: direction, fill: colour)
                } else if diamonds {
                    t += SVG.diamond(x: x, y: y, r: 3.2, fill: colour)
                } else {
                    t += SVG.line(x, y - 4, x, y + 4, stroke: colour, width: 1.5)
                }
            }
            return t
        }

        if let low = r.drawLow, let high = r.drawHigh {
            s += interval(low, high, y: ciY, colour: Palette.estimate, width: 2, diamonds: false)
        }
        if hasWald, let w = f.wald {
            s += interval(
                w.oddsRatioLow ?? .infinity, w.oddsRatioHigh ?? .infinity, y: waldY, colour: Palette.wald, width: 1.5,
                diamonds: true)
        }
        // A note in the plot goes right of everything drawn in the row, or left of it if it does not fit.
        let drawn = ([r.drawLow, r.drawHigh, r.point] + (hasWald ? [f.wald?.oddsRatioLow ?? .infinity, f.wald?.oddsRatioHigh ?? .infinity] : []))
            .compactMap { $0 }.compactMap { place($0)?.x }
        func note(_ text: String, y: Double) -> String {
            let w = SVG.textWidth(text, size: 10)
            let right = (drawn.max() ?? (plotLeft + plotRight) / 2) + 8
            let left = (drawn.min() ?? (plotLeft + plotRight) / 2) - 8
            let (x, anchor) = right + w <= plotRight ? (right, "start") : (left - w >= plotLeft ? (left, "end") : (plotLeft + 2, "start"))
            return SVG.text(
                text, x: x, y: SVG.baseline(y, size: 10), anchor: anchor, size: 10, fill: Palette.muted, style: "italic",
                extra: " class=\"note\"")
        }
        if let p = place(r.point) {
            if p.side != 0 {
                s += SVG.arrow(tipX: p.x, y: ciY, direction: p.side, size: 10, fill: Palette.estimate)
            } else if f.coef == 0 {
                s += SVG.rect(
                    p.x - 4, ciY - 4, 8, 8, fill: "#ffffff", stroke: Palette.estimate, strokeWidth: 1.5,
                    extra: " class=\"estimate zero\"")
            } else {
                s += SVG.rect(p.x - 4, ciY - 4, 8, 8, fill: Palette.estimate, extra: " class=\"estimate\"")
            }
            if r.drawLow == nil || r.drawHigh == nil { s += note("no CI", y: ciY) }
        } else {
            s += note("no estimate", y: ciY)
        }
        s += SVG.text(orText, x: orLeft, y: SVG.baseline(cy), extra: " class=\"odds-ratio-label\"")
        if let waldLeft {
            s += SVG.text(
                waldText, x: waldLeft, y: SVG.baseline(cy), fill: f.wald == nil ? Palette.muted : Palette.ink,
                extra: " class=\"wald-label\"")
        }
        s += SVG.text(selected, x: selectionLeft + 34, y: SVG.baseline(cy), anchor: "end", extra: " class=\"selection-label\"")
        if let frequency = f.selectionFrequency {
            s += SVG.rect(selectionLeft + 40, cy - 4, 48, 8, fill: Palette.selectionTrack)
            s += SVG.rect(selectionLeft + 40, cy - 4, 48 * min(max(frequency, 0), 1), 8, fill: Palette.selection)
        }
        s += "</g>\n"
        return s
    }

    func message(_ text: String, standalone: Bool) -> String {
        let width = max(360, SVG.textWidth(text, size: 12) + 40)
        var s = SVG.open(width: width, height: 60, standalone: standalone, label: text)
        s += SVG.text(text, x: 20, y: 34, fill: Palette.muted)
        return s + "</svg>\n"
    }
}

import Foundation
import Lasso

/// The report as one self-contained HTML page: inline CSS and SVG, no scripts, no URLs.
extension Render {
    /// The whole report as an HTML document that needs nothing else: run summary, the
    /// cross-validation curves, a forest plot and the full table per outcome. Inline CSS and
    /// SVG only (no scripts, no fonts or images fetched, no URL anywhere), well-formed XML, and
    /// byte-identical for the same report.
    public static func html(_ report: Report) -> String {
        var s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        s += "<title>\(SVG.escape(report.name)) · lassoboot report</title>\n"
        s += "<style>\n\(htmlStyle)</style>\n</head>\n<body>\n"
        s += htmlFragment(report)
        s += "</body>\n</html>\n"
        return s
    }

    /// The body of ``html(_:)`` without `<html>`/`<head>`, for embedding in another page (one
    /// `<div class="lb-report">`); it needs ``htmlStyle`` on that page.
    public static func htmlFragment(_ report: Report) -> String {
        HTMLReport(report: report).fragment()
    }

    /// The CSS ``htmlFragment(_:)`` needs, every rule scoped under `.lb-report`.
    public static let htmlStyle = """
        .lb-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
          color: #1b1f24; background: #ffffff; max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; line-height: 1.45; }
        .lb-report h1 { font-size: 1.55em; margin: 0 0 0.2em; }
        .lb-report h2 { font-size: 1.25em; margin: 2em 0 0.6em; padding-bottom: 0.25em; border-bottom: 1px solid #d0d7de; }
        .lb-report h3 { font-size: 1.05em; margin: 1.4em 0 0.5em; }
        .lb-report p { margin: 0.4em 0; }
        .lb-report code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em;
          background: #f3f5f8; padding: 0 0.25em; border-radius: 3px; overflow-wrap: anywhere; }
        .lb-report .lb-note { color: #57606a; font-size: 0.9em; }
        .lb-report .lb-warning { border-left: 4px solid #bf8700; padding: 0.3em 0.6em; background: #fff8c5; }
        .lb-report figure { margin: 0.8em 0 1.2em; overflow-x: auto; }
        .lb-report figure svg { display: block; max-width: 100%; height: auto; }
        .lb-report figcaption { color: #57606a; font-size: 0.88em; margin-top: 0.3em; }
        .lb-report .lb-scroll { overflow-x: auto; }
        .lb-report table { border-collapse: collapse; font-size: 13px; margin: 0.4em 0 1em; }
        .lb-report th, .lb-report td { padding: 4px 9px; border-bottom: 1px solid #e5e9ef; text-align: left; vertical-align: top; }
        .lb-report thead th { border-bottom: 2px solid #c9d1d9; font-weight: 600; white-space: nowrap; background: #ffffff; }
        .lb-report td.num, .lb-report th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .lb-report tr.lb-group th { background: #f3f5f8; font-weight: 600; }
        .lb-report tbody tr:hover td { background: #fafbfc; }
        .lb-report table.lb-kv th { font-weight: 600; color: #424a53; white-space: nowrap; }
        .lb-report table.lb-table td:first-child { white-space: nowrap; }
        .lb-report td.lb-flags { color: #9a6700; font-size: 0.92em; }
        .lb-report .lb-wald { color: #b34700; }
        .lb-report .lb-zero { color: #6e7781; }

        """
}

/// The sections of the HTML report.
struct HTMLReport {
    let report: Report

    var method: String { report.defaultMethod }
    var debiased: Bool { report.settings.intervals == IntervalKind.debiased.rawValue }
    var pct: String { Render.percent(report.settings.level) }
    var wald: Bool { report.settings.wald == true }

    func fragment() -> String {
        var s = "<div class=\"lb-report\">\n"
        s += "<h1>\(e(report.name))</h1>\n"
        s += "<p class=\"lb-note\">L1-penalized logistic regression, alpha by cross-validation, bootstrap confidence intervals"
        s += " · \(e(report.software))</p>\n"
        s += summary()
        s += "<h2>Cross-validation</h2>\n<figure>\n" + CVPlot(report: report).svg(standalone: false)
        s += "<figcaption>Mean held-out score of the \(report.settings.folds) folds at each alpha of the grid, with ±1 standard error;"
        s += " the dashed line and ring mark the alpha each outcome was fitted at (rule \(e(report.settings.rule)),"
        s += " \(e(report.settings.choose)) choice).</figcaption>\n</figure>\n"
        for (i, o) in report.outcomes.enumerated() {
            s += "<section class=\"lb-outcome\" id=\"lb-outcome-\(i + 1)\">\n"
            s += "<h2>\(e(o.name))</h2>\n"
            s += "<p>\(e(Render.summaryLine(report, o)))</p>\n"
            s += "<figure>\n" + ForestPlot(report: report, outcome: o.name, method: nil).svg(standalone: false)
            if debiased {
                s += "<figcaption>Odds ratio exp(b) of the debiased lasso estimate b with its \(pct)% \(e(Render.shortName(method)))"
                s += " interval, which covers the unpenalized coefficient"
            } else {
                s += "<figcaption>Odds ratio exp(coef) of the full-data fit at the chosen alpha with its \(pct)% bootstrap \(e(method))"
                s += " interval (variability of the penalized estimator)"
            }
            s += " (log scale, reference line at 1); “selected” is the share of bootstrap resamples in which the"
            s += " coefficient is nonzero."
            if wald { s += " The orange mark is the Wald interval conditional on the selected model (see the note below)." }
            s += "</figcaption>\n</figure>\n"
            s += table(o)
            s += "</section>\n"
        }
        s += "<h2>Notes</h2>\n"
        s +=
            "<p class=\"lb-note\">"
            + (debiased
                ? "The debiased odds ratio is exp(b) of the debiased estimate; the odds ratio column beside coef is exp(coef) of the penalized full-data fit at the chosen alpha."
                : "Odds ratios are exp(coef) of the full-data fit at the chosen alpha.")
        s += " Bootstrap intervals are computed on the"
        s += " coefficient scale and exponentiated. * zero in most resamples: the interval is not a smooth quantity there."
        s += " ! the interval has flags (listed in the table and in report.json).</p>\n"
        s += "<p class=\"lb-note\">The bootstrap intervals of the penalized fit (percentile, basic, normal, BCa) describe the"
        s += " variability of the penalized estimator: at a fixed alpha the lasso's shrinkage bias is the same in every resample,"
        s += " so they are not confidence intervals for the unpenalized coefficient and under-cover where the data are thin.</p>\n"
        if debiased, report.outcomes.contains(where: { $0.debiasing?.method == DebiasSpec.Method.nodewise.rawValue }) {
            s += "<p class=\"lb-note\">Desparsified lasso (p ≥ n or wide data, as hdi's <code>lasso.proj</code>): b<sub>j</sub> = beta<sub>j</sub>"
            s += " + u<sub>j</sub>'(y − π) / u<sub>j</sub>'W x<sub>j</sub>, u<sub>j</sub> the residual of a weighted nodewise lasso"
            s += " regression of feature j on the others (one lambda for all features, by pooled cross-validation), with the Wald"
            s += " interval b ± z·SE. They cover the unpenalized coefficient asymptotically; in finite samples large coefficients"
            s += " are under-covered (the literature and Benchmarks/README.md agree). The intercept's interval comes from its own"
            s += " nodewise regression (the constant column on the features), an extension of lasso.proj.</p>\n"
        } else if debiased, report.outcomes.contains(where: { $0.debiasing?.method == DebiasSpec.Method.firth.rawValue }) {
            s += "<p class=\"lb-note\">Debiased intervals: Firth's bias-reduced estimate, scoring steps from the lasso fit to the"
            s += " maximum of the log-likelihood plus ½ log det H (the Jeffreys prior), with the Wald interval b ± z·SE and"
            s += " bootstrap intervals of the same estimate made in every resample. Unlike the maximum-likelihood estimate it"
            s += " has no O(1/n) bias and stays finite under separation, so its intervals cover the unpenalized coefficient at"
            s += " their nominal level also when p/n is not small (Benchmarks/README.md: the coverage grid).</p>\n"
        } else if debiased {
            s += "<p class=\"lb-note\">Debiased intervals: b = beta + H<sup>-1</sup>g, Newton steps on the unpenalized"
            s += " log-likelihood from the lasso fit (\(report.settings.newtonSteps.map { "\($0) step(s)" } ?? "until converged")),"
            s += " with the Wald interval b ± z·SE and bootstrap intervals of the same step taken in every resample."
            s += " They cover the unpenalized coefficient at their nominal level when n is well above p (Benchmarks/README.md:"
            s += " the coverage grid, R = 1000); at p/n = 0.05-0.1 the maximum-likelihood estimate's own bias makes them"
            s += " under-cover large coefficients, which Firth's estimate (method firth, auto below 50 rows per coefficient) corrects.</p>\n"
        }
        if report.outcomes.contains(where: { $0.stability != nil }) {
            s += "<p class=\"lb-note\">\(e(Render.stabilityNote))</p>\n"
        }
        if wald {
            s += "<p class=\"lb-note\">\(e(Wald.label)): the inverse unpenalized Hessian over the nonzero coefficients, as statsmodels"
            s += " and <code>lassoboot fit</code> report after an L1 fit. They ignore both the selection and the shrinkage and are"
            s += " not honest confidence intervals; they are shown to compare with published tables. Coefficients that are"
            s += " exactly zero have none.</p>\n"
        }
        s += "</div>\n"
        return s
    }

    func e(_ s: String) -> String { SVG.escape(s) }

    func summary() -> String {
        let st = report.settings
        let d = report.data
        var rows: [(String, String)] = []
        rows.append(("Data", "<code>\(e(d.csv))</code> · sha256 <code>\(e(report.dataHash))</code>"))
        var kept = "\(d.rows) of \(d.rowsRead) rows kept · \(d.patterns) covariate patterns"
        for x in d.dropped where x.rows > 0 { kept += "<br/>dropped \(x.rows): \(e(x.reason))" }
        rows.append(("Rows", kept))
        rows.append(
            (
                "Model",
                "L1 penalty on the \(e(st.scale)) scale, intercept \(st.penalizeIntercept ? "penalized" : "not penalized")"
                    + (st.standardize == true ? " · standardized (penalty per SD of each feature, as glmnet; odds ratios per unit and per SD)" : "")
                    + " · solver tolerance \(e(String(format: "%g", st.tolerance)))"
            ))
        let metric = st.metric == "auc" ? "AUC" : e(st.metric)
        rows.append(("Cross-validation", "\(st.folds) folds · \(metric) · rule \(e(st.rule)) · \(e(st.choose)) choice"))
        var boot = "\(st.resamples) resamples · \(pct)% intervals: \(e(st.methods.joined(separator: ", "))) · quantiles \(e(st.quantiles))"
        if st.nested { boot += " · nested (alpha re-chosen by cross-validation in every resample)" }
        rows.append(("Bootstrap", boot))
        if wald { rows.append(("Wald intervals", "\(pct)% \(e(Wald.label)), shown beside the bootstrap intervals")) }
        rows.append(("Seed", "\(report.seed)"))
        var s = "<h2>Run</h2>\n<table class=\"lb-kv\">\n<tbody>\n"
        for (k, v) in rows { s += "<tr><th scope=\"row\">\(k)</th><td>\(v)</td></tr>\n" }
        s += "</tbody>\n</table>\n"

        let metricName = st.metric == "auc" ? "CV AUC" : "CV deviance"
        s += "<h3>Outcomes</h3>\n<div class=\"lb-scroll\">\n<table>\n<thead><tr><th>outcome</th><th class=\"num\">chosen alpha</th>"
        s += "<th class=\"num\">\(metricName) (± SE)</th><th class=\"num\">resamples</th><th>failed resamples</th>"
        s += "<th class=\"num\">KKT violation</th><th class=\"num\">iterations</th>"
        if st.nested { s += "<th>alphas chosen in resamples</th>" }
        s += "</tr></thead>\n<tbody>\n"
        for o in report.outcomes {
            let chosen = o.cv.first { $0.alpha == o.alpha }
            let score = chosen?.mean.map { String(format: "%.4f", $0) + (chosen?.se.map { String(format: " ± %.4f", $0) } ?? "") } ?? "–"
            let failed =
                o.failedResamples == 0
                ? "0"
                : "\(o.failedResamples): " + o.failures.map { "\(e($0.cause)) ×\($0.resamples)" }.joined(separator: "; ")
            s += "<tr><td>\(e(o.name))</td><td class=\"num\">\(String(format: "%.6g", o.alpha))</td><td class=\"num\">\(score)</td>"
            s += "<td class=\"num\">\(o.resamples)</td><td>\(failed)</td>"
            s += "<td class=\"num\">\(String(format: "%.2g", o.estimateKKT))</td><td class=\"num\">\(o.estimateIterations)</td>"
            if st.nested {
                let top = (o.chosenAlphas ?? []).sorted { $0.resamples != $1.resamples ? $0.resamples > $1.resamples : $0.alpha > $1.alpha }.prefix(5)
                s += "<td>" + top.map { "\(String(format: "%.4g", $0.alpha)) ×\($0.resamples)" }.joined(separator: ", ") + "</td>"
            }
            s += "</tr>\n"
        }
        s += "</tbody>\n</table>\n</div>\n"
        for o in report.outcomes {
            if let st = o.stability { s += "<p class=\"lb-stability\">\(e(o.name)): \(e(Render.stabilityLine(st)))</p>\n" }
        }
        for o in report.outcomes {
            for w in o.warnings ?? [] { s += "<p class=\"lb-warning\" role=\"note\"><strong>Warning, \(e(o.name)):</strong> \(e(w))</p>\n" }
        }
        return s
    }

    func table(_ o: Report.Outcome) -> String {
        let methods = report.settings.methods
        var head = "<tr><th>feature</th><th class=\"num\">coef</th><th class=\"num\">odds ratio</th>"
        let debiasedMethods = debiased ? ["wald"] + methods : []
        if debiased { head += "<th class=\"num\">debiased odds ratio</th>" }
        let showSD = o.features.contains { $0.sd != nil }
        if showSD { head += "<th class=\"num\">per SD [\(pct)% CI, \(e(Render.shortName(report.defaultMethod)))]</th>" }
        for m in debiasedMethods { head += "<th class=\"num lb-debiased\">\(pct)% CI (\(e(Render.shortName(Report.debiasedPrefix + m))))</th>" }
        for m in methods { head += "<th class=\"num\">\(pct)% CI (\(e(m)): variability of the penalized estimator)</th>" }
        if wald { head += "<th class=\"num lb-wald\">\(pct)% Wald CI</th>" }
        head += "<th class=\"num\">selected</th><th class=\"num\">zero</th><th class=\"num\">P(β&gt;0)</th><th class=\"num\">P(β&lt;0)</th>"
        let stability = o.stability != nil
        if stability { head += "<th class=\"num\">stability selection</th>" }
        head += "<th class=\"num\">bootstrap SE</th><th class=\"num\">bias</th><th>flags</th></tr>"
        let columns = 10 + (showSD ? 1 : 0) + (stability ? 1 : 0) + methods.count + (wald ? 1 : 0) + (debiased ? 1 + debiasedMethods.count : 0)
        var groups = Render.groupedFeatures(report, o)
        let intercept = o.features.filter(Render.isIntercept)
        if !intercept.isEmpty { groups.insert(("Intercept", intercept), at: 0) }

        var s = "<h3>All estimates: \(e(o.name))</h3>\n<div class=\"lb-scroll\">\n<table class=\"lb-table\">\n<thead>\(head)</thead>\n<tbody>\n"
        func interval(_ low: Double?, _ high: Double?) -> String {
            low == nil && high == nil ? "–" : e("[\(Render.ratioLabel(low)), \(Render.ratioLabel(high))]")
        }
        func pct1(_ x: Double?) -> String { x.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }
        for g in groups {
            s += "<tr class=\"lb-group\"><th colspan=\"\(columns)\" scope=\"rowgroup\">\(e(g.group))</th></tr>\n"
            for f in g.features {
                s += "<tr data-feature=\"\(e(f.name))\"><td>\(e(f.name))</td>"
                s += "<td class=\"num\(f.coef == 0 ? " lb-zero" : "")\">\(Render.fixed(f.coef, 4))</td>"
                s += "<td class=\"num\">\(e(Render.ratioLabel(f.oddsRatio)))</td>"
                if debiased { s += "<td class=\"num\">\(e(Render.ratioLabel(f.debiased?.oddsRatio)))</td>" }
                if showSD { s += "<td class=\"num\">\(e(Render.perSD(f, method: report.defaultMethod, digits: 3)))</td>" }
                for m in debiasedMethods {
                    let ci = f.debiased?.ci[m]
                    let low = ci?.oddsRatioLow ?? (ci?.low != nil ? .infinity : nil)
                    let high = ci?.oddsRatioHigh ?? (ci?.high != nil ? .infinity : nil)
                    s += "<td class=\"num lb-debiased\">\(interval(low, high))\(e(Render.marker(f, method: Report.debiasedPrefix + m)))</td>"
                }
                for m in methods {
                    let ci = f.ci[m]
                    let low = ci?.oddsRatioLow ?? (ci?.low != nil ? .infinity : nil)
                    let high = ci?.oddsRatioHigh ?? (ci?.high != nil ? .infinity : nil)
                    s += "<td class=\"num\">\(interval(low, high))\(e(Render.marker(f, method: m)))</td>"
                }
                if wald {
                    s +=
                        "<td class=\"num lb-wald\">" + (f.wald.map { interval($0.oddsRatioLow ?? .infinity, $0.oddsRatioHigh ?? .infinity) } ?? "–")
                        + "</td>"
                }
                s += "<td class=\"num\">\(pct1(f.selectionFrequency))</td><td class=\"num\">\(pct1(f.zeroFraction))</td>"
                s += "<td class=\"num\">\(Render.fixed(f.probPositive, 3))</td><td class=\"num\">\(Render.fixed(f.probNegative, 3))</td>"
                if stability { s += "<td class=\"num\">\(e(Render.stabilityCell(f)))</td>" }
                s += "<td class=\"num\">\(Render.fixed(f.standardError, 4))</td><td class=\"num\">\(Render.fixed(f.bias, 4))</td>"
                var flags = f.flags + methods.flatMap { m in (f.ci[m]?.flags ?? []).map { "\(m): \($0)" } }
                flags += (f.debiased?.flags ?? []).map { "debiased: \($0)" }
                flags += debiasedMethods.flatMap { m in (f.debiased?.ci[m]?.flags ?? []).map { "debiased \(m): \($0)" } }
                s += "<td class=\"lb-flags\">\(e(flags.joined(separator: ", ")))</td></tr>\n"
            }
        }
        s += "</tbody>\n</table>\n</div>\n"
        return s
    }
}

extension Render {
    /// The figure files that `--out` writes next to `report.json`: `report.html`, `cv.svg` and
    /// one `forest-<outcome>.svg` per outcome (the name reduced to letters, digits, `-`, `_`
    /// and `.`, made unique), in that order.
    public static func figureFiles(_ report: Report) -> [(name: String, text: String)] {
        var files: [(name: String, text: String)] = [("report.html", html(report)), ("cv.svg", cvSVG(report))]
        var used: Set<String> = []
        for o in report.outcomes {
            var base = String(
                String.UnicodeScalarView(
                    o.name.unicodeScalars.map { c in
                        (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" || c == ".")) ? c : "_"
                    }))
            while base.hasPrefix(".") { base.removeFirst() }
            if base.isEmpty { base = "outcome" }
            var name = "forest-\(base).svg"
            var k = 2
            while used.contains(name) {
                name = "forest-\(base)-\(k).svg"
                k += 1
            }
            used.insert(name)
            files.append((name, forestSVG(report, outcome: o.name)))
        }
        return files
    }
}

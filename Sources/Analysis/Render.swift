import Foundation

/// Report renderers: pure functions from a ``Report`` to text.
public enum Render {
    /// `report.json`: sorted keys, shortest round-trip numbers, byte-stable.
    public static func json(_ report: Report) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Intervals and SEs are made finite or null where they are computed; a value that still
        // overflows (exp of a coefficient beyond 709) is written as a string, not a crash.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try! encoder.encode(report), as: UTF8.self) + "\n"
    }

    static func number(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }

    /// `report.csv`: one row per outcome and feature, every statistic, one low/high pair per CI
    /// method (and `waldLow,waldHigh` when the spec asked for Wald intervals).
    public static func csv(_ report: Report) -> String {
        let methods = report.settings.methods
        var header = [
            "outcome", "group", "feature", "alpha", "coef", "oddsRatio", "selectionFrequency", "zeroFraction",
            "probPositive", "probNegative", "bootstrapMean", "bootstrapMedian", "standardError", "bias",
            "mcseLow", "mcseHigh",
        ]
        for m in methods { header += ["\(m)Low", "\(m)High"] }
        let wald = report.settings.wald == true
        if wald { header += ["waldLow", "waldHigh"] }
        let debiased = report.settings.intervals == IntervalKind.debiased.rawValue
        let debiasedMethods = ["wald"] + methods
        if debiased {
            header += ["debiasedCoef", "debiasedOddsRatio", "debiasedSE", "debiasedSandwichSE"]
            for m in debiasedMethods { header += ["debiased\(capitalized(m))Low", "debiased\(capitalized(m))High"] }
        }
        let stability = report.outcomes.contains { $0.stability != nil }
        if stability { header += ["stabilityProbability", "stabilitySelected"] }
        let perSD = report.outcomes.contains { o in o.features.contains { $0.sd != nil } }
        let main = report.defaultMethod
        if perSD { header += ["sd", "oddsRatioPerSD", "perSDLow", "perSDHigh"] }
        header += ["resamples", "flags"]
        var out = header.joined(separator: ",") + "\n"
        for o in report.outcomes {
            for f in o.features {
                var row = [
                    csvField(o.name), csvField(f.group), csvField(f.name), number(o.alpha), number(f.coef), number(f.oddsRatio),
                    number(f.selectionFrequency), number(f.zeroFraction), number(f.probPositive), number(f.probNegative),
                    number(f.bootstrapMean), number(f.bootstrapMedian), number(f.standardError), number(f.bias),
                    number(f.mcseLow), number(f.mcseHigh),
                ]
                for m in methods { row += [number(f.ci[m]?.low), number(f.ci[m]?.high)] }
                if wald { row += [number(f.wald?.low), number(f.wald?.high)] }
                var flags = f.flags + methods.flatMap { m in (f.ci[m]?.flags ?? []).map { "\(m):\($0)" } }
                if debiased {
                    let d = f.debiased
                    row += [number(d?.estimate), number(d?.oddsRatio), number(d?.se), number(d?.sandwichSE)]
                    for m in debiasedMethods { row += [number(d?.ci[m]?.low), number(d?.ci[m]?.high)] }
                    flags += (d?.flags ?? []).map { "debiased:\($0)" }
                    flags += debiasedMethods.flatMap { m in (d?.ci[m]?.flags ?? []).map { "debiased:\(m):\($0)" } }
                }
                if stability { row += [number(f.stability?.probability), f.stability.map { $0.selected ? "1" : "0" } ?? ""] }
                if perSD {
                    // Per SD of the default interval (debiased Wald, else the first method): exp(b * sd).
                    let b = main.hasPrefix(Report.debiasedPrefix) ? f.debiased?.estimate : f.coef
                    let ci = f.interval(main)
                    func e(_ x: Double?) -> Double? { f.sd.flatMap { sd in x.map { Foundation.exp($0 * sd) } }.flatMap { $0.isFinite ? $0 : nil } }
                    row += [number(f.sd), number(e(b)), number(e(ci?.low)), number(e(ci?.high))]
                }
                row += ["\(o.resamples)", csvField(flags.joined(separator: ";"))]
                out += row.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    static func capitalized(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }

    /// A table header's short name of an interval method (`debiased Wald`, `percentile`).
    static func shortName(_ method: String) -> String {
        guard method.hasPrefix(Report.debiasedPrefix) else { return method }
        let m = String(method.dropFirst(Report.debiasedPrefix.count))
        return "debiased " + (m == "wald" ? "Wald" : m)
    }

    /// The odds ratio shown beside an interval: exp of the debiased estimate for a debiased
    /// interval, else exp of the full-data fit.
    static func point(_ f: Report.Feature, method: String) -> Double? {
        guard method.hasPrefix(Report.debiasedPrefix), let d = f.debiased else { return f.oddsRatio }
        return d.oddsRatio ?? (d.flags.contains("fallbackPenalizedPercentile") ? f.oddsRatio : nil)
    }

    /// The coefficient behind a table's point: the debiased estimate for a debiased interval,
    /// else the full-data fit. Where the debiased estimate could not be made the interval is the
    /// penalized percentile one (flagged), and the point beside it is then the penalized fit's.
    static func coefficient(_ f: Report.Feature, method: String) -> Double? {
        guard method.hasPrefix(Report.debiasedPrefix), let d = f.debiased else { return f.coef }
        return d.estimate ?? (d.flags.contains("fallbackPenalizedPercentile") ? f.coef : nil)
    }

    /// The note under a table saying what its intervals are.
    static func intervalNote(_ method: String, report: Report) -> String {
        if method.hasPrefix(Report.debiasedPrefix), report.outcomes.contains(where: { $0.debiasing?.method == DebiasSpec.Method.nodewise.rawValue }) {
            return
                "Odds ratios are exp(b) of the desparsified lasso estimate b (p >= n or wide data: the lasso fit corrected by nodewise lasso regressions, as hdi's lasso.proj); intervals are Wald intervals b +/- z SE, which cover the unpenalized coefficient asymptotically; in finite samples they under-cover large coefficients (Benchmarks/README.md). The bootstrap intervals of the penalized fit (report.json `ci`) show only the variability of the penalized estimator.\n"
        }
        if method.hasPrefix(Report.debiasedPrefix), report.outcomes.contains(where: { $0.debiasing?.method == DebiasSpec.Method.firth.rawValue }) {
            return
                "Odds ratios are exp(b) of the debiased lasso estimate b (Firth's bias-reduced estimate, reached from the full-data fit: the maximum of the log-likelihood plus 1/2 log det of the Fisher information, which removes the maximum-likelihood estimate's small-sample bias and stays finite under separation); intervals are \(shortName(method)) intervals, which cover the unpenalized coefficient. The bootstrap intervals of the penalized fit (report.json `ci`) show only the variability of the penalized estimator.\n"
        }
        if method.hasPrefix(Report.debiasedPrefix) {
            return
                "Odds ratios are exp(b) of the debiased lasso estimate b (Newton steps on the unpenalized likelihood from the full-data fit); intervals are \(shortName(method)) intervals, which cover the unpenalized coefficient. The bootstrap intervals of the penalized fit (report.json `ci`) show only the variability of the penalized estimator.\n"
        }
        return
            "Odds ratios are exp(coef) of the full-data fit at the chosen alpha; intervals are bootstrap \(method) intervals on the coefficient scale, exponentiated: the variability of the penalized estimator, not a confidence interval for the unpenalized coefficient (shrinkage biases them toward zero).\n"
    }

    /// `cv.csv`: the cross-validation table of every outcome.
    public static func cvCSV(_ report: Report) -> String {
        let k = report.settings.folds
        var out = (["outcome", "alpha", "mean", "se", "chosen"] + (1...k).map { "fold\($0)" }).joined(separator: ",") + "\n"
        for o in report.outcomes {
            for row in o.cv {
                out +=
                    ([csvField(o.name), number(row.alpha), number(row.mean), number(row.se), row.alpha == o.alpha ? "1" : "0"]
                    + row.folds.map { number($0) }).joined(separator: ",") + "\n"
            }
        }
        return out
    }

    static func fixed(_ x: Double?, _ digits: Int = 2) -> String {
        guard let x else { return "-" }
        return String(format: "%.\(digits)f", x)
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let gap = max(0, width - s.count)
        return right ? String(repeating: " ", count: gap) + s : s + String(repeating: " ", count: gap)
    }

    /// Flags worth a footnote marker in a table.
    static func marker(_ f: Report.Feature, method: String) -> String {
        var m = ""
        if f.flags.contains("mostlyZero") { m += "*" }
        if let ci = f.interval(method), !ci.flags.isEmpty { m += "!" }
        return m
    }

    static func summaryLine(_ report: Report, _ o: Report.Outcome) -> String {
        let metric = report.settings.metric == "auc" ? "AUC" : "deviance"
        let chosen = o.cv.first { $0.alpha == o.alpha }
        let score = chosen.flatMap { c in c.mean.map { String(format: "%.4f", $0) + (c.se.map { String(format: " ± %.4f", $0) } ?? "") } } ?? "-"
        var line = "alpha \(String(format: "%.6g", o.alpha)) (\(report.settings.folds)-fold CV, \(metric) \(score), rule \(report.settings.rule))"
        line += "; \(o.resamples) bootstrap resamples"
        if o.failedResamples > 0 {
            line += " (\(o.failedResamples) failed: \(o.failures.map { "\($0.cause) x\($0.resamples)" }.joined(separator: ", ")))"
        }
        return line
    }

    /// One line on an outcome's stability selection: what was selected and the error bound.
    static func stabilityLine(_ s: Report.StabilitySelection) -> String {
        var line = "stability selection (\(s.pairs) complementary pairs, first q = \(s.q) of \(s.penalizedFeatures) penalized features per half"
        if s.failedHalves > 0 { line += ", \(s.failedHalves) halves failed" }
        line += ", threshold \(String(format: "%g", s.threshold))): "
        line += s.selected.isEmpty ? "none selected" : "selected " + s.selected.joined(separator: ", ")
        line += "; expected false selections <= \(String(format: "%.3g", s.pferBound))"
        return line
    }

    /// A feature's stability cell: its selection probability, `+` when selected.
    static func stabilityCell(_ f: Report.Feature) -> String {
        guard let s = f.stability else { return "-" }
        return String(format: "%.0f%%", s.probability * 100) + (s.selected ? "+" : "")
    }

    /// An odds ratio in a table: `digits` significant digits without exponents; ends beyond
    /// 10^4 or below 10^-4 print as `>10000` / `<0.0001` (and the row is marked `^`): such an end
    /// means the data do not bound the odds ratio per unit, which a long number would hide.
    static func odds(_ x: Double?, digits: Int) -> String {
        guard let x else { return "-" }
        if x.isNaN { return "n/a" }
        if x > 1e4 { return ">10000" }
        if x < 1e-4 { return "<0.0001" }
        return significant(x, digits)
    }

    /// `x` with `digits` significant digits in fixed notation (1.14, 0.504, 26.4, 1234).
    static func significant(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite, x != 0 else { return x == 0 ? "0" : "\(x)" }
        let magnitude = Int(Foundation.floor(Foundation.log10(Swift.abs(x))))
        return String(format: "%.\(max(0, digits - 1 - magnitude))f", x)
    }

    /// Whether an interval has an end the table cannot show (beyond 10^+-4 or missing).
    static func unbounded(_ ci: Report.Interval?) -> Bool {
        guard let ci else { return false }
        func out(_ x: Double?, _ raw: Double?) -> Bool {
            guard let x else { return raw != nil }
            return x > 1e4 || x < 1e-4
        }
        return out(ci.oddsRatioLow, ci.low) || out(ci.oddsRatioHigh, ci.high)
    }

    /// The per-SD odds ratio and interval of a feature with an SD, as text (`""` for indicators).
    static func perSD(_ f: Report.Feature, method: String, digits: Int) -> String {
        guard let sd = f.sd else { return "" }
        let b = coefficient(f, method: method)
        let ci = f.interval(method)
        func e(_ x: Double?) -> Double? { x.map { Foundation.exp($0 * sd) } }
        return "\(odds(e(b), digits: digits)) [\(odds(e(ci?.low), digits: digits)), \(odds(e(ci?.high), digits: digits))]"
    }

    /// The human table: one block per outcome, features grouped as the spec groups them; odds
    /// ratios in `digits` significant digits, per unit, and per SD for features that are not 0/1.
    public static func text(_ report: Report, method: String? = nil, digits: Int = 3) -> String {
        let method = method ?? report.defaultMethod
        let pct = String(format: "%g", report.settings.level * 100)
        var out =
            "\(terminalSafe(report.name)): \(report.data.rows) rows (\(report.data.patterns) covariate patterns), seed \(report.seed), data sha256 \(report.dataHash.prefix(12))\n"
        if report.settings.standardize == true {
            out +=
                "penalty per SD of each feature (standardized, as glmnet); odds ratios per unit of the data, and per SD where a feature is not 0/1\n"
        }
        var anyUnbounded = false, anyPerSD = false
        for o in report.outcomes {
            out += "\n\(terminalSafe(o.name)): \(terminalSafe(summaryLine(report, o)))\n"
            for w in o.warnings ?? [] { out += "warning: \(terminalSafe(w))\n" }
            if let st = o.stability { out += terminalSafe(stabilityLine(st)) + "\n" }
            let width = max(30, (o.features.map { terminalSafe($0.name).count }.max() ?? 0) + 4)
            let showSD = o.features.contains { $0.sd != nil }
            anyPerSD = anyPerSD || showSD
            var cells: [(name: String, point: String, interval: String, perSD: String, selected: String, stability: String, group: String)] = []
            for f in o.features {
                let ci = f.interval(method)
                var mark = marker(f, method: method)
                if unbounded(ci) {
                    mark += "^"
                    if report.groups.contains(f.group) { anyUnbounded = true }  // a printed row
                }
                cells.append(
                    (
                        terminalSafe(f.name), odds(point(f, method: method), digits: digits),
                        "[\(odds(ci?.oddsRatioLow, digits: digits)), \(odds(ci?.oddsRatioHigh, digits: digits))]" + mark,
                        perSD(f, method: method, digits: digits),
                        f.selectionFrequency.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                        stabilityCell(f), f.group
                    ))
            }
            let intervalTitle = "\(pct)% CI (\(shortName(method)))", sdTitle = "per SD [\(pct)% CI]"
            let intervalWidth = max(intervalTitle.count, cells.map(\.interval.count).max() ?? 0) + 2
            let sdWidth = max(sdTitle.count, cells.map(\.perSD.count).max() ?? 0) + 2
            var header = pad("", width) + pad("odds ratio", 11, right: true) + "   " + pad(intervalTitle, intervalWidth)
            if showSD { header += pad(sdTitle, sdWidth) }
            header += pad("selected", 9, right: true)
            if o.stability != nil { header += pad("stability", 11, right: true) }
            out += header + "\n" + String(repeating: "-", count: header.count) + "\n"
            for group in report.groups {
                let rows = cells.filter { $0.group == group }
                guard !rows.isEmpty else { continue }
                out += terminalSafe(group) + "\n"
                for c in rows {
                    out += pad("  " + c.name, width) + pad(c.point, 11, right: true) + "   " + pad(c.interval, intervalWidth)
                    if showSD { out += pad(c.perSD, sdWidth) }
                    out += pad(c.selected, 9, right: true) + (o.stability != nil ? pad(c.stability, 11, right: true) : "") + "\n"
                }
            }
        }
        out += "\n" + intervalNote(method, report: report)
        out += "* zero in most resamples (the interval is not a smooth quantity)   ! see flags in report.json\n"
        if anyUnbounded { out += unboundedNote }
        if fallbackShown(report, method: method) { out += fallbackNote }
        if anyPerSD { out += perSDNote }
        if report.outcomes.contains(where: { $0.stability != nil }) { out += stabilityNote }
        return out
    }

    /// Whether a debiased column shows a penalized fallback interval for some printed feature.
    static func fallbackShown(_ report: Report, method: String) -> Bool {
        method.hasPrefix(Report.debiasedPrefix)
            && report.outcomes.contains { o in
                o.features.contains { report.groups.contains($0.group) && ($0.debiased?.flags.contains("fallbackPenalizedPercentile") ?? false) }
            }
    }

    static let fallbackNote =
        "! with flag fallbackPenalizedPercentile (the warning says why): no debiased estimate could be made, and the row shows the penalized fit's odds ratio and percentile interval instead; that interval is not a confidence interval, do not report it as one\n"

    static let unboundedNote =
        "^ an interval end beyond 10^4 or below 10^-4 per unit of the feature: the data do not bound this odds ratio per unit (read it per SD, or see the flags)\n"
    static let perSDNote =
        "per SD: exp(b x SD), the odds ratio for one population standard deviation of the feature (features that are not 0/1 indicators)\n"

    static let stabilityNote =
        "stability: the fraction of half-samples whose first q features on the lasso path included the feature; + selected (at or above the threshold). The bound on expected false selections holds for features whose half-sample selection probability is at most q/p (Shah & Samworth 2013).\n"

    /// `report.md`: the same tables in Markdown.
    public static func markdown(_ report: Report, digits: Int = 3) -> String {
        let method = report.defaultMethod
        let pct = String(format: "%g", report.settings.level * 100)
        var out = "# \(markdownText(report.name))\n\n"
        out +=
            "- data: `\(report.data.csv)` (sha256 `\(report.dataHash)`), \(report.data.rows) of \(report.data.rowsRead) rows, \(report.data.patterns) covariate patterns\n"
        for d in report.data.dropped where d.rows > 0 { out += "- dropped \(d.rows) rows: \(d.reason)\n" }
        out +=
            "- seed \(report.seed); \(report.settings.resamples) resamples; CI methods \(report.settings.methods.joined(separator: ", ")); software \(report.software)\n"
        for o in report.outcomes {
            out += "\n## \(markdownText(o.name))\n\n\(markdownText(summaryLine(report, o)))\n\n"
            for w in o.warnings ?? [] { out += "> **Warning:** \(markdownText(w))\n\n" }
            if let st = o.stability { out += markdownText(stabilityLine(st)) + "\n\n" }
            let stab = o.stability != nil
            let showSD = o.features.contains { $0.sd != nil }
            out +=
                "| group | feature | odds ratio | \(pct)% CI (\(shortName(method))) |\(showSD ? " per SD [CI] |" : "") selected |\(stab ? " stability |" : "") P(β>0) | P(β<0) | flags |\n"
            out += "|---|---|---:|---|\(showSD ? "---|" : "")---:|\(stab ? "---:|" : "")---:|---:|---|\n"
            for group in report.groups {
                for f in o.features where f.group == group {
                    let ci = f.interval(method)
                    let flags = (f.flags + (ci?.flags ?? []) + (f.debiased?.flags ?? [])).joined(separator: ", ")
                    out +=
                        "| \(markdownText(group)) | \(markdownText(f.name)) | \(odds(point(f, method: method), digits: digits)) | [\(odds(ci?.oddsRatioLow, digits: digits)), \(odds(ci?.oddsRatioHigh, digits: digits))]\(unbounded(ci) ? "^" : "") | \(showSD ? perSD(f, method: method, digits: digits) + " | " : "")"
                    out +=
                        "\(f.selectionFrequency.map { String(format: "%.1f%%", $0 * 100) } ?? "-") | \(stab ? stabilityCell(f) + " | " : "")\(fixed(f.probPositive, 3)) | \(fixed(f.probNegative, 3)) | \(flags) |\n"
                }
            }
        }
        out += "\n" + intervalNote(method, report: report)
        func note(_ text: String) -> String { "\n" + markdownText(text.trimmingCharacters(in: .newlines)) + "\n" }
        out += note(unboundedNote)
        if fallbackShown(report, method: method) { out += note(fallbackNote) }
        if report.outcomes.contains(where: { o in o.features.contains { $0.sd != nil } }) { out += note(perSDNote) }
        if report.outcomes.contains(where: { $0.stability != nil }) { out += note(stabilityNote) }
        return out
    }
}

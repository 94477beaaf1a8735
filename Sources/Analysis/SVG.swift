import Foundation

/// Building blocks of the report figures. Pure functions with fixed number formatting, so the
/// same report always gives the same bytes.
public enum SVG {
    /// Text or attribute value with XML's special characters escaped; characters XML 1.0 cannot
    /// carry at all (most control characters) become U+FFFD.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(c)
            default:
                if c.value < 0x20 || c.value == 0xFFFE || c.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out
    }

    /// A coordinate: at most 2 decimals, no trailing zeros, never `-0`.
    static func n(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let v = Int((min(max(x, -1e12), 1e12) * 100).rounded())
        if v == 0 { return "0" }
        let a = abs(v)
        let sign = v < 0 ? "-" : ""
        let whole = a / 100, frac = a % 100
        if frac == 0 { return sign + "\(whole)" }
        if frac % 10 == 0 { return sign + "\(whole).\(frac / 10)" }
        return sign + "\(whole)." + (frac < 10 ? "0" : "") + "\(frac)"
    }

    /// A value with full round-trip precision for `data-` attributes (`Double(s)` gives it back,
    /// including `inf` and `nan`); empty for `nil`.
    static func exact(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }

    /// Estimated width of `s` in a sans-serif font of `size` px: per-character classes sized
    /// for DejaVu Sans, the widest common fallback, so labels fit in Helvetica, Arial or
    /// system-ui as well.
    static func textWidth(_ s: String, size: Double, bold: Bool = false) -> Double {
        var em = 0.0
        for c in s.unicodeScalars {
            switch c {
            case "i", "j", "l", "I", "!", "|", "'", "`": em += 0.28
            case ".", ",", ":", ";": em += 0.33
            case "f", "t", "r", " ", "(", ")", "[", "]", "/", "\\", "-": em += 0.40
            case "m", "M", "W", "%", "@": em += 0.96
            case "w": em += 0.82
            case "A"..."Z", "&": em += 0.72
            case "0"..."9", "<", ">", "=", "+", "~", "#", "$", "_", "?", "*", "±": em += 0.64
            default:
                if c.value < 0x80 { em += 0.61 } else if c.value >= 0x2E80 { em += 1.0 } else { em += 0.66 }
            }
        }
        return em * size * (bold ? 1.08 : 1)
    }

    /// `s`, cut with an ellipsis so that it fits `width` px.
    static func fit(_ s: String, width: Double, size: Double, bold: Bool = false) -> String {
        if textWidth(s, size: size, bold: bold) <= width { return s }
        var chars = Array(s)
        while !chars.isEmpty && textWidth(String(chars) + "…", size: size, bold: bold) > width { chars.removeLast() }
        return String(chars) + "…"
    }

    /// `items` joined by `separator` into as few lines as fit `width` px (an item wider than a
    /// line gets a line of its own, cut to fit).
    static func flow(_ items: [String], separator: String = " · ", width: Double, size: Double) -> [String] {
        var lines: [String] = []
        var current = ""
        for item in items {
            let candidate = current.isEmpty ? item : current + separator + item
            if current.isEmpty || textWidth(candidate, size: size) <= width {
                current = candidate
            } else {
                lines.append(current)
                current = item
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines.map { fit($0, width: width, size: size) }
    }

    /// The opening tag of a figure. Standalone files carry the SVG namespace; inline SVG in
    /// HTML does not need it, which keeps the HTML free of any URL.
    static func open(width: Double, height: Double, standalone: Bool, label: String) -> String {
        var s = "<svg"
        if standalone { s += " xmlns=\"http://www.w3.org/2000/svg\"" }
        s += " width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\""
        s += " role=\"img\" aria-label=\"\(escape(label))\""
        s += " font-family=\"\(fontFamily)\" font-size=\"12\">\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
        return s
    }

    static let fontFamily = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"

    /// Baseline offset that centres 12 px text on a row's middle line.
    static func baseline(_ cy: Double, size: Double = 12) -> Double { cy + size * 0.35 }

    static func text(
        _ s: String, x: Double, y: Double, anchor: String = "start", size: Double? = nil,
        weight: String? = nil, fill: String = "#1b1f24", style: String? = nil, extra: String = ""
    ) -> String {
        var t = "<text x=\"\(n(x))\" y=\"\(n(y))\""
        if anchor != "start" { t += " text-anchor=\"\(anchor)\"" }
        if let size { t += " font-size=\"\(n(size))\"" }
        if let weight { t += " font-weight=\"\(weight)\"" }
        if let style { t += " font-style=\"\(style)\"" }
        t += " fill=\"\(fill)\"\(extra)>\(escape(s))</text>\n"
        return t
    }

    static func line(
        _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
        dash: String? = nil, extra: String = ""
    ) -> String {
        var t = "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\""
        if let dash { t += " stroke-dasharray=\"\(dash)\"" }
        return t + "\(extra)/>\n"
    }

    static func rect(
        _ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String? = nil,
        strokeWidth: Double = 1, extra: String = ""
    ) -> String {
        var t = "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(max(w, 0)))\" height=\"\(n(max(h, 0)))\" fill=\"\(fill)\""
        if let stroke { t += " stroke=\"\(stroke)\" stroke-width=\"\(n(strokeWidth))\"" }
        return t + "\(extra)/>\n"
    }

    static func polygon(
        _ points: [(Double, Double)], fill: String, stroke: String? = nil, strokeWidth: Double = 1,
        extra: String = ""
    ) -> String {
        var t = "<polygon points=\"" + points.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ") + "\" fill=\"\(fill)\""
        if let stroke { t += " stroke=\"\(stroke)\" stroke-width=\"\(n(strokeWidth))\"" }
        return t + "\(extra)/>\n"
    }

    /// A triangle pointing left (`direction` -1) or right (+1) with its tip at (`x`, `y`).
    static func arrow(tipX x: Double, y: Double, direction: Int, size: Double = 7, fill: String, extra: String = "") -> String {
        let back = x - Double(direction) * size
        return polygon([(x, y), (back, y - size * 0.6), (back, y + size * 0.6)], fill: fill, extra: extra)
    }

    static func diamond(x: Double, y: Double, r: Double, fill: String, stroke: String? = nil) -> String {
        polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill: fill, stroke: stroke)
    }
}

/// A tick on an axis: where it goes and what it says.
struct AxisTick: Equatable, Sendable {
    let value: Double
    let label: String
}

/// A base-10 logarithmic axis whose ends and ticks are 1-2-5 numbers (or whole decades when
/// those would be too many), for odds ratios and alphas.
struct LogAxis: Sendable {
    let low: Double
    let high: Double
    let ticks: [AxisTick]

    /// An axis from the largest tick value <= `lo` to the smallest >= `hi`, with at most
    /// `maxTicks` ticks. `lo` and `hi` must be finite and > 0.
    init(covering a: Double, _ b: Double, maxTicks: Int = 9) {
        precondition(a > 0 && b > 0 && a.isFinite && b.isFinite, "a log axis needs finite positive ends")
        var lo = min(a, b), hi = max(a, b)
        if hi / lo < 1 + 1e-9 { lo /= 2; hi *= 2 }
        let eLo = Int(Foundation.log10(lo).rounded(.down)) - 1
        let eHi = Int(Foundation.log10(hi).rounded(.up)) + 1
        let decades = Double(eHi - eLo - 2)
        // Candidate tick sets, finest first: 1-2-5, whole decades, every k-th decade.
        var sets: [(mantissas: [Int], every: Int)] = [([1, 2, 5], 1), ([1], 1)]
        for k in 2...max(2, Int((decades / Double(max(maxTicks - 1, 1))).rounded(.up)) + 1) { sets.append(([1], k)) }
        var chosen: (Double, Double, [AxisTick]) = (lo, hi, [])
        for set in sets {
            var candidates: [AxisTick] = []
            for e in (eLo - set.every)...(eHi + set.every) where ((e % set.every) + set.every) % set.every == 0 {
                for m in set.mantissas { candidates.append(AxisTick(value: Double("\(m)e\(e)")!, label: Self.label(m, e))) }
            }
            guard let first = candidates.lastIndex(where: { $0.value <= lo * (1 + 1e-12) }),
                let last = candidates.firstIndex(where: { $0.value >= hi * (1 - 1e-12) })
            else { continue }
            let ticks = Array(candidates[first...last])
            chosen = (ticks.first!.value, ticks.last!.value, ticks)
            if ticks.count <= maxTicks { break }
        }
        low = chosen.0
        high = chosen.1
        ticks = chosen.2
    }

    /// The label of m * 10^e, written without floating-point noise.
    static func label(_ m: Int, _ e: Int) -> String {
        if e >= 0 && e <= 6 { return "\(m)" + String(repeating: "0", count: e) }
        if e < 0 && e >= -5 { return "0." + String(repeating: "0", count: -e - 1) + "\(m)" }
        return "\(m)e\(e)"
    }

    /// Position of `v` on a span from `a` (at ``low``) to `b` (at ``high``); `nil` for values
    /// that are not finite and positive.
    func position(_ v: Double, _ a: Double, _ b: Double) -> Double? {
        guard v > 0, v.isFinite else { return nil }
        let t = (Foundation.log10(v) - Foundation.log10(low)) / (Foundation.log10(high) - Foundation.log10(low))
        return a + t * (b - a)
    }
}

/// A linear axis with 1-2-5 steps, for cross-validation scores.
struct LinearAxis: Sendable {
    /// Ends of the drawn span: the outer ticks, widened by the padding.
    let low: Double
    let high: Double
    let ticks: [AxisTick]

    /// Ticks from a multiple of the step <= `a` to one >= `b`, about `targetTicks` of them; the
    /// span extends `padding` (a fraction of the tick range) beyond the outer ticks, so marks on
    /// them stay off the frame.
    init(covering a: Double, _ b: Double, targetTicks: Int = 6, padding: Double = 0) {
        precondition(a.isFinite && b.isFinite, "a linear axis needs finite ends")
        var lo = min(a, b), hi = max(a, b)
        if hi - lo < 1e-12 * max(abs(lo), 1) {
            let w = lo == 0 ? 1 : abs(lo) * 0.05
            lo -= w
            hi += w
        }
        let raw = (hi - lo) / Double(max(targetTicks - 1, 1))
        var e = Int(Foundation.log10(raw).rounded(.down))
        var m = 10
        for candidate in [1, 2, 5, 10] where Double("\(candidate)e\(e)")! >= raw * (1 - 1e-9) { m = candidate; break }
        if m == 10 { m = 1; e += 1 }
        let step = Double("\(m)e\(e)")!
        let first = Int((lo / step * (1 + 1e-12)).rounded(.down))
        let last = Int((hi / step * (1 - 1e-12)).rounded(.up))
        ticks = (first...max(first + 1, last)).map { i in
            AxisTick(value: Double("\(i * m)e\(e)")!, label: Self.label(i * m, e))
        }
        let span = ticks.last!.value - ticks.first!.value
        low = ticks.first!.value - padding * span
        high = ticks.last!.value + padding * span
    }

    /// k * 10^e as a decimal (k may be negative).
    static func label(_ k: Int, _ e: Int) -> String {
        if k == 0 { return e < 0 ? "0." + String(repeating: "0", count: -e) : "0" }
        if e >= 0 { return "\(k)" + String(repeating: "0", count: e) }
        let sign = k < 0 ? "-" : ""
        var digits = "\(abs(k))"
        if digits.count <= -e { digits = String(repeating: "0", count: -e - digits.count + 1) + digits }
        let cut = digits.index(digits.endIndex, offsetBy: e)
        return sign + digits[..<cut] + "." + digits[cut...]
    }

    func position(_ v: Double, _ a: Double, _ b: Double) -> Double {
        a + (v - low) / (high - low) * (b - a)
    }
}

/// Colours shared by the figures and the HTML (Okabe–Ito, readable by colour-blind readers).
enum Palette {
    static let ink = "#1b1f24"
    static let muted = "#57606a"
    static let grid = "#e1e5ea"
    static let stripe = "#f5f7fa"
    static let estimate = "#0b4f8a"
    static let wald = "#d55e00"
    static let reference = "#6e7781"
    static let selection = "#5b7fa6"
    static let selectionTrack = "#e3e8ef"
    static let series = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#8c564b"]
}

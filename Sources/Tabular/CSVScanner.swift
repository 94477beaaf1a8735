import Foundation

/// Memory shared by the iterations of a `concurrentPerform`, each reading the input or writing
/// its own elements only.
struct UnsafeShared<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The parsed body: per column its numbers or text codes, and each row's line.
struct Body {
    var numbers: [[Double]]
    var texts: [TextColumn]
    var lines: [Int32] = []
    init(width: Int) {
        numbers = [[Double]](repeating: [], count: width)
        texts = [TextColumn](repeating: TextColumn(), count: width)
    }
}

/// What the body's records must look like, and how each used field is read.
struct BodyShape: Sendable {
    let width: Int
    let isText: [Bool]
    let isUsed: [Bool]
    let names: [String]
    let tokens: Set<String>
    let hints: [String: String]
    let separator: UInt8
    let source: String

    /// Whether a missing-value token reads as a finite number (say "-999"): such tokens must be
    /// matched before parsing; the others ("NA", "NaN") only where a field fails to parse, so
    /// ordinary numbers cost no lookup.
    var hasNumericTokens: Bool { tokens.contains { Double($0)?.isFinite == true } }

    /// The value of one field of a numeric column: a number, a boolean (1/0), NaN for a
    /// missing-value token, `nil` for anything else. `numericTokens` is ``hasNumericTokens``.
    @inline(__always)
    func value(_ field: Field, in scanner: borrowing CSVScanner, numericTokens: Bool) -> Double? {
        if numericTokens && tokens.contains(scanner.text(field)) { return .nan }
        return scanner.number(field) ?? scanner.boolean(field) ?? (tokens.contains(scanner.text(field)) ? .nan : nil)
    }

    /// Parses records from `scanner` to its end.
    func parse(_ scanner: inout CSVScanner, estimate: Int) throws -> Body {
        var body = Body(width: width)
        let numericTokens = hasNumericTokens
        if estimate > 0 {
            for c in 0..<width where isUsed[c] {
                if isText[c] { body.texts[c].reserveCapacity(estimate) } else { body.numbers[c].reserveCapacity(estimate) }
            }
            body.lines.reserveCapacity(estimate)
        }
        while let record = try scanner.nextRecord() {
            if record.fields.count == 1 && width > 1 && record.fields[0].isEmpty && !record.fields[0].quoted {
                continue  // a blank line carries no data
            }
            guard record.fields.count == width else {
                throw TabularError(
                    file: source, line: record.line,
                    message: "expected \(width) fields as in the header, found \(record.fields.count)")
            }
            for c in 0..<width where isUsed[c] {
                let field = record.fields[c]
                if isText[c] {
                    if field.isEmpty { body.texts[c].append(nil); continue }
                    let t = scanner.text(field)
                    body.texts[c].append(tokens.contains(t) ? nil : t)
                } else {
                    guard let v = value(field, in: scanner, numericTokens: numericTokens) else {
                        let shown = String(scanner.text(field).prefix(40))
                        let expected =
                            shown.lowercased().contains("nan") || shown.lowercased().contains("inf")
                            ? "expected a finite number (leave the cell empty for a missing value)" : "expected a number"
                        let hint = hints[names[c]].map { "; \($0)" } ?? ""
                        throw TabularError(
                            file: source, line: field.line, column: c + 1, columnName: names[c],
                            message: "\(expected), found '\(shown)'\(hint)")
                    }
                    body.numbers[c].append(v)
                }
            }
            body.lines.append(Int32(truncatingIfNeeded: record.line))
        }
        return body
    }
}

/// One field: a byte range and how to read it.
struct Field {
    var start: Int
    var end: Int
    var quoted: Bool
    /// The field contains doubled quotes that must be unescaped.
    var escaped: Bool
    var line: Int
    var isEmpty: Bool { start == end }
}

struct Record {
    var fields: [Field]
    var line: Int
    var byteLength: Int
}

/// Splits bytes into records and fields; keeps the physical line count for errors.
struct CSVScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let separator: UInt8
    let source: String
    var position = 0
    var line = 1
    var fields: [Field] = []

    init(bytes: UnsafeBufferPointer<UInt8>, separator: UInt8, source: String, skipByteOrderMark: Bool = true) {
        self.bytes = bytes
        self.separator = separator
        self.source = source
        if skipByteOrderMark && bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { position = 3 }
        fields.reserveCapacity(64)
    }

    mutating func nextRecord() throws -> Record? {
        let count = bytes.count
        guard position < count else { return nil }
        let recordStart = position
        let recordLine = line
        fields.removeAll(keepingCapacity: true)
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        while true {
            // One field starting at `position`.
            if position < count && bytes[position] == quote {
                let fieldLine = line
                let start = position + 1
                var i = start
                var escaped = false
                while true {
                    guard i < count else {
                        throw TabularError(
                            file: source, line: fieldLine, column: fields.count + 1,
                            message: "quoted field is never closed (missing '\"')")
                    }
                    let b = bytes[i]
                    if b == quote {
                        if i + 1 < count && bytes[i + 1] == quote { escaped = true; i += 2; continue }
                        break
                    }
                    if b == lf { line += 1 }
                    i += 1
                }
                fields.append(Field(start: start, end: i, quoted: true, escaped: escaped, line: fieldLine))
                position = i + 1
                if position < count, bytes[position] != separator, bytes[position] != lf, bytes[position] != cr {
                    throw TabularError(
                        file: source, line: line, column: fields.count,
                        message: "unexpected text after a closing quote (expected ',' or end of line)")
                }
            } else {
                let start = position
                var i = start
                while i < count {
                    let b = bytes[i]
                    if b == separator || b == lf || b == cr { break }
                    if b == quote {
                        throw TabularError(
                            file: source, line: line, column: fields.count + 1,
                            message: "stray '\"' inside an unquoted field (quote the whole field and double inner quotes)")
                    }
                    i += 1
                }
                fields.append(Field(start: start, end: i, quoted: false, escaped: false, line: line))
                position = i
            }
            // What ends the field.
            if position >= count { break }
            let b = bytes[position]
            if b == separator {
                position += 1;
                if position >= count { fields.append(Field(start: count, end: count, quoted: false, escaped: false, line: line)); break }; continue
            }
            if b == cr {
                position += 1
                if position < count && bytes[position] == lf { position += 1 }
                line += 1
                break
            }
            if b == lf { position += 1; line += 1; break }
        }
        return Record(fields: fields, line: recordLine, byteLength: position - recordStart)
    }

    func text(_ f: Field) -> String {
        let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[f.start..<f.end]), as: UTF8.self)
        return f.escaped ? s.replacingOccurrences(of: "\"\"", with: "\"") : s
    }

    /// Parses a finite decimal number; NaN for an empty field; `nil` if it is not a number.
    func number(_ f: Field) -> Double? {
        var i = f.start, end = f.end
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        while i < end && (bytes[i] == space || bytes[i] == tab) { i += 1 }
        while end > i && (bytes[end - 1] == space || bytes[end - 1] == tab) { end -= 1 }
        if i == end { return .nan }
        if let v = fastNumber(i, end) { return v }
        return slowNumber(i, end)
    }

    /// `true`/`false` in any case (pandas writes `True`/`False`, R `TRUE`/`FALSE`) as 1/0.
    func boolean(_ f: Field) -> Double? {
        let length = f.end - f.start
        guard length == 4 || length == 5 else { return nil }
        switch scannerLowercased(f) {
        case "true": return 1
        case "false": return 0
        default: return nil
        }
    }

    func scannerLowercased(_ f: Field) -> String {
        text(f).trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// Exact fast path: [+-]digits[.digits][e[+-]digits] with at most 15 significant digits and
    /// a decimal exponent within 22 of them: the mantissa and the power of ten are both exact
    /// doubles, so one multiplication or division rounds correctly (Clinger 1990).
    @inline(__always) func fastNumber(_ start: Int, _ end: Int) -> Double? {
        var i = start
        var negative = false
        let b0 = bytes[i]
        if b0 == UInt8(ascii: "-") { negative = true; i += 1 } else if b0 == UInt8(ascii: "+") { i += 1 }
        var mantissa: UInt64 = 0
        var digits = 0, fraction = 0
        var sawDigit = false, sawPoint = false
        var exponent = 0
        while i < end {
            let b = bytes[i]
            if b >= 48 && b <= 57 {
                sawDigit = true
                if mantissa != 0 || b != 48 { digits += 1 }
                mantissa = mantissa &* 10 &+ UInt64(b - 48)
                if sawPoint { fraction += 1 }
            } else if b == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
            } else if (b == UInt8(ascii: "e") || b == UInt8(ascii: "E")) && sawDigit {
                i += 1
                var negativeExponent = false
                if i < end && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
                    negativeExponent = bytes[i] == UInt8(ascii: "-")
                    i += 1
                }
                guard i < end else { return nil }
                while i < end {
                    let d = bytes[i]
                    guard d >= 48 && d <= 57, exponent < 10_000 else { return nil }
                    exponent = exponent * 10 + Int(d - 48)
                    i += 1
                }
                if negativeExponent { exponent = -exponent }
                break
            } else {
                return nil
            }
            i += 1
        }
        guard sawDigit, digits <= 15 else { return nil }
        let power = exponent - fraction
        guard power >= -22 && power <= 22 else { return nil }
        var v = Double(mantissa)
        if power < 0 { v /= CSVScanner.powersOfTen[-power] } else if power > 0 { v *= CSVScanner.powersOfTen[power] }
        return negative ? -v : v
    }

    static let powersOfTen: [Double] = (0...22).map { e in (0..<e).reduce(1.0) { a, _ in a * 10 } }

    func slowNumber(_ start: Int, _ end: Int) -> Double? {
        // 16-17 significant digits (what pandas, numpy and R write for most doubles): strtod on
        // a stack copy, no String (it reads what `Double(String)` reads). It must consume the
        // whole field and give a finite value.
        let length = end - start
        if length < 64, !(separator != UInt8(ascii: ",") && bytes[start..<end].contains(UInt8(ascii: ","))) {
            let parsed: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
                for k in 0..<length { buffer[k] = CChar(bitPattern: bytes[start + k]) }
                buffer[length] = 0
                var stop: UnsafeMutablePointer<CChar>?
                let v = strtod(buffer.baseAddress!, &stop)
                guard let stop, stop == buffer.baseAddress! + length else { return nil }
                return v
            }
            if let v = parsed { return v.isFinite ? v : nil }
        }
        var s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        // A decimal comma (spreadsheets in many locales, with ';' or tab separated fields): one
        // comma and no point. Only where the comma cannot be the separator.
        if separator != UInt8(ascii: ","), !s.contains("."), s.filter({ $0 == "," }).count == 1 {
            s = s.replacingOccurrences(of: ",", with: ".")
        }
        guard let v = Double(s), v.isFinite else { return nil }
        return v
    }
}

import Foundation

/// How one CSV column is stored.
public enum ColumnKind: Sendable, Equatable {
    /// Finite numbers; an empty cell is missing (stored as NaN).
    case numeric
    /// Text exactly as in the file (quotes removed); an empty cell is missing (`nil`).
    case text
}

/// A text column stored as one code per row into its distinct values (4 bytes a row, where an
/// array of strings costs 16 or more), so wide categorical files fit in memory.
public struct TextColumn: RandomAccessCollection, Sendable, Equatable {
    /// Distinct non-missing values, in order of first appearance.
    public private(set) var levels: [String] = []
    /// Per row: 0 for a missing cell, k for `levels[k - 1]`.
    public private(set) var codes: [UInt32] = []
    var lookup: [String: UInt32] = [:]

    public init() {}

    /// A column holding `values` (`nil` = missing).
    public init(_ values: [String?]) {
        for v in values { append(v) }
    }

    public mutating func append(_ value: String?) {
        guard let value else { codes.append(0); return }
        if let c = lookup[value] { codes.append(c); return }
        levels.append(value)
        let c = UInt32(levels.count)
        lookup[value] = c
        codes.append(c)
    }

    mutating func reserveCapacity(_ n: Int) { codes.reserveCapacity(n) }

    /// The column with every value passed through `transform` (`nil`: missing), applied once per
    /// distinct value.
    public func mapValues(_ transform: (String) -> String?) -> TextColumn {
        var out = TextColumn()
        var table = [UInt32](repeating: 0, count: levels.count + 1)
        for (k, level) in levels.enumerated() {
            guard let v = transform(level) else { continue }
            if let c = out.lookup[v] { table[k + 1] = c; continue }
            out.levels.append(v)
            let c = UInt32(out.levels.count)
            out.lookup[v] = c
            table[k + 1] = c
        }
        out.codes = codes.map { table[Int($0)] }
        return out
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { codes.count }
    public subscript(i: Int) -> String? {
        let c = codes[i]
        return c == 0 ? nil : levels[Int(c) - 1]
    }

    public static func == (a: TextColumn, b: TextColumn) -> Bool { Array(a) == Array(b) }
}

/// A parsed CSV column.
public enum ColumnData: Sendable, Equatable {
    case numeric([Double])
    case text(TextColumn)
    /// Not read (the caller named the columns it uses); only the field count was checked.
    case skipped
}

/// A CSV file parsed into named columns.
///
/// Missing cells are NaN in numeric columns (the reader rejects literal NaN and infinities,
/// so NaN always means "empty in the file") and `nil` in text columns.
public struct Table: Sendable {
    /// Where the table came from, for error messages.
    public let source: String
    /// Column names from the header row, in file order.
    public let columnNames: [String]
    /// Column contents, parallel to ``columnNames``.
    public internal(set) var columns: [ColumnData]
    /// 1-based physical line on which each data row starts.
    public let rowLines: [Int32]
    /// Fields before the first named column that were ignored (1 for an unnamed index column
    /// written by pandas' `to_csv` or R's `write.csv`): error messages count them.
    public var ignoredLeadingFields = 0
    /// What the reader decided on its own (an ignored index column, a detected separator), for
    /// the user to see.
    public var notes: [String] = []

    public init(source: String, columnNames: [String], columns: [ColumnData], rowLines: [Int32]) {
        self.source = source
        self.columnNames = columnNames
        self.columns = columns
        self.rowLines = rowLines
    }

    /// Number of data rows.
    public var rowCount: Int { rowLines.count }

    /// 1-based field number of the column named `name` in the file (for error messages).
    public func fieldNumber(_ name: String) throws -> Int {
        try columnIndex(name) + 1 + ignoredLeadingFields
    }

    /// Index of the column named `name`, or an error that lists what the file does have.
    public func columnIndex(_ name: String) throws -> Int {
        if let i = columnNames.firstIndex(of: name) { return i }
        let close = columnNames.filter { $0.lowercased() == name.lowercased() }
        let hint = close.isEmpty ? "columns are: \(columnNames.joined(separator: ", "))" : "did you mean '\(close[0])'?"
        throw TabularError(file: source, line: 1, message: "no column named '\(name)' in the header; \(hint)")
    }

    /// Values of a numeric column (NaN = missing).
    public func numeric(_ name: String) throws -> [Double] {
        let i = try columnIndex(name)
        switch columns[i] {
        case let .numeric(values): return values
        case .text: throw TabularError(file: source, line: 1, column: i + 1 + ignoredLeadingFields, columnName: name, message: "is a text column, expected numbers")
        case .skipped: throw TabularError(file: source, line: 1, column: i + 1 + ignoredLeadingFields, columnName: name, message: "was not read (not among the used columns)")
        }
    }

    /// Values of a column that must hold only 0 and 1 with nothing missing (an outcome).
    public func binary(_ name: String) throws -> [Double] {
        let i = try columnIndex(name)
        let values = try numeric(name)
        for (r, v) in values.enumerated() where v != 0 && v != 1 {
            let found = v.isNaN ? "an empty cell" : "\(formatNumber(v))"
            throw TabularError(file: source, line: Int(rowLines[r]), column: i + 1 + ignoredLeadingFields, columnName: name,
                               message: "expected 0 or 1 (a binary outcome), found \(found)")
        }
        return values
    }

    /// The first missing cell of a numeric column, located, or `nil` if none is missing.
    public func firstMissing(_ name: String) throws -> TabularError? {
        let i = try columnIndex(name)
        let values = try numeric(name)
        guard let r = values.firstIndex(where: { $0.isNaN }) else { return nil }
        return TabularError(file: source, line: Int(rowLines[r]), column: i + 1 + ignoredLeadingFields, columnName: name,
                            message: "expected a number, found an empty cell")
    }
}

func formatNumber(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
}

/// RFC 4180 CSV reader: header row, quoted fields with embedded commas, quotes and newlines,
/// LF or CRLF line ends, optional UTF-8 byte order mark; gzip-compressed input; `,` `;` or tab
/// separated (detected from the header when not given); an unnamed first column (pandas' or R's
/// row index) ignored with a note; `true`/`false` in any case read as 1/0 in numeric columns.
///
/// Numeric columns are parsed straight from bytes (no per-cell strings), so a million rows of
/// twenty columns read in well under a second. Every error names the file, the physical line,
/// the column and what was expected.
public struct CSVReader: Sendable {
    /// Columns to keep as text; every other column must be numeric.
    public var textColumns: Set<String>
    /// Field separator byte; `nil` detects it from the header (`,` `;` or tab, whichever occurs
    /// most outside quotes; comma when none does).
    public var separator: UInt8?
    /// Cell texts (besides the empty cell) that mean "missing", e.g. "NA" or "Unknown".
    public var missingTokens: Set<String>
    /// Columns to read; `nil` reads all. Other columns are skipped (only the row shape is checked),
    /// so a text column nobody uses cannot fail a numeric parse.
    public var usedColumns: Set<String>?
    /// Columns never read even when ``usedColumns`` is `nil` (e.g. `exclude` with `"features": "all"`).
    public var ignoredColumns: Set<String> = []
    /// A sentence added to "expected a number" errors in a column (e.g. how to declare a text
    /// outcome's positive level).
    public var hints: [String: String]

    /// Bodies of at least this many bytes are parsed on all cores (when they hold no quote and no
    /// text column is read); the result is the same table as the one-core parse.
    public var parallelMinimumBytes = 4 << 20

    /// The missing-value tokens used when a spec or command gives none: R's `NA` and NumPy's `NaN`.
    public static let defaultMissingTokens: Set<String> = ["NA", "NaN"]

    public init(textColumns: Set<String> = [], separator: UInt8? = nil, missingTokens: Set<String> = CSVReader.defaultMissingTokens,
                usedColumns: Set<String>? = nil, hints: [String: String] = [:]) {
        self.textColumns = textColumns
        self.separator = separator
        self.missingTokens = missingTokens
        self.usedColumns = usedColumns
        self.hints = hints
    }

    /// The separator byte named by a command-line value: `,` `;` `tab` (or a literal tab), `|`.
    public static func separator(named text: String) -> UInt8? {
        switch text {
        case ",", "comma": return UInt8(ascii: ",")
        case ";", "semicolon": return UInt8(ascii: ";")
        case "\\t", "\t", "tab": return 9
        case "|", "pipe": return UInt8(ascii: "|")
        default: return nil
        }
    }

    /// Reads and parses a file.
    public func read(path: String) throws -> Table {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            let why = !exists ? "no such file" : (isDir.boolValue ? "is a directory, expected a CSV file" : "cannot be read (permissions?)")
            throw TabularError(file: path, message: why)
        }
        return try parse(data, source: path)
    }

    /// Parses CSV bytes (gzip-compressed or not); `source` names them in errors.
    public func parse(_ data: Data, source: String) throws -> Table {
        if Gzip.isCompressed(data) {
            let plain = try Gzip.decompress(data, source: source)
            return try parse(plain, source: source)
        }
        return try data.withUnsafeBytes { raw in
            try parse(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count), source: source)
        }
    }

    /// Parses CSV text; `source` names it in errors.
    public func parse(_ text: String, source: String) throws -> Table {
        try parse(Data(text.utf8), source: source)
    }

    /// The separator of a file whose header starts `bytes`: the most frequent of `,` `;` tab
    /// outside quotes on the first line, comma on a tie or when none occurs.
    static func detectSeparator(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt8 {
        var counts: [UInt8: Int] = [UInt8(ascii: ","): 0, UInt8(ascii: ";"): 0, 9: 0]
        var quoted = false
        for b in bytes {
            if b == UInt8(ascii: "\"") { quoted.toggle(); continue }
            if quoted { continue }
            if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") { break }
            if counts[b] != nil { counts[b]! += 1 }
        }
        let comma = counts[UInt8(ascii: ",")]!
        let best = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }!
        return best.value > comma ? best.key : UInt8(ascii: ",")
    }

    func parse(_ bytes: UnsafeBufferPointer<UInt8>, source: String) throws -> Table {
        let separator = self.separator ?? CSVReader.detectSeparator(bytes)
        var notes: [String] = []
        if self.separator == nil && separator != UInt8(ascii: ",") {
            notes.append("fields are separated by \(separator == 9 ? "tabs" : "'\(Character(Unicode.Scalar(separator)))'") (detected from the header; --delimiter sets it)")
        }
        var scanner = CSVScanner(bytes: bytes, separator: separator, source: source)
        guard let header = try scanner.nextRecord() else {
            throw TabularError(file: source, line: 1, message: "the file is empty: expected a header row of column names")
        }
        var names: [String] = []
        var seen: [String: Int] = [:]
        // pandas' to_csv and R's write.csv write the row index as a first column without a name.
        let skipFirst = header.fields.count > 1 && scanner.text(header.fields[0]).trimmingCharacters(in: .whitespaces).isEmpty
        if skipFirst {
            notes.append("column 1 has no name (a row index, as pandas' to_csv and R's write.csv write it); it is ignored")
        }
        for (i, field) in header.fields.enumerated() {
            if skipFirst && i == 0 { names.append(""); continue }
            let name = scanner.text(field).trimmingCharacters(in: .whitespaces)
            if name.isEmpty {
                throw TabularError(file: source, line: header.line, column: i + 1, message: "empty column name in the header")
            }
            if let previous = seen[name] {
                throw TabularError(file: source, line: header.line, column: i + 1, columnName: name,
                                   message: "duplicate column name (also column \(previous + 1))")
            }
            seen[name] = i
            names.append(name)
        }
        for wanted in textColumns.union(usedColumns ?? []).sorted() where seen[wanted] == nil {
            throw TabularError(file: source, line: header.line, message: "no column named '\(wanted)' in the header; columns are: \(names.joined(separator: ", "))")
        }
        let width = names.count
        let isText = names.map { textColumns.contains($0) }
        var isUsed = names.map { (usedColumns?.contains($0) ?? true) && !ignoredColumns.contains($0) }
        if skipFirst { isUsed[0] = false }
        let shape = BodyShape(width: width, isText: isText, isUsed: isUsed, names: names, tokens: missingTokens,
                              hints: hints, separator: separator, source: source)
        let estimate = bytes.count / max(1, header.byteLength)
        let body = try CSVReader.parallelChunks(bytes, from: scanner.position, shape: shape, minimum: parallelMinimumBytes)
            .flatMap { try parseInParallel(bytes, chunks: $0, firstLine: scanner.line, shape: shape) }
            ?? shape.parse(&scanner, estimate: estimate)
        var columns: [ColumnData] = (0..<width).map { !isUsed[$0] ? .skipped : isText[$0] ? .text(body.texts[$0]) : .numeric(body.numbers[$0]) }
        if skipFirst {
            names.removeFirst()
            columns.removeFirst()
        }
        var table = Table(source: source, columnNames: names, columns: columns, rowLines: body.lines)
        table.ignoredLeadingFields = skipFirst ? 1 : 0
        table.notes = notes
        return table
    }
}

extension CSVReader {
    /// Byte ranges of the body split at line ends, one per core, when the body can be parsed in
    /// independent pieces: no quote character in it (a quoted field may span lines) and no text
    /// column read (text codes are numbered by first appearance over the whole file). `nil`
    /// otherwise, or for a small file.
    static func parallelChunks(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, shape: BodyShape, minimum: Int) -> [Range<Int>]? {
        let count = bytes.count
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard cores > 1, count - start >= minimum,
              !zip(shape.isText, shape.isUsed).contains(where: { $0 && $1 }) else { return nil }
        guard let base = bytes.baseAddress, memchr(base + start, Int32(UInt8(ascii: "\"")), count - start) == nil else { return nil }
        let pieces = min(cores, 16)
        var bounds = [start]
        for k in 1..<pieces {
            var cut = start + (count - start) * k / pieces
            guard cut > bounds.last! else { continue }
            // Each piece after the first starts just after a line feed.
            guard let lf = memchr(base + cut, Int32(UInt8(ascii: "\n")), count - cut) else { break }
            cut = UnsafeRawPointer(lf).assumingMemoryBound(to: UInt8.self) - base + 1
            if cut < count && cut > bounds.last! { bounds.append(cut) }
        }
        bounds.append(count)
        return (0..<(bounds.count - 1)).map { bounds[$0]..<bounds[$0 + 1] }
    }

    /// The body parsed piece by piece on all cores, then joined in file order: the same table as
    /// the serial parse. `nil` when a piece fails: the serial parse then finds the first error
    /// and reports it with its exact line.
    func parseInParallel(_ bytes: UnsafeBufferPointer<UInt8>, chunks: [Range<Int>], firstLine: Int, shape: BodyShape) throws -> Body? {
        var results = [Body?](repeating: nil, count: chunks.count)
        var breaks = [Int](repeating: 0, count: chunks.count)
        let source = UnsafeShared(bytes)
        results.withUnsafeMutableBufferPointer { resultBuffer in
            breaks.withUnsafeMutableBufferPointer { breakBuffer in
                let out = UnsafeShared((resultBuffer.baseAddress!, breakBuffer.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: chunks.count) { c in
                    let piece = UnsafeBufferPointer(rebasing: source.value[chunks[c]])
                    var scanner = CSVScanner(bytes: piece, separator: shape.separator, source: shape.source, skipByteOrderMark: false)
                    scanner.line = 0
                    if let body = try? shape.parse(&scanner, estimate: piece.count / max(1, shape.width * 4)) {
                        out.value.0[c] = body
                        out.value.1[c] = scanner.line
                    }
                }
            }
        }
        var parts: [Body] = []
        for case let body? in results { parts.append(body) }
        guard parts.count == chunks.count else { return nil }
        // Line numbers: each piece counted from 0; shift by the lines before it.
        var offset = firstLine
        for c in parts.indices {
            let shift = Int32(truncatingIfNeeded: offset)
            for i in parts[c].lines.indices { parts[c].lines[i] &+= shift }
            offset += breaks[c]
        }
        var joined = Body(width: shape.width)
        joined.lines.reserveCapacity(parts.reduce(0) { $0 + $1.lines.count })
        for c in parts.indices { joined.lines += parts[c].lines; parts[c].lines = [] }
        for column in 0..<shape.width where shape.isUsed[column] {
            joined.numbers[column].reserveCapacity(joined.lines.count)
            for c in parts.indices {
                joined.numbers[column] += parts[c].numbers[column]
                parts[c].numbers[column] = []
            }
        }
        return joined
    }
}

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

    /// Parses records from `scanner` to its end.
    func parse(_ scanner: inout CSVScanner, estimate: Int) throws -> Body {
        var body = Body(width: width)
        // Tokens that read as finite numbers (say "-999") must be matched before parsing; the
        // others ("NA", "NaN") only where a field fails to parse, so ordinary numbers cost no lookup.
        let numericTokens = tokens.contains { Double($0)?.isFinite == true }
        if estimate > 0 {
            for c in 0..<width where isUsed[c] { if isText[c] { body.texts[c].reserveCapacity(estimate) } else { body.numbers[c].reserveCapacity(estimate) } }
            body.lines.reserveCapacity(estimate)
        }
        while let record = try scanner.nextRecord() {
            if record.fields.count == 1 && width > 1 && record.fields[0].isEmpty && !record.fields[0].quoted {
                continue  // a blank line carries no data
            }
            guard record.fields.count == width else {
                throw TabularError(file: source, line: record.line,
                                   message: "expected \(width) fields as in the header, found \(record.fields.count)")
            }
            for c in 0..<width where isUsed[c] {
                let field = record.fields[c]
                if isText[c] {
                    if field.isEmpty { body.texts[c].append(nil); continue }
                    let t = scanner.text(field)
                    body.texts[c].append(tokens.contains(t) ? nil : t)
                } else {
                    if numericTokens && tokens.contains(scanner.text(field)) { body.numbers[c].append(.nan); continue }
                    guard let v = scanner.number(field) ?? scanner.boolean(field) ?? (tokens.contains(scanner.text(field)) ? .nan : nil) else {
                        let shown = String(scanner.text(field).prefix(40))
                        let expected = shown.lowercased().contains("nan") || shown.lowercased().contains("inf")
                            ? "expected a finite number (leave the cell empty for a missing value)" : "expected a number"
                        let hint = hints[names[c]].map { "; \($0)" } ?? ""
                        throw TabularError(file: source, line: field.line, column: c + 1, columnName: names[c],
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
                        throw TabularError(file: source, line: fieldLine, column: fields.count + 1,
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
                    throw TabularError(file: source, line: line, column: fields.count,
                                       message: "unexpected text after a closing quote (expected ',' or end of line)")
                }
            } else {
                let start = position
                var i = start
                while i < count {
                    let b = bytes[i]
                    if b == separator || b == lf || b == cr { break }
                    if b == quote {
                        throw TabularError(file: source, line: line, column: fields.count + 1,
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
            if b == separator { position += 1; if position >= count { fields.append(Field(start: count, end: count, quoted: false, escaped: false, line: line)); break }; continue }
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

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
        case .text:
            throw TabularError(
                file: source, line: 1, column: i + 1 + ignoredLeadingFields, columnName: name, message: "is a text column, expected numbers")
        case .skipped:
            throw TabularError(
                file: source, line: 1, column: i + 1 + ignoredLeadingFields, columnName: name, message: "was not read (not among the used columns)")
        }
    }

    /// Hands a numeric column over to the caller (NaN = missing): the table no longer holds it
    /// (it reads as not read), so the caller's copy is the only one and its memory goes with it.
    public mutating func takeNumeric(_ name: String) throws -> [Double] {
        let values = try numeric(name)
        columns[try columnIndex(name)] = .skipped
        return values
    }

    /// Values of a column that must hold only 0 and 1 with nothing missing (an outcome).
    public func binary(_ name: String) throws -> [Double] {
        let i = try columnIndex(name)
        let values = try numeric(name)
        for (r, v) in values.enumerated() where v != 0 && v != 1 {
            let found = v.isNaN ? "an empty cell" : "\(formatNumber(v))"
            throw TabularError(
                file: source, line: Int(rowLines[r]), column: i + 1 + ignoredLeadingFields, columnName: name,
                message: "expected 0 or 1 (a binary outcome), found \(found)")
        }
        return values
    }

    /// The first missing cell of a numeric column, located, or `nil` if none is missing.
    public func firstMissing(_ name: String) throws -> TabularError? {
        let i = try columnIndex(name)
        let values = try numeric(name)
        guard let r = values.firstIndex(where: { $0.isNaN }) else { return nil }
        return TabularError(
            file: source, line: Int(rowLines[r]), column: i + 1 + ignoredLeadingFields, columnName: name,
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

    /// Files of at least this many bytes are read in blocks of ``blockBytes`` and parsed block by
    /// block (when, as for the parallel parse, their body holds no quote and no text column is
    /// read), so the whole file is never held beside its parsed columns. The table is the same.
    public var streamMinimumBytes = 64 << 20
    /// The size of one block of a file read in blocks.
    public var blockBytes = 8 << 20

    /// The missing-value tokens used when a spec or command gives none: R's `NA` and NumPy's `NaN`.
    public static let defaultMissingTokens: Set<String> = ["NA", "NaN"]

    public init(
        textColumns: Set<String> = [], separator: UInt8? = nil, missingTokens: Set<String> = CSVReader.defaultMissingTokens,
        usedColumns: Set<String>? = nil, hints: [String: String] = [:]
    ) {
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
        if let table = try readInBlocks(path: path) { return table }
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

    /// What the header of a file says: the body's shape, the column names and the notes.
    struct Header {
        var shape: BodyShape
        var names: [String]
        var notes: [String]
        /// Whether the first column is an unnamed row index (ignored).
        var skipFirst: Bool
        /// The byte offset and physical line where the body starts.
        var bodyStart: Int
        var bodyLine: Int
    }

    /// Reads the header record at the start of `bytes` (the whole file, or its first block).
    func header(_ bytes: UnsafeBufferPointer<UInt8>, source: String) throws -> Header {
        let separator = self.separator ?? CSVReader.detectSeparator(bytes)
        var notes: [String] = []
        if self.separator == nil && separator != UInt8(ascii: ",") {
            notes.append(
                "fields are separated by \(separator == 9 ? "tabs" : "'\(Character(Unicode.Scalar(separator)))'") (detected from the header; --delimiter sets it)"
            )
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
                throw TabularError(
                    file: source, line: header.line, column: i + 1, columnName: name,
                    message: "duplicate column name (also column \(previous + 1))")
            }
            seen[name] = i
            names.append(name)
        }
        for wanted in textColumns.union(usedColumns ?? []).sorted() where seen[wanted] == nil {
            throw TabularError(
                file: source, line: header.line, message: "no column named '\(wanted)' in the header; columns are: \(names.joined(separator: ", "))")
        }
        let width = names.count
        let isText = names.map { textColumns.contains($0) }
        var isUsed = names.map { (usedColumns?.contains($0) ?? true) && !ignoredColumns.contains($0) }
        if skipFirst { isUsed[0] = false }
        let shape = BodyShape(
            width: width, isText: isText, isUsed: isUsed, names: names, tokens: missingTokens,
            hints: hints, separator: separator, source: source)
        return Header(
            shape: shape, names: names, notes: notes, skipFirst: skipFirst, bodyStart: scanner.position, bodyLine: scanner.line)
    }

    func parse(_ bytes: UnsafeBufferPointer<UInt8>, source: String) throws -> Table {
        let header = try self.header(bytes, source: source)
        let shape = header.shape
        var scanner = CSVScanner(bytes: bytes, separator: shape.separator, source: source)
        scanner.position = header.bodyStart
        scanner.line = header.bodyLine
        let estimate = bytes.count / max(1, header.bodyStart)
        let body =
            try CSVReader.parallelChunks(bytes, from: header.bodyStart, shape: shape, minimum: parallelMinimumBytes)
            .flatMap { parseNumericInParallel(bytes, chunks: $0, firstLine: header.bodyLine, shape: shape) }
            ?? shape.parse(&scanner, estimate: estimate)
        return table(header, body: body, source: source)
    }

    /// The table of a parsed body.
    func table(_ header: Header, body: Body, source: String) -> Table {
        var names = header.names
        let isUsed = header.shape.isUsed, isText = header.shape.isText, width = names.count, skipFirst = header.skipFirst
        var columns: [ColumnData] = (0..<width).map { !isUsed[$0] ? .skipped : isText[$0] ? .text(body.texts[$0]) : .numeric(body.numbers[$0]) }
        if skipFirst {
            names.removeFirst()
            columns.removeFirst()
        }
        var table = Table(source: source, columnNames: names, columns: columns, rowLines: body.lines)
        table.ignoredLeadingFields = skipFirst ? 1 : 0
        table.notes = header.notes
        return table
    }

    /// The table of a large file read in blocks of ``blockBytes``: each block cut after its last
    /// line feed, parsed on all cores by the one-pass numeric kernel, and appended to columns
    /// reserved from the first block's bytes per row (so one block's pieces are held at a time).
    /// `nil` when the file must be read whole: smaller than ``streamMinimumBytes``, compressed, a
    /// text column read, a quote character or a malformed record in the body (the whole-file
    /// parse then reports the error with its line).
    func readInBlocks(path: String) throws -> Table? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) >= streamMinimumBytes else { return nil }
        let block = max(blockBytes, 64)
        // The unparsed tail of the previous block, then the next block.
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * block)
        var capacity = 2 * block
        defer { buffer.deallocate() }
        var filled = 0
        var atEnd = false
        /// Reads until the buffer holds `block` new bytes or the file ends.
        func refill() throws {
            var wanted = block
            if filled + wanted > capacity {
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: filled + wanted)
                bigger.update(from: buffer, count: filled)
                buffer.deallocate()
                buffer = bigger
                capacity = filled + wanted
            }
            while wanted > 0 {
                let got = Foundation.read(fd, buffer + filled, wanted)
                if got < 0 {
                    if errno == EINTR { continue }
                    throw TabularError(file: path, message: "cannot be read: \(String(cString: strerror(errno)))")
                }
                if got == 0 {
                    atEnd = true
                    return
                }
                filled += got
                wanted -= got
            }
        }
        try refill()
        let first = UnsafeBufferPointer(start: buffer, count: filled)
        guard !Gzip.isCompressed(Data(first.prefix(4))) else { return nil }
        let header = try self.header(first, source: path)
        guard header.bodyStart < filled || atEnd else { return nil }
        var body = Body(width: header.shape.width)
        var lineOffset = header.bodyLine
        var reserved = false
        var start = header.bodyStart
        while true {
            // The records of this block: up to its last line feed, or to the end of the file.
            var cut = filled
            if !atEnd {
                while cut > start && buffer[cut - 1] != 10 { cut -= 1 }
                // No line end in a whole block: a very long record, or lone CR line ends.
                guard cut > start else { return nil }
            }
            if cut > start {
                // No chunks (so the whole-file parse) for a quote or a text column, as for a file read whole.
                let bytes = UnsafeBufferPointer(start: buffer, count: cut)
                guard let chunks = CSVReader.parallelChunks(bytes, from: start, shape: header.shape, minimum: 0),
                    let pieces = parsePieces(bytes, chunks: chunks, shape: header.shape)
                else { return nil }
                if !reserved {
                    // Rows expected in the whole file, from this block's bytes per row, and 10%
                    // more: capacity never touched costs no memory, growing costs a copy.
                    let rows = pieces.reduce(0) { $0 + $1.rows }
                    let perRow = Double(cut - start) / Double(max(rows, 1))
                    let expected = Int(min(Double(Int32.max), Double(Int(info.st_size) - start) / perRow * 1.1)) + 16
                    body.lines.reserveCapacity(expected)
                    for k in 0..<header.shape.width where header.shape.isUsed[k] { body.numbers[k].reserveCapacity(expected) }
                    reserved = true
                }
                append(pieces, to: &body, lineOffset: &lineOffset, shape: header.shape)
            }
            if atEnd { break }
            // Keep the unparsed tail at the front and read the next block after it.
            filled -= cut
            memmove(buffer, buffer + cut, filled)
            start = 0
            try refill()
        }
        return table(header, body: body, source: path)
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
        guard count - start >= minimum,
            !zip(shape.isText, shape.isUsed).contains(where: { $0 && $1 })
        else { return nil }
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
}

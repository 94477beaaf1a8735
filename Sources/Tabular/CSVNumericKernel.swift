import Foundation

/// One piece of a numeric body parsed by ``BodyShape/parseNumeric(_:range:)``: per used column
/// its values, and each row's line counted from the piece's start. Owns its buffers.
final class NumericPiece: @unchecked Sendable {
    /// Per column a buffer of `capacity` values (`nil` for a column not read, or already handed
    /// over by ``take(_:)``).
    private(set) var columns: UnsafeMutablePointer<UnsafeMutablePointer<Double>?>
    let width: Int
    private(set) var lines: UnsafeMutablePointer<Int32>
    private(set) var capacity: Int
    var rows = 0
    /// Physical lines the piece spans.
    var lineCount = 0

    init(isUsed: [Bool], capacity: Int) {
        self.capacity = max(capacity, 16)
        let c = self.capacity
        width = isUsed.count
        columns = .allocate(capacity: isUsed.count)
        for (k, used) in isUsed.enumerated() { (columns + k).initialize(to: used ? .allocate(capacity: c) : nil) }
        lines = .allocate(capacity: c)
    }

    /// Doubles every buffer (a piece whose record count outgrew the line-feed estimate: lone CR
    /// line ends).
    func grow() {
        let bigger = capacity * 2
        for k in 0..<width {
            guard let old = columns[k] else { continue }
            let new = UnsafeMutablePointer<Double>.allocate(capacity: bigger)
            new.update(from: old, count: rows)
            old.deallocate()
            columns[k] = new
        }
        let newLines = UnsafeMutablePointer<Int32>.allocate(capacity: bigger)
        newLines.update(from: lines, count: rows)
        lines.deallocate()
        lines = newLines
        capacity = bigger
    }

    /// Copies column `k`'s values to `destination` and frees them, so a column's memory is held
    /// once, not twice, while the pieces are joined. Different columns may be taken concurrently.
    func take(_ k: Int, into destination: UnsafeMutablePointer<Double>) {
        guard let values = columns[k] else { return }
        destination.update(from: values, count: rows)
        values.deallocate()
        columns[k] = nil
    }

    /// Appends column `k`'s values to `column`.
    func append(_ k: Int, to column: inout [Double]) {
        guard let values = columns[k] else { return }
        column.append(contentsOf: UnsafeBufferPointer(start: values, count: rows))
    }

    deinit {
        for k in 0..<width { columns[k]?.deallocate() }
        columns.deallocate()
        lines.deallocate()
    }
}

extension BodyShape {
    /// Parses the records in `range` of a body that holds no quote character and whose read
    /// columns are all numeric, in one pass: each numeric field is read as it is scanned, straight
    /// into its column. The values are exactly those of ``parse(_:estimate:)`` (the same fast path
    /// and the same fallbacks). `nil` at the first record that is not well formed (wrong field
    /// count, a cell that is not a number): the caller then runs the serial parse, which reports
    /// the error with its exact line.
    func parseNumeric(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> NumericPiece? {
        guard let base = bytes.baseAddress else { return nil }
        let end = range.upperBound
        // Rows are at most the line feeds plus one; lone carriage returns grow the buffers.
        var feeds = 0
        var cursor = range.lowerBound
        while cursor < end, let hit = memchr(base + cursor, 10, end - cursor) {
            feeds += 1
            cursor = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base + 1
        }
        let piece = NumericPiece(isUsed: isUsed, capacity: feeds + 1)
        // With tokens that read as finite numbers ("-999") every field takes the general path.
        let numericTokens = hasNumericTokens
        let scanner = CSVScanner(bytes: bytes, separator: separator, source: source, skipByteOrderMark: false)
        let sep = separator, lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        let point = UInt8(ascii: "."), minus = UInt8(ascii: "-"), plus = UInt8(ascii: "+")
        let width = self.width
        let powers = CSVScanner.powersOfTen
        // The general reading of one numeric field (what `parse` does), `nil` if it is no number.
        func general(_ start: Int, _ stop: Int) -> Double? {
            value(Field(start: start, end: stop, quoted: false, escaped: false, line: 0), in: scanner, numericTokens: numericTokens)
        }
        return powers.withUnsafeBufferPointer { powers -> NumericPiece? in
            isUsed.withUnsafeBufferPointer { used -> NumericPiece? in
                var pos = range.lowerBound
                var line = 0
                // Column buffers are replaced in place by `grow`.
                let columns = piece.columns
                while pos < end {
                    let first = base[pos]
                    if width > 1 && (first == lf || first == cr) {
                        // A blank line carries no data.
                        pos += first == cr && pos + 1 < end && base[pos + 1] == lf ? 2 : 1
                        line += 1
                        continue
                    }
                    if piece.rows == piece.capacity { piece.grow() }
                    let row = piece.rows
                    let recordLine = line
                    var column = 0
                    while true {
                        guard column < width else { return nil }
                        // One field from `pos`; `stop` is where it ends.
                        var stop = pos
                        if used[column] {
                            var value = Double.nan
                            var parsed = false
                            if !numericTokens {
                                var i = pos
                                var negative = false
                                if i < end {
                                    if base[i] == minus {
                                        negative = true
                                        i += 1
                                    } else if base[i] == plus {
                                        i += 1
                                    }
                                }
                                var mantissa: UInt64 = 0
                                var digits = 0, fraction = 0
                                var sawDigit = false, sawPoint = false
                                while i < end {
                                    let b = base[i]
                                    let d = b &- 48
                                    if d < 10 {
                                        sawDigit = true
                                        if mantissa != 0 || d != 0 { digits += 1 }
                                        mantissa = mantissa &* 10 &+ UInt64(d)
                                        if sawPoint { fraction += 1 }
                                    } else if b == point && !sawPoint {
                                        sawPoint = true
                                    } else {
                                        break
                                    }
                                    i += 1
                                }
                                let terminated = i == end || base[i] == sep || base[i] == lf || base[i] == cr
                                if terminated {
                                    if i == pos {
                                        parsed = true  // an empty cell: missing
                                    } else if sawDigit && digits <= 15 && fraction <= 22 {
                                        var v = Double(mantissa)
                                        if fraction > 0 { v /= powers[fraction] }
                                        value = negative ? -v : v
                                        parsed = true
                                    }
                                    stop = i
                                }
                            }
                            if !parsed {
                                stop = pos
                                while stop < end {
                                    let b = base[stop]
                                    if b == sep || b == lf || b == cr { break }
                                    stop += 1
                                }
                                guard let v = general(pos, stop) else { return nil }
                                value = v
                            }
                            columns[column]![row] = value
                        } else {
                            while stop < end {
                                let b = base[stop]
                                if b == sep || b == lf || b == cr { break }
                                stop += 1
                            }
                        }
                        column += 1
                        pos = stop
                        if pos >= end { break }
                        let b = base[pos]
                        if b == sep {
                            pos += 1
                            if pos >= end {
                                // A separator ends the piece: one more, empty field.
                                guard column < width else { return nil }
                                if used[column] { columns[column]![row] = .nan }
                                column += 1
                                break
                            }
                            continue
                        }
                        pos += b == cr && pos + 1 < end && base[pos + 1] == lf ? 2 : 1
                        line += 1
                        break
                    }
                    guard column == width else { return nil }
                    piece.lines[row] = Int32(truncatingIfNeeded: recordLine)
                    piece.rows += 1
                }
                piece.lineCount = line
                return piece
            }
        }
    }
}

extension CSVReader {
    /// The body parsed piece by piece on all cores by the one-pass numeric kernel, then joined in
    /// file order: the same table as the serial parse. `nil` when a piece fails: the serial parse
    /// then finds the first error and reports it with its exact line.
    func parseNumericInParallel(_ bytes: UnsafeBufferPointer<UInt8>, chunks: [Range<Int>], firstLine: Int, shape: BodyShape) -> Body? {
        parsePieces(bytes, chunks: chunks, shape: shape).map { join($0, firstLine: firstLine, shape: shape) }
    }

    /// The pieces of `chunks` parsed on all cores, in order; `nil` when one fails.
    func parsePieces(_ bytes: UnsafeBufferPointer<UInt8>, chunks: [Range<Int>], shape: BodyShape) -> [NumericPiece]? {
        var pieces = [NumericPiece?](repeating: nil, count: chunks.count)
        let source = UnsafeShared(bytes)
        pieces.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeShared(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks.count) { c in
                out.value[c] = shape.parseNumeric(source.value, range: chunks[c])
            }
        }
        let parts = pieces.compactMap { $0 }
        return parts.count == chunks.count ? parts : nil
    }

    /// Appends parsed pieces (in file order) to a body being built block by block: the values of
    /// each used column, and each row's line shifted by `lineOffset`, which advances past them.
    /// The pieces can then be freed, so one block's pieces are held at a time.
    func append(_ parts: [NumericPiece], to body: inout Body, lineOffset: inout Int, shape: BodyShape) {
        for part in parts {
            let shift = Int32(truncatingIfNeeded: lineOffset)
            body.lines.append(contentsOf: UnsafeBufferPointer(start: part.lines, count: part.rows).lazy.map { $0 &+ shift })
            lineOffset += part.lineCount
        }
        body.numbers.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeShared(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: shape.width) { k in
                guard shape.isUsed[k] else { return }
                for part in parts { part.append(k, to: &out.value[k]) }
            }
        }
    }

    /// The body of parsed pieces in file order; `firstLine` is the physical line of the first
    /// piece's start. Each column's pieces are freed as the column is joined.
    func join(_ parts: [NumericPiece], firstLine: Int, shape: BodyShape) -> Body {
        let total = parts.reduce(0) { $0 + $1.rows }
        var body = Body(width: shape.width)
        // Line numbers: each piece counted from 0; shift by the lines before it.
        body.lines = [Int32](unsafeUninitializedCapacity: total) { buffer, count in
            var offset = firstLine, o = 0
            for part in parts {
                let shift = Int32(truncatingIfNeeded: offset)
                for r in 0..<part.rows { buffer[o + r] = part.lines[r] &+ shift }
                o += part.rows
                offset += part.lineCount
            }
            count = total
        }
        let used = (0..<shape.width).filter { shape.isUsed[$0] }
        var columns = [[Double]](repeating: [], count: used.count)
        columns.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeShared(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: used.count) { k in
                out.value[k] = [Double](unsafeUninitializedCapacity: total) { values, count in
                    var o = 0
                    for part in parts {
                        part.take(used[k], into: values.baseAddress! + o)
                        o += part.rows
                    }
                    count = total
                }
            }
        }
        for (k, column) in used.enumerated() { body.numbers[column] = columns[k] }
        return body
    }
}

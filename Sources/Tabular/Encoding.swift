import Foundation

/// A data set after filtering and encoding: numeric feature columns and 0/1 outcomes, one
/// entry per kept row, plus an account of every row that was left out and why.
public struct EncodedData: Sendable {
    /// Expanded feature names (one-hot levels and missing indicators included), in spec order.
    public let featureNames: [String]
    /// Report group of each expanded feature.
    public let featureGroups: [String]
    /// Feature columns, parallel to ``featureNames``.
    public let columns: [[Double]]
    /// Outcome names, in spec order.
    public let outcomeNames: [String]
    /// Outcome columns (0/1), parallel to ``outcomeNames``.
    public let outcomes: [[Double]]
    /// 0-based data-row index in the CSV of each kept row.
    public let sourceRows: [Int]
    /// Rows read from the file.
    public let rowsRead: Int
    /// Why rows were left out, with counts, in the order the rules apply.
    public let dropped: [(reason: String, rows: Int)]
    /// The spec's features as applied: `"all"` expanded, one-hot levels found in the data written
    /// out, so the same encoding can be applied to new rows (`lassoboot predict`).
    public var features: [FeatureSpec] = []
    /// One-hot features held as one level slot per row instead of 0/1 columns (only when
    /// `encode` was asked for `sparseOneHot`): their ``columns`` entries are empty.
    public var oneHotBlocks: [OneHotBlock] = []

    /// The levels of one one-hot feature, as a slot per kept row: columns
    /// `firstColumn ..< firstColumn + count` of the design, row k's 1 in column
    /// `firstColumn + slot[k]`, or in none where `slot[k]` is -1 (the reference level or missing).
    public struct OneHotBlock: Sendable {
        public let firstColumn: Int
        public let count: Int
        public var slot: [Int32]
        /// Kept rows per level.
        public var counts: [Int] {
            var c = [Int](repeating: 0, count: count)
            for s in slot where s >= 0 { c[Int(s)] += 1 }
            return c
        }
    }

    /// Number of kept rows.
    public var rowCount: Int { sourceRows.count }

    /// Nonzero feature values over the kept rows (one per row and one-hot feature with a
    /// non-reference level).
    public var nonzeroCount: Int {
        columns.reduce(0) { $0 + $1.lazy.filter { $0 != 0 }.count }
            + oneHotBlocks.reduce(0) { $0 + $1.slot.lazy.filter { $0 >= 0 }.count }
    }

    /// The design as compressed sparse columns over the kept rows: column `j`'s nonzero values
    /// are `values[start[j] ..< start[j + 1]]` at rows `rows[...]`, rows ascending. One-hot
    /// blocks are sorted by level in one counting pass.
    public func compressedColumns() -> (start: [Int], rows: [Int32], values: [Double]) {
        var start = [0], rows: [Int32] = [], values: [Double] = []
        let count = nonzeroCount
        rows.reserveCapacity(count)
        values.reserveCapacity(count)
        var j = 0
        while j < columns.count {
            if let block = oneHotBlocks.first(where: { $0.firstColumn == j }) {
                var next = [Int](repeating: 0, count: block.count + 1)
                for (l, c) in block.counts.enumerated() { next[l + 1] = next[l] + c }
                let base = rows.count
                rows.append(contentsOf: repeatElement(0, count: next[block.count]))
                values.append(contentsOf: repeatElement(1, count: next[block.count]))
                for l in 0..<block.count { start.append(base + next[l + 1]) }
                for (i, s) in block.slot.enumerated() where s >= 0 {
                    rows[base + next[Int(s)]] = Int32(i)
                    next[Int(s)] += 1
                }
                j += block.count
                continue
            }
            for (i, v) in columns[j].enumerated() where v != 0 {
                rows.append(Int32(i))
                values.append(v)
            }
            start.append(rows.count)
            j += 1
        }
        return (start, rows, values)
    }

    /// These data with the one-hot blocks written out as 0/1 columns (what `encode` gives
    /// without `sparseOneHot`).
    public func densified() -> EncodedData {
        guard !oneHotBlocks.isEmpty else { return self }
        var columns = self.columns
        for block in oneHotBlocks {
            for l in 0..<block.count { columns[block.firstColumn + l] = block.slot.map { $0 == Int32(l) ? 1 : 0 } }
        }
        var dense = EncodedData(
            featureNames: featureNames, featureGroups: featureGroups, columns: columns, outcomeNames: outcomeNames, outcomes: outcomes,
            sourceRows: sourceRows, rowsRead: rowsRead, dropped: dropped, features: features)
        dense.oneHotBlocks = []
        return dense
    }

    /// Per column, the share of kept rows at its level for a one-hot block's column, `nil` for
    /// a dense column.
    public var oneHotShares: [Double?] {
        var shares = [Double?](repeating: nil, count: columns.count)
        for block in oneHotBlocks {
            for (l, c) in block.counts.enumerated() { shares[block.firstColumn + l] = Double(c) / Double(max(rowCount, 1)) }
        }
        return shares
    }

    /// The linear predictors `b0 + x_i' b` of kept rows `rows` under `coefficients` (intercept
    /// first, then one per column), one-hot blocks read from their slots.
    public func linearPredictors(_ coefficients: [Double], rows: Range<Int>) -> [Double] {
        var eta = [Double](repeating: coefficients[0], count: rows.count)
        for j in columns.indices where coefficients[j + 1] != 0 && !columns[j].isEmpty {
            let b = coefficients[j + 1]
            columns[j].withUnsafeBufferPointer { c in
                for (i, k) in rows.enumerated() { eta[i] += b * c[k] }
            }
        }
        for block in oneHotBlocks {
            let first = block.firstColumn + 1
            for (i, k) in rows.enumerated() where block.slot[k] >= 0 { eta[i] += coefficients[first + Int(block.slot[k])] }
        }
        return eta
    }

    public init(
        featureNames: [String], featureGroups: [String], columns: [[Double]], outcomeNames: [String], outcomes: [[Double]],
        sourceRows: [Int], rowsRead: Int, dropped: [(reason: String, rows: Int)], features: [FeatureSpec] = []
    ) {
        self.featureNames = featureNames
        self.featureGroups = featureGroups
        self.columns = columns
        self.outcomeNames = outcomeNames
        self.outcomes = outcomes
        self.sourceRows = sourceRows
        self.rowsRead = rowsRead
        self.dropped = dropped
        self.features = features
    }
}

/// Applies a ``DataSpec`` to a ``Table`` (named so it does not shadow Swift's `Encoder`).
public enum DataEncoder {
    /// Encodes a table; every problem names the file, line and column.
    ///
    /// The table is consumed: each source column is released once the last feature or outcome
    /// reading it is encoded, and features are encoded only for the rows the filters keep, so the
    /// peak memory is about one copy of the used columns plus the encoded design.
    ///
    /// With `sparseOneHot` the one-hot features come out as ``EncodedData/oneHotBlocks`` (a slot
    /// per row) with empty ``EncodedData/columns`` entries: rows x levels values are never made,
    /// which is what scoring new rows against a model with thousands of levels needs.
    public static func encode(_ table: consuming Table, spec given: DataSpec, sparseOneHot: Bool = false) throws -> EncodedData {
        let spec = try given.resolved(columns: table.columnNames, source: table.source)
        let source = table.source
        let n = table.rowCount
        var keep = [Bool](repeating: true, count: n)
        var dropped: [(String, Int)] = []
        func column(_ name: String) throws -> ColumnData {
            let idx = try table.columnIndex(name)
            if case .skipped = table.columns[idx] { throw TabularError(file: source, message: "internal: column '\(name)' was not read") }
            return table.columns[idx]
        }
        func present(_ name: String) throws -> (Int) -> Bool {
            switch try column(name) {
            case let .numeric(v): return { !v[$0].isNaN }
            case let .text(v): return { v.codes[$0] != 0 }
            case .skipped: return { _ in false }
            }
        }
        func text(_ name: String) throws -> TextColumn {
            switch try column(name) {
            case let .text(v): return v
            case let .numeric(v): return TextColumn(v.map { $0.isNaN ? nil : formatNumber($0) })
            case .skipped: return TextColumn()
            }
        }

        // 1. Row filters and the inclusion rule, on every row read.
        func dropWhere(_ reason: String, _ predicate: (Int) throws -> Bool) rethrows {
            var count = 0
            for i in 0..<n where keep[i] {
                if try predicate(i) { keep[i] = false; count += 1 }
            }
            dropped.append((reason, count))
        }
        for f in spec.filters {
            let listed = Set(f.values)
            let values = try text(f.column)
            let hit = values.levels.map { listed.contains($0) }  // per code - 1
            if f.exclude {
                dropWhere("\(f.column) in [\(f.values.joined(separator: ", "))]") { i in
                    let c = values.codes[i]
                    return c != 0 && hit[Int(c) - 1]
                }
            } else {
                dropWhere("\(f.column) not in [\(f.values.joined(separator: ", "))]") { i in
                    let c = values.codes[i]
                    return c == 0 || !hit[Int(c) - 1]
                }
            }
        }
        if !spec.includeIfAnyPresent.isEmpty {
            let checks = try spec.includeIfAnyPresent.map { try present($0) }
            dropWhere("none of \(spec.includeIfAnyPresent.joined(separator: ", ")) present") { i in
                !checks.contains { $0(i) }
            }
        }

        // 2. Features and outcomes, encoded for the rows still kept (`rows[k]`); missing-value
        // rules may drop more (`alive[k]`).
        let rows = (0..<n).filter { keep[$0] }
        keep = []
        let m = rows.count
        var alive = [Bool](repeating: true, count: m)
        func dropAlive(_ reason: String, _ predicate: (Int) -> Bool) {
            var count = 0
            for k in 0..<m where alive[k] {
                if predicate(k) { alive[k] = false; count += 1 }
            }
            dropped.append((reason, count))
        }
        // Each source column is released after the last step that reads it.
        var lastUse: [String: Int] = [:]
        for (s, f) in spec.features.enumerated() {
            lastUse[f.column] = s
            if case let .equals(other, _) = f.encoding, let other { lastUse[other] = s }
        }
        for (s, o) in spec.outcomes.enumerated() { lastUse[o.column] = spec.features.count + s }
        func release(after step: Int) {
            for (name, s) in lastUse where s == step {
                if let idx = table.columnNames.firstIndex(of: name) { table.columns[idx] = .skipped }
            }
        }

        var names: [String] = [], groups: [String] = [], columns: [[Double]] = []
        var applied: [FeatureSpec] = []
        var blocks: [EncodedData.OneHotBlock] = []
        for (step, f) in spec.features.enumerated() {
            var used = f
            let field = try table.fieldNumber(f.column)
            let rowLines = table.rowLines
            func fail(_ k: Int, _ message: String) -> TabularError {
                TabularError(
                    file: source, line: Int(rowLines[rows[k]]), column: field, columnName: f.column,
                    message: "feature '\(f.name)': \(message)")
            }
            var missing = [Bool](repeating: false, count: m)
            var produced: [(String, [Double])] = []
            let featureTokens = Set(f.missingTokens)
            /// The feature's column as text after its own recoding and missing tokens.
            func featureText(_ name: String) throws -> TextColumn {
                let raw = try text(name)
                if featureTokens.isEmpty && f.recode.isEmpty { return raw }
                return raw.mapValues { v in
                    let r = f.recode[v] ?? v
                    return featureTokens.contains(r) ? nil : r
                }
            }
            switch f.encoding {
            case .numeric, .binary:
                guard case let .numeric(values) = try column(f.column) else {
                    throw TabularError(file: source, line: 1, column: field, columnName: f.column, message: "is a text column, expected numbers")
                }
                var out = [Double](repeating: 0, count: m)
                let binary: Bool
                if case .binary = f.encoding { binary = true } else { binary = false }
                for k in 0..<m where alive[k] {
                    let v = values[rows[k]]
                    if v.isNaN { missing[k] = true; continue }
                    if binary, v != 0 && v != 1 {
                        throw fail(k, "expected 1, 0 or an empty cell (a binary indicator), found \(formatNumber(v))")
                    }
                    out[k] = v
                }
                produced = [(f.name, out)]
            case let .ordinal(levels, start):
                let values = try featureText(f.column)
                let position = Dictionary(uniqueKeysWithValues: levels.enumerated().map { ($0.element, $0.offset) })
                let byCode = values.levels.map { position[$0] }
                var out = [Double](repeating: 0, count: m)
                for k in 0..<m where alive[k] {
                    let c = Int(values.codes[rows[k]])
                    guard c != 0 else { missing[k] = true; continue }
                    guard let p = byCode[c - 1] else {
                        throw fail(
                            k,
                            "level '\(values.levels[c - 1])' is not among the ordinal levels \(levels.joined(separator: ", ")) (add it, or list it in data.missingTokens)"
                        )
                    }
                    out[k] = Double(start + p)
                }
                produced = [(f.name, out)]
            case let .onehot(reference, declared):
                let values = try featureText(f.column)
                let pooled = FeatureSpec.pooledLevel
                let levels: [String]
                // The level each text code is encoded as (nil: not a level of this feature).
                let levelOfCode: [String?]
                if let declared {
                    levels = declared
                    let known = Set(declared), pool = f.minCount > 1 && known.contains(pooled)
                    levelOfCode = values.levels.map { known.contains($0) ? $0 : (pool ? pooled : nil) }
                } else {
                    var count = [Int](repeating: 0, count: values.levels.count + 1)
                    for k in 0..<m where alive[k] { count[Int(values.codes[rows[k]])] += 1 }
                    let seen = Set(values.levels.indices.filter { count[$0 + 1] > 0 }.map { values.levels[$0] })
                    if !seen.contains(reference) {
                        throw TabularError(
                            file: source, column: field, columnName: f.column,
                            message:
                                "feature '\(f.name)': the reference level '\(reference)' never occurs in the kept rows; levels are \(seen.sorted().prefix(50).joined(separator: ", "))"
                        )
                    }
                    if f.minCount > 1 && seen.contains(pooled) {
                        throw TabularError(
                            file: source, column: field, columnName: f.column,
                            message: "feature '\(f.name)': a level is named '\(pooled)', the name of the pooled rare levels (minCount); recode it")
                    }
                    levelOfCode = values.levels.indices.map { i in
                        guard count[i + 1] > 0 else { return nil }
                        let name = values.levels[i]
                        return name != reference && count[i + 1] < f.minCount ? pooled : name
                    }
                    levels = Set(levelOfCode.compactMap { $0 }).sorted()
                }
                used.encoding = .onehot(reference: reference, levels: levels)
                let others = levels.filter { $0 != reference }
                let slot = Dictionary(uniqueKeysWithValues: others.enumerated().map { ($0.element, $0.offset) })
                let slotByCode = levelOfCode.map { $0.flatMap { slot[$0] } }
                let knownByCode = levelOfCode.map { $0 != nil }
                var outs = [[Double]](repeating: sparseOneHot ? [] : [Double](repeating: 0, count: m), count: others.count)
                var slots = [Int32](repeating: -1, count: sparseOneHot ? m : 0)
                for k in 0..<m where alive[k] {
                    let c = Int(values.codes[rows[k]])
                    guard c != 0 else { missing[k] = true; continue }
                    guard knownByCode[c - 1] else {
                        throw fail(k, "level '\(values.levels[c - 1])' is not among the declared levels \(levels.joined(separator: ", "))")
                    }
                    if let s = slotByCode[c - 1] {
                        if sparseOneHot { slots[k] = Int32(s) } else { outs[s][k] = 1 }
                    }
                }
                if sparseOneHot { blocks.append(.init(firstColumn: names.count, count: others.count, slot: slots)) }
                produced = others.enumerated().map { ("\(f.name): \($0.element)", outs[$0.offset]) }
            case let .equals(otherColumn, value):
                let values = try featureText(f.column)
                var out = [Double](repeating: 0, count: m)
                if let otherColumn {
                    // A missing comparison column counts as "not equal" (the analysis' rule).
                    let other = try featureText(otherColumn)
                    let lookup = Dictionary(uniqueKeysWithValues: other.levels.enumerated().map { ($0.element, UInt32($0.offset + 1)) })
                    let otherCode = values.levels.map { lookup[$0] ?? 0 }
                    for k in 0..<m where alive[k] {
                        let c = Int(values.codes[rows[k]])
                        guard c != 0 else { missing[k] = true; continue }
                        let o = other.codes[rows[k]]
                        out[k] = o != 0 && o == otherCode[c - 1] ? 1 : 0
                    }
                } else {
                    let isValue = values.levels.map { $0 == value }
                    for k in 0..<m where alive[k] {
                        let c = Int(values.codes[rows[k]])
                        guard c != 0 else { missing[k] = true; continue }
                        out[k] = isValue[c - 1] ? 1 : 0
                    }
                }
                produced = [(f.name, out)]
            }
            if case .numeric = f.encoding, (0..<m).contains(where: { alive[$0] }), !(0..<m).contains(where: { alive[$0] && !missing[$0] }) {
                throw TabularError(
                    file: source, line: 1, column: field, columnName: f.column,
                    message: "feature '\(f.name)': every kept row is missing (an all-missing column); exclude it")
            }
            // Missing-value policy.
            switch f.missing {
            case .zero:
                break  // encoded values are already 0 where missing
            case .error:
                if let k = (0..<m).first(where: { alive[$0] && missing[$0] }) {
                    throw fail(k, "expected a value, found a missing cell (set \"missing\" to zero, drop-row or own-level to allow it)")
                }
            case .dropRow:
                dropAlive("feature '\(f.name)' missing") { missing[$0] }
            case .ownLevel:
                produced.append(("\(f.name): missing", missing.map { $0 ? 1 : 0 }))
            }
            applied.append(used)
            for (name, col) in produced {
                names.append(name)
                groups.append(f.group)
                columns.append(col)
            }
            release(after: step)
        }
        var outcomeColumns: [[Double]] = []
        for (step, o) in spec.outcomes.enumerated() {
            let field = try table.fieldNumber(o.column)
            let rowLines = table.rowLines
            var out = [Double](repeating: 0, count: m)
            var missing = [Bool](repeating: false, count: m)
            if let positive = o.positive {
                let values = try text(o.column)
                var seenCode = [Bool](repeating: false, count: values.levels.count + 1)
                let isPositive = values.levels.map { $0 == positive }
                for k in 0..<m where alive[k] {
                    let c = Int(values.codes[rows[k]])
                    seenCode[c] = true
                    guard c != 0 else { missing[k] = true; continue }
                    out[k] = isPositive[c - 1] ? 1 : 0
                }
                let levels = Set(values.levels.indices.filter { seenCode[$0 + 1] }.map { values.levels[$0] })
                if !levels.contains(positive) {
                    throw TabularError(
                        file: source, line: 1, column: field, columnName: o.column,
                        message:
                            "outcome '\(o.name)': the positive level '\(positive)' never occurs in the kept rows; levels are \(levels.sorted().prefix(20).joined(separator: ", "))"
                    )
                }
            } else {
                guard case let .numeric(values) = try column(o.column) else {
                    throw TabularError(file: source, line: 1, column: field, columnName: o.column, message: "is a text column, expected numbers")
                }
                for k in 0..<m where alive[k] {
                    let v = values[rows[k]]
                    if v.isNaN { missing[k] = true; continue }
                    guard v == 0 || v == 1 else {
                        throw TabularError(
                            file: source, line: Int(rowLines[rows[k]]), column: field, columnName: o.column,
                            message:
                                "outcome '\(o.name)': expected 0 or 1 (or true/false), found \(formatNumber(v)); for another coding name the level that counts as 1 (--positive LEVEL, spec \"positive\")"
                        )
                    }
                    out[k] = v
                }
            }
            switch o.missing {
            case .zero, .ownLevel: break
            case .error:
                if let k = (0..<m).first(where: { alive[$0] && missing[$0] }) {
                    throw TabularError(
                        file: source, line: Int(rowLines[rows[k]]), column: field, columnName: o.column,
                        message: "outcome '\(o.name)': expected 0 or 1, found a missing cell (set the outcome's \"missing\" to zero or drop-row)")
                }
            case .dropRow:
                dropAlive("outcome '\(o.name)' missing") { missing[$0] }
            }
            outcomeColumns.append(out)
            release(after: spec.features.count + step)
        }
        let kept = (0..<m).filter { alive[$0] }
        if kept.isEmpty {
            throw TabularError(
                file: source,
                message:
                    "no rows are left after the filters and missing-value rules (\(dropped.map { "\($0.1) dropped: \($0.0)" }.joined(separator: "; ")))"
            )
        }
        if kept.count < m {
            // Compacted in place, one column at a time: no second copy of the design.
            for j in columns.indices where !columns[j].isEmpty { compact(&columns[j], kept) }
            for j in outcomeColumns.indices { compact(&outcomeColumns[j], kept) }
            for b in blocks.indices {
                blocks[b].slot.withUnsafeMutableBufferPointer { buffer in
                    for (w, k) in kept.enumerated() { buffer[w] = buffer[k] }
                }
                blocks[b].slot.removeLast(m - kept.count)
            }
        }
        var encoded = EncodedData(
            featureNames: names, featureGroups: groups, columns: columns,
            outcomeNames: spec.outcomes.map(\.name), outcomes: outcomeColumns,
            sourceRows: kept.count < m ? kept.map { rows[$0] } : rows, rowsRead: n, dropped: dropped.map { (reason: $0.0, rows: $0.1) })
        encoded.features = applied
        encoded.oneHotBlocks = blocks
        return encoded
    }

    /// Keeps `values[kept[0]], values[kept[1]], ...` (`kept` increasing) in place.
    static func compact(_ values: inout [Double], _ kept: [Int]) {
        values.withUnsafeMutableBufferPointer { buffer in
            for (w, k) in kept.enumerated() { buffer[w] = buffer[k] }
        }
        values.removeLast(values.count - kept.count)
    }
}

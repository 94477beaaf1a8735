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

    /// Number of kept rows.
    public var rowCount: Int { sourceRows.count }

    public init(featureNames: [String], featureGroups: [String], columns: [[Double]], outcomeNames: [String], outcomes: [[Double]],
                sourceRows: [Int], rowsRead: Int, dropped: [(reason: String, rows: Int)], features: [FeatureSpec] = []) {
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
    public static func encode(_ table: Table, spec given: DataSpec) throws -> EncodedData {
        let spec = try given.resolved(columns: table.columnNames, source: table.source)
        let n = table.rowCount
        var keep = [Bool](repeating: true, count: n)
        var dropped: [(String, Int)] = []
        func dropWhere(_ reason: String, _ predicate: (Int) throws -> Bool) rethrows {
            var count = 0
            for i in 0..<n where keep[i] {
                if try predicate(i) { keep[i] = false; count += 1 }
            }
            dropped.append((reason, count))
        }
        func present(_ column: String) throws -> (Int) -> Bool {
            let idx = try table.columnIndex(column)
            switch table.columns[idx] {
            case let .numeric(v): return { !v[$0].isNaN }
            case let .text(v): return { v[$0] != nil }
            case .skipped: throw TabularError(file: table.source, message: "internal: column '\(column)' was not read")
            }
        }
        func text(_ column: String) throws -> [String?] {
            let idx = try table.columnIndex(column)
            switch table.columns[idx] {
            case let .text(v): return v
            case let .numeric(v): return v.map { $0.isNaN ? nil : formatNumber($0) }
            case .skipped: throw TabularError(file: table.source, message: "internal: column '\(column)' was not read")
            }
        }

        // 1. Row filters and the inclusion rule.
        for f in spec.filters {
            let values = try text(f.column)
            let listed = Set(f.values)
            if f.exclude {
                dropWhere("\(f.column) in [\(f.values.joined(separator: ", "))]") { i in
                    values[i].map { listed.contains($0) } ?? false
                }
            } else {
                dropWhere("\(f.column) not in [\(f.values.joined(separator: ", "))]") { i in
                    guard let v = values[i] else { return true }
                    return !listed.contains(v)
                }
            }
        }
        if !spec.includeIfAnyPresent.isEmpty {
            let checks = try spec.includeIfAnyPresent.map { try present($0) }
            dropWhere("none of \(spec.includeIfAnyPresent.joined(separator: ", ")) present") { i in
                !checks.contains { $0(i) }
            }
        }

        // 2. Encode features (may drop rows under drop-row) and outcomes.
        var names: [String] = [], groups: [String] = [], columns: [[Double]] = []
        var applied: [FeatureSpec] = []
        for f in spec.features {
            var used = f
            let field = try table.fieldNumber(f.column)
            func fail(_ row: Int, _ message: String) -> TabularError {
                TabularError(file: table.source, line: Int(table.rowLines[row]), column: field, columnName: f.column,
                             message: "feature '\(f.name)': \(message)")
            }
            var missing = [Bool](repeating: false, count: n)
            var produced: [(String, [Double])] = []
            let featureTokens = Set(f.missingTokens)
            /// The feature's column as text after its own recoding and missing tokens.
            func featureText(_ column: String) throws -> [String?] {
                let raw = try text(column)
                if featureTokens.isEmpty && f.recode.isEmpty { return raw }
                return raw.map { v in
                    guard let v else { return nil }
                    let r = f.recode[v] ?? v
                    return featureTokens.contains(r) ? nil : r
                }
            }
            switch f.encoding {
            case .numeric, .binary:
                let values = try table.numeric(f.column)
                var out = [Double](repeating: 0, count: n)
                for i in 0..<n where keep[i] {
                    let v = values[i]
                    if v.isNaN { missing[i] = true; continue }
                    if case .binary = f.encoding, v != 0 && v != 1 {
                        throw fail(i, "expected 1, 0 or an empty cell (a binary indicator), found \(formatNumber(v))")
                    }
                    out[i] = v
                }
                produced = [(f.name, out)]
            case let .ordinal(levels, start):
                let values = try featureText(f.column)
                let position = Dictionary(uniqueKeysWithValues: levels.enumerated().map { ($0.element, $0.offset) })
                var out = [Double](repeating: 0, count: n)
                for i in 0..<n where keep[i] {
                    guard let v = values[i] else { missing[i] = true; continue }
                    guard let p = position[v] else {
                        throw fail(i, "level '\(v)' is not among the ordinal levels \(levels.joined(separator: ", ")) (add it, or list it in data.missingTokens)")
                    }
                    out[i] = Double(start + p)
                }
                produced = [(f.name, out)]
            case let .onehot(reference, declared):
                let values = try featureText(f.column)
                let levels: [String]
                if let declared {
                    levels = declared
                } else {
                    var seen = Set<String>()
                    for i in 0..<n where keep[i] { if let v = values[i] { seen.insert(v) } }
                    if !seen.contains(reference) {
                        throw TabularError(file: table.source, column: field, columnName: f.column,
                                           message: "feature '\(f.name)': the reference level '\(reference)' never occurs in the kept rows; levels are \(seen.sorted().joined(separator: ", "))")
                    }
                    levels = seen.sorted()
                }
                used.encoding = .onehot(reference: reference, levels: levels)
                let position = Dictionary(uniqueKeysWithValues: levels.enumerated().map { ($0.element, $0.offset) })
                let others = levels.filter { $0 != reference }
                var outs = [[Double]](repeating: [Double](repeating: 0, count: n), count: others.count)
                let slot = Dictionary(uniqueKeysWithValues: others.enumerated().map { ($0.element, $0.offset) })
                for i in 0..<n where keep[i] {
                    guard let v = values[i] else { missing[i] = true; continue }
                    guard position[v] != nil else {
                        throw fail(i, "level '\(v)' is not among the declared levels \(levels.joined(separator: ", "))")
                    }
                    if let s = slot[v] { outs[s][i] = 1 }
                }
                produced = others.enumerated().map { ("\(f.name): \($0.element)", outs[$0.offset]) }
            case let .equals(otherColumn, value):
                let values = try featureText(f.column)
                let other = try otherColumn.map { try featureText($0) }
                var out = [Double](repeating: 0, count: n)
                for i in 0..<n where keep[i] {
                    guard let v = values[i] else { missing[i] = true; continue }
                    if let other {
                        // A missing comparison column counts as "not equal" (the analysis' rule).
                        out[i] = other[i] == v ? 1 : 0
                    } else {
                        out[i] = v == value ? 1 : 0
                    }
                }
                produced = [(f.name, out)]
            }
            if case .numeric = f.encoding, (0..<n).contains(where: { keep[$0] }), !(0..<n).contains(where: { keep[$0] && !missing[$0] }) {
                throw TabularError(file: table.source, line: 1, column: field, columnName: f.column,
                                   message: "feature '\(f.name)': every kept row is missing (an all-missing column); exclude it")
            }
            // Missing-value policy.
            switch f.missing {
            case .zero:
                break  // encoded values are already 0 where missing
            case .error:
                if let i = (0..<n).first(where: { keep[$0] && missing[$0] }) {
                    throw fail(i, "expected a value, found a missing cell (set \"missing\" to zero, drop-row or own-level to allow it)")
                }
            case .dropRow:
                dropWhere("feature '\(f.name)' missing") { missing[$0] }
            case .ownLevel:
                produced.append(("\(f.name): missing", missing.map { $0 ? 1 : 0 }))
            }
            applied.append(used)
            for (name, col) in produced {
                names.append(name)
                groups.append(f.group)
                columns.append(col)
            }
        }
        var outcomeColumns: [[Double]] = []
        for o in spec.outcomes {
            let field = try table.fieldNumber(o.column)
            var out = [Double](repeating: 0, count: n)
            var missing = [Bool](repeating: false, count: n)
            if let positive = o.positive {
                let values = try text(o.column)
                var levels = Set<String>()
                for i in 0..<n where keep[i] {
                    guard let v = values[i] else { missing[i] = true; continue }
                    levels.insert(v)
                    out[i] = v == positive ? 1 : 0
                }
                if !levels.contains(positive) {
                    throw TabularError(file: table.source, line: 1, column: field, columnName: o.column,
                                       message: "outcome '\(o.name)': the positive level '\(positive)' never occurs in the kept rows; levels are \(levels.sorted().prefix(20).joined(separator: ", "))")
                }
            } else {
                let values = try table.numeric(o.column)
                for i in 0..<n where keep[i] {
                    let v = values[i]
                    if v.isNaN { missing[i] = true; continue }
                    guard v == 0 || v == 1 else {
                        throw TabularError(file: table.source, line: Int(table.rowLines[i]), column: field, columnName: o.column,
                                           message: "outcome '\(o.name)': expected 0 or 1 (or true/false), found \(formatNumber(v)); for another coding name the level that counts as 1 (--positive LEVEL, spec \"positive\")")
                    }
                    out[i] = v
                }
            }
            switch o.missing {
            case .zero, .ownLevel: break
            case .error:
                if let i = (0..<n).first(where: { keep[$0] && missing[$0] }) {
                    throw TabularError(file: table.source, line: Int(table.rowLines[i]), column: field, columnName: o.column,
                                       message: "outcome '\(o.name)': expected 0 or 1, found a missing cell (set the outcome's \"missing\" to zero or drop-row)")
                }
            case .dropRow:
                dropWhere("outcome '\(o.name)' missing") { missing[$0] }
            }
            outcomeColumns.append(out)
        }
        let kept = (0..<n).filter { keep[$0] }
        if kept.isEmpty {
            throw TabularError(file: table.source, message: "no rows are left after the filters and missing-value rules (\(dropped.map { "\($0.1) dropped: \($0.0)" }.joined(separator: "; ")))")
        }
        var encoded = EncodedData(
            featureNames: names, featureGroups: groups, columns: columns.map { c in kept.map { c[$0] } },
            outcomeNames: spec.outcomes.map(\.name), outcomes: outcomeColumns.map { c in kept.map { c[$0] } },
            sourceRows: kept, rowsRead: n, dropped: dropped.map { (reason: $0.0, rows: $0.1) })
        encoded.features = applied
        return encoded
    }
}

import Lasso
import Tabular

/// How `lassoboot fit` holds the design.
enum DesignStorage: String, CaseIterable {
    /// Sparse columns when there are 64 features or more and under 5% of the values are nonzero.
    case automatic
    /// Every value (the kernels for few features and compressible patterns).
    case dense
    /// The nonzero values only (one-hot encodings of many levels).
    case sparse
}

/// A data table turned into a compressed design and outcome vectors for `lassoboot fit`.
struct FitInput {
    let featureNames: [String]
    let design: CompressedDesign
    /// Outcome name -> values, one per selected row.
    let outcomes: [String: [Double]]
    let rowCount: Int
    /// The one-hot encodings applied: column, reference level, encoded levels (in feature order).
    let oneHot: [(column: String, reference: String, levels: [String])]
    /// Number of numeric features (they come first).
    let numericCount: Int
    /// Design index of each expanded feature (numeric, then one-hot levels in encoding order).
    let featureOf: [Int]
    /// Names of the features that are merged groups of identical one-hot indicators.
    let mergedGroups: [String]
    /// Groups of identical columns that could not be merged (a numeric column among them), by name.
    let identicalColumns: [[String]]
    /// Every expanded feature (numeric, then one-hot levels in encoding order, before merging)
    /// with its mean and population SD over the selected rows.
    let expanded: [(name: String, mean: Double, sd: Double)]

    /// Uses every column except the outcomes and `excluded` as a numeric feature, and each
    /// `oneHot` column (text) as indicators of its levels but the most frequent one.
    ///
    /// - Parameters:
    ///   - rows: data-row indices to use (repeats allowed), or all rows.
    ///   - handOver: take the numeric feature columns out of `table` (they then read as not
    ///     read), so the data is not held twice once the design is built.
    init(
        table: inout Table, outcomeNames: [String], excluded: [String], rows: [Int]?, oneHot: [String] = [],
        storage: DesignStorage = .automatic, handOver: Bool = false
    ) throws {
        for name in outcomeNames + excluded + oneHot { _ = try table.columnIndex(name) }
        let numericNames = Self.numericFeatures(of: table, outcomeNames: outcomeNames, excluded: excluded, oneHot: oneHot)
        guard !numericNames.isEmpty || !oneHot.isEmpty else {
            throw TabularError(file: table.source, message: "no feature columns left after removing the outcome(s) and excluded columns")
        }
        let selected = rows ?? Array(0..<table.rowCount)
        guard !selected.isEmpty else { throw TabularError(file: table.source, message: "the table has no data rows") }
        let n = selected.count
        var numeric: [[Double]] = []
        for name in numericNames {
            let all = handOver ? try table.takeNumeric(name) : try table.numeric(name)
            // All rows in order: the table's own array, shared, not copied.
            let col = rows == nil ? all : selected.map { all[$0] }
            if let r = col.firstIndex(where: { $0.isNaN }) {
                let row = selected[r]
                throw TabularError(
                    file: table.source, line: Int(table.rowLines[row]),
                    column: try table.columnIndex(name) + 1, columnName: name,
                    message: "expected a number, found an empty cell (fit needs complete features; exclude the column or fill it)")
            }
            numeric.append(col)
        }
        // One-hot columns: per selected row the index of its level among the encoded ones (-1: the reference).
        var encodings: [(column: String, reference: String, levels: [String])] = []
        var levelOf: [[Int32]] = []
        for name in oneHot {
            let index = try table.columnIndex(name)
            guard case let .text(text) = table.columns[index] else {
                throw TabularError(file: table.source, message: "internal: --onehot column '\(name)' was not read as text")
            }
            var counts = [Int](repeating: 0, count: text.levels.count + 1)
            for i in selected {
                let code = Int(text.codes[i])
                if code == 0 {
                    throw TabularError(
                        file: table.source, line: Int(table.rowLines[i]), column: index + 1, columnName: name,
                        message: "expected a level, found an empty cell (a one-hot column needs every row's level; exclude the row or fill it)")
                }
                counts[code] += 1
            }
            // The most frequent level is the reference (ties: the first in the file).
            var reference = 1
            for c in 1..<counts.count where counts[c] > counts[reference] { reference = c }
            var position = [Int32](repeating: -1, count: counts.count)
            var levels: [String] = []
            for c in 1..<counts.count where c != reference && counts[c] > 0 {
                position[c] = Int32(levels.count)
                levels.append(text.levels[c - 1])
            }
            encodings.append((name, text.levels[reference - 1], levels))
            levelOf.append(selected.map { position[Int(text.codes[$0])] })
        }
        var outcomes: [String: [Double]] = [:]
        for name in outcomeNames {
            let all = try table.numeric(name)
            let col = selected.map { all[$0] }
            if let r = col.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                let row = selected[r]
                let found = col[r].isNaN ? "an empty cell" : "\(col[r])"
                throw TabularError(
                    file: table.source, line: Int(table.rowLines[row]),
                    column: try table.columnIndex(name) + 1, columnName: name,
                    message: "expected 0 or 1 (a binary outcome), found \(found)")
            }
            outcomes[name] = col
        }
        let features = numericNames + encodings.flatMap { e in e.levels.map { "\(e.column): \($0)" } }
        let p = features.count
        var moments = numeric.map { col -> (Double, Double) in
            let mean = col.reduce(0, +) / Double(n)
            return (mean, (col.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)).squareRoot())
        }
        for (e, encoding) in encodings.enumerated() {
            var count = [Int](repeating: 0, count: encoding.levels.count)
            for l in levelOf[e] where l >= 0 { count[Int(l)] += 1 }
            for c in count {
                let share = Double(c) / Double(n)
                moments.append((share, (share * (1 - share)).squareRoot()))
            }
        }
        expanded = zip(features, moments).map { ($0, $1.0, $1.1) }
        let numericNonzeros = numeric.reduce(0) { $0 + $1.lazy.filter { $0 != 0 }.count }
        let oneHotNonzeros = levelOf.reduce(0) { $0 + $1.lazy.filter { $0 >= 0 }.count }
        let density = Double(numericNonzeros + oneHotNonzeros) / (Double(n) * Double(max(p, 1)))
        let sparse = storage == .sparse || (storage == .automatic && p >= LogisticLasso.workingSetThreshold && density < 0.05)
        if sparse {
            var start = [0], at: [Int32] = [], values: [Double] = []
            at.reserveCapacity(numericNonzeros + oneHotNonzeros)
            values.reserveCapacity(numericNonzeros + oneHotNonzeros)
            for col in numeric {
                for (i, v) in col.enumerated() where v != 0 {
                    at.append(Int32(i))
                    values.append(v)
                }
                start.append(at.count)
            }
            for (e, encoding) in encodings.enumerated() {
                // Rows of each level, ascending: a counting sort of the rows by level.
                var count = [Int](repeating: 0, count: encoding.levels.count + 1)
                for l in levelOf[e] where l >= 0 { count[Int(l) + 1] += 1 }
                for l in 0..<encoding.levels.count { count[l + 1] += count[l] }
                let base = at.count
                at.append(contentsOf: repeatElement(0, count: count[encoding.levels.count]))
                values.append(contentsOf: repeatElement(1, count: count[encoding.levels.count]))
                var next = count
                for (i, l) in levelOf[e].enumerated() where l >= 0 {
                    at[base + next[Int(l)]] = Int32(i)
                    next[Int(l)] += 1
                }
                for l in 0..<encoding.levels.count { start.append(base + count[l + 1]) }
            }
            var design = try CompressedDesign(featureNames: features, rowCount: n, start: start, rows: at, values: values)
            let groups = Self.identicalGroups(design, numericCount: numericNames.count)
            let merged = Self.merging(groups.oneHot, names: features)
            if merged.kept.count < p {
                // Keep the first feature of each group, under the group's joined names.
                var keptStart = [0], keptAt: [Int32] = [], keptValues: [Double] = []
                for j in merged.kept {
                    keptAt.append(contentsOf: at[start[j]..<start[j + 1]])
                    keptValues.append(contentsOf: values[start[j]..<start[j + 1]])
                    keptStart.append(keptAt.count)
                }
                design = try CompressedDesign(featureNames: merged.names, rowCount: n, start: keptStart, rows: keptAt, values: keptValues)
            }
            self.design = design
            (featureOf, mergedGroups, identicalColumns) = (merged.index, merged.groupNames, groups.other)
        } else if encodings.isEmpty {
            // Numeric features only: no one-hot group to merge, and the columns are handed to the
            // design, which releases each once copied.
            let design = try CompressedDesign(featureNames: features, columns: consume numeric)
            let groups = Self.identicalGroups(design, numericCount: numericNames.count)
            self.design = design
            (featureOf, mergedGroups, identicalColumns) = (Array(0..<p), [], groups.other)
        } else {
            var columns = numeric
            for (e, encoding) in encodings.enumerated() {
                for l in 0..<encoding.levels.count { columns.append(levelOf[e].map { $0 == Int32(l) ? 1 : 0 }) }
            }
            var design = try CompressedDesign(featureNames: features, columns: columns)
            let groups = Self.identicalGroups(design, numericCount: numericNames.count)
            let merged = Self.merging(groups.oneHot, names: features)
            if merged.kept.count < p {
                columns = merged.kept.map { columns[$0] }
                design = try CompressedDesign(featureNames: merged.names, columns: columns)
            }
            self.design = design
            (featureOf, mergedGroups, identicalColumns) = (merged.index, merged.groupNames, groups.other)
        }
        self.featureNames = design.featureNames
        self.outcomes = outcomes
        self.rowCount = n
        self.oneHot = encodings
        self.numericCount = numericNames.count
    }

    /// The columns used as numeric features: all but the outcomes, the excluded and the one-hot ones.
    static func numericFeatures(of table: Table, outcomeNames: [String], excluded: [String], oneHot: [String]) -> [String] {
        let skip = Set(outcomeNames + excluded + oneHot)
        return table.columnNames.filter { !skip.contains($0) }
    }

    /// Groups of features identical in every row, split into those of one-hot indicators only
    /// (two levels, of different columns, seen in the same rows only: common with rare levels)
    /// and the others (by name). The lasso cannot tell them apart; merging one-hot groups is
    /// exact (the merged feature reaches the same optimum, uniquely), the others are refused.
    static func identicalGroups(_ design: CompressedDesign, numericCount: Int) -> (oneHot: [[Int]], other: [[String]]) {
        let groups = design.duplicateFeatureGroups()
        let oneHot = groups.filter { $0.allSatisfy { $0 >= numericCount } }
        let other = groups.filter { !$0.allSatisfy { $0 >= numericCount } }
        return (oneHot, other.map { $0.map { design.featureNames[$0] } })
    }

    /// The features kept (the first of each group and every feature in none), their names (a
    /// group's joined by " = "), the design index of every expanded feature, and the groups' names.
    static func merging(_ groups: [[Int]], names: [String]) -> (kept: [Int], names: [String], index: [Int], groupNames: [String]) {
        var first = Array(names.indices)
        for g in groups { for j in g { first[j] = g[0] } }
        var members: [Int: [Int]] = [:]
        for g in groups { members[g[0]] = g }
        let kept = names.indices.filter { first[$0] == $0 }
        var index = [Int](repeating: -1, count: names.count)
        for (i, j) in kept.enumerated() { index[j] = i }
        for j in names.indices { index[j] = index[first[j]] }
        let keptNames = kept.map { j in (members[j] ?? [j]).map { names[$0] }.joined(separator: " = ") }
        return (kept, keptNames, index, groups.map { $0.map { names[$0] }.joined(separator: " = ") })
    }

    /// Linear predictors of `fit` on rows of `table` (same columns as the training data): the
    /// numeric features and, for each one-hot column, the coefficient of the row's level (the
    /// reference's, 0, for a level the training rows did not have; counted in `unseen`).
    func linearPredictors(
        of table: Table, fit: LassoFit, rows: [Int]? = nil
    ) throws -> (scores: [Double], unseen: Int) {
        let selected = rows ?? Array(0..<table.rowCount)
        var scores = [Double](repeating: fit.intercept, count: selected.count)
        for j in 0..<numericCount where fit.coefficients[j] != 0 {
            let name = featureNames[j]
            let values = try table.numeric(name)
            for (r, i) in selected.enumerated() {
                guard !values[i].isNaN else {
                    throw TabularError(
                        file: table.source, line: Int(table.rowLines[i]), column: try table.columnIndex(name) + 1,
                        columnName: name, message: "expected a number, found an empty cell")
                }
                scores[r] += fit.coefficients[j] * values[i]
            }
        }
        var unseen = 0
        var offset = numericCount
        for encoding in oneHot {
            let index = try table.columnIndex(encoding.column)
            guard case let .text(text) = table.columns[index] else {
                throw TabularError(file: table.source, message: "internal: --onehot column '\(encoding.column)' was not read as text")
            }
            var coefficientOf: [String: Double] = [:]
            for (l, level) in encoding.levels.enumerated() { coefficientOf[level] = fit.coefficients[featureOf[offset + l]] }
            for (r, i) in selected.enumerated() {
                guard let level = text[i] else {
                    throw TabularError(
                        file: table.source, line: Int(table.rowLines[i]), column: index + 1, columnName: encoding.column,
                        message: "expected a level, found an empty cell")
                }
                if let b = coefficientOf[level] {
                    scores[r] += b
                } else if level != encoding.reference {
                    unseen += 1
                }
            }
            offset += encoding.levels.count
        }
        return (scores, unseen)
    }

    /// Feature rows of a table with the same feature columns (for test AUC), all complete.
    static func rows(of table: Table, features: [String], rows: [Int]? = nil) throws -> [[Double]] {
        let selected = rows ?? Array(0..<table.rowCount)
        var cols: [[Double]] = []
        for name in features {
            let values = try table.numeric(name)
            if let i = selected.first(where: { values[$0].isNaN }) {
                throw TabularError(
                    file: table.source, line: Int(table.rowLines[i]), column: try table.columnIndex(name) + 1,
                    columnName: name, message: "expected a number, found an empty cell")
            }
            cols.append(values)
        }
        return selected.map { i in cols.map { $0[i] } }
    }
}

import Lasso
import Tabular

/// A data table turned into a compressed design and outcome vectors for `lassoboot fit`.
struct FitInput {
    let featureNames: [String]
    /// Feature columns over the selected rows.
    let columns: [[Double]]
    let design: CompressedDesign
    /// Outcome name -> values, one per selected row.
    let outcomes: [String: [Double]]
    let rowCount: Int

    /// Uses every column except the outcomes and `excluded` as a numeric feature.
    ///
    /// - Parameter rows: data-row indices to use (repeats allowed), or all rows.
    init(table: Table, outcomeNames: [String], excluded: [String], rows: [Int]?) throws {
        for name in outcomeNames + excluded { _ = try table.columnIndex(name) }
        let skip = Set(outcomeNames + excluded)
        let features = table.columnNames.filter { !skip.contains($0) }
        guard !features.isEmpty else {
            throw TabularError(file: table.source, message: "no feature columns left after removing the outcome(s) and excluded columns")
        }
        let selected = rows ?? Array(0..<table.rowCount)
        guard !selected.isEmpty else { throw TabularError(file: table.source, message: "the table has no data rows") }
        var columns: [[Double]] = []
        for name in features {
            let all = try table.numeric(name)
            // All rows in order: the table's own array, shared, not copied.
            let col = rows == nil ? all : selected.map { all[$0] }
            if let r = col.firstIndex(where: { $0.isNaN }) {
                let row = selected[r]
                throw TabularError(
                    file: table.source, line: Int(table.rowLines[row]),
                    column: try table.columnIndex(name) + 1, columnName: name,
                    message: "expected a number, found an empty cell (fit needs complete features; exclude the column or fill it)")
            }
            columns.append(col)
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
        self.featureNames = features
        self.columns = columns
        self.design = try CompressedDesign(featureNames: features, columns: columns)
        self.outcomes = outcomes
        self.rowCount = selected.count
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

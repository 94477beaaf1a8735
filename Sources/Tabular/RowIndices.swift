import Foundation

/// A user-given subset of data rows: a text file of 0-based data-row indices, one per line.
///
/// Used for reproducible splits made by other tools (e.g. scikit-learn's `train_test_split`).
/// Blank lines are ignored; an index may repeat (the row then counts that many times).
public enum RowIndices {
    /// Reads indices from `path`, each checked to be an integer in `0..<rowCount`.
    public static func read(path: String, rowCount: Int) throws -> [Int] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TabularError(file: path, message: "cannot read the row-index file (no such file?)")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path, rowCount: rowCount)
    }

    /// Parses indices from text; `source` names it in errors.
    public static func parse(_ text: String, source: String, rowCount: Int) throws -> [Int] {
        var result: [Int] = []
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let i = Int(line) else {
                throw TabularError(file: source, line: lineNumber, message: "expected a 0-based row index (an integer), found '\(line.prefix(40))'")
            }
            guard i >= 0 && i < rowCount else {
                throw TabularError(
                    file: source, line: lineNumber,
                    message: "row index \(i) is out of range: the data has \(rowCount) rows (valid indices 0...\(rowCount - 1))")
            }
            result.append(i)
        }
        if result.isEmpty { throw TabularError(file: source, message: "the row-index file lists no rows") }
        return result
    }
}

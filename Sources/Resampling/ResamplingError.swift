/// Why a resampling request could not be carried out.
///
/// Each case names the offending value and its position so the caller can say what to fix.
public enum ResamplingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The number of folds is below 2 or above the number of rows.
    case invalidFoldCount(k: Int, rows: Int)
    /// An external resample refers to a row that does not exist (0-based row indices).
    case rowOutOfRange(position: Int, row: Int, rowCount: Int)
    /// A row maps to a cell outside `0..<cellCount`.
    case cellOutOfRange(row: Int, cell: Int, cellCount: Int)
    /// Jackknife values and multiplicities do not describe a delete-one jackknife.
    case invalidJackknife(reason: String)

    /// A message that names the offending value and what to change.
    public var description: String {
        switch self {
        case let .invalidFoldCount(k, rows):
            return "cannot split \(rows) rows into \(k) folds: the fold count must be between 2 and the number of rows"
        case let .rowOutOfRange(position, row, rowCount):
            return
                "resample entry \(position) is row \(row), but the data set has rows 0..<\(rowCount) (indices are 0-based; subtract 1 from R indices)"
        case let .cellOutOfRange(row, cell, cellCount):
            return "row \(row) belongs to cell \(cell), but there are only \(cellCount) cells"
        case let .invalidJackknife(reason):
            return "invalid jackknife: \(reason)"
        }
    }
}

/// A problem with an input file, located precisely enough to fix it by hand.
///
/// Rendered as `FILE:LINE:COLUMN: message`, the form editors and terminals link to.
public struct TabularError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file (as the user named it).
    public let file: String
    /// 1-based physical line, if the problem is on one line.
    public let line: Int?
    /// 1-based field index, if the problem is in one field.
    public let column: Int?
    /// Header name of that field, if known.
    public let columnName: String?
    /// What was wrong and what was expected.
    public let message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, columnName: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.columnName = columnName
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        if let columnName { return "\(location): column '\(columnName)': \(message)" }
        return "\(location): \(message)"
    }
}

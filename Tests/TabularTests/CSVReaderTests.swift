import Foundation
import Tabular
import TestSupport
import Testing

@Suite("CSV reading (RFC 4180)")
struct CSVReaderTests {
    func parse(_ text: String, text columns: Set<String> = []) throws -> Table {
        try CSVReader(textColumns: columns).parse(text, source: "t.csv")
    }

    func error(_ text: String, text columns: Set<String> = []) -> TabularError? {
        do { _ = try parse(text, text: columns); return nil } catch let e as TabularError { return e } catch { return nil }
    }

    @Test func numbersAndMissing() throws {
        let t = try parse("a,b,c\n1,2.5,-3\n,0.125,\n 7 ,1e3,+4\n")
        #expect(t.columnNames == ["a", "b", "c"])
        #expect(t.rowCount == 3)
        let a = try t.numeric("a"), b = try t.numeric("b"), c = try t.numeric("c")
        #expect(a[0] == 1 && a[1].isNaN && a[2] == 7)
        #expect(b == [2.5, 0.125, 1000])
        #expect(c[0] == -3 && c[1].isNaN && c[2] == 4)
        #expect(t.rowLines == [2, 3, 4])
    }

    @Test("quotes, embedded separators, quotes and newlines, CRLF, BOM")
    func quoting() throws {
        let text = "\u{FEFF}name,\"x, y\",note\r\n\"Smith, J\",1,\"said \"\"hi\"\"\"\r\nLee,\"2\",\"two\r\nlines\"\r\n\"\",3,\r\n"
        let t = try parse(text, text: ["name", "note"])
        #expect(t.columnNames == ["name", "x, y", "note"])
        guard case let .text(names) = t.columns[0], case let .text(notes) = t.columns[2] else { Issue.record("text columns"); return }
        #expect(Array(names) == ["Smith, J", "Lee", nil])
        #expect(Array(notes) == ["said \"hi\"", "two\r\nlines", nil])
        #expect(names.levels == ["Smith, J", "Lee"] && names.codes == [1, 2, 0])
        #expect(try t.numeric("x, y") == [1, 2, 3])
        #expect(t.rowLines == [2, 3, 5])  // the quoted newline moves the next row down a line
    }

    @Test func noTrailingNewlineAndBlankLines() throws {
        let t = try parse("a,b\n1,2\n\n3,4")
        #expect(try t.numeric("a") == [1, 3])
        #expect(t.rowLines == [2, 4])
        let single = try parse("a\n1\n\n2\n")
        #expect(single.rowCount == 3)  // one column: a blank line is a missing value
        #expect(try single.numeric("a")[1].isNaN)
    }

    @Test("errors name the file, line, column and what was expected")
    func errors() throws {
        #expect(error("")?.description == "t.csv:1: the file is empty: expected a header row of column names")
        #expect(error("a,b\n1,2\n3\n")?.description == "t.csv:3: expected 2 fields as in the header, found 1")
        #expect(error("a,b\n1,2\n3,4,5\n")?.description == "t.csv:3: expected 2 fields as in the header, found 3")
        #expect(error("a,b\n1,x2\n")?.description == "t.csv:2:2: column 'b': expected a number, found 'x2'")
        #expect(error("a,b,a\n1,2,3\n")?.description == "t.csv:1:3: column 'a': duplicate column name (also column 1)")
        #expect(error("a,,b\n")?.description == "t.csv:1:2: empty column name in the header")
        #expect(error("a,b\n1,\"2\n")?.description == "t.csv:2:2: quoted field is never closed (missing '\"')")
        #expect(error("a,b\n1,2\"\n")?.description.hasPrefix("t.csv:2:2: stray '\"'") == true)
        #expect(error("a,b\n\"1\"x,2\n")?.description.hasPrefix("t.csv:2:1: unexpected text after a closing quote") == true)
        #expect(
            error("a,b\n1,nan\n")?.description
                == "t.csv:2:2: column 'b': expected a finite number (leave the cell empty for a missing value), found 'nan'")
        #expect(error("a,b\n1,inf\n")?.message.contains("finite") == true)
        #expect(error("a\n1\n", text: ["zz"])?.message.hasPrefix("no column named 'zz'") == true)
    }

    @Test func lookupsAndOutcomes() throws {
        let t = try parse("y,Woman\n1,0\n0,1\n2,1\n,0\n")
        #expect(throws: TabularError.self) { try t.columnIndex("woman") }
        do { _ = try t.columnIndex("woman") } catch let e as TabularError { #expect(e.message.contains("did you mean 'Woman'?")) }
        do { _ = try t.columnIndex("zzz") } catch let e as TabularError { #expect(e.message.contains("columns are: y, Woman")) }
        #expect(throws: TabularError(file: "t.csv", line: 4, column: 1, columnName: "y", message: "expected 0 or 1 (a binary outcome), found 2")) {
            try t.binary("y")
        }
        let t2 = try parse("y\n1\n\n0\n")
        #expect(
            throws: TabularError(
                file: "t.csv", line: 3, column: 1, columnName: "y", message: "expected 0 or 1 (a binary outcome), found an empty cell")
        ) {
            try t2.binary("y")
        }
        #expect(try t.firstMissing("y")?.line == 5)
        #expect(try t.firstMissing("Woman") == nil)
    }

    @Test("decimal parsing is exact: equals Swift's correctly rounded Double(String)")
    func exactParsing() throws {
        var rng = SplitMix64(seed: 42)
        var lines = ["v"]
        var expected: [Double] = []
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...20, using: &rng)
            var s = String((0..<digits).map { _ in "0123456789".randomElement(using: &rng)! })
            let point = Int.random(in: 0...digits, using: &rng)
            if point < digits { s.insert(".", at: s.index(s.startIndex, offsetBy: point)) }
            if Bool.random(using: &rng) { s = "-" + s }
            if s.hasPrefix(".") || s.hasPrefix("-.") { s = s.replacingOccurrences(of: ".", with: "0.") }
            if s.hasSuffix(".") { s += "5" }
            lines.append(s)
            expected.append(Double(s)!)
        }
        let t = try parse(lines.joined(separator: "\n"))
        let got = try t.numeric("v")
        for (g, e) in zip(got, expected) where g != e { Issue.record("parsed \(g), expected \(e)") }
    }

    @Test func files() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tabular-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("d.csv").path
        try "a,b\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CSVReader().read(path: path).rowCount == 1)
        #expect(throws: TabularError(file: dir.path + "/missing.csv", message: "no such file")) {
            try CSVReader().read(path: dir.path + "/missing.csv")
        }
        #expect(throws: TabularError(file: dir.path, message: "is a directory, expected a CSV file")) {
            try CSVReader().read(path: dir.path)
        }
    }
}

@Suite("Row-index files")
struct RowIndicesTests {
    @Test func parse() throws {
        #expect(try RowIndices.parse("3\n0\n\n3\n 2 \n", source: "r.txt", rowCount: 4) == [3, 0, 3, 2])
        #expect(throws: TabularError(file: "r.txt", line: 2, message: "row index 4 is out of range: the data has 4 rows (valid indices 0...3)")) {
            try RowIndices.parse("1\n4\n", source: "r.txt", rowCount: 4)
        }
        #expect(throws: TabularError(file: "r.txt", line: 1, message: "expected a 0-based row index (an integer), found '1.5'")) {
            try RowIndices.parse("1.5\n", source: "r.txt", rowCount: 4)
        }
        #expect(throws: TabularError(file: "r.txt", line: 1, message: "row index -1 is out of range: the data has 4 rows (valid indices 0...3)")) {
            try RowIndices.parse("-1\n", source: "r.txt", rowCount: 4)
        }
        #expect(throws: TabularError.self) { try RowIndices.parse("\n\n", source: "r.txt", rowCount: 4) }
    }
}

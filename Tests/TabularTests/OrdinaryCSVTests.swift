import Foundation
import Tabular
import Testing

/// CSVs as pandas, R and spreadsheets write them (issue 11).
@Suite("Ordinary CSVs: index columns, booleans, NA, separators, gzip")
struct OrdinaryCSVTests {
    @Test("an unnamed first column (pandas to_csv, R write.csv) is ignored with a note; errors count it")
    func indexColumn() throws {
        let t = try CSVReader(textColumns: ["b"]).parse(",a,b\n0,1,x\n1,2,y\n", source: "p.csv")
        #expect(t.columnNames == ["a", "b"])
        #expect(t.notes.contains { $0.contains("column 1 has no name") })
        #expect(t.ignoredLeadingFields == 1)
        #expect(try t.fieldNumber("a") == 2)
        // A bad number in "b" is reported in field 3, where it is in the file.
        #expect(throws: TabularError.self) { try CSVReader().parse(",a,b\n0,1,x\n", source: "p.csv") }
        do {
            _ = try CSVReader().parse(",a,b\n0,1,x\n", source: "p.csv")
        } catch let e as TabularError {
            #expect(e.description.hasPrefix("p.csv:2:3: column 'b'"), "\(e)")
        }
        // An empty name elsewhere is still an error.
        #expect(throws: TabularError.self) { try CSVReader().parse("a,,b\n1,2,3\n", source: "p.csv") }
    }

    @Test("true/false in any case are 1/0; NA and NaN are missing by default")
    func booleansAndMissing() throws {
        let t = try CSVReader().parse("y,x\nTrue,NA\nFALSE,NaN\ntrue,2\nfalse,\n", source: "b.csv")
        #expect(try t.numeric("y") == [1, 0, 1, 0])
        let x = try t.numeric("x")
        #expect(x[0].isNaN && x[1].isNaN && x[2] == 2 && x[3].isNaN)
        // With other tokens given, NA is a value like any other text (here: not a number).
        #expect(throws: TabularError.self) { try CSVReader(missingTokens: ["?"]).parse("x\nNA\n", source: "b.csv") }
    }

    @Test("';' and tab separators are detected from the header; a quoted separator does not count")
    func separators() throws {
        let semi = try CSVReader().parse("a;b;\"c,d\"\n1;2,5;3\n".replacingOccurrences(of: "2,5", with: "2.5"), source: "s.csv")
        #expect(semi.columnNames == ["a", "b", "c,d"])
        #expect(try semi.numeric("b") == [2.5])
        #expect(semi.notes.contains { $0.contains("';'") })
        // Decimal commas where ',' is not the separator (spreadsheets in many locales).
        let eu = try CSVReader().parse("x;y\n1,5;-0,25\n2;3\n", source: "eu.csv")
        #expect(try eu.numeric("x") == [1.5, 2] && eu.numeric("y") == [-0.25, 3])
        #expect(throws: TabularError.self) { try CSVReader().parse("x;y\n1,5,2;1\n", source: "eu.csv") }
        let tab = try CSVReader().parse("a\tb\n1\t2\n", source: "t.tsv")
        #expect(tab.columnNames == ["a", "b"])
        let given = try CSVReader(separator: UInt8(ascii: ";")).parse("a,b;c\n1;2\n", source: "g.csv")
        #expect(given.columnNames == ["a,b", "c"])
        #expect(CSVReader.separator(named: "tab") == 9 && CSVReader.separator(named: ";") == UInt8(ascii: ";"))
        #expect(CSVReader.separator(named: "x") == nil)
    }

    @Test("gzip input is read directly; a truncated file is named")
    func gzip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var text = "a,b\n"
        for i in 0..<5000 { text += "\(i),\(i % 7)\n" }
        let path = dir.appendingPathComponent("d.csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-k", path]
        try p.run()
        p.waitUntilExit()
        let t = try CSVReader().read(path: path + ".gz")
        #expect(t.rowCount == 5000)
        #expect(try t.numeric("b")[4999] == Double(4999 % 7))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
        let cut = dir.appendingPathComponent("cut.csv.gz").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        do {
            _ = try CSVReader().read(path: cut)
            Issue.record("a truncated gzip file must fail")
        } catch let e as TabularError {
            #expect(e.description.contains("cut.csv.gz") && e.description.contains("gzip"), "\(e)")
        }
    }
}

import Foundation
import Testing

@testable import Tabular

/// The parallel CSV parse against the one-core parse of the same bytes, and the number parser's
/// fast paths against `Double(String)`.
@Suite("Parallel CSV parsing and number fast paths")
struct ParallelCSVTests {
    /// A numeric file with every kind of line the scanner handles: CRLF and LF endings, blank
    /// lines, empty and NA cells, exponents, 17-digit values, booleans, no final newline.
    static func file(rows: Int) -> String {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Double {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Double(state >> 11) / Double(1 << 53)
        }
        var out = "y,a,b,c,flag\n"
        for i in 0..<rows {
            let a = (next() - 0.5) * 1e-5
            let b = next() * 1e6
            let c: String = i % 17 == 0 ? "" : (i % 23 == 0 ? "NA" : String(format: "%.10e", next() - 0.5))
            let flag = i % 2 == 0 ? "True" : "false"
            out += "\(i % 3 == 0 ? 1 : 0),\(a),\(b.description),\(c),\(flag)" + (i % 5 == 0 ? "\r\n" : "\n")
            if i % 997 == 0 { out += "\n" }
        }
        out += "1,0.5,2,3,TRUE"
        return out
    }

    static func reader(parallel: Bool) -> CSVReader {
        var r = CSVReader()
        r.parallelMinimumBytes = parallel ? 0 : .max
        return r
    }

    @Test("the same columns, bit for bit, and the same line of every row as the one-core parse")
    func sameTable() throws {
        let text = Self.file(rows: 20_000)
        let serial = try Self.reader(parallel: false).parse(text, source: "f.csv")
        let parallel = try Self.reader(parallel: true).parse(text, source: "f.csv")
        #expect(serial.rowLines == parallel.rowLines)
        #expect(serial.rowLines.count == 20_001)
        for name in serial.columnNames {
            let a = try serial.numeric(name), b = try parallel.numeric(name)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "column \(name)")
        }
        // The last row and a CRLF row, read back.
        #expect(try parallel.numeric("flag").last == 1)
        #expect(serial.rowLines.last == Int32(text.utf8.filter { $0 == 10 }.count + 1))
    }

    @Test("an error deep in the file: the same message and line as the one-core parse")
    func sameError() throws {
        // Split on line feeds as bytes ("\r\n" is one Character in Swift).
        var lines = Self.file(rows: 5_000).utf8.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        lines[4_321] = "0,1.5,oops,2,true"
        let text = lines.joined(separator: "\n")
        var messages: [String] = []
        for parallel in [false, true] {
            do {
                _ = try Self.reader(parallel: parallel).parse(text, source: "f.csv")
                Issue.record("no error")
            } catch let e as TabularError {
                messages.append("\(e)")
            }
        }
        #expect(messages.count == 2 && messages[0] == messages[1])
        #expect(messages.first?.contains("f.csv:4322:3") == true, "\(messages)")
    }

    @Test("quotes or a text column keep the one-core parse; the table is the same")
    func fallsBackWhenItMust() throws {
        let text = "a,b\n" + (0..<3_000).map { "\"\($0)\",x\($0 % 7)" }.joined(separator: "\n")
        var r = Self.reader(parallel: true)
        r.textColumns = ["b"]
        let t = try r.parse(text, source: "q.csv")
        #expect(try t.numeric("a") == (0..<3_000).map(Double.init))
        #expect(t.rowLines.first == 2 && t.rowLines.last == 3_001)
    }

    /// Random numeric files built from every field form the one-pass kernel must read as the
    /// serial parse does (or hand over to it): signs, points without digits, 15 and 16
    /// significant digits, leading zeros, exponents, padding, booleans, tokens, empty cells; CR,
    /// CRLF and LF line ends, blank lines, a trailing separator, skipped columns.
    static func randomFile(seed: UInt64, rows: Int, width: Int, badRow: Int?) -> String {
        var state = seed | 1
        func next(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(n))
        }
        let forms = [
            "0", "-0", "+7", "12.5", "-3.", ".25", "007.50", "123456789012345", "1234567890123456", "0.000000000000000000000012",
            "0.0000000000000000000001", "1e5", "-2.5E-3", " 4.5", "6 ", "\t8", "TRUE", "false", "NA", "NaN", "-999", "",
            "99999999999999999999", "0.1", "1.7976931348623157e308",
        ]
        var out = (0..<width).map { "c\($0)" }.joined(separator: ",") + "\n"
        let ends = ["\n", "\r\n", "\r"]
        for r in 0..<rows {
            var fields = (0..<width).map { _ in forms[next(forms.count)].replacingOccurrences(of: "\\t", with: "\t") }
            if r == badRow { fields[next(width)] = "1x" }
            out += fields.joined(separator: ",") + ends[next(ends.count)]
            if next(50) == 0 { out += "\n" }
        }
        return out
    }

    @Test("the one-pass kernel against the serial parse on random files: the same values, lines and errors")
    func kernelMatchesSerial() throws {
        for seed in UInt64(1)...40 {
            let width = 1 + Int(seed % 5)
            let text = Self.randomFile(seed: seed, rows: 400, width: width, badRow: seed % 4 == 0 ? Int(seed * 7 % 400) : nil)
            for tokens in [CSVReader.defaultMissingTokens, ["NA", "-999"]] {
                for used: Set<String>? in [nil, ["c0"]] {
                    var serial = Self.reader(parallel: false), parallel = Self.reader(parallel: true)
                    serial.missingTokens = tokens
                    parallel.missingTokens = tokens
                    serial.usedColumns = used
                    parallel.usedColumns = used
                    let a = Result { try serial.parse(text, source: "r.csv") }, b = Result { try parallel.parse(text, source: "r.csv") }
                    switch (a, b) {
                    case let (.success(s), .success(p)):
                        #expect(s.rowLines == p.rowLines, "seed \(seed)")
                        for name in s.columnNames where used?.contains(name) ?? true {
                            #expect(try s.numeric(name).map(\.bitPattern) == p.numeric(name).map(\.bitPattern), "seed \(seed) \(name)")
                        }
                    case let (.failure(e), .failure(f)):
                        #expect("\(e)" == "\(f)", "seed \(seed)")
                    default:
                        Issue.record("seed \(seed): serial \(a), parallel \(b)")
                    }
                }
            }
        }
    }

    @Test("a trailing separator at the end of the file is one more, empty cell; a file of one column keeps its blank lines as missing")
    func edges() throws {
        let t = try Self.reader(parallel: true).parse("a,b\n1,2\n3,", source: "e.csv")
        #expect(try t.numeric("a") == [1, 3])
        #expect(try t.numeric("b").last?.isNaN == true)
        let single = try Self.reader(parallel: true).parse("a\n1\n\n2\n", source: "s.csv")
        let serial = try Self.reader(parallel: false).parse("a\n1\n\n2\n", source: "s.csv")
        #expect(try single.numeric("a").map(\.bitPattern) == serial.numeric("a").map(\.bitPattern))
        #expect(single.rowLines == [2, 3, 4])
    }

    /// Reads `text` from a file in blocks of `block` bytes (every file read in blocks) and whole.
    /// `streams`: whether the block reader must take the file (not hand it to the whole-file parse).
    static func readBoth(
        _ text: String, block: Int, streams: Bool = true, configure: (inout CSVReader) -> Void = { _ in }
    ) throws -> (blocks: Table, whole: Table) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("blocks-\(UUID().uuidString).csv")
        try Data(text.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var streamed = CSVReader()
        streamed.streamMinimumBytes = 0
        streamed.blockBytes = block
        configure(&streamed)
        var whole = CSVReader()
        whole.streamMinimumBytes = .max
        configure(&whole)
        #expect((try? streamed.readInBlocks(path: url.path)).flatMap { $0 } != nil || !streams, "read in blocks")
        return (try streamed.read(path: url.path), try whole.read(path: url.path))
    }

    @Test("a file read in blocks: the same columns, bit for bit, and the same lines as read whole", arguments: [128, 1_000, 65_536])
    func blocksSameTable(block: Int) throws {
        let text = "\u{FEFF}" + Self.file(rows: 6_000)
        let (blocks, whole) = try Self.readBoth(text, block: block)
        #expect(blocks.rowLines == whole.rowLines)
        #expect(blocks.rowLines.count == 6_001)
        #expect(blocks.columnNames == ["y", "a", "b", "c", "flag"])
        for name in whole.columnNames {
            #expect(try blocks.numeric(name).map(\.bitPattern) == whole.numeric(name).map(\.bitPattern), "column \(name)")
        }
        // A pandas export (unnamed index column), semicolons, unused columns skipped.
        let pandas = ";a;b;skip\n" + (0..<2_000).map { "\($0);\(Double($0) / 7);\($0 % 2);x\($0)" }.joined(separator: "\n") + "\n"
        let (b2, w2) = try Self.readBoth(pandas, block: block) { $0.usedColumns = ["a", "b"] }
        #expect(b2.columnNames == w2.columnNames && b2.notes == w2.notes && b2.rowLines == w2.rowLines)
        #expect(try b2.numeric("a") == w2.numeric("a"))
        #expect(try b2.numeric("a")[1_999] == 1_999.0 / 7)
    }

    @Test("a file read in blocks: an error far into the file names the same line; quotes fall back to the whole-file parse")
    func blocksErrorsAndFallback() throws {
        var lines = Self.file(rows: 5_000).utf8.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        lines[4_321] = "0,1.5,oops,2,true"
        do {
            _ = try Self.readBoth(lines.joined(separator: "\n"), block: 4_096, streams: false)
            Issue.record("no error")
        } catch let e as TabularError {
            #expect("\(e)".contains(":4322:3"), "\(e)")
        }
        let quoted = "a,b\n" + (0..<3_000).map { $0 == 2_500 ? "\"1\",2" : "\($0),\($0 * 2)" }.joined(separator: "\n")
        let (b, w) = try Self.readBoth(quoted, block: 256, streams: false)
        #expect(try b.numeric("a") == w.numeric("a"))
        #expect(try b.numeric("a")[2_500] == 1)
        let text = "a,t\n" + (0..<3_000).map { "\($0),x\($0 % 7)" }.joined(separator: "\n")
        let (bt, wt) = try Self.readBoth(text, block: 256, streams: false) { $0.textColumns = ["t"] }
        #expect(try bt.numeric("a") == wt.numeric("a"))
    }

    @Test("exponents and 16-17 digit values read exactly as Double(String) reads them")
    func numbersExact() throws {
        var state: UInt64 = 99
        var texts: [String] = [
            "1e5", "-2.5E-3", "7e+22", "1e23", "123456789012345e-22", "0.1e1", "5e-324", "1.7976931348623157e308",
            "0x1p3", ".5", "3.", "+4", "0.30000000000000004", "9007199254740993",
        ]
        for _ in 0..<2_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let v = Double(bitPattern: (state >> 2) & 0x3FEF_FFFF_FFFF_FFFF | 0x3000_0000_0000_0000) * (state & 1 == 0 ? 1 : -1)
            texts.append(v.description)
            texts.append(String(format: "%.17g", v))
            texts.append(String(format: "%.6e", v))
        }
        let csv = "x\n" + texts.joined(separator: "\n")
        let parsed = try CSVReader().parse(csv, source: "n.csv").numeric("x")
        for (t, v) in zip(texts, parsed) {
            #expect(v.bitPattern == Double(t)!.bitPattern, "\(t)")
        }
        for bad in ["1e", "e5", "1e5.0", "1.2.3", "inf", "nan", "1e999"] {
            #expect(throws: TabularError.self, "\(bad)") { _ = try CSVReader().parse("x\n\(bad)", source: "b.csv").numeric("x") }
        }
    }
}

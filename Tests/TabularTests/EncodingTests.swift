import Foundation
import Tabular
import Testing

/// The encoder releases each source column after its last use and encodes only the rows the
/// filters keep: the result must not depend on either (same values, rows and drop counts).
@Suite("Encoding: filters, shared columns, dropped rows")
struct EncodingTests {
    @Test("a column read by a filter, a one-hot, an equals and an outcome; rows dropped late are compacted")
    func sharedColumnsAndCompaction() throws {
        let csv = """
            id,g,h,x,y,z
            1,a,a,1.5,yes,0
            2,b,a,,no,1
            3,c,c,2,yes,1
            4,b,b,3,,0
            5,a,,4,no,1
            6,d,d,5,yes,0
            7,c,c,6,no,1
            """
        var g = FeatureSpec(name: "G", column: "g", encoding: .onehot(reference: "a", levels: nil), missing: .error, group: "g")
        g.recode = ["c": "b"]  // c merged into b
        let same = FeatureSpec(name: "g is h", column: "g", encoding: .equals(otherColumn: "h", value: nil), missing: .zero, group: "g")
        let x = FeatureSpec(name: "x", column: "x", encoding: .numeric, missing: .dropRow, group: "n")
        let spec = DataSpec(
            csv: "t.csv", filters: [RowFilter(column: "g", values: ["d"], exclude: true)],
            features: [g, same, x],
            outcomes: [
                OutcomeSpec(name: "y", column: "y", missing: .dropRow, positive: "yes"),
                OutcomeSpec(name: "g is a", column: "g", missing: .error, positive: "a"),
            ])
        let table = try CSVReader(textColumns: ["g", "h", "y"]).parse(csv, source: "t.csv")
        let e = try DataEncoder.encode(table, spec: spec)
        // Row 6 (g = d) is filtered; row 2 has no x, row 4 no y: both dropped after encoding.
        #expect(e.sourceRows == [0, 2, 4, 6])
        #expect(e.rowsRead == 7)
        #expect(e.dropped.map(\.rows) == [1, 1, 1])
        #expect(e.featureNames == ["G: b", "g is h", "x"])
        #expect(e.columns == [[0, 1, 0, 1], [1, 1, 0, 1], [1.5, 2, 4, 6]])
        #expect(e.outcomes == [[1, 1, 0, 0], [1, 0, 1, 0]])
        #expect(e.features[0].encoding == .onehot(reference: "a", levels: ["a", "b"]))
    }

    @Test("sparse one-hot: each block's row slots give back the dense 0/1 columns, after late drops too")
    func sparseOneHotBlocks() throws {
        var csv = "g,x,y\n"
        let levels = ["a", "b", "c", "d", "e"]
        for i in 0..<300 {
            // x missing every 7th row (drop-row), g missing every 11th (own level).
            csv += "\(i % 11 == 0 ? "" : levels[(i * 7 + i / 3) % 5]),\(i % 7 == 0 ? "" : "\(i)"),\(i % 2)\n"
        }
        let spec = DataSpec(
            csv: "s.csv",
            features: [
                FeatureSpec(name: "x", column: "x", encoding: .numeric, missing: .dropRow, group: "x"),
                FeatureSpec(name: "G", column: "g", encoding: .onehot(reference: "c", levels: nil), missing: .ownLevel, group: "g"),
            ],
            outcomes: [OutcomeSpec(name: "y", column: "y", missing: .error)])
        func table() throws -> Table { try CSVReader(textColumns: ["g"]).parse(csv, source: "s.csv") }
        let dense = try DataEncoder.encode(try table(), spec: spec)
        let sparse = try DataEncoder.encode(try table(), spec: spec, sparseOneHot: true)
        #expect(dense.featureNames == sparse.featureNames && dense.sourceRows == sparse.sourceRows && dense.outcomes == sparse.outcomes)
        #expect(dense.featureNames == ["x", "G: a", "G: b", "G: d", "G: e", "G: missing"])
        #expect(dense.oneHotBlocks.isEmpty && sparse.oneHotBlocks.count == 1)
        let block = try #require(sparse.oneHotBlocks.first)
        #expect(block.firstColumn == 1 && block.count == 4 && block.slot.count == sparse.rowCount)
        #expect(sparse.columns[0] == dense.columns[0] && sparse.columns[5] == dense.columns[5])
        for j in 1...4 {
            #expect(sparse.columns[j].isEmpty)
            #expect(block.slot.map { Int($0) == j - 1 ? 1.0 : 0.0 } == dense.columns[j], "column \(j)")
        }
    }

    @Test("minCount pools rare one-hot levels; new rows' unknown levels go to the pool, or are refused without one")
    func minCountPooling() throws {
        // Level counts: a 5, b 3, c 1, d 1 (and the reference r 4).
        let levels = ["r", "a", "b", "c", "d", "a", "r", "a", "b", "r", "a", "b", "a", "r"]
        let csv = "g,y\n" + levels.enumerated().map { "\($0.element),\($0.offset % 2)" }.joined(separator: "\n") + "\n"
        var g = FeatureSpec(name: "G", column: "g", encoding: .onehot(reference: "r", levels: nil), missing: .error, group: "g")
        g.minCount = 3
        let spec = DataSpec(csv: "m.csv", features: [g], outcomes: [OutcomeSpec(name: "y", column: "y", missing: .error)])
        let e = try DataEncoder.encode(try CSVReader(textColumns: ["g"]).parse(csv, source: "m.csv"), spec: spec)
        #expect(e.featureNames == ["G: (infrequent)", "G: a", "G: b"])
        #expect(e.columns[0] == levels.map { $0 == "c" || $0 == "d" ? 1 : 0 })
        #expect(e.features[0].encoding == .onehot(reference: "r", levels: ["(infrequent)", "a", "b", "r"]) && e.features[0].minCount == 3)
        // New rows, encoded with the applied recipe: an unseen level joins the pool.
        let recipe = DataSpec(csv: "new.csv", features: e.features, outcomes: [])
        let new = try DataEncoder.encode(try CSVReader(textColumns: ["g"]).parse("g\nz\na\nc\nr\n", source: "new.csv"), spec: recipe)
        #expect(new.columns == [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
        // Without pooling an unseen level is refused, and named.
        var plain = g
        plain.minCount = 1
        let applied = try DataEncoder.encode(
            try CSVReader(textColumns: ["g"]).parse(csv, source: "m.csv"),
            spec: DataSpec(csv: "m.csv", features: [plain], outcomes: [OutcomeSpec(name: "y", column: "y", missing: .error)]))
        #expect(throws: (any Error).self) {
            try DataEncoder.encode(
                try CSVReader(textColumns: ["g"]).parse("g\nz\n", source: "new.csv"),
                spec: DataSpec(csv: "new.csv", features: applied.features, outcomes: []))
        }
        // The spec key: onehot only, at least 1.
        func parse(_ encoding: String) throws -> DataSpec {
            try DataSpec.parse(
                data: try JSONNode.parse(Data(#"{"csv": "x.csv"}"#.utf8), source: "s.json"),
                features: try JSONNode.parse(Data(#"[{"name": "g", "encoding": \#(encoding)}]"#.utf8), source: "s.json"),
                outcomes: try JSONNode.parse(Data(#"["y"]"#.utf8), source: "s.json"), baseDirectory: "/")
        }
        #expect(try parse(#"{"type": "onehot", "reference": "r", "minCount": 5}"#).features[0].minCount == 5)
        #expect(throws: (any Error).self) { try parse(#"{"type": "onehot", "reference": "r", "minCount": 0}"#) }
        #expect(throws: (any Error).self) { try parse(#"{"type": "ordinal", "levels": ["a"], "minCount": 2}"#) }
    }

    @Test("errors still name the file line of the offending row after filtering")
    func errorLines() throws {
        let csv = "g,x,y\nskip,9,1\nkeep,1,1\nkeep,2,7\n"
        let spec = DataSpec(
            csv: "e.csv", filters: [RowFilter(column: "g", values: ["keep"])],
            features: [FeatureSpec(name: "x", column: "x", encoding: .numeric, missing: .zero, group: "")],
            outcomes: [OutcomeSpec(name: "y", column: "y", missing: .error)])
        let table = try CSVReader(textColumns: ["g"], usedColumns: ["g", "x", "y"]).parse(csv, source: "e.csv")
        #expect {
            try DataEncoder.encode(table, spec: spec)
        } throws: { error in
            "\(error)".contains("e.csv:4:3") && "\(error)".contains("found 7")
        }
    }
}

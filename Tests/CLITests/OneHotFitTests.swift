import Foundation
import Testing

/// `lassoboot fit --onehot`: text columns as indicators of their levels, held as sparse columns
/// when wide, giving the same fit as the dense design.
@Suite("lassoboot fit --onehot")
struct OneHotFitTests {
    /// A shop column of 90 levels (level "s0" the most frequent), an unstandardized numeric
    /// column and an outcome driven by a few shops; a pandas-style export with a quoted header.
    static func write(_ dir: URL, rows: Int = 3000, seed: UInt64 = 9, blankAt: Int? = nil) throws -> String {
        var state = seed
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var lines = ["\"y\",\"shop\",\"spend\""]
        for i in 0..<rows {
            // Level k with probability about 1 / (k + 1): "s0" leads, most levels are rare.
            var u = next() * 5.1, k = 0
            while k < 89 && u >= 1.0 / Double(k + 1) {
                u -= 1.0 / Double(k + 1)
                k += 1
            }
            let spend = (next() * 300).rounded()
            let eta = -0.3 + (k % 5 == 1 ? 1.2 : 0) - (k % 7 == 2 ? 1.0 : 0) + 0.002 * spend
            let y = next() < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0
            lines.append("\(y),\(i == blankAt ? "" : "s\(k)"),\(Int(spend))")
        }
        let path = dir.appendingPathComponent("shops.csv").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func fit(_ arguments: [String]) throws -> [String: Any] {
        let r = try CLI.run(["fit", "--outcome", "y", "--alpha", "4", "--standardize", "--format", "json"] + arguments)
        #expect(r.status == 0, "\(r.stderr)")
        // One outcome: one JSON object.
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    static func coefficients(_ fit: [String: Any]) -> [String: Double] {
        var out: [String: Double] = [:]
        for c in fit["coefficients"] as? [[String: Any]] ?? [] { out[c["name"] as! String] = c["coef"] as? Double }
        return out
    }

    @Test("sparse and dense storage give the same fit, AUC and certificate; the most frequent level is the reference")
    func sparseEqualsDense() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.write(dir)
        let test = try Self.write(dir.appendingPathComponent("t", isDirectory: true).creatingDirectory(), rows: 800, seed: 10)
        let sparse = try Self.fit(["--data", data, "--onehot", "shop", "--test", test])
        let dense = try Self.fit(["--data", data, "--onehot", "shop", "--test", test, "--storage", "dense"])
        #expect(sparse["storage"] as? String == "sparse")
        #expect(dense["storage"] as? String == "dense")
        let a = Self.coefficients(sparse), b = Self.coefficients(dense)
        #expect(a.count == 91, "const, spend and the 89 shops besides the reference s0")
        #expect(a["shop: s0"] == nil && a["shop: s1"] != nil && a["spend"] != nil)
        #expect(Set(a.keys) == Set(b.keys))
        for (name, v) in a { #expect(abs(v - b[name]!) <= 1e-8 * max(1, abs(v)), "\(name)") }
        #expect((sparse["kktViolation"] as? Double ?? 1) <= 1e-12)
        let aucSparse = try #require(sparse["testAUC"] as? Double), aucDense = try #require(dense["testAUC"] as? Double)
        #expect(abs(aucSparse - aucDense) < 1e-12 && aucSparse > 0.6)
        // The table format names the encoding on stderr.
        let table = try CLI.run(["fit", "--data", data, "--outcome", "y", "--alpha", "4", "--onehot", "shop"])
        #expect(table.status == 0)
        #expect(table.stderr.contains("'shop' one-hot encoded") && table.stderr.contains("reference 's0'"))
    }

    @Test("an empty level names its line and column")
    func errors() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.write(dir, rows: 200, blankAt: 41)
        let r = try CLI.run(["fit", "--data", data, "--outcome", "y", "--alpha", "1", "--onehot", "shop"])
        #expect(r.status != 0)
        // Data row 41 is line 43 (the header is line 1); shop is column 2.
        #expect(r.stderr.contains("shops.csv:43:2: column 'shop'") && r.stderr.contains("empty cell"), "\(r.stderr)")
    }

    @Test("--save-model with --onehot: predict scores the rows as the fit does, merged levels included; an unseen level is named")
    func savedModel() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Two text columns; the levels "rare" and "lone" occur only in row 7, so their indicators
        // are identical and the fit merges them.
        var state: UInt64 = 21
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var rows: [(y: Int, shop: String, region: String, spend: Int)] = []
        for i in 0..<600 {
            let k = Int(next() * 12), r = Int(next() * 5), spend = Int((next() * 200).rounded())
            let eta = -0.2 + (k % 4 == 1 ? 1.0 : 0) - (r == 3 ? 0.8 : 0) + 0.003 * Double(spend)
            let y = i == 7 ? 1 : (next() < 1 / (1 + Foundation.exp(-eta)) ? 1 : 0)
            rows.append((y, i == 7 ? "rare" : "s\(k)", i == 7 ? "lone" : "r\(r)", spend))
        }
        let path = dir.appendingPathComponent("shops2.csv").path
        try (["y,shop,region,spend"] + rows.map { "\($0.y),\($0.shop),\($0.region),\($0.spend)" }).joined(separator: "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let modelPath = dir.appendingPathComponent("model.json").path
        let fit = try Self.fit(["--data", path, "--onehot", "shop", "--onehot", "region", "--alpha", "0.5", "--save-model", modelPath])
        let b = Self.coefficients(fit)
        #expect(b["shop: rare = region: lone"] != nil, "the identical indicators are one feature: \(b.keys.sorted())")
        let out = dir.appendingPathComponent("p.csv").path
        let p = try CLI.run(["predict", "--model", modelPath, "--data", path, "--out", out])
        try #require(p.status == 0, "\(p.stderr)")
        let predicted = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2])! }
        #expect(predicted.count == rows.count)
        for (i, r) in rows.enumerated() {
            var eta = b["const"]! + b["spend"]! * Double(r.spend)
            for (name, v) in b where name.contains(":") {
                // A merged name lists identical indicators: the row has all of them or none.
                let member = name.components(separatedBy: " = ")[0]
                if member == "shop: \(r.shop)" || member == "region: \(r.region)" { eta += v }
            }
            let expected = 1 / (1 + Foundation.exp(-eta))
            #expect(abs(predicted[i] - expected) <= 1e-12, "row \(i): \(predicted[i]) vs \(expected)")
        }
        // A level the training rows never had is named, not scored as something else.
        let unseen = dir.appendingPathComponent("new.csv").path
        try "y,shop,region,spend\n1,s3,r1,20\n0,s99,r2,10\n".write(toFile: unseen, atomically: true, encoding: .utf8)
        let q = try CLI.run(["predict", "--model", modelPath, "--data", unseen])
        #expect(q.status != 0 && q.stderr.contains("s99"), "\(q.stderr)")
    }
}

extension URL {
    /// The directory, created if missing.
    fileprivate func creatingDirectory() throws -> URL {
        try FileManager.default.createDirectory(at: self, withIntermediateDirectories: true)
        return self
    }
}

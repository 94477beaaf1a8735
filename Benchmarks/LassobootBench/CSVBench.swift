import Analysis
import CoordinatorAPI
import Foundation
import Lasso
import Tabular
import TestSupport

// MARK: - csv

/// Writes a numeric CSV: header `c1..cK`; odd columns small integers 0..20, even columns
/// decimals with four places (0.0000..9.9999, every tenth negative).
func writeNumericCSV(path: String, rows: Int, cols: Int) throws -> Int {
    var rng = SplitMix64(seed: 20_240_601)
    var buf: [UInt8] = []
    buf.reserveCapacity(rows * cols * 6 + 64)
    buf += Array((1...cols).map { "c\($0)" }.joined(separator: ",").utf8)
    buf.append(10)
    let zero = UInt8(ascii: "0")
    for _ in 0..<rows {
        for c in 0..<cols {
            if c > 0 { buf.append(UInt8(ascii: ",")) }
            let r = rng.next()
            if c % 2 == 0 {
                let v = Int(r % 21)
                if v >= 10 { buf.append(zero + UInt8(v / 10)) }
                buf.append(zero + UInt8(v % 10))
            } else {
                if (r >> 32) % 10 == 0 { buf.append(UInt8(ascii: "-")) }
                let v = Int((r >> 8) % 100_000)  // d.dddd
                buf.append(zero + UInt8(v / 10_000))
                buf.append(UInt8(ascii: "."))
                buf.append(zero + UInt8(v / 1000 % 10))
                buf.append(zero + UInt8(v / 100 % 10))
                buf.append(zero + UInt8(v / 10 % 10))
                buf.append(zero + UInt8(v % 10))
            }
        }
        buf.append(10)
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(buf)) else {
        throw UsageError(description: "cannot write \(path)")
    }
    return buf.count
}

func runCSV(_ args: Arguments) throws {
    let rows = try args.int("rows") ?? 1_000_000
    let cols = try args.int("cols") ?? 20
    let repeats = try args.int("repeat") ?? 5
    let clock = ContinuousClock()
    var path = try args.string("file")
    var generated = false
    var generateSeconds = 0.0
    if path == nil || !FileManager.default.fileExists(atPath: path!) {
        let target = path ?? NSTemporaryDirectory() + "lassoboot-bench-\(rows)x\(cols)-\(getpid()).csv"
        generateSeconds = try clock.measure { _ = try writeNumericCSV(path: target, rows: rows, cols: cols) }.seconds
        generated = path == nil
        path = target
    }
    defer { if generated { try? FileManager.default.removeItem(atPath: path!) } }
    let bytes = (try FileManager.default.attributesOfItem(atPath: path!)[.size] as? NSNumber)?.intValue ?? 0

    // One untimed read (page cache, allocator), then the timed ones.
    var table = try CSVReader().read(path: path!)
    var times: [Double] = []
    for _ in 0..<repeats {
        times.append(try clock.measure { table = try CSVReader().read(path: path!) }.seconds)
        blackHole += Double(table.rowCount)
    }
    let med = median(times)
    var j = JSONLine()
    j.add("tool", "lassoboot")
    j.add("label", "csv read")
    j.add("file", path!)
    j.add("rows", table.rowCount)
    j.add("cols", table.columnNames.count)
    j.add("bytes", bytes)
    j.add("repeat", repeats)
    j.add("generateSeconds", generateSeconds)
    j.add("medianSeconds", med)
    j.add("minSeconds", times.min()!)
    j.add("rowsPerSecond", Double(table.rowCount) / med)
    j.add("mbPerSecond", Double(bytes) / 1e6 / med)
    print(j.text)
}

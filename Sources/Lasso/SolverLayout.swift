/// How the solver stores a ``CompressedDesign``: built once per design, shared by every fit.
///
/// Indicator (0/1) features are packed into *chunks* of up to 8 bits, so a pattern's indicators
/// are a few one-byte codes. Patterns are re-ordered (internally; the design's numbering is
/// untouched) by their codes, and consecutive patterns with the same codes form a *group*. Then
/// - `X d` costs one table lookup per pattern (the sum of `d` over the set bits, per group),
/// - `X' r` for an indicator is a sum over groups, then over the codes of its chunk,
/// - the Hessian `X' V X` sums `v` times a short row of the *other* (general) features and
///   their products per group, and expands groups into indicator pairs through per-code
///   tables, instead of visiting every pair of nonzeros of every pattern.
/// General features are dense columns. Without indicators (or with more than
/// ``maxGeneralWithChunks`` general features) there are no chunks, the order is the design's
/// and the solver reads the design's own columns: nothing is copied.
final class SolverLayout: @unchecked Sendable {
    typealias V = SIMD8<Double>

    /// Most indicator chunks; further indicators are treated as general columns.
    static let maxChunks = 4
    /// Most general features for which indicators are chunked.
    static let maxGeneralWithChunks = 15

    let m: Int, n: Int, p: Int
    /// `order[i]` is the design pattern at internal position `i` (`i < m`); `nil` if identity.
    let order: UnsafeMutablePointer<Int32>?
    /// General (non-indicator) features, ascending.
    let general: [Int]
    /// Their columns in internal order, `n` each, zero padded; `nil` when there are no chunks
    /// (the general features are then all features, in the design's order and storage).
    let generalColumns: UnsafeMutablePointer<Double>?
    /// Indicator features per chunk, ascending; bit `b` of chunk `c`'s code is `chunks[c][b]`.
    let chunks: [[Int]]
    /// Groups: internal positions `groupStart[g] ..< groupStart[g + 1]` share all codes.
    let groupCount: Int
    let groupStart: UnsafeMutablePointer<Int32>
    /// Code of group `g` in chunk `c` at `groupCode[c * groupCount + g]`.
    let groupCode: UnsafeMutablePointer<UInt8>
    /// Runs of groups with the same chunk-0 code: groups `runStart[r] ..< runStart[r + 1]`.
    let runCount: Int
    let runStart: UnsafeMutablePointer<Int32>
    /// Group of each internal position (`n` entries; padding points at group 0).
    let patternGroup: UnsafeMutablePointer<Int32>
    /// Per internal position: `[1, x_general..., products x_a x_b (a <= b) if withProducts, 0...]`
    /// (`nil` without chunks).
    let rows: UnsafeMutablePointer<Double>?
    /// Width of `rows` (a multiple of 4, at least 8).
    let rowWidth: Int
    /// Whether `rows` carries the general features' pairwise products.
    let withProducts: Bool
    /// `1 + general.count` rounded up to 4: the part of a row the chunk tables need.
    let headWidth: Int
    /// `bitsTable[c]`: the bits of code `c` as 8 doubles 0/1.
    let bitsTable: UnsafeMutablePointer<V>
    /// Per chunk, the codes that occur in some pattern, ascending.
    let codesPresent: [[Int]]
    /// Number of nonzero pairs (with the intercept) over patterns: the sparse kernel's work.
    let sparsePairs: Int

    var chunkCount: Int { chunks.count }
    var identity: Bool { order == nil }

    /// Width of chunk `c`'s Hessian table rows: the head, then 8 lanes per later chunk.
    func tableWidth(_ c: Int) -> Int { headWidth + 8 * (chunks.count - 1 - c) }

    /// Estimated cost (arbitrary units ~ packed operations) of one Hessian by each kernel;
    /// `blocked` is infinite without chunks.
    func hessianCosts() -> (dense: Double, sparse: Double, blocked: Double) {
        let q = Double(p + 1)
        let dense = Double(m) * q * (q + 1) / 4 * 2
        let sparse = Double(sparsePairs) * 1.5
        guard !chunks.isEmpty else { return (dense, sparse, .infinity) }
        var blocked = Double(m) * Double(rowWidth) * 1.5 + Double(groupCount) * Double(rowWidth) / 2
        for c in 0..<chunks.count {
            blocked += Double(groupCount) * Double(tableWidth(c)) * 1.5
            blocked += Double(codesPresent[c].count * chunks[c].count) * Double(tableWidth(c) + 8) / 4
        }
        if !withProducts {
            let g = Double(general.count)
            blocked += Double(m) * g * (g + 1) / 4 * 2
        }
        return (dense, sparse, blocked)
    }

    init(storage: [Double], stride n: Int, patternCount m: Int, featureCount p: Int, sparsePairs: Int) {
        self.m = m
        self.n = n
        self.p = p
        self.sparsePairs = sparsePairs
        var indicators: [Int] = []
        var general: [Int] = []
        for j in 0..<p {
            var binary = m > 0
            for k in 0..<m {
                let x = storage[j * n + k]
                if x != 0 && x != 1 { binary = false; break }
            }
            if binary && indicators.count < Self.maxChunks * 8 { indicators.append(j) } else { general.append(j) }
        }
        if general.count > Self.maxGeneralWithChunks {
            indicators = []
            general = Array(0..<p)
        }
        var chunks: [[Int]] = []
        var start = 0
        while start < indicators.count {
            chunks.append(Array(indicators[start..<min(start + 8, indicators.count)]))
            start += 8
        }
        self.general = general
        self.chunks = chunks
        let cc = chunks.count

        // Codes per design pattern, a sort key, and the internal order (stable by key).
        var codes = [UInt8](repeating: 0, count: max(cc, 1) * max(m, 1))
        var key = [UInt32](repeating: 0, count: m)
        for c in 0..<cc {
            for (b, j) in chunks[c].enumerated() {
                for k in 0..<m where storage[j * n + k] != 0 { codes[c * m + k] |= UInt8(1 << b) }
            }
            for k in 0..<m { key[k] |= UInt32(codes[c * m + k]) << UInt32(8 * (3 - c)) }
        }
        var perm = Array(0..<m)
        if cc > 0 { perm.sort { key[$0] != key[$1] ? key[$0] < key[$1] : $0 < $1 } }
        if perm.enumerated().allSatisfy({ $0.offset == $0.element }) {
            order = nil
        } else {
            let o = UnsafeMutablePointer<Int32>.allocate(capacity: max(m, 1))
            for i in 0..<m { o[i] = Int32(perm[i]) }
            order = o
        }

        // Groups of equal keys, and runs of equal chunk-0 codes.
        var starts: [Int32] = [0]
        for i in 1..<max(m, 1) where key[perm[i]] != key[perm[i - 1]] { starts.append(Int32(i)) }
        starts.append(Int32(m))
        groupCount = starts.count - 1
        groupStart = UnsafeMutablePointer<Int32>.allocate(capacity: starts.count)
        groupStart.initialize(from: starts, count: starts.count)
        groupCode = UnsafeMutablePointer<UInt8>.allocate(capacity: max(cc * groupCount, 1))
        groupCode.initialize(repeating: 0, count: max(cc * groupCount, 1))
        patternGroup = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        patternGroup.initialize(repeating: 0, count: n)
        for g in 0..<groupCount {
            let first = perm[Int(starts[g])]
            for c in 0..<cc { groupCode[c * groupCount + g] = codes[c * m + first] }
            for i in Int(starts[g])..<Int(starts[g + 1]) { patternGroup[i] = Int32(g) }
        }
        var runs: [Int32] = [0]
        if cc > 0 {
            for g in 1..<max(groupCount, 1) where groupCode[g] != groupCode[g - 1] { runs.append(Int32(g)) }
        }
        runs.append(Int32(groupCount))
        runCount = runs.count - 1
        runStart = UnsafeMutablePointer<Int32>.allocate(capacity: runs.count)
        runStart.initialize(from: runs, count: runs.count)
        var present: [[Int]] = []
        for c in 0..<cc {
            var seen = [Bool](repeating: false, count: 256)
            for k in 0..<m { seen[Int(codes[c * m + k])] = true }
            present.append((0..<256).filter { seen[$0] })
        }
        codesPresent = present

        // General columns in internal order, and the Hessian rows [1, x_general, products].
        let gc = general.count
        let products = gc * (gc + 1) / 2
        withProducts = 1 + gc + products <= 16
        headWidth = (1 + gc + 3) / 4 * 4
        rowWidth = max(8, withProducts ? (1 + gc + products + 3) / 4 * 4 : headWidth)
        if cc > 0 {
            let columns = UnsafeMutablePointer<Double>.allocate(capacity: max(gc * n, 1))
            columns.initialize(repeating: 0, count: max(gc * n, 1))
            for (a, j) in general.enumerated() {
                for i in 0..<m { columns[a * n + i] = storage[j * n + perm[i]] }
            }
            let rows = UnsafeMutablePointer<Double>.allocate(capacity: max(m * rowWidth, 1))
            rows.initialize(repeating: 0, count: max(m * rowWidth, 1))
            for i in 0..<m {
                let row = rows + i * rowWidth
                row[0] = 1
                for a in 0..<gc { row[1 + a] = columns[a * n + i] }
                if withProducts {
                    var slot = 1 + gc
                    for a in 0..<gc {
                        for b in a..<gc {
                            row[slot] = columns[a * n + i] * columns[b * n + i]
                            slot += 1
                        }
                    }
                }
            }
            generalColumns = columns
            self.rows = rows
        } else {
            generalColumns = nil
            rows = nil
        }

        bitsTable = UnsafeMutablePointer<V>.allocate(capacity: 256)
        for c in 0..<256 {
            var v = V(repeating: 0)
            for b in 0..<8 where c & (1 << b) != 0 { v[b] = 1 }
            bitsTable[c] = v
        }
    }

    /// Slot of the product `x_a x_b` (`a <= b`, general indices) in a row.
    func productSlot(_ a: Int, _ b: Int) -> Int {
        // Rows a' < a contribute (gc - a') products each.
        let gc = general.count
        return 1 + gc + a * gc - a * (a - 1) / 2 + (b - a)
    }

    deinit {
        order?.deallocate()
        generalColumns?.deallocate()
        groupStart.deallocate()
        groupCode.deallocate()
        runStart.deallocate()
        patternGroup.deallocate()
        rows?.deallocate()
        bitsTable.deallocate()
    }
}

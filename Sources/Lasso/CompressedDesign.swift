import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The covariates of a data set with identical rows collapsed into one *pattern*.
///
/// Fitting costs O(patterns) instead of O(rows): the CTDC North America table has 91,043 rows
/// but about 4,500 distinct covariate patterns. Any reweighting of the rows (a subset, a
/// bootstrap resample, a CV fold) is just a different set of ``BinomialCells`` on the same
/// design, so the design is built once and shared.
///
/// Patterns are numbered in order of first appearance, so the design is deterministic.
public struct CompressedDesign: Sendable {
    /// Feature (column) names, in model order.
    public let featureNames: [String]
    /// Number of input rows the design was built from.
    public let rowCount: Int
    /// Number of distinct covariate patterns.
    public let patternCount: Int
    /// Pattern index of every input row.
    public let rowPattern: [Int32]
    /// Column-major pattern values; feature `j` occupies `[j * stride, j * stride + patternCount)`,
    /// the rest of each column is zero padding so SIMD kernels need no tail loop. Empty for a
    /// design held as ``sparseColumns``.
    @usableFromInline let storage: [Double]
    /// The nonzero values of each feature over the patterns (compressed sparse columns), for
    /// designs too wide and sparse to hold densely (one-hot encodings of many levels); `nil` for
    /// dense designs. Such a design is fitted by working sets only: the solver gathers the
    /// working set's columns densely and reads the rest through these entries.
    @usableFromInline let sparseColumns: SparseColumns?
    /// Whether the design is held as sparse columns rather than dense storage.
    public var isSparse: Bool { sparseColumns != nil }
    /// Padded column length (a multiple of ``Kernels/width``).
    public let stride: Int
    /// Nonzero entries of each pattern (compressed sparse rows): pattern `k` owns
    /// `sparseFeature[sparseStart[k] ..< sparseStart[k + 1]]` and the matching `sparseValue`s.
    @usableFromInline let sparseStart: [Int32]
    /// Their features and values, built on first use: the lasso solver needs them only for
    /// sparse designs, and for dense data they would cost 1.5x the design's own memory.
    let sparseEntries: SparseEntries
    @usableFromInline var sparseFeature: [Int32] { sparseEntries.get().feature }
    @usableFromInline var sparseValue: [Double] { sparseEntries.get().value }
    /// The solver's view of the design (indicator chunks, grouped patterns), built once here.
    let layout: SolverLayout
    /// Per feature, the first pattern whose value differs from pattern 0's (-1: constant column).
    let firstDifferent: [Int32]

    /// Fraction of nonzero covariate values over patterns and features.
    public var density: Double {
        patternCount * featureCount == 0 ? 0 : Double(nonzeroCount) / Double(patternCount * featureCount)
    }
    /// Number of nonzero covariate values over patterns.
    let nonzeroCount: Int
    /// Density up to which the solver accumulates the Hessian over sparse rows.
    static let sparseDensity = 0.35

    /// Number of features (not counting the intercept).
    public var featureCount: Int { featureNames.count }

    /// Builds the design from feature columns of equal length.
    ///
    /// The columns are consumed: each is released once copied into the design, so a caller that
    /// hands over its only copy (`consume`) never holds the data twice.
    ///
    /// - Throws: ``LassoError/raggedColumns(feature:expected:found:)`` or
    ///   ``LassoError/nonFiniteValue(feature:row:value:)``.
    public init(featureNames: [String], columns: consuming [[Double]]) throws {
        var columns = consume columns
        precondition(featureNames.count == columns.count, "one name per column")
        let p = columns.count
        let n = columns.first?.count ?? 0
        for j in 0..<p {
            if columns[j].count != n {
                throw LassoError.raggedColumns(feature: featureNames[j], expected: n, found: columns[j].count)
            }
            for (i, v) in columns[j].enumerated() where !v.isFinite {
                throw LassoError.nonFiniteValue(feature: featureNames[j], row: i, value: v)
            }
        }
        // Row hashes, accumulated column by column (cache friendly), then an open-addressing
        // hash table from row content to pattern index; rows are compared only on equal hashes.
        var hashes = [UInt64](repeating: 0x9E37_79B9_7F4A_7C15, count: n)
        hashes.withUnsafeMutableBufferPointer { h in
            for j in 0..<p {
                columns[j].withUnsafeBufferPointer { col in
                    for i in 0..<n {
                        // `+ 0.0` maps -0.0 to 0.0 so equal values hash equally.
                        let x = h[i]
                        h[i] = x ^ ((col[i] + 0.0).bitPattern &+ 0x9E37_79B9_7F4A_7C15 &+ (x << 6) &+ (x >> 2))
                    }
                }
            }
        }
        let (rowPattern, firstRow) = Self.patterns(hashes: hashes) { a, b in
            for j in 0..<p where columns[j][a] != columns[j][b] { return false }
            return true
        }
        let m = firstRow.count
        let stride = Kernels.paddedLength(m)
        // Written column by column into untouched memory, each input column released once
        // copied: the data is held about once, not twice, while the design is built.
        let storage = [Double](unsafeUninitializedCapacity: p * stride) { out, count in
            for j in 0..<p {
                columns[j].withUnsafeBufferPointer { col in
                    for k in 0..<m { out[j * stride + k] = col[Int(firstRow[k])] + 0.0 }
                }
                for k in m..<stride { out[j * stride + k] = 0 }
                columns[j] = []
                // Every 32 MB released, so the peak stays near one copy of the data.
                if (j + 1) % max(1, (4 << 20) / max(n, 1)) == 0 { FreedPages.release() }
            }
            count = p * stride
        }
        self.init(featureNames: featureNames, rowPattern: rowPattern, storage: storage, patternCount: m, sparseRows: false)
    }

    /// A design from column-major storage padded to `Kernels.paddedLength(patternCount)` whose
    /// rows are the patterns, known to be distinct (no hashing): the working-set solver's
    /// restricted problems. The sparse rows' entries are built now with `sparseRows` or when the
    /// design is sparse enough for the solver to use them (``sparseDensity``), otherwise on first use.
    init(featureNames: [String], distinctStorage storage: [Double], patternCount m: Int, sparseRows: Bool) {
        self.init(
            featureNames: featureNames, rowPattern: (0..<m).map { Int32($0) }, storage: storage, patternCount: m,
            sparseRows: sparseRows)
    }

    /// Builds the design from compressed sparse columns over the input rows: feature `j`'s
    /// nonzero values are `values[start[j] ..< start[j + 1]]` at rows `rows[...]`, rows
    /// ascending within a column. The design stays sparse (``isSparse``): its memory follows
    /// the nonzero count, not rows x features (a one-hot encoding of 100,000 levels).
    ///
    /// - Throws: ``LassoError/invalidSparseColumns(feature:message:)`` for malformed columns,
    ///   ``LassoError/nonFiniteValue(feature:row:value:)``.
    public init(featureNames: [String], rowCount n: Int, start: [Int], rows: [Int32], values: [Double]) throws {
        let p = featureNames.count
        guard start.count == p + 1, start.first == 0, start.last == rows.count, rows.count == values.count else {
            throw LassoError.invalidSparseColumns(
                feature: nil, message: "expected \(p + 1) column starts from 0 to the entry count and one row per value")
        }
        for j in 0..<p {
            guard start[j] <= start[j + 1] else {
                throw LassoError.invalidSparseColumns(feature: featureNames[j], message: "column starts must not decrease")
            }
            var previous: Int32 = -1
            for e in start[j]..<start[j + 1] {
                let i = rows[e]
                guard i > previous, i < n else {
                    throw LassoError.invalidSparseColumns(
                        feature: featureNames[j], message: "row \(i) is out of order, repeated or not below the row count \(n)")
                }
                guard values[e].isFinite else { throw LassoError.nonFiniteValue(feature: featureNames[j], row: Int(i), value: values[e]) }
                previous = i
            }
        }
        // Rows as entry lists (compressed sparse rows, features ascending), zeros dropped.
        var rowStart = [Int](repeating: 0, count: n + 1)
        for e in 0..<rows.count where values[e] != 0 { rowStart[Int(rows[e]) + 1] += 1 }
        for i in 0..<n { rowStart[i + 1] += rowStart[i] }
        var rowFeature = [Int32](repeating: 0, count: rowStart[n])
        var rowValue = [Double](repeating: 0, count: rowStart[n])
        var cursor = Array(rowStart.prefix(n))
        for j in 0..<p {
            for e in start[j]..<start[j + 1] where values[e] != 0 {
                let i = Int(rows[e])
                rowFeature[cursor[i]] = Int32(j)
                rowValue[cursor[i]] = values[e] + 0.0
                cursor[i] += 1
            }
        }
        // Equal rows share a pattern, numbered by first appearance (as the dense initializer).
        var hashes = [UInt64](repeating: 0x9E37_79B9_7F4A_7C15, count: n)
        for i in 0..<n {
            for e in rowStart[i]..<rowStart[i + 1] { hashes[i] = Self.mix(hashes[i], UInt64(rowFeature[e]), rowValue[e]) }
        }
        let (rowPattern, firstRow) = Self.patterns(hashes: hashes) { f, i in
            rowStart[f + 1] - rowStart[f] == rowStart[i + 1] - rowStart[i]
                && (0..<(rowStart[i + 1] - rowStart[i])).allSatisfy {
                    rowFeature[rowStart[f] + $0] == rowFeature[rowStart[i] + $0] && rowValue[rowStart[f] + $0] == rowValue[rowStart[i] + $0]
                }
        }
        let m = firstRow.count
        // The patterns' columns: the entries of each pattern's first row, patterns ascending.
        var isFirst = [Bool](repeating: false, count: n)
        for i in firstRow { isFirst[Int(i)] = true }
        var colStart = [Int](repeating: 0, count: p + 1)
        var colPattern: [Int32] = []
        var colValue: [Double] = []
        for j in 0..<p {
            for e in start[j]..<start[j + 1] where values[e] != 0 && isFirst[Int(rows[e])] {
                colPattern.append(rowPattern[Int(rows[e])])
                colValue.append(values[e] + 0.0)
            }
            colStart[j + 1] = colPattern.count
        }
        // The patterns' rows, for the sparse Hessian kernels of the working set's problems.
        var patternStart = [Int32](repeating: 0, count: m + 1)
        var patternFeature: [Int32] = [], patternValue: [Double] = []
        patternFeature.reserveCapacity(colPattern.count)
        patternValue.reserveCapacity(colPattern.count)
        for k in 0..<m {
            let i = Int(firstRow[k])
            patternFeature.append(contentsOf: rowFeature[rowStart[i]..<rowStart[i + 1]])
            patternValue.append(contentsOf: rowValue[rowStart[i]..<rowStart[i + 1]])
            patternStart[k + 1] = Int32(patternFeature.count)
        }
        let columns = SparseColumns(start: colStart, pattern: colPattern, value: colValue)
        // From the entries: a zero in pattern 0 differs at the first entry; a nonzero at the
        // first pattern missing from, or differing in, the run of entries after it.
        var firstDifferent = [Int32](repeating: -1, count: p)
        for j in 0..<p where m > 1 {
            var e = colStart[j]
            let end = colStart[j + 1]
            guard e < end else { continue }
            if colPattern[e] != 0 {
                firstDifferent[j] = colPattern[e]
                continue
            }
            let v0 = colValue[e]
            var k: Int32 = 1
            e += 1
            while e < end && colPattern[e] == k && colValue[e] == v0 {
                e += 1
                k += 1
            }
            if Int(k) < m { firstDifferent[j] = k }
        }
        var pairs = 0
        for k in 0..<m {
            let nnz = Int(patternStart[k + 1] - patternStart[k])
            pairs += nnz * (nnz + 1) / 2 + nnz
        }
        self.featureNames = featureNames
        self.rowCount = n
        self.patternCount = m
        self.rowPattern = rowPattern
        self.stride = Kernels.paddedLength(m)
        self.storage = []
        self.sparseColumns = columns
        self.sparseStart = patternStart
        self.sparseEntries = SparseEntries(feature: patternFeature, value: patternValue)
        self.nonzeroCount = colPattern.count
        self.firstDifferent = firstDifferent
        self.layout = SolverLayout(storage: [], stride: Kernels.paddedLength(m), patternCount: m, featureCount: 0, sparsePairs: pairs)
    }

    /// The derived views (sparse rows, first differing patterns, the solver's layout) of distinct patterns.
    private init(featureNames: [String], rowPattern: [Int32], storage: [Double], patternCount m: Int, sparseRows: Bool) {
        let p = featureNames.count
        let stride = Kernels.paddedLength(m)
        precondition(storage.count == p * stride, "storage must be padded to the stride")
        // Compressed sparse rows: the row starts now, the entries on first use.
        var sparseStart = [Int32](repeating: 0, count: m + 1)
        storage.withUnsafeBufferPointer { xs in
            sparseStart.withUnsafeMutableBufferPointer { start in
                for j in 0..<p {
                    for k in 0..<m where xs[j * stride + k] != 0 { start[k + 1] += 1 }
                }
                for k in 0..<m { start[k + 1] += start[k] }
            }
        }
        let entries = SparseEntries(storage: storage, stride: stride, start: sparseStart, featureCount: p)
        if sparseRows || Double(sparseStart[m]) <= Self.sparseDensity * Double(m * p) { _ = entries.get() }
        var pairs = 0
        for k in 0..<m {
            let nnz = Int(sparseStart[k + 1] - sparseStart[k])
            pairs += nnz * (nnz + 1) / 2 + nnz
        }
        var firstDifferent = [Int32](repeating: -1, count: p)
        for j in 0..<p where m > 0 {
            let first = storage[j * stride]
            for k in 1..<max(m, 1) where storage[j * stride + k] != first { firstDifferent[j] = Int32(k); break }
        }
        self.featureNames = featureNames
        self.nonzeroCount = Int(sparseStart[m])
        self.rowCount = rowPattern.count
        self.firstDifferent = firstDifferent
        self.layout = SolverLayout(storage: storage, stride: stride, patternCount: m, featureCount: p, sparsePairs: pairs)
        self.sparseStart = sparseStart
        self.sparseEntries = entries
        self.patternCount = m
        self.stride = stride
        self.storage = storage
        self.sparseColumns = nil
        self.rowPattern = rowPattern
    }

    /// Value of feature `feature` in pattern `pattern`.
    @inlinable public func value(pattern: Int, feature: Int) -> Double {
        if let c = sparseColumns { return c.value(pattern: pattern, feature: feature) }
        return storage[feature * stride + pattern]
    }

    /// Aggregates a 0/1 outcome and optional row weights into per-pattern binomial cells.
    ///
    /// - Parameters:
    ///   - outcome: one value per input row, each 0 or 1.
    ///   - weights: one finite weight >= 0 per input row (a count for subsets and resamples);
    ///     `nil` means every row has weight 1.
    public func cells(outcome: [Double], weights: [Double]? = nil) throws -> BinomialCells {
        guard outcome.count == rowCount else {
            throw LassoError.lengthMismatch(what: "outcome", expected: rowCount, found: outcome.count)
        }
        if let w = weights, w.count != rowCount {
            throw LassoError.lengthMismatch(what: "weights", expected: rowCount, found: w.count)
        }
        var s = [Double](repeating: 0, count: stride)
        var t = [Double](repeating: 0, count: stride)
        for i in 0..<rowCount {
            let y = outcome[i]
            guard y == 0 || y == 1 else { throw LassoError.outcomeNotBinary(row: i, value: y) }
            let w = weights?[i] ?? 1
            guard w.isFinite, w >= 0 else { throw LassoError.invalidWeight(row: i, value: w) }
            let k = Int(rowPattern[i])
            t[k] += w
            s[k] += w * y
        }
        return BinomialCells(successes: s, trials: t, patternCount: patternCount)
    }

    /// Indices of features that are 0 in every pattern with positive weight: a rare feature
    /// absent from a subsample or resample, whose coefficient the data do not identify.
    public func absentFeatures(in cells: BinomialCells) -> [Int] {
        if let c = sparseColumns {
            return (0..<featureCount).filter { j in !(c.start[j]..<c.start[j + 1]).contains { cells.trials[Int(c.pattern[$0])] > 0 } }
        }
        let live = (0..<patternCount).filter { cells.trials[$0] > 0 }
        return (0..<featureCount).filter { j in
            storage.withUnsafeBufferPointer { s in !live.contains { s[j * stride + $0] != 0 } }
        }
    }

    /// Indices of features that take one value in every pattern with positive weight.
    public func constantFeatures(in cells: BinomialCells) -> [Int] {
        if let c = sparseColumns {
            // Weighted patterns with a nonzero value: constant when none, or all of them with one value.
            let live = (0..<patternCount).filter { cells.trials[$0] > 0 }.count
            return (0..<featureCount).filter { j in
                var count = 0
                var first: Double?
                for e in c.start[j]..<c.start[j + 1] where cells.trials[Int(c.pattern[e])] > 0 {
                    count += 1
                    if let f = first { if f != c.value[e] { return false } } else { first = c.value[e] }
                }
                return count == 0 || count == live
            }
        }
        return (0..<featureCount).filter { j in
            var first: Double?
            for k in 0..<patternCount where cells.trials[k] > 0 {
                let v = value(pattern: k, feature: j)
                if let f = first { if f != v { return false } } else { first = v }
            }
            return true
        }
    }

    /// Groups (of two or more) of features whose columns are identical in every pattern.
    ///
    /// The lasso cannot tell identical columns apart: it may split their effect in any
    /// proportion, so callers should refuse or drop duplicates before fitting.
    public func duplicateFeatureGroups() -> [[Int]] {
        // Columns hashed (O(patterns x features)), then compared only within equal hashes:
        // comparing every pair would cost features^2, hours at 100,000 features.
        let hashes: [UInt64] = (0..<featureCount).map { j in
            var h: UInt64 = 0x9E37_79B9_7F4A_7C15
            if let c = sparseColumns {
                for e in c.start[j]..<c.start[j + 1] { h = Self.mix(h, UInt64(c.pattern[e]), c.value[e]) }
            } else {
                for k in 0..<patternCount where storage[j * stride + k] != 0 { h = Self.mix(h, UInt64(k), storage[j * stride + k]) }
            }
            return h
        }
        var buckets: [UInt64: [Int]] = [:]
        for j in 0..<featureCount { buckets[hashes[j], default: []].append(j) }
        func equal(_ a: Int, _ b: Int) -> Bool {
            if let c = sparseColumns {
                guard c.start[a + 1] - c.start[a] == c.start[b + 1] - c.start[b] else { return false }
                let (sa, sb) = (c.start[a], c.start[b])
                for e in 0..<(c.start[a + 1] - sa) where c.pattern[sa + e] != c.pattern[sb + e] || c.value[sa + e] != c.value[sb + e] {
                    return false
                }
                return true
            }
            for k in 0..<patternCount where storage[a * stride + k] != storage[b * stride + k] { return false }
            return true
        }
        var groups: [[Int]] = []
        var assigned = [Bool](repeating: false, count: featureCount)
        for a in 0..<featureCount where !assigned[a] {
            guard let bucket = buckets[hashes[a]], bucket.count > 1 else { continue }
            var group = [a]
            for b in bucket where b > a && !assigned[b] && equal(a, b) {
                group.append(b)
                assigned[b] = true
            }
            if group.count > 1 { groups.append(group) }
        }
        return groups
    }

    /// Numbers the rows' patterns by first appearance: an open-addressing table from row hash to
    /// pattern, rows compared (`same`) only on equal hashes. Returns each row's pattern and each
    /// pattern's first row.
    static func patterns(hashes: [UInt64], same: (Int, Int) -> Bool) -> (rowPattern: [Int32], firstRow: [Int32]) {
        let n = hashes.count
        var capacity = 16
        while capacity < 2 * max(n, 1) { capacity <<= 1 }
        let mask = capacity - 1
        var slots = [Int32](repeating: -1, count: capacity)
        var firstRow: [Int32] = []
        var rowPattern = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            var h = hashes[i]
            h ^= h >> 33; h &*= 0xFF51_AFD7_ED55_8CCD; h ^= h >> 33
            var slot = Int(truncatingIfNeeded: h) & mask
            while true {
                let k = slots[slot]
                if k < 0 {
                    slots[slot] = Int32(firstRow.count)
                    rowPattern[i] = Int32(firstRow.count)
                    firstRow.append(Int32(i))
                    break
                }
                let first = Int(firstRow[Int(k)])
                if hashes[first] == hashes[i] && same(first, i) { rowPattern[i] = k; break }
                slot = (slot + 1) & mask
            }
        }
        return (rowPattern, firstRow)
    }

    /// One step of the hash of a column's nonzero entries.
    @inline(__always) static func mix(_ h: UInt64, _ k: UInt64, _ v: Double) -> UInt64 {
        var x = h ^ (k &* 0xFF51_AFD7_ED55_8CCD) ^ ((v + 0.0).bitPattern &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2))
        x ^= x >> 33
        return x &* 0xC4CE_B9FE_1A85_EC53
    }
}

/// Per-pattern weighted outcome counts: the response of a logistic fit on a ``CompressedDesign``.
///
/// `trials[k]` is the total weight of rows in pattern `k`, `successes[k]` the weight of those
/// with outcome 1. Arrays are padded with zeros to the design's stride.
public struct BinomialCells: Sendable, Equatable {
    /// Weighted count of outcome-1 rows per pattern.
    public var successes: [Double]
    /// Weighted count of all rows per pattern.
    public var trials: [Double]
    /// Number of real (unpadded) patterns.
    public let patternCount: Int

    /// Creates cells directly (e.g. from a bootstrap draw); arrays must share the design's stride.
    public init(successes: [Double], trials: [Double], patternCount: Int) {
        precondition(successes.count == trials.count && patternCount <= trials.count)
        self.successes = successes
        self.trials = trials
        self.patternCount = patternCount
    }

    /// Sum of all weights (eight interleaved partial sums: fast, deterministic).
    public var totalWeight: Double { Kernels.total(trials) }
    /// Sum of the weights of outcome-1 rows.
    public var totalSuccesses: Double { Kernels.total(successes) }
    /// Number of patterns with positive weight.
    public var activePatternCount: Int { trials.lazy.filter { $0 > 0 }.count }
}

/// The nonzero entries of a design's patterns in row order (features ascending in each row),
/// built once, on first use, by whichever thread asks first.
final class SparseEntries: Sendable {
    private let storage: [Double], stride: Int, start: [Int32], featureCount: Int
    /// The entries, once built (a class: one reference in the lock).
    private final class Built: Sendable {
        let feature: [Int32], value: [Double]
        init(feature: [Int32], value: [Double]) { (self.feature, self.value) = (feature, value) }
    }
    private let built = Mutex<Built?>(nil)

    init(storage: [Double], stride: Int, start: [Int32], featureCount: Int) {
        (self.storage, self.stride, self.start, self.featureCount) = (storage, stride, start, featureCount)
    }

    /// Entries already built (a design held as sparse columns).
    init(feature: [Int32], value: [Double]) {
        (self.storage, self.stride, self.start, self.featureCount) = ([], 0, [], 0)
        built.withLock { $0 = Built(feature: feature, value: value) }
    }

    func get() -> (feature: [Int32], value: [Double]) {
        built.withLock { entries in
            if let entries { return (entries.feature, entries.value) }
            let m = start.count - 1, nnz = Int(start[m]), p = featureCount, stride = stride
            var feature = [Int32](repeating: 0, count: nnz)
            var value = [Double](repeating: 0, count: nnz)
            var cursor = Array(start.prefix(max(m, 1)))
            storage.withUnsafeBufferPointer { xs in
                feature.withUnsafeMutableBufferPointer { feature in
                    value.withUnsafeMutableBufferPointer { value in
                        cursor.withUnsafeMutableBufferPointer { next in
                            for j in 0..<p {
                                for k in 0..<m where xs[j * stride + k] != 0 {
                                    let at = Int(next[k])
                                    feature[at] = Int32(j)
                                    value[at] = xs[j * stride + k]
                                    next[k] += 1
                                }
                            }
                        }
                    }
                }
            }
            entries = Built(feature: feature, value: value)
            return (feature, value)
        }
    }
}

/// A design's nonzero values by feature (compressed sparse columns over the patterns).
@usableFromInline struct SparseColumns: Sendable {
    /// Feature `j`'s entries are `[start[j], start[j + 1])`.
    @usableFromInline let start: [Int]
    /// Pattern of each entry, ascending within a feature.
    @usableFromInline let pattern: [Int32]
    /// Value of each entry (never 0).
    @usableFromInline let value: [Double]

    /// Feature `j`'s value in pattern `k` (binary search; 0 when absent).
    @usableFromInline func value(pattern k: Int, feature j: Int) -> Double {
        var low = start[j], high = start[j + 1]
        while low < high {
            let mid = (low + high) / 2
            let q = Int(pattern[mid])
            if q == k { return value[mid] }
            if q < k { low = mid + 1 } else { high = mid }
        }
        return 0
    }

    /// `eta += b x_j` over the patterns.
    @inline(__always) func addColumn(_ j: Int, times b: Double, to eta: UnsafeMutablePointer<Double>) {
        for e in start[j]..<start[j + 1] { eta[Int(pattern[e])] += b * value[e] }
    }

    /// `x_j' v` over the patterns.
    @inline(__always) func dot(_ j: Int, _ v: UnsafePointer<Double>) -> Double {
        var s = 0.0
        for e in start[j]..<start[j + 1] { s += value[e] * v[Int(pattern[e])] }
        return s
    }
}

/// Hands the free pages of the C heap back to the system (glibc's `malloc_trim`): blocks
/// freed in the middle of a heap otherwise stay resident, so a design built while its input
/// columns are released would still peak at two copies. A no-op where there is no such call.
enum FreedPages {
    static func release() {
        #if canImport(Glibc)
        // Looked up at run time: the call is glibc's, not in the C library's Swift module.
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
        #endif
    }
}

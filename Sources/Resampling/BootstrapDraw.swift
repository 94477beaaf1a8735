/// Bootstrap resamples expressed as counts over cells of identical rows.
///
/// A data set of n rows whose rows fall into cells (distinct covariate and outcome patterns) is
/// resampled by drawing how many of the n resampled rows land in each cell: a multinomial draw
/// that costs O(cells) instead of O(n), and that the cell-weighted fit consumes directly.
public enum BootstrapDraw {
    /// Draws `total` rows with replacement (default: the sum of `counts`) from a data set whose
    /// rows fall into cells of sizes `counts`, and returns how many resampled rows each cell got.
    ///
    /// Sequential conditional binomials in cell order: cell i receives
    /// Binomial(rows not yet drawn, counts[i] / (counts[i] + counts[i+1] + ...)), each drawn
    /// exactly (``binomial(trials:probability:stream:)``); the last nonempty cell takes the rest.
    /// Cells with count 0 get 0 and consume no random numbers. The result depends only on the
    /// inputs and the stream's state. Negative counts or total, or a positive total with no rows,
    /// are programming errors and trap.
    public static func multinomial(counts: [Int], total: Int? = nil, stream: inout RandomStream) -> [Int] {
        var result = [Int](repeating: 0, count: counts.count)
        multinomial(counts: counts, total: total, stream: &stream, into: &result)
        return result
    }

    /// Same as ``multinomial(counts:total:stream:)`` but writes into `result` (resized to
    /// `counts.count`), so a loop over thousands of resamples reuses one buffer.
    public static func multinomial(counts: [Int], total: Int? = nil, stream: inout RandomStream, into result: inout [Int]) {
        var mass = 0
        for c in counts {
            precondition(c >= 0, "cell counts must be >= 0")
            mass += c
        }
        var left = total ?? mass
        precondition(left >= 0, "the number of rows to draw must be >= 0")
        precondition(left == 0 || mass > 0, "cannot draw rows from an empty data set")
        if result.count != counts.count {
            result = [Int](repeating: 0, count: counts.count)
        }
        counts.withUnsafeBufferPointer { cnt in
            result.withUnsafeMutableBufferPointer { out in
                for i in 0..<cnt.count {
                    let c = cnt[i]
                    if left == 0 || c == 0 {
                        out[i] = 0
                        mass -= c
                        continue
                    }
                    let x: Int
                    if c >= mass {
                        x = left
                    } else {
                        x = BinomialSampler.sample(trials: left, probability: Double(c) / Double(mass), stream: &stream)
                    }
                    out[i] = x
                    left -= x
                    mass -= c
                }
            }
        }
    }

    /// One exact Binomial(`trials`, `probability`) variate: inversion when the mode is below 11,
    /// Hörmann's BTRD (1993) transformed rejection otherwise; p > 1/2 uses the mirror image.
    ///
    /// Exposed for simulations and tests; the multinomial draw is built on it.
    public static func binomial(trials: Int, probability: Double, stream: inout RandomStream) -> Int {
        BinomialSampler.sample(trials: trials, probability: probability, stream: &stream)
    }

    /// Turns an externally given resample (0-based row indices, e.g. one row of a scipy or R
    /// index matrix, R's shifted by 1) into per-cell counts, so its interval can be replayed.
    ///
    /// - Parameters:
    ///   - rows: the resampled row indices, repeats allowed.
    ///   - rowCell: the cell of every original row (e.g. `CompressedDesign.rowPattern` combined
    ///     with the outcomes).
    ///   - cellCount: the number of cells.
    /// - Throws: ``ResamplingError/rowOutOfRange(position:row:rowCount:)`` or
    ///   ``ResamplingError/cellOutOfRange(row:cell:cellCount:)``.
    public static func fromIndices(_ rows: [Int], rowCell: [Int32], cellCount: Int) throws -> [Int] {
        var counts = [Int](repeating: 0, count: max(cellCount, 0))
        for (position, row) in rows.enumerated() {
            guard row >= 0 && row < rowCell.count else {
                throw ResamplingError.rowOutOfRange(position: position, row: row, rowCount: rowCell.count)
            }
            let cell = Int(rowCell[row])
            guard cell >= 0 && cell < counts.count else {
                throw ResamplingError.cellOutOfRange(row: row, cell: cell, cellCount: cellCount)
            }
            counts[cell] += 1
        }
        return counts
    }
}

/// Cross-validation fold assignments.
public enum Folds {
    /// Assigns every row a fold in `0..<k`, stratified by `strata` (one label per original row,
    /// e.g. the outcome, or a code for a combination of outcomes).
    ///
    /// The deal starts at a fold drawn from `stream`; strata are then visited in ascending label
    /// order, and within a stratum the rows (in original order) are shuffled by Fisher-Yates with
    /// `stream` and dealt round-robin, continuing where the previous stratum stopped. So fold
    /// sizes differ by at most one within every stratum and overall, every row is equally likely
    /// to land in every fold, and the result is deterministic for a given stream.
    ///
    /// - Throws: ``ResamplingError/invalidFoldCount(k:rows:)`` when `k < 2` or `k` exceeds the
    ///   number of rows.
    public static func stratified(strata: [Int], k: Int, stream: inout RandomStream) throws -> [Int] {
        let n = strata.count
        guard k >= 2 && k <= n else { throw ResamplingError.invalidFoldCount(k: k, rows: n) }
        // Group the rows by stratum (counting sort keyed by the rank of the label).
        let labels = Array(Set(strata)).sorted()
        var rank = [Int: Int](minimumCapacity: labels.count)
        for (i, label) in labels.enumerated() { rank[label] = i }
        var start = [Int](repeating: 0, count: labels.count + 1)
        var rowRank = [Int](repeating: 0, count: n)
        for (row, label) in strata.enumerated() {
            let r = rank[label]!
            rowRank[row] = r
            start[r + 1] += 1
        }
        for i in 0..<labels.count { start[i + 1] += start[i] }
        var fill = start
        var order = [Int](repeating: 0, count: n)
        for row in 0..<n {
            order[fill[rowRank[row]]] = row
            fill[rowRank[row]] += 1
        }
        var fold = [Int](repeating: 0, count: n)
        var next = stream.nextIndex(below: k)
        for s in 0..<labels.count {
            let lo = start[s]
            let hi = start[s + 1]
            var i = hi - lo - 1
            while i > 0 {
                let j = stream.nextIndex(below: i + 1)
                order.swapAt(lo + i, lo + j)
                i -= 1
            }
            for position in lo..<hi {
                fold[order[position]] = next
                next = next + 1 == k ? 0 : next + 1
            }
        }
        return fold
    }
}

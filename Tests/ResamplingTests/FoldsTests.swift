import Testing

@testable import Resampling

@Suite("Stratified fold assignment")
struct FoldsTests {
    func sizes(_ folds: [Int], k: Int, rows: some Sequence<Int>) -> [Int] {
        var c = [Int](repeating: 0, count: k)
        for r in rows { c[folds[r]] += 1 }
        return c
    }

    @Test(arguments: [2, 3, 5, 10])
    func balancedWithinStrataAndOverall(k: Int) throws {
        // Two outcomes combined into one label (y1 * 2 + y2): four strata of unequal size.
        var gen = RandomStream(seed: 99, purpose: .simulation, index: 0)
        let strata = (0..<503).map { _ in (gen.nextUniform() < 0.3 ? 2 : 0) + (gen.nextUniform() < 0.1 ? 1 : 0) }
        var s = RandomStream(seed: 1, purpose: .folds, index: 0)
        let folds = try Folds.stratified(strata: strata, k: k, stream: &s)
        #expect(folds.count == strata.count)
        #expect(folds.allSatisfy { (0..<k).contains($0) })
        let overall = sizes(folds, k: k, rows: folds.indices)
        #expect(overall.max()! - overall.min()! <= 1)
        for label in Set(strata) {
            let per = sizes(folds, k: k, rows: strata.indices.filter { strata[$0] == label })
            #expect(per.max()! - per.min()! <= 1, "stratum \(label): \(per)")
        }
        // Deterministic for the stream; a different stream gives a different assignment.
        var again = RandomStream(seed: 1, purpose: .folds, index: 0)
        #expect(try Folds.stratified(strata: strata, k: k, stream: &again) == folds)
        var other = RandomStream(seed: 1, purpose: .folds, index: 1)
        #expect(try Folds.stratified(strata: strata, k: k, stream: &other) != folds)
    }

    /// Every row is equally likely to land in every fold.
    @Test func assignmentIsUniform() throws {
        let strata = (0..<20).map { $0 % 3 == 0 ? 1 : 0 }
        let k = 4
        var hist = [[Int]](repeating: [Int](repeating: 0, count: k), count: strata.count)
        let reps = 4000
        for r in 0..<reps {
            var s = RandomStream(seed: 8, purpose: .nestedFolds, index: UInt64(r))
            let f = try Folds.stratified(strata: strata, k: k, stream: &s)
            for (row, fold) in f.enumerated() { hist[row][fold] += 1 }
        }
        for row in [0, 1, 2, 19] {
            let e = Double(reps) / Double(k)
            let chi = hist[row].reduce(0.0) { $0 + (Double($1) - e) * (Double($1) - e) / e }
            #expect(chi < Stat.chiSquareCritical(df: k - 1), "row \(row): \(hist[row])")
        }
    }

    @Test func labelsNeedNotBeContiguous() throws {
        let strata = [7, -3, 7, 7, 100, -3, 100, 7]
        var s = RandomStream(seed: 2, purpose: .folds, index: 0)
        let f = try Folds.stratified(strata: strata, k: 2, stream: &s)
        for label in [7, -3, 100] {
            let per = sizes(f, k: 2, rows: strata.indices.filter { strata[$0] == label })
            #expect(per.max()! - per.min()! <= 1)
        }
        var t = RandomStream(seed: 2, purpose: .folds, index: 0)
        #expect(try Folds.stratified(strata: [0, 0, 0], k: 3, stream: &t).sorted() == [0, 1, 2])
    }

    @Test func invalidFoldCounts() {
        var s = RandomStream(seed: 2, purpose: .folds, index: 0)
        #expect(throws: ResamplingError.invalidFoldCount(k: 1, rows: 5)) { try Folds.stratified(strata: [0, 1, 0, 1, 0], k: 1, stream: &s) }
        #expect(throws: ResamplingError.invalidFoldCount(k: 6, rows: 5)) { try Folds.stratified(strata: [0, 1, 0, 1, 0], k: 6, stream: &s) }
        #expect(throws: ResamplingError.invalidFoldCount(k: 2, rows: 0)) { try Folds.stratified(strata: [], k: 2, stream: &s) }
        #expect(ResamplingError.invalidFoldCount(k: 6, rows: 5).description.contains("between 2 and the number of rows"))
    }
}

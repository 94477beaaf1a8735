import Analysis
import Foundation
import Testing

/// The parsed-dataset cache a worker keeps between runs.
@Suite("Dataset cache between runs")
struct DatasetCacheTests {
    /// The report of `spec` prepared with `cache`.
    func report(_ spec: RunSpec, _ bytes: Data, cache: DatasetCache?) throws -> String {
        let data = try RunData(spec: spec, csvBytes: bytes, hash: "h", cache: cache)
        let executor = TaskExecutor(data: data)
        let results = try LocalRunner(executor: executor, threads: 2).run()
        return Render.json(try Aggregation.report(data: data, executor: executor, results: results, software: "test"))
    }

    @Test(
        "a second run on the same data and data section reads nothing and gives the report of an uncached run; another data section or too small a budget parses again"
    )
    func hitsAndMisses() throws {
        let job = try TemporaryJob(spec: TemporaryJob.standardSpec)
        defer { job.remove() }
        let bytes = try Data(contentsOf: job.directory.appendingPathComponent("data.csv"))
        let first = try RunSpec.load(path: job.specPath)
        let text = try String(contentsOfFile: job.specPath, encoding: .utf8)
        func spec(_ edit: (String) -> String) throws -> RunSpec {
            try RunSpec.parse(Data(edit(text).utf8), source: job.specPath, baseDirectory: job.directory.path)
        }
        let otherSeed = try spec { $0.replacingOccurrences(of: "\"seed\": 11", with: "\"seed\": 12") }
        let otherData = try spec { $0.replacingOccurrences(of: "\"missingTokens\": [\"Unknown\"]", with: "\"missingTokens\": []") }

        let cache = DatasetCache(budget: 64 << 20)
        let a = try report(first, bytes, cache: cache)
        #expect(cache.counts.hits == 0 && cache.counts.misses == 1)
        let b = try report(otherSeed, bytes, cache: cache)
        #expect(cache.counts.hits == 1 && cache.counts.misses == 1)
        #expect(cache.heldBytes > 0)
        // The cached preparation gives the very report an uncached one does.
        #expect(a == (try report(first, bytes, cache: nil)))
        #expect(b == (try report(otherSeed, bytes, cache: nil)))
        #expect(a != b)
        // Another data section is another entry.
        _ = try RunData(spec: otherData, csvBytes: bytes, hash: "h", cache: cache)
        #expect(cache.counts.misses == 2)

        let tiny = DatasetCache(budget: 1024)
        _ = try RunData(spec: first, csvBytes: bytes, hash: "h", cache: tiny)
        _ = try RunData(spec: first, csvBytes: bytes, hash: "h", cache: tiny)
        #expect(tiny.counts.hits == 0 && tiny.counts.misses == 2 && tiny.heldBytes == 0)
    }
}

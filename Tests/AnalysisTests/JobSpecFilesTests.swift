import Analysis
import Foundation
import Testing

/// The shipped job specs (`jobs/*.json`) and the data they name.
private enum JobFiles {
    /// Repository root: Tests/AnalysisTests/<this file> -> ../..
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let jobs = root.appendingPathComponent("jobs")
    /// `../shared/data`, where the real CTDC files live (never committed).
    static let sharedData = root.deletingLastPathComponent().appendingPathComponent("shared/data")

    static func job(_ name: String) -> String { jobs.appendingPathComponent(name).path }
    static func shared(_ name: String) -> String { sharedData.appendingPathComponent(name).path }
    static func present(_ name: String) -> Bool { FileManager.default.fileExists(atPath: shared(name)) }

    /// Every `jobs/*.json` file name, sorted.
    static var specNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: jobs.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    static let northAmerica = "madiforman_CTDC_analysis_final_data.csv"
    static let raw2017 = "ctdc_global_dataset_27nov2017_sure2018.csv"
}

/// What `scripts/make_demo_data.py` wrote next to the demo data (`jobs/demo/expected.json`).
private struct DemoExpectation: Decodable {
    struct Dropped: Decodable { let rule: String; let rows: Int }
    let seed: UInt64
    let rowsRead: Int
    let rowsKept: Int
    let dropped: [Dropped]
    let featureNames: [String]
    let patterns: Int
    let outcomePositives: [String: Int]
    let featureSums: [String: Double]
    let truth: [String: [String: Double]]

    static func load() throws -> DemoExpectation {
        let path = JobFiles.jobs.appendingPathComponent("demo/expected.json").path
        let bytes = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
        return try JSONDecoder().decode(DemoExpectation.self, from: bytes)
    }
}

@Suite("jobs/*.json: the shipped job specs")
struct JobSpecFilesTests {
    @Test("the jobs directory holds the specs the project ships")
    func shippedSpecs() {
        let names = JobFiles.specNames
        for required in ["ctdc-north-america.json", "ctdc-2017-us.json", "demo.json"] {
            #expect(names.contains(required), "jobs/\(required) is missing; found \(names)")
        }
    }

    @Test("every jobs/*.json parses, and its data path resolves where it should", arguments: JobFiles.specNames)
    func parses(name: String) throws {
        let spec = try RunSpec.load(path: JobFiles.job(name))
        #expect(!spec.name.isEmpty)
        #expect(!spec.description.isEmpty, "describe what the job is in its \"description\"")
        #expect(!spec.data.features.isEmpty && !spec.data.outcomes.isEmpty)
        let csv = URL(fileURLWithPath: spec.data.csv).standardized.path
        if csv.hasPrefix(JobFiles.jobs.standardized.path + "/") {
            // Committed data: must be there.
            #expect(FileManager.default.fileExists(atPath: csv), "\(name) names \(csv), which is not committed")
        } else {
            // Real data is never committed: it must be read from ../shared/data.
            #expect(csv.hasPrefix(JobFiles.sharedData.standardized.path + "/"), "\(name) reads \(csv), outside jobs/ and ../shared/data")
        }
    }

    @Test("the demo spec is small and quick: committed data under 300 KB, 499 resamples by default")
    func demoIsSmall() throws {
        let spec = try RunSpec.load(path: JobFiles.job("demo.json"))
        let size = try FileManager.default.attributesOfItem(atPath: spec.data.csv)[.size] as? Int ?? .max
        #expect(size < 300_000)
        #expect(spec.bootstrap.resamples == 499)
        #expect(spec.seed == (try DemoExpectation.load()).seed)
    }

    @Test("the demo data encode to the rows, features and patterns the generator made")
    func demoEncoding() throws {
        let expected = try DemoExpectation.load()
        let spec = try RunSpec.load(path: JobFiles.job("demo.json"))
        let data = try RunData.load(spec: spec)
        let e = data.encoded
        #expect(e.rowsRead == expected.rowsRead)
        #expect(e.rowCount == expected.rowsKept)
        #expect(e.featureNames == expected.featureNames)
        #expect(Set(expected.truth.keys) == Set(["const"] + expected.featureNames))
        #expect(data.design.patternCount == expected.patterns)
        var groups: [String] = []
        for g in e.featureGroups where groups.last != g { groups.append(g) }
        #expect(groups == ["Demographics", "Means of control", "Recruiter relation"])
        for (j, name) in e.featureNames.enumerated() {
            #expect(e.columns[j].reduce(0, +) == expected.featureSums[name], "column sum of '\(name)'")
        }
        for (k, name) in e.outcomeNames.enumerated() {
            #expect(Int(e.outcomes[k].reduce(0, +)) == expected.outcomePositives[name], "positives of \(name)")
        }
    }

    @Test("the demo's dropped-row accounting matches the generator's: country filter, then the denominator rule")
    func demoRowAccounting() throws {
        let expected = try DemoExpectation.load()
        let data = try RunData.load(spec: try RunSpec.load(path: JobFiles.job("demo.json")))
        let dropped = data.encoded.dropped
        #expect(dropped.map(\.rows) == expected.dropped.map(\.rows))
        #expect(dropped.count == 2)
        if dropped.count == 2 {
            #expect(dropped[0].reason.contains("CountryOfExploitation"))
            #expect(dropped[1].reason.contains("isOtherExploit"))
        }
        #expect(data.encoded.rowCount + dropped.map(\.rows).reduce(0, +) == expected.rowsRead)
    }

    @Test(
        "ctdc-north-america.json loads the cleaned v2025 table",
        .enabled(
            if: JobFiles.present(JobFiles.northAmerica),
            "skipped: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent (see ../shared/data/SOURCES.md)"))
    func northAmerica() throws {
        let data = try RunData.load(spec: try RunSpec.load(path: JobFiles.job("ctdc-north-america.json")))
        #expect(data.encoded.rowsRead == 91_043)
        #expect(data.rowCount == 91_043)
        #expect(data.encoded.featureNames.count == 17)
        #expect(data.design.patternCount == 4_517)
        // SOURCES.md: sexual only 67,296; labour only 18,484; both 5,194; other only 65; labour + other 4.
        #expect(Int(data.encoded.outcomes[0].reduce(0, +)) == 18_484 + 5_194 + 4)
        #expect(Int(data.encoded.outcomes[1].reduce(0, +)) == 67_296 + 5_194)
    }

    @Test(
        "ctdc-2017-us.json cleans the raw Nov 2017 layout: US rows, denominator rule, 24 features",
        .enabled(
            if: JobFiles.present(JobFiles.raw2017),
            "skipped: ../shared/data/ctdc_global_dataset_27nov2017_sure2018.csv is absent (see ../shared/data/SOURCES.md)"))
    func raw2017() throws {
        let data = try RunData.load(spec: try RunSpec.load(path: JobFiles.job("ctdc-2017-us.json")))
        let e = data.encoded
        #expect(e.rowsRead == 47_102)
        #expect(e.rowCount == 10_718)
        // 36,384 rows are not exploited in the US (11,688 of them have no country: "Missing");
        // every US row carries information on the type of exploitation.
        #expect(e.dropped.map(\.rows) == [36_384, 0])
        #expect(e.featureNames.count == 3 + 17 + 4)
        #expect(e.featureNames.prefix(3) == ["Age Band", "Is Citizen of Country", "Woman"])
        // No detailed means of control is constant among the kept rows.
        for (j, name) in e.featureNames.enumerated() {
            let ones = e.columns[j].filter { $0 != 0 }.count
            #expect(ones > 0 && ones < e.rowCount, "'\(name)' has no variation")
        }
        func sum(_ name: String) -> Double? { e.featureNames.firstIndex(of: name).map { e.columns[$0].reduce(0, +) } }
        #expect(sum("Woman") == 10_051)  // gender == "Female"
        #expect(sum("Is Citizen of Country") == 3_007)  // citizenship == "US"
        #expect(sum("Age Band") == 18_712)  // 1...9, with empty and "Unknown" as 0
        #expect(sum("Means Excessive Working Hours") == 120)
        #expect(sum("Recruiter Relation Intimate Partner") == 1_136)
        // 793 US rows are "other exploitation" only: both outcomes are empty there and count as 0.
        #expect(Int(e.outcomes[0].reduce(0, +)) == 495)
        #expect(Int(e.outcomes[1].reduce(0, +)) == 9_453)
    }
}

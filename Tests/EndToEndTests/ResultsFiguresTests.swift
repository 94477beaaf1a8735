import Foundation
import Testing

@Suite("lassoboot results: the HTML report and figures from a coordinator")
struct ResultsFiguresTests {
    @Test("results --format html and --out give the same page and SVG files as lassoboot run, byte for byte")
    func sameFiguresAsRun() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let local = dir.appendingPathComponent("local").path
        let run = try await cli(["run", Binary.job, "--resamples", "50", "--out", local, "--quiet", "--threads", "2"])
        try #require(run.status == 0, "\(run.output)")

        let coordinator = try await CoordinatorProcess.start(db: dir.appendingPathComponent("c.db").path)
        defer { coordinator.child.kill9() }
        let worker = try Child(
            ["worker", "--coordinator", coordinator.url, "--threads", "2", "--name", "w", "--idle-exit", "30"],
            environment: ["LASSOBOOT_TOKEN": "test-token"])
        defer { worker.kill9() }
        let submit = try await cli(["submit", Binary.job, "--coordinator", coordinator.url, "--resamples", "50", "--wait", "--format", "json"])
        try #require(submit.status == 0, "\(submit.output)")
        let id = runID(submit.output)

        let remote = dir.appendingPathComponent("remote").path
        let html = try await cli(["results", id, "--coordinator", coordinator.url, "--format", "html", "--out", remote])
        try #require(html.status == 0, "\(html.output)")
        let localHTML = try String(contentsOfFile: local + "/report.html", encoding: .utf8)
        #expect(html.output == localHTML, "results --format html prints the page lassoboot run writes")
        let names = try FileManager.default.contentsOfDirectory(atPath: local).filter { $0.hasSuffix(".svg") || $0.hasSuffix(".html") }.sorted()
        #expect(names.contains("report.html") && names.contains("cv.svg") && names.filter { $0.hasPrefix("forest-") }.count == 2, "\(names)")
        for name in names {
            let a = try Data(contentsOf: URL(fileURLWithPath: local + "/" + name))
            let b = try Data(contentsOf: URL(fileURLWithPath: remote + "/" + name))
            #expect(a == b, "\(name) differs between lassoboot run --out and lassoboot results --out")
        }
    }
}

import Foundation
import Testing

@Suite("Coordinator and workers as real processes on loopback", .serialized)
struct DistributedTests {
    /// The reference: `lassoboot run` in one process.
    static func localReport(_ dir: URL, resamples: Int) async throws -> (csv: String, json: String) {
        let out = dir.appendingPathComponent("local").path
        let r = try await cli(["run", Binary.job, "--resamples", "\(resamples)", "--out", out, "--quiet", "--threads", "2"])
        #expect(r.status == 0, "\(r.output)")
        return (try String(contentsOfFile: out + "/report.csv", encoding: .utf8), try String(contentsOfFile: out + "/report.json", encoding: .utf8))
    }

    /// The run's state (`running`, `done`, `failed`, `cancelled`) from `status --json`.
    func state(_ run: String, _ url: String) async throws -> String {
        let r = try await cli(["status", run, "--coordinator", url, "--json"])
        guard r.status == 0, let line = r.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return "unreachable" }
        return object["state"] as? String ?? "?"
    }

    /// Reports the first differing line when two reports differ.
    func same(_ a: String, _ b: String, _ what: String) {
        guard a != b else { return }
        let x = a.split(separator: "\n", omittingEmptySubsequences: false), y = b.split(separator: "\n", omittingEmptySubsequences: false)
        let i = zip(x, y).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(x.count, y.count)
        let context = x[max(0, i - 3)..<min(x.count, i + 2)].joined(separator: "\n")
        Issue.record("\(what) differs at line \(i + 1): '\(i < x.count ? x[i] : "EOF")' vs '\(i < y.count ? y[i] : "EOF")'\n\(context)")
    }

    func fetch(_ run: String, _ url: String, _ format: String) async throws -> String {
        let r = try await cli(["results", run, "--coordinator", url, "--format", format])
        #expect(r.status == 0, "\(r.output)")
        return r.output
    }

    @Test("the report is byte-identical with 1, 3 and 8 workers and equals lassoboot run's")
    func workerCounts() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let local = try await Self.localReport(dir, resamples: 200)
        for workers in [1, 3, 8] {
            let coordinator = try await CoordinatorProcess.start(db: dir.appendingPathComponent("c\(workers).db").path)
            defer { coordinator.child.kill9() }
            let pool = try (0..<workers).map { i in
                try Child(
                    ["worker", "--coordinator", coordinator.url, "--threads", "1", "--name", "w\(i)", "--idle-exit", "30"],
                    environment: ["LASSOBOOT_TOKEN": "test-token"])
            }
            defer { pool.forEach { $0.kill9() } }
            let submit = try await cli(["submit", Binary.job, "--coordinator", coordinator.url, "--resamples", "200", "--wait", "--format", "csv"])
            #expect(submit.status == 0, "\(submit.output)")
            let id = runID(submit.output)
            #expect(try await fetch(id, coordinator.url, "csv") == local.csv, "\(workers) workers")
            #expect(try await fetch(id, coordinator.url, "json") == local.json, "\(workers) workers")
            let status = try await cli(["status", "--coordinator", coordinator.url])
            let seen = Set((0..<workers).filter { status.output.contains("worker w\($0) ") })
            #expect(seen.count == workers, "every worker registered: \(status.output)")
        }
    }

    @Test("stability selection tasks run on workers: the report (selection probabilities included) is byte-identical to lassoboot run's")
    func stabilityDistributed() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The replay job with stability selection, its data path made absolute.
        var spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Binary.job))) as! [String: Any]
        var data = spec["data"] as! [String: Any]
        data["csv"] = Binary.repoRoot.appendingPathComponent("Tests/Fixtures/run_replay_data.csv").path
        spec["data"] = data
        spec["stability"] = ["pairs": 10, "batch": 2, "q": 2]
        let job = dir.appendingPathComponent("stability.json").path
        try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]).write(to: URL(fileURLWithPath: job))
        let out = dir.appendingPathComponent("local").path
        let r = try await cli(["run", job, "--resamples", "100", "--out", out, "--quiet", "--threads", "2"])
        #expect(r.status == 0, "\(r.output)")
        let localJSON = try String(contentsOfFile: out + "/report.json", encoding: .utf8)
        #expect(localJSON.contains("\"pferBound\""))
        let coordinator = try await CoordinatorProcess.start(db: dir.appendingPathComponent("c.db").path)
        defer { coordinator.child.kill9() }
        let pool = try (0..<3).map { i in
            try Child(
                ["worker", "--coordinator", coordinator.url, "--threads", "1", "--name", "s\(i)", "--idle-exit", "30"],
                environment: ["LASSOBOOT_TOKEN": "test-token"])
        }
        defer { pool.forEach { $0.kill9() } }
        let submit = try await cli(["submit", job, "--coordinator", coordinator.url, "--resamples", "100", "--wait", "--format", "csv"])
        #expect(submit.status == 0, "\(submit.output)")
        let id = runID(submit.output)
        same(try await fetch(id, coordinator.url, "json"), localJSON, "report.json")
        same(try await fetch(id, coordinator.url, "csv"), try String(contentsOfFile: out + "/report.csv", encoding: .utf8), "report.csv")
    }

    @Test("workers killed with kill -9 at random moments: leases expire, tasks are re-run, the report is identical")
    func killedWorkers() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let local = try await Self.localReport(dir, resamples: 1000)
        // The default 3 attempts: workers report which leased tasks they started, and leases
        // still in a killed worker's prefetch queue go back without costing an attempt.
        let coordinator = try await CoordinatorProcess.start(db: dir.appendingPathComponent("c.db").path)
        defer { coordinator.child.kill9() }
        func worker(_ name: String) throws -> Child {
            try Child(
                ["worker", "--coordinator", coordinator.url, "--threads", "1", "--name", name, "--heartbeat-seconds", "0.5"],
                environment: ["LASSOBOOT_TOKEN": "test-token"])
        }
        var workers = try (0..<3).map { try worker("k\($0)") }
        let submit = try await cli(["submit", Binary.job, "--coordinator", coordinator.url, "--resamples", "1000"])
        #expect(submit.status == 0, "\(submit.output)")
        let id = runID(submit.output)
        var rng = SystemRandomNumberGenerator()
        var killed = 0
        var rounds = 0
        // While tasks are leased, kill every worker at a random moment (so leases are surely
        // held by dead processes), start fresh ones; three times, then let the run finish.
        for _ in 0..<2000 {
            let status = try await cli(["status", id, "--coordinator", coordinator.url, "--json"])
            let line = status.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init) ?? "{}"
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
            let state = object["state"] as? String ?? "?"
            if state == "done" { break }
            guard state == "running" else {
                Issue.record("run ended as \(state)")
                break
            }
            let leased = ((object["tasks"] as? [String: Any])?["leased"] as? Int) ?? 0
            if rounds < 3 && leased > 0 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...300, using: &rng)))
                for w in workers { w.kill9() }
                killed += workers.count
                rounds += 1
                workers = try (0..<3).map { try worker("k\(rounds)-\($0)") }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        defer { workers.forEach { $0.kill9() } }
        #expect(rounds == 3 && killed == 9)
        // Killed workers held leases: they expired and their tasks were run again.
        #expect(coordinator.child.text.contains("lease(s) expired"), "\(coordinator.child.text)")
        same(try await fetch(id, coordinator.url, "csv"), local.csv, "report.csv")
        same(try await fetch(id, coordinator.url, "json"), local.json, "report.json")
    }

    @Test("coordinator killed with kill -9 mid-run and restarted on the same database: identical report")
    func coordinatorRestart() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let local = try await Self.localReport(dir, resamples: 400)
        let db = dir.appendingPathComponent("c.db").path
        var coordinator = try await CoordinatorProcess.start(db: db)
        let worker = try Child(
            ["worker", "--coordinator", coordinator.url, "--threads", "2", "--name", "w", "--heartbeat-seconds", "0.5"],
            environment: ["LASSOBOOT_TOKEN": "test-token"])
        defer { worker.kill9() }
        let submit = try await cli(["submit", Binary.job, "--coordinator", coordinator.url, "--resamples", "400"])
        let id = runID(submit.output)
        // Let some tasks finish, then kill the coordinator hard.
        for _ in 0..<300 {
            let s = try await cli(["status", id, "--coordinator", coordinator.url])
            if s.output.contains("phase 2") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        coordinator.child.kill9()
        // Restart on the same port so the running worker finds it again (it retries with backoff).
        let port = coordinator.url.split(separator: ":").last.map(String.init)!
        coordinator = try await CoordinatorProcess.start(db: db, extra: ["--port", port])
        defer { coordinator.child.kill9() }
        #expect(await coordinator.child.waitFor("resumed 1 unfinished run", timeout: 10))
        var done = false
        for _ in 0..<1200 {
            if try await state(id, coordinator.url) == "done" { done = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(done)
        #expect(try await fetch(id, coordinator.url, "csv") == local.csv)
        #expect(try await fetch(id, coordinator.url, "json") == local.json)
    }

    @Test("submit --wait prints the run id at once and outlives a coordinator kill -9 and restart: it prints the final report")
    func submitWaitAcrossRestart() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let local = try await Self.localReport(dir, resamples: 400)
        let db = dir.appendingPathComponent("c.db").path
        var coordinator = try await CoordinatorProcess.start(db: db)
        let worker = try Child(
            ["worker", "--coordinator", coordinator.url, "--threads", "1", "--name", "w", "--heartbeat-seconds", "0.5"],
            environment: ["LASSOBOOT_TOKEN": "test-token"])
        defer { worker.kill9() }
        let submit = try Child(
            ["submit", Binary.job, "--coordinator", coordinator.url, "--resamples", "400", "--wait", "--format", "csv"],
            environment: ["LASSOBOOT_TOKEN": "test-token"])
        defer { submit.kill9() }
        // The id comes first, before any waiting.
        #expect(await submit.waitFor(" submitted\n", timeout: 60), "\(submit.text)")
        let id =
            submit.text.split(separator: "\n").first { $0.hasPrefix("run ") && $0.hasSuffix(" submitted") }
            .map { String($0.dropFirst(4).dropLast(10)) } ?? ""
        #expect(id.hasPrefix("run-"), "\(submit.text)")
        coordinator.child.kill9()
        try await Task.sleep(for: .milliseconds(500))
        let port = coordinator.url.split(separator: ":").last.map(String.init)!
        coordinator = try await CoordinatorProcess.start(db: db, extra: ["--port", port])
        defer { coordinator.child.kill9() }
        guard let status = await submit.wait(timeout: 300) else {
            Issue.record("submit --wait did not finish: \(submit.text)")
            return
        }
        #expect(status == 0, "\(submit.text)")
        #expect(submit.text.contains("still waiting for run \(id)"), "the outage was seen and waited out: \(submit.text)")
        #expect(submit.text.contains(local.csv), "the final report is printed: \(submit.text)")
        #expect(runID(submit.text) == id)
    }

    @Test("submit --wait stops with one clear line on a 4xx that is not an outage (a wrong token)")
    func submitWaitStopsOn4xx() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let coordinator = try await CoordinatorProcess.start(db: dir.appendingPathComponent("c.db").path)
        defer { coordinator.child.kill9() }
        let r = try await cli(["submit", Binary.job, "--coordinator", coordinator.url, "--wait"], token: "wrong")
        #expect(r.status != 0 && r.output.contains("rejected the token (401)"), "\(r.output)")
        #expect(r.output.split(separator: "\n").count <= 2, "\(r.output)")
    }

    @Test("one clear line for an unreachable coordinator, a bad token and an unknown run")
    func clientErrors() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unreachable = try await cli(["status", "--coordinator", "http://127.0.0.1:9"])
        #expect(unreachable.status != 0 && unreachable.output.contains("coordinator unreachable"))
        let coordinator = try await CoordinatorProcess.start(db: dir.appendingPathComponent("c.db").path)
        defer { coordinator.child.kill9() }
        let bad = try await cli(["status", "--coordinator", coordinator.url], token: "wrong")
        #expect(bad.status != 0 && bad.output.contains("rejected the token (401)"))
        let unknown = try await cli(["results", "run-nope", "--coordinator", coordinator.url])
        #expect(unknown.status != 0 && unknown.output.contains("404: no run run-nope"))
        #expect(unknown.output.split(separator: "\n").count <= 2)
    }
}

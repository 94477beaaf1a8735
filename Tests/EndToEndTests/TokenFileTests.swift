import Foundation
import Testing

/// Tokens from files (what the Kubernetes and systemd recipes use), client and worker apart.
@Suite("Coordinator tokens from files")
struct TokenFileTests {
    @Test("--token-file and --worker-token-file: the client token runs clients, the worker token runs workers, neither the other")
    func tokenFiles() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let clientFile = dir.appendingPathComponent("client-token"), workerFile = dir.appendingPathComponent("worker-token")
        try "client-secret\n".write(to: clientFile, atomically: true, encoding: .utf8)
        try "worker-secret\n".write(to: workerFile, atomically: true, encoding: .utf8)
        let both = try await cli(
            [
                "coordinator", "--port", "0", "--db", dir.appendingPathComponent("x.db").path, "--token", "c",
                "--worker-token", "w", "--worker-token-file", workerFile.path,
            ], token: nil)
        #expect(both.status != 0 && both.output.contains("not both"), "\(both.output)")
        let empty = dir.appendingPathComponent("empty")
        try "".write(to: empty, atomically: true, encoding: .utf8)
        let bad = try await cli(
            [
                "coordinator", "--port", "0", "--db", dir.appendingPathComponent("x.db").path, "--token", "c",
                "--worker-token-file", empty.path,
            ], token: nil)
        #expect(bad.status != 0 && bad.output.contains("--worker-token-file \(empty.path) is empty"), "\(bad.output)")

        let child = try Child([
            "coordinator", "--port", "0", "--db", dir.appendingPathComponent("c.db").path,
            "--token-file", clientFile.path, "--worker-token-file", workerFile.path,
        ])
        defer { child.kill9() }
        guard await child.waitFor("listening on http://", timeout: 60) else { throw TestFailure("coordinator did not start: \(child.text)") }
        let line = child.text.split(separator: "\n").first { $0.contains("listening on http://") }!
        let url = String(line[line.range(of: "http://")!.lowerBound...])
        let asWorker = try await cli(["status", "--coordinator", url], token: "worker-secret")
        #expect(asWorker.status != 0 && asWorker.output.contains("rejected the token"), "\(asWorker.output)")
        let worker = try Child(["worker", "--coordinator", url, "--threads", "2", "--idle-exit", "30", "--token-file", workerFile.path])
        defer { worker.kill9() }
        let submit = try await cli(
            ["submit", Binary.job, "--coordinator", url, "--resamples", "20", "--wait", "--format", "csv"],
            token: "client-secret")
        #expect(submit.status == 0, "\(submit.output)")
    }
}

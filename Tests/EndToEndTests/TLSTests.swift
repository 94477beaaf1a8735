import Foundation
import Testing

/// HTTPS: the coordinator with `--tls-cert/--tls-key`, clients and workers verifying it.
@Suite("Coordinator over HTTPS", .serialized)
struct TLSTests {
    /// Runs a program to completion, returning its status and output.
    static func run(_ executable: String, _ args: [String]) async throws -> (Int32, String) {
        let child = try Child(args, executable: URL(fileURLWithPath: executable))
        guard let status = await child.wait(timeout: 60) else { child.kill9(); throw TestFailure("\(executable) \(args) hung") }
        return (status, child.text)
    }

    /// A self-signed certificate for 127.0.0.1 (and the key) made with openssl.
    static func certificate(in dir: URL) async throws -> (cert: String, key: String)? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { return nil }
        let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
        let (status, output) = try await run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
        guard status == 0 else { throw TestFailure("openssl failed: \(output)") }
        return (cert, key)
    }

    @Test("HTTPS end to end: plain HTTP and untrusted certificates are refused; a worker trusting the CA runs the job to the local report")
    func https() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let (cert, key) = try await Self.certificate(in: dir) else {
            print("SKIPPED: HTTPS test needs /usr/bin/openssl (apt-get install openssl)")
            return
        }
        // Bad key material is one clear error, not a crash.
        let bad = try await cli([
            "coordinator", "--port", "0", "--db", dir.appendingPathComponent("bad.db").path,
            "--tls-cert", cert, "--tls-key", dir.appendingPathComponent("missing.pem").path,
        ])
        #expect(bad.status != 0 && bad.output.contains("--tls-key") && bad.output.contains("missing.pem"), "\(bad.output)")
        let half = try await cli(["coordinator", "--port", "0", "--db", dir.appendingPathComponent("bad.db").path, "--tls-cert", cert])
        #expect(half.status != 0 && half.output.contains("--tls-cert and --tls-key go together"), "\(half.output)")

        let child = try Child([
            "coordinator", "--port", "0", "--db", dir.appendingPathComponent("c.db").path, "--token", "test-token",
            "--lease-seconds", "3", "--tls-cert", cert, "--tls-key", key,
        ])
        defer { child.kill9() }
        guard await child.waitFor("listening on https://", timeout: 60) else { throw TestFailure("coordinator did not start: \(child.text)") }
        let line = child.text.split(separator: "\n").first { $0.contains("listening on https://") }!
        let url = String(line[line.range(of: "https://")!.lowerBound...])
        let port = url.split(separator: ":").last!

        // The system's CAs do not know this certificate: one clear line.
        let untrusted = try await cli(["status", "--coordinator", url])
        #expect(untrusted.status != 0 && untrusted.output.contains("certificate"), "\(untrusted.output)")
        // Plain HTTP to the HTTPS port gets nothing.
        let plain = try await cli(["status", "--coordinator", "http://127.0.0.1:\(port)"])
        #expect(plain.status != 0, "\(plain.output)")

        // Trusting the certificate: add it to the CA bundle inside a private mount namespace, so
        // the machine's own trust store is untouched.
        let bundle = dir.appendingPathComponent("bundle.crt")
        let system = (try? Data(contentsOf: URL(fileURLWithPath: "/etc/ssl/certs/ca-certificates.crt"))) ?? Data()
        try (system + Data(contentsOf: URL(fileURLWithPath: cert))).write(to: bundle)
        let probe = try await Self.run("/usr/bin/unshare", ["--mount", "sh", "-c", "mount --bind \(bundle.path) /etc/ssl/certs/ca-certificates.crt"])
        guard probe.0 == 0 else {
            print(
                "SKIPPED: the trusted-worker half of the HTTPS test needs root for `unshare --mount` (\(probe.1.trimmingCharacters(in: .whitespacesAndNewlines)))"
            )
            return
        }
        func trusting(_ args: [String]) throws -> Child {
            try Child(
                ["--mount", "sh", "-c", "mount --bind \"$0\" /etc/ssl/certs/ca-certificates.crt && exec \"$@\"", bundle.path, Binary.url.path] + args,
                environment: ["LASSOBOOT_TOKEN": "test-token"], executable: URL(fileURLWithPath: "/usr/bin/unshare"))
        }
        let local = try await DistributedTests.localReport(dir, resamples: 60)
        let worker = try trusting(["worker", "--coordinator", url, "--threads", "2", "--idle-exit", "30"])
        defer { worker.kill9() }
        let submit = try trusting(["submit", Binary.job, "--coordinator", url, "--resamples", "60", "--wait", "--format", "csv"])
        guard let status = await submit.wait(timeout: 300) else { submit.kill9(); throw TestFailure("submit over HTTPS hung: \(submit.text)") }
        #expect(status == 0, "\(submit.text)")
        let results = try trusting(["results", runID(submit.text), "--coordinator", url, "--format", "csv"])
        _ = await results.wait(timeout: 60)
        #expect(results.text == local.csv, "the report over HTTPS equals lassoboot run's")
    }
}

import Foundation
import Synchronization
import Testing

/// Real `lassoboot` processes on loopback.
enum Binary {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var url: URL {
        var dir = Bundle.main.bundleURL
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        for candidate in [dir, Bundle.main.executableURL?.deletingLastPathComponent()].compactMap({ $0 }) {
            let u = candidate.appendingPathComponent("lassoboot")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return dir.appendingPathComponent("lassoboot")
    }

    /// The small job used by these tests (300 rows, 2 outcomes, B = 200 by default).
    static let job = repoRoot.appendingPathComponent("scripts/reference/run/replay.json").path
}

/// A child process whose output is collected.
final class OutputBuffer: Sendable {
    let text = Mutex("")
}

final class Child: @unchecked Sendable {
    let process: Process
    let output = OutputBuffer()
    let pipe = Pipe()

    /// - Parameter executable: the program to start (default: the `lassoboot` binary under test).
    init(_ arguments: [String], environment: [String: String] = [:], executable: URL = Binary.url) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = Binary.repoRoot
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = pipe
        process.standardError = pipe
        let out = output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { out.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
    }

    var text: String { output.text.withLock { $0 } }

    /// Waits until the output contains `needle` (or the timeout passes).
    func waitFor(_ needle: String, timeout: Double = 30) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    func wait(timeout: Double = 60) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { return nil }
        // Take the rest of the output: the handler may not have delivered all of it yet.
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        if !rest.isEmpty { output.text.withLock { $0 += String(decoding: rest, as: UTF8.self) } }
        return process.terminationStatus
    }
}

/// A coordinator on an ephemeral loopback port.
struct CoordinatorProcess {
    let child: Child
    let url: String

    static func start(db: String, token: String = "test-token", extra: [String] = []) async throws -> CoordinatorProcess {
        let child = try Child(["coordinator", "--port", "0", "--db", db, "--token", token, "--lease-seconds", "3"] + extra)
        guard await child.waitFor("listening on http://", timeout: 60) else {
            child.kill9()
            throw TestFailure("coordinator did not start: \(child.text)")
        }
        let line = child.text.split(separator: "\n").first { $0.contains("listening on http://") }!
        let url = String(line[line.range(of: "http://")!.lowerBound...])
        return CoordinatorProcess(child: child, url: url)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs a CLI command to completion.
func cli(_ args: [String], token: String? = "test-token") async throws -> (status: Int32, output: String) {
    let child = try Child(args, environment: token.map { ["LASSOBOOT_TOKEN": $0] } ?? [:])
    guard let status = await child.wait(timeout: 600) else {
        child.kill9()
        throw TestFailure("\(args) did not finish: \(child.text)")
    }
    return (status, child.text)
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The run id: the last line `submit` prints.
func runID(_ output: String) -> String {
    output.split(separator: "\n").last.map(String.init) ?? ""
}

import Analysis
import ArgumentParser
import Coordinator
import CoordinatorAPI
import CoordinatorHTTP
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Scheduler
import Store
import Tabular
import Worker

/// A client for the run-management endpoints.
struct RunClient {
    let http: HTTPCoordinatorClient
    /// For uploads and run creation: the coordinator reads and encodes the whole dataset before
    /// it answers a new run (a 1 GB CSV takes a minute or more), so these wait up to 30 minutes.
    let intake: HTTPCoordinatorClient

    init(coordinator: String, token: String?) throws {
        let base = try coordinatorURL(coordinator)
        http = HTTPCoordinatorClient(base: base, token: token)
        intake = HTTPCoordinatorClient(base: base, token: token, timeout: 1800)
    }
}

/// A runtime failure shown as one line (no usage text).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Turns client errors into one clear line.
func oneLine<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as ClientError {
        switch e {
        case let .http(401, message): throw CLIError("the coordinator rejected the token (401): \(message); pass --token or set LASSOBOOT_TOKEN")
        case let .http(status, message):
            // The coordinator's message on one line (it may be an HTML page from a proxy).
            let flat = message.split(whereSeparator: { $0.isNewline }).joined(separator: " ").prefix(300)
            throw CLIError("the coordinator answered \(status): \(flat)")
        default: throw CLIError("\(e)")
        }
    }
}

/// `lassoboot submit`: upload the data if needed, create the run, optionally wait for the table.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job spec to a coordinator; prints the run id at once (stderr) and as the last line.")

    @Argument(help: "Job spec (JSON).")
    var job: String

    @OptionGroup var remote: CoordinatorOptions

    @Flag(name: .long, help: "Wait for the run, show progress, print the table.")
    var wait = false

    @OptionGroup var output: FormatOptions

    @OptionGroup var overrides: OverrideOptions

    func run() async throws {
        let prepared = try PreparedJob(
            source: .job(job),
            overrides: PreparedJob.JobOverrides(
                resamples: overrides.resamples, seed: overrides.seed,
                folds: overrides.folds),
            resampleIndices: overrides.resampleIndices)
        let client = try remote.client()
        try await oneLine {
            for (hash, bytes, what) in [(prepared.create.dataset, prepared.data, prepared.create.dataName ?? "data")]
                + (prepared.indices.map { [(prepared.create.resampleIndices!, $0, "resample indices")] } ?? [])
            {
                if try await !client.http.hasDataset(hash) {
                    try await client.intake.putDataset(hash, bytes)
                    FileHandle.standardError.write(Data("uploaded \(what) (\(bytes.count) bytes, sha256 \(hash.prefix(12)))\n".utf8))
                }
            }
        }
        let created = try await oneLine { try await client.intake.createRun(prepared.create) }
        // The id first (stderr: stdout stays the report, then the id), so a client that loses
        // its connection can still find the run with `status` and `results`.
        FileHandle.standardError.write(Data("run \(created.id) submitted\n".utf8))
        if wait {
            let progress = ProgressPrinter(enabled: true, resamples: created.resamples)
            var patience = OutagePatience(run: created.id)
            while true {
                // A long poll: answered at once when the run changes phase or ends, else after a second (progress).
                let s = try await patience.retrying { try await client.http.runStatus(created.id, wait: true) }
                progress.update(RunProgress(phase: s.phase, done: s.tasks.done, total: s.tasks.total, resamplesDone: s.resamplesDone))
                if s.state == .done { break }
                if s.state != .running { throw CLIError("run \(created.id) \(s.state): \(s.error ?? "")") }
            }
            let text = try await patience.retrying { try await client.http.report(created.id, format: output.format.query) }
            FileHandle.standardOutput.write(text)
        }
        print(created.id)
    }
}

/// How `submit --wait` rides out a coordinator outage (a restart, a network blip), as workers
/// do: connection errors, 408, 429 and 5xx are retried with capped, jittered exponential
/// backoff (0.5 s doubling to 10 s), announced once on stderr; any other 4xx is an answer,
/// not an outage, and ends the wait with one clear line.
struct OutagePatience {
    let run: String
    var backoff = 0.5
    var waiting = false

    /// Whether an error is an outage worth waiting out.
    static func isOutage(_ error: ClientError) -> Bool {
        switch error {
        case .unreachable: return true
        case let .http(status, _): return status == 408 || status == 429 || status >= 500
        case .invalidURL, .hashMismatch: return false
        }
    }

    mutating func retrying<T>(_ body: () async throws -> T) async throws -> T {
        while true {
            do {
                let value = try await body()
                if waiting { FileHandle.standardError.write(Data("coordinator reachable again; still waiting for run \(run)\n".utf8)) }
                waiting = false
                backoff = 0.5
                return value
            } catch let e as ClientError where Self.isOutage(e) {
                if !waiting {
                    FileHandle.standardError.write(
                        Data("\(e); still waiting for run \(run) (retrying with backoff; Ctrl-C stops waiting, not the run)\n".utf8))
                    waiting = true
                }
                try await Task.sleep(for: .seconds(backoff * Double.random(in: 0.5...1.5)))
                backoff = min(backoff * 2, 10)
            } catch {
                return try await oneLine { throw error }
            }
        }
    }
}

/// `lassoboot status [RUN]`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show runs and workers, or one run.")

    @Argument(help: "Run id (default: all runs).")
    var run: String?

    @OptionGroup var remote: CoordinatorOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let client = try remote.client()
        func line(_ s: Wire.RunStatus) -> String {
            "\(s.id)  \(s.state)  phase \(s.phase)  tasks done \(s.tasks.done)/\(s.tasks.total) (leased \(s.tasks.leased), queued \(s.tasks.queued), failed \(s.tasks.failed))  resamples \(s.resamplesDone)/\(s.resamples)  \(s.name)"
                + (s.error.map { "  error: \($0)" } ?? "")
        }
        if let id = run {
            let s = try await oneLine { try await client.http.runStatus(id) }
            print(json ? String(decoding: try JSONEncoder().encode(s), as: UTF8.self) : line(s))
        } else {
            let list = try await oneLine { try await client.http.runs() }
            if json { print(String(decoding: try JSONEncoder().encode(list), as: UTF8.self)); return }
            if list.runs.isEmpty { print("no runs") }
            list.runs.forEach { print(line($0)) }
            let now = Date().timeIntervalSince1970
            for w in list.workers {
                print("worker \(w.id)  host \(w.host)  threads \(w.threads)  tasks \(w.tasksDone)  last seen \(Int(now - w.lastSeen)) s ago")
            }
        }
    }
}

/// `lassoboot results RUN`.
struct ResultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "results", abstract: "Fetch a finished run's report.")

    @Argument(help: "Run id.")
    var run: String

    @OptionGroup var remote: CoordinatorOptions

    @OptionGroup var output: FormatOptions

    @Option(
        name: .long,
        help: "Also write report.json, report.csv, report.md, cv.csv, replicates.csv, model.json, report.html, cv.svg and forest-<outcome>.svg here.")
    var out: String?

    func run() async throws {
        let client = try remote.client()
        func fetch(_ f: String) async throws -> Data {
            try await oneLine { try await client.http.report(run, format: f) }
        }
        if let dir = out {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var json = Data()
            for (name, f) in [
                ("report.json", "json"), ("report.csv", "csv"), ("report.md", "markdown"), ("cv.csv", "cv"), ("replicates.csv", "replicates"),
                ("model.json", "model"),
            ] {
                let body = try await fetch(f)
                if f == "json" { json = body }
                try body.write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
            }
            // The figures are drawn here from report.json, so they need nothing new from the coordinator.
            let report: Report
            do {
                report = try JSONDecoder().decode(Report.self, from: json)
            } catch {
                throw CLIError("the coordinator's report.json for run \(run) could not be read as a report: \(error)")
            }
            for (name, text) in Render.figureFiles(report) {
                try Data(text.utf8).write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
            }
        }
        FileHandle.standardOutput.write(try await fetch(output.format.query))
    }
}

/// `lassoboot cancel RUN`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a run.")

    @Argument(help: "Run id.")
    var run: String

    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        let client = try remote.client()
        let s = try await oneLine { try await client.http.cancel(run) }
        print("\(s.id) \(s.state)")
    }
}

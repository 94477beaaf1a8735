import Analysis
import ArgumentParser
import Coordinator
import CoordinatorAPI
import Foundation
import Logging
import Store
import Synchronization
import Tabular
import Worker

/// `lassoboot run JOB.json`: the whole analysis (cross-validation, bootstrap, intervals) on local cores.
///
/// It is the distributed engine in one process: an embedded coordinator (in-memory store) and a
/// worker pool talking to it directly, so there is one code path, not two.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job spec (or a CSV alone) on all local cores and print the bootstrap CI table.",
        discussion: """
            Chooses alpha by K-fold cross-validation, refits on B bootstrap resamples (paired across
            outcomes) and reports odds ratios with bootstrap confidence intervals. The same spec,
            data and seed give byte-identical reports whatever --threads is.

            Without a job file: lassoboot run --data my.csv --outcome y   uses every other column as
            a numeric feature, standardized, with 10-fold cross-validation and B = 1999.
            """
    )

    @Argument(help: "Job spec (JSON), e.g. jobs/ctdc-north-america.json; omit it to run --data with --outcome.")
    var job: String?

    @Option(
        name: .long,
        help:
            "CSV (or .csv.gz) to analyse: with a job, replaces its data.csv; without one, every column except --outcome and --exclude is a numeric feature."
    )
    var data: String?

    @Option(name: .long, help: "Outcome column (0/1, true/false, or text with --positive); repeatable. Only without a job file.")
    var outcome: [String] = []

    @Option(name: .long, help: "Column that is not a feature (repeatable). Only without a job file.")
    var exclude: [String] = []

    @Option(name: .long, help: "Level of a text outcome that counts as 1 (e.g. --positive M).")
    var positive: String?

    @Option(name: .long, help: "Field separator: ',', ';', 'tab' or '|' (default: detected from the header).")
    var delimiter: String?

    @Flag(inversion: .prefixedNo, help: "Penalize per standard deviation of each feature (glmnet's standardize=TRUE; the default of specs).")
    var standardize: Bool?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(
        name: .long,
        help:
            "Directory to write report.json, report.csv, report.md, cv.csv, replicates.csv, rows.csv, jackknife.csv, report.html, cv.svg and forest-<outcome>.svg into."
    )
    var out: String?

    @OptionGroup var output: FormatOptions

    @OptionGroup var overrides: OverrideOptions

    @Option(name: .long, help: "Significant digits of odds ratios in the printed table and report.md (1-10).")
    var digits: Int = 3

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard (1...WorkerConfig.maximumThreads).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(WorkerConfig.maximumThreads) (got \(threads))")
        }
        guard (1...10).contains(digits) else { throw ValidationError("--digits must be between 1 and 10 (got \(digits))") }
        if job == nil {
            guard data != nil, !outcome.isEmpty else {
                throw ValidationError("give a job spec (lassoboot run JOB.json), or --data FILE.csv with at least one --outcome COLUMN")
            }
        } else {
            if !outcome.isEmpty { throw ValidationError("--outcome goes with --data alone; a job spec names its outcomes") }
            if !exclude.isEmpty { throw ValidationError("--exclude goes with --data alone; a job spec lists its features") }
        }
        if Set(outcome).count != outcome.count { throw ValidationError("an --outcome is repeated") }
        if let d = delimiter, CSVReader.separator(named: d) == nil {
            throw ValidationError("--delimiter must be ',', ';', 'tab' or '|' (got '\(d)')")
        }
    }

    func run() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let source: PreparedJob.Source = job.map { .job($0) } ?? .data(path: data!, outcomes: outcome, exclude: exclude)
        let settings = PreparedJob.JobOverrides(
            resamples: overrides.resamples, seed: overrides.seed, data: job == nil ? nil : data,
            positive: positive, delimiter: delimiter, standardize: standardize, folds: overrides.folds)
        let prepared = try PreparedJob(source: source, overrides: settings, resampleIndices: overrides.resampleIndices)
        // The in-process worker shares the coordinator's prepared data (TaskExecutor's per-process
        // cache), so the run's tasks are queued only once it is prepared (else both would parse it).
        let service = try CoordinatorService(
            store: MemoryStore(), software: "lassoboot \(LassobootVersion.string)",
            queueBeforePreparing: false, verifyFraction: 0, certifyResults: false)  // in-process workers run this very code
        _ = try await service.putDataset(prepared.data)
        if let i = prepared.indices { _ = try await service.putDataset(i) }
        let created: Wire.RunStatus
        do {
            created = try await service.createRun(prepared.create)
        } catch let e as ServiceError {
            throw CLIError(e.message)
        }
        let worker = WorkerLoop(
            client: InProcessClient(service: service),
            config: WorkerConfig(id: "local", host: ProcessInfo.processInfo.hostName, threads: threads, leaseWait: 0.05),
            logger: Logger(
                label: "lassoboot.run",
                factory: {
                    // Only trouble: the progress line says the rest.
                    var h = StreamLogHandler.standardError(label: $0)
                    h.logLevel = .warning
                    return h
                }))
        let pool = Task { await worker.run() }
        let progress = ProgressPrinter(enabled: !quiet, resamples: created.resamples)
        var status = created
        while status.state == .running {
            // A long poll: returns at once when the run changes phase or ends, else after 0.25 s
            // for the progress line.
            status = try await service.status(created.id, waitingUpTo: 0.25)
            progress.update(RunProgress(phase: status.phase, done: status.tasks.done, total: status.tasks.total, resamplesDone: status.resamplesDone))
        }
        worker.drain()
        await pool.value
        guard status.state == .done else { throw CLIError("run failed: \(status.error ?? status.state.rawValue)") }
        let report = try await service.report(created.id)
        if let dir = out {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var files: [(String, String)] = [
                ("report.json", Render.json(report)), ("report.csv", Render.csv(report)), ("report.md", Render.markdown(report, digits: digits)),
                ("cv.csv", Render.cvCSV(report)),
            ]
            files += try await service.exports(created.id).map { ($0.name, $0.text) }
            files += Render.figureFiles(report).map { ($0.name, $0.text) }
            for (name, text) in files {
                try Data(text.utf8).write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
            }
        }
        switch output.format {
        case .table: print(Render.text(report, digits: digits), terminator: "")
        case .replicates: print(try await service.replicatesCSV(created.id), terminator: "")
        case .json: print(Render.json(report), terminator: "")
        case .csv: print(Render.csv(report), terminator: "")
        case .markdown: print(Render.markdown(report, digits: digits), terminator: "")
        case .cv: print(Render.cvCSV(report), terminator: "")
        case .html: print(Render.html(report), terminator: "")
        }
        if !quiet {
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            FileHandle.standardError.write(
                Data(
                    String(
                        format: "done in %.2f s on %d threads%@\n", seconds, threads,
                        out.map { ", wrote \($0)/" } ?? ""
                    ).utf8))
        }
    }
}

/// A progress bar on a terminal, plain lines every 10% otherwise.
final class ProgressPrinter: Sendable {
    let enabled: Bool
    let terminal: Bool
    let resamples: Int
    let last = Mutex((phase: 0, decile: -1))

    init(enabled: Bool, resamples: Int) {
        self.enabled = enabled
        self.terminal = isatty(2) != 0
        self.resamples = resamples
    }

    func update(_ p: RunProgress) {
        guard enabled else { return }
        let name = p.phase == 1 ? "cross-validation" : "bootstrap and jackknife"
        let fraction = Double(p.done) / Double(max(p.total, 1))
        if terminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            var line =
                "\r\(name): [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                + "] \(p.done)/\(p.total) tasks"
            if p.phase == 2 { line += ", \(p.resamplesDone)/\(resamples) resamples" }
            FileHandle.standardError.write(Data((line + "   ").utf8))
            if p.done == p.total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = Int(fraction * 10)
            let print: Bool = last.withLock { state in
                if state.phase != p.phase || decile > state.decile { state = (p.phase, decile); return true }
                return false
            }
            if print {
                var line = "\(name): \(p.done)/\(p.total) tasks"
                if p.phase == 2 { line += ", \(p.resamplesDone)/\(resamples) resamples" }
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
    }

}

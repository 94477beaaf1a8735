import Analysis
import CoordinatorAPI
import Foundation
import Plan
import Logging
import Lasso
import Scheduler
import Store
import Tabular

/// An API error with its HTTP status.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    /// What kind of refusal, in the service's terms (the HTTP layer maps each to a status).
    public enum Kind: Sendable, Equatable {
        /// The request is malformed or names something invalid.
        case invalid
        /// The caller may not do this (a quarantined worker, a lease of another worker).
        case forbidden
        case notFound
        /// The request conflicts with the current state (a lease no longer held, a run not done).
        case conflict
        /// A body over the coordinator's limit.
        case tooLarge
        /// Well-formed but refused on its content (a spec that cannot run, a result that fails its checks).
        case unprocessable
        /// The disk is full.
        case storageFull
        /// A transient failure (storage busy): try again later.
        case unavailable
        case internalFailure
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// Counters exported as metrics and shown in logs.
public struct ServiceCounters: Sendable, Equatable {
    public var leasesIssued = 0
    public var leasesExpired = 0
    public var retries = 0
    public var resultsAccepted = 0
    public var duplicateResults = 0
    public var mismatchedDuplicates = 0
    public var rejectedResults = 0
    public var tasksFailed = 0
    /// Results refused because the lease was not issued to that worker for that task.
    public var unleasedResults = 0
    /// Results refused because a fit's KKT certificate failed (and recomputation disagreed).
    public var uncertifiedResults = 0
    /// Results the coordinator recomputed itself before accepting them.
    public var verifiedResults = 0
    /// Recomputations that disagreed with the worker's result (the worker is quarantined).
    public var verificationMismatches = 0
    public var quarantinedWorkers = 0
    /// Commits retried after a storage failure (lock held elsewhere, disk full).
    public var storageRetries = 0
}

/// A point-in-time view of the coordinator for `/metrics`.
public struct MetricsSnapshot: Sendable, Equatable {
    public let counters: ServiceCounters
    /// Tasks of unfinished runs by state (`queued` is the queue depth).
    public let tasks: [String: Int]
    /// Runs by state (the runs this process has loaded).
    public let runs: [String: Int]
    public let workersAlive: Int
    public let workersSeen: Int
    /// Why commits are failing right now, if they are.
    public var storageAlert: String? = nil
}

/// The coordinator's logic: runs, the scheduler and the store, behind methods the HTTP layer
/// (or an in-process worker) calls. Every state change is written to the store before the
/// call returns, so a coordinator killed at any moment resumes from the store.
public actor CoordinatorService {
    let store: Store
    var scheduler: Scheduler
    let clock: @Sendable () -> Double
    /// Logs carry run and task ids and counts as metadata, never data rows.
    let logger: Logger
    /// Prepared run data per run (rebuilt on demand after a restart).
    var prepared: [String: TaskExecutor] = [:]
    /// Preparations under way (off the actor).
    var preparing: [String: Task<TaskExecutor, Error>] = [:]
    /// Size estimate and last use of each entry of ``prepared`` (an LRU within
    /// ``Housekeeping/preparedBudget``; a finished run's entry is dropped at once).
    var preparedUse: [String: (bytes: Int, tick: Int)] = [:]
    var useTick = 0
    /// Resamples per run (for status), kept when its preparation is dropped.
    var resampleCounts: [String: Int] = [:]
    /// When each stored dataset was uploaded or last became unreferenced (for the grace period).
    var datasetSeen: [String: Double] = [:]
    /// Workers dropped from the registry whose rows are still to be deleted from the store.
    var forgottenWorkers: [String] = []
    /// Running run ids for lease answers, and when they were listed.
    var runningIDs: [String] = []
    var runningIDsAt = -Double.infinity
    /// Limits on what the coordinator keeps: prepared runs, workers, unreferenced datasets.
    let housekeeping: Housekeeping
    /// Queue a new run's phase-1 tasks before its data is parsed here (see ``createRun(_:)``).
    let queueBeforePreparing: Bool
    public private(set) var counters = ServiceCounters()
    var sequence = 0
    let software: String
    /// Workers by id (persisted at most once a second each: liveness, not results, lives here).
    var workers: [String: WorkerRow] = [:]
    var workerSaved: [String: Double] = [:]
    /// Runs by id, written through to the store on every change.
    var runCache: [String: RunRow] = [:]
    var lastExpiry = 0.0
    /// Commits the state changes of concurrent requests together (SQLite); nil writes each change
    /// at once (the in-memory store of `lassoboot run`).
    let committer: GroupCommitter?
    /// Accepted results whose transaction has not committed yet (for duplicate comparison).
    var pendingResults: [TaskID: Data] = [:]
    /// Lease requests waiting for work (long-poll), woken when tasks are queued.
    var leaseWaiters: [Int: (CheckedContinuation<Void, Never>, Task<Void, Never>)] = [:]
    var nextWaiter = 0
    /// Threads of the workers heard from lately (for lease sizing), and when it was counted.
    var activeThreads = 0
    var activeThreadsAt = -Double.infinity
    /// Status requests waiting for a run to change phase or end.
    var runWaiters: [String: [Int: (CheckedContinuation<Void, Never>, Task<Void, Never>)]] = [:]
    /// Runs whose current phase had no open task at startup (the coordinator stopped between
    /// the last result and the next phase): advanced on the first lease request.
    var stalledRuns: [String] = []
    /// Fraction of phase-2 results the coordinator recomputes itself before accepting them
    /// (cross-validation results, which carry no certificate, at five times this rate).
    let verifyFraction: Double
    /// Whether the KKT certificate of every fit in a result is checked (off only when the
    /// workers are this process's own threads, which run this very code: `lassoboot run`).
    let certifyResults: Bool
    /// Salt of the verification sample, so a worker cannot tell which results are checked.
    let verifySalt = UInt64.random(in: .min ... .max)
    /// Workers whose result disagreed with the coordinator's recomputation: refused from then on.
    var quarantined: Set<String> = []
    /// Workers whose results were accepted, per unfinished run (to fail the run if one is quarantined).
    var contributors: [String: Set<String>] = [:]
    /// Coordinator CPU spent on certificates and recomputations, per unfinished run (logged at its end).
    var checkSeconds: [String: (certify: Double, recompute: Double)] = [:]

    /// Opens a coordinator on `store`, resuming every unfinished run.
    public init(store: Store, policy: SchedulerPolicy = SchedulerPolicy(), software: String,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                logger: Logger = Logger(label: "lassoboot.coordinator", factory: { _ in SwiftLogNoOpLogHandler() }),
                queueBeforePreparing: Bool = true, verifyFraction: Double = 0.02, certifyResults: Bool = true,
                housekeeping: Housekeeping = Housekeeping(),
                onFatalStorageError: @escaping @Sendable (Error) -> Void = GroupCommitter.exitOnFatal) throws {
        self.store = store
        self.housekeeping = housekeeping
        self.verifyFraction = min(max(verifyFraction, 0), 1)
        self.certifyResults = certifyResults
        self.queueBeforePreparing = queueBeforePreparing
        self.clock = clock
        self.logger = logger
        self.software = software
        committer = store is MemoryStore ? nil : GroupCommitter(store: store, onAlert: { [logger] alert in
            if let alert {
                logger.error("storage: \(alert)")
            } else {
                logger.notice("storage: commits succeed again; stalled runs resume")
            }
        }, onFatal: onFatalStorageError)
        // Lease ids differ across restarts, so a lease from before a crash can't be mistaken for a new one.
        scheduler = Scheduler(policy: policy, leasePrefix: "L\(UInt32.random(in: 0...UInt32.max))-")
        let runs = try store.runs()
        sequence = runs.map(\.sequence).max() ?? 0
        for w in try store.workers() { workers[w.id] = w }
        var resumed = 0
        for run in runs where run.state == .running {
            runCache[run.id] = run
            let records = try store.tasks(run: run.id)
            let changes = scheduler.add(records)
            try store.saveTasks(changes.tasks)
            if !scheduler.hasOpenTasks(run: run.id, phase: run.phase) { stalledRuns.append(run.id) }
            resumed += 1
        }
        if resumed > 0 { logger.notice("resumed \(resumed) unfinished run(s) from the store") }
    }

    // MARK: datasets

    /// Stores dataset bytes; returns their sha256 and whether they were new.
    /// - Parameter maxBytes: larger datasets are refused with 413 (the HTTP edge passes its
    ///   ``BodyLimits/dataset``, below SQLite's blob limit, which GRDB would trap on).
    public func putDataset(_ bytes: Data, expectedHash: String? = nil, maxBytes: Int = .max) async throws -> (hash: String, created: Bool) {
        guard bytes.count <= maxBytes else { throw ServiceError(.tooLarge, "dataset of \(bytes.count) bytes is larger than the limit of \(maxBytes) bytes") }
        let hash = SHA256.hex(bytes)
        if let expected = expectedHash, expected != hash {
            throw ServiceError(.invalid, "dataset hash mismatch: the body hashes to \(hash), the URL says \(expected)")
        }
        let store = self.store
        let created = try await Self.retryingStorage("storing dataset \(hash.prefix(12))") { try store.putDataset(hash: hash, bytes: bytes) }
        datasetSeen[hash] = clock()      // the grace period of an unreferenced upload starts (again)
        return (hash, created)
    }

    /// Runs a direct store write (one not queued behind the group commit), retrying failures
    /// that can pass (lock held elsewhere, disk full) for up to `seconds`; then a 503 (507 when
    /// the disk is full) naming the cause. Nothing has changed in memory when it throws.
    static func retryingStorage<T: Sendable>(_ what: String, seconds: Double = 20, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        var delay = 0.01
        while true {
            do {
                return try await Task.detached { try body() }.value
            } catch {
                guard GroupCommitter.isTransient(error) else { throw error }
                if Date() >= deadline {
                    let full = GroupCommitter.describe(error, path: nil).contains("disk full")
                    throw ServiceError(full ? .storageFull : .unavailable, "\(what): \(GroupCommitter.describe(error, path: nil)) for \(Int(seconds)) s; try again later")
                }
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 1)
            }
        }
    }

    /// Stores piece `index` of a dataset arriving in pieces (an HTTP upload), so the coordinator
    /// never holds a large upload whole; nothing is a dataset until ``finishUpload``.
    public func putUploadPiece(upload: String, index: Int, bytes: Data) async throws {
        let store = self.store
        try await Self.retryingStorage("storing a dataset piece") { try store.putUploadPiece(upload: upload, index: index, bytes: bytes) }
    }

    /// Files a finished upload whose bytes hash to `hash` (checked against the URL's `expectedHash`).
    public func finishUpload(upload: String, hash: String, size: Int, expectedHash: String?) async throws -> (hash: String, created: Bool) {
        if let expected = expectedHash, expected != hash {
            await abandonUpload(upload)
            throw ServiceError(.invalid, "dataset hash mismatch: the body hashes to \(hash), the URL says \(expected)")
        }
        let store = self.store
        let created = try await Self.retryingStorage("storing dataset \(hash.prefix(12))") { try store.finishUpload(upload: upload, hash: hash, size: size) }
        datasetSeen[hash] = clock()
        return (hash, created)
    }

    /// Drops an upload that will not finish (its pieces stay only until the next start otherwise).
    public func abandonUpload(_ upload: String) async {
        let store = self.store
        _ = try? await Self.retryingStorage("dropping an unfinished upload", seconds: 5) { try store.abandonUpload(upload: upload) }
    }

    public func hasDataset(_ hash: String) throws -> Bool { try store.hasDataset(hash: hash) }

    public func dataset(_ hash: String) throws -> Data {
        guard let d = try store.dataset(hash: hash) else { throw ServiceError(.notFound, "no dataset with hash \(hash)") }
        return d
    }

    // MARK: runs

    func prepare(_ run: RunRow) throws -> TaskExecutor {
        if let e = prepared[run.id] { return e }
        let (spec, bytes, indices) = try preparationInputs(run)
        let executor = try Self.prepare(run: run, spec: spec, bytes: bytes, indices: indices)
        remember(run.id, executor)
        return executor
    }

    /// What preparing a run reads from the store: the spec workers see, the data, the indices.
    func preparationInputs(_ run: RunRow) throws -> (spec: Data, bytes: Data, indices: Data?) {
        guard let bytes = try store.dataset(hash: run.dataset) else {
            throw ServiceError(.conflict, "run \(run.id): its dataset \(run.dataset) is missing from the store")
        }
        var indices: Data?
        if let h = run.resampleIndices {
            guard let b = try store.dataset(hash: h) else { throw ServiceError(.conflict, "run \(run.id): its resample indices \(h) are missing") }
            indices = b
        }
        return (try Self.specForRun(run), bytes, indices)
    }

    static func prepare(run: RunRow, spec: Data, bytes: Data, indices: Data?) throws -> TaskExecutor {
        do {
            let executor = try TaskExecutor.prepare(spec: String(decoding: spec, as: UTF8.self), source: "spec of run \(run.id)",
                                                    data: bytes, dataHash: run.dataset, resampleIndices: indices, indicesHash: run.resampleIndices)
            // Refused at intake rather than failed fold by fold.
            if let problem = executor.data.singleLevelFoldProblem { throw ServiceError(.unprocessable, problem) }
            return executor
        } catch let e as ServiceError {
            throw e
        } catch {
            throw ServiceError(.unprocessable, "\(error)")
        }
    }

    /// The spec as workers and the coordinator parse it: the submitted JSON with `data.csv` set to
    /// the data file's name (reports show it; the bytes come by hash).
    static func specForRun(_ run: RunRow) throws -> Data {
        guard var object = try? JSONSerialization.jsonObject(with: run.spec) as? [String: Any],
              var data = object["data"] as? [String: Any] else {
            throw ServiceError(.invalid, "the job spec must be a JSON object with a \"data\" object")
        }
        data["csv"] = run.dataName ?? "sha256:\(run.dataset)"
        object["data"] = data
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func parseSpec(_ spec: Data, run: String) throws -> RunSpec {
        do {
            return try RunSpec.parse(spec, source: "spec of run \(run)", baseDirectory: "/")
        } catch {
            throw ServiceError(.invalid, "\(error)")
        }
    }

    /// Creates a run from a job spec whose data is an uploaded dataset.
    ///
    /// The spec is checked first; then the run and its phase-1 tasks are stored and queued, and
    /// the data is parsed and checked against the spec off the actor while workers already
    /// lease those tasks and fetch and parse the data themselves (so the two preparations
    /// overlap instead of running one after the other). The answer waits for the check: a
    /// spec that does not fit the data still gets a 422 (and the run is marked failed).
    public func createRun(_ request: Wire.CreateRun) async throws -> Wire.RunStatus {
        guard try store.hasDataset(hash: request.dataset) else {
            throw ServiceError(.notFound, "no dataset with hash \(request.dataset): upload it first (PUT /v1/datasets/\(request.dataset))")
        }
        if let h = request.resampleIndices, try !store.hasDataset(hash: h) {
            throw ServiceError(.notFound, "no dataset with hash \(h) (the resample indices): upload it first")
        }
        sequence += 1
        let id = "run-\(sequence)-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var run = RunRow(id: id, sequence: sequence, name: "", spec: Data(request.spec.utf8), dataset: request.dataset,
                         created: clock(), resampleIndices: request.resampleIndices, dataName: request.dataName)
        if !queueBeforePreparing {
            let executor: TaskExecutor
            do {
                executor = try prepare(run)
            } catch {
                sequence -= 1
                throw error
            }
            run.name = executor.data.spec.name
            let tasks = executor.phaseOneKeys().map { TaskRecord(id: TaskID(run: id, key: $0)) }
            let store = self.store, row = run
            try await Self.retryingStorage("creating run \(id)") { try store.createRun(row, tasks: tasks) }
            runCache[id] = run
            runningIDsAt = -Double.infinity
            _ = scheduler.add(tasks)
            notifyWork()
            logger.info("run created", metadata: ["run": "\(id)", "tasks": "\(tasks.count)", "dataset": "\(request.dataset.prefix(12))", "rows": "\(executor.data.rowCount)"])
            return try status(id)
        }
        let spec: RunSpec
        do {
            spec = try RunSpec.parse(try Self.specForRun(run), source: "spec of run \(id)", baseDirectory: "/")
        } catch let e as ServiceError {
            sequence -= 1
            throw e
        } catch {
            sequence -= 1
            throw ServiceError(.unprocessable, "\(error)")
        }
        run.name = spec.name
        let keys = TaskExecutor.phaseOneKeys(spec: spec)
        let tasks = keys.map { TaskRecord(id: TaskID(run: id, key: $0)) }
        do {
            let store = self.store, row = run
            try await Self.retryingStorage("creating run \(id)") { try store.createRun(row, tasks: tasks) }
        } catch {
            sequence -= 1
            throw error
        }
        runCache[id] = run
        runningIDsAt = -Double.infinity
        _ = scheduler.add(tasks)
        notifyWork()
        do {
            let executor = try await executor(for: run)
            guard executor.phaseOneKeys() == keys else {
                throw ServiceError(.internalFailure, "run \(id): the phase-1 tasks planned from the spec differ from the prepared run's")
            }
            logger.info("run created", metadata: ["run": "\(id)", "tasks": "\(tasks.count)", "dataset": "\(request.dataset.prefix(12))", "rows": "\(executor.data.rowCount)"])
        } catch {
            guard var failed = runCache[id], failed.state == .running else { throw error }
            failed.state = .failed
            failed.error = "\(error)"
            failed.finished = clock()
            runCache[id] = failed
            scheduler.remove(run: id)
            logger.error("run failed", metadata: ["run": "\(id)", "error": "\(error)"])
            try await persist([.run(failed, tasks: [])])
            notifyRun(id)
            throw error
        }
        return try status(id)
    }

    /// The prepared run: from memory, or waiting for the preparation under way, or prepared
    /// now (after a restart). Preparing runs off the actor.
    func executor(for run: RunRow) async throws -> TaskExecutor {
        if let e = prepared[run.id] { return e }
        let preparation: Task<TaskExecutor, Error>
        if let p = preparing[run.id] {
            preparation = p
        } else {
            let (spec, bytes, indices) = try preparationInputs(run)
            preparation = Task.detached {
                try Self.prepare(run: run, spec: spec, bytes: bytes, indices: indices)
            }
            preparing[run.id] = preparation
        }
        defer { preparing[run.id] = nil }
        let executor = try await preparation.value
        if let current = try runRow(run.id), current.state == .running {
            remember(run.id, executor)
        }
        return executor
    }

    public func status(_ id: String) throws -> Wire.RunStatus {
        guard let run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        return try status(of: run)
    }

    /// The status once the run changes phase or ends, or after `seconds` (a long poll, so a
    /// client waiting for a run learns of its end at once without polling fast).
    public func status(_ id: String, waitingUpTo seconds: Double) async throws -> Wire.RunStatus {
        guard let run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        if run.state == .running && seconds > 0 {
            let key = nextWaiter
            nextWaiter += 1
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let timer = Task { [weak self] in
                    try? await Task.sleep(for: .seconds(seconds))
                    await self?.wakeRunWaiter(id, key)
                }
                runWaiters[id, default: [:]][key] = (c, timer)
            }
        }
        return try status(id)
    }

    func wakeRunWaiter(_ id: String, _ key: Int) {
        runWaiters[id]?.removeValue(forKey: key)?.0.resume()
    }

    /// Wakes the clients waiting on a run (it changed phase or ended).
    func notifyRun(_ id: String) {
        // A finished, failed or cancelled run needs no preparation (exports rebuild it on demand).
        if let run = runCache[id], run.state != .running { dropPreparation(id) }
        guard let waiters = runWaiters.removeValue(forKey: id) else { return }
        for (c, timer) in waiters.values {
            timer.cancel()
            c.resume()
        }
    }

    func status(of run: RunRow) throws -> Wire.RunStatus {
        var counts = Wire.TaskCounts()
        var resamplesDone = 0
        let records = scheduler.tasks.values.contains(where: { $0.id.run == run.id })
            ? scheduler.tasks.values.filter { $0.id.run == run.id } : try store.tasks(run: run.id)
        for r in records {
            switch r.state {
            case .queued: counts.queued += 1
            case .leased: counts.leased += 1
            case .done: counts.done += 1
            case .failed: counts.failed += 1
            }
            if r.state == .done, case let .bootstrap(s, e) = r.id.key { resamplesDone += e - s }
        }
        let resamples = resampleCount(of: run)
        return Wire.RunStatus(id: run.id, name: run.name, state: run.state, phase: run.phase, tasks: counts,
                              resamplesDone: resamplesDone, resamples: resamples, error: run.error,
                              created: run.created, finished: run.finished, dataset: run.dataset,
                              alert: run.state == .running ? committer?.alert : nil)
    }

    public func list() throws -> Wire.RunList {
        let runs = try store.runs().map { try status(of: $0) }
        let workers = self.workers.values.sorted { $0.id < $1.id }.map {
            Wire.WorkerInfo(id: $0.id, host: $0.host, threads: $0.threads, tasksDone: $0.tasksDone, lastSeen: $0.lastSeen)
        }
        return Wire.RunList(runs: runs, workers: workers)
    }

    /// What `/metrics` reports: the cumulative counters and the current task, run and worker
    /// gauges (from memory: the scheduler holds every unfinished run's tasks).
    public func metricsSnapshot(aliveWithin: Double) -> MetricsSnapshot {
        var tasks: [String: Int] = ["queued": 0, "leased": 0, "done": 0, "failed": 0]
        for r in scheduler.tasks.values { tasks[r.state.rawValue, default: 0] += 1 }
        var runs: [String: Int] = [:]
        for r in (try? store.runs()) ?? Array(runCache.values) { runs[r.state.rawValue, default: 0] += 1 }
        let now = clock()
        var counters = self.counters
        counters.storageRetries = committer?.retries ?? 0
        return MetricsSnapshot(counters: counters, tasks: tasks, runs: runs,
                               workersAlive: workers.values.filter { now - $0.lastSeen <= aliveWithin }.count,
                               workersSeen: workers.count, storageAlert: committer?.alert)
    }

    public func cancel(_ id: String) async throws -> Wire.RunStatus {
        guard var run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        guard run.state == .running else { throw ServiceError(.conflict, "run \(id) is already \(run.state.rawValue)") }
        run.state = .cancelled
        run.finished = clock()
        runCache[id] = run
        scheduler.remove(run: id)
        try await persist([.run(run, tasks: [])])
        notifyRun(id)
        logger.notice("run cancelled", metadata: ["run": "\(id)"])
        return try status(of: run)
    }

    /// The finished report of a run.
    public func report(_ id: String) throws -> Report {
        guard let run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        guard let bytes = run.report else {
            if run.state == .failed { throw ServiceError(.conflict, "run \(id) failed: \(run.error ?? "unknown cause")") }
            throw ServiceError(.conflict, "run \(id) is \(run.state.rawValue); its report is not ready")
        }
        return try JSONDecoder().decode(Report.self, from: bytes)
    }

    /// The replicate matrix of a finished run (replicates.csv).
    public func replicatesCSV(_ id: String) throws -> String {
        try exports(id).first { $0.name == "replicates.csv" }!.text
    }

    /// model.json of a finished run (what `lassoboot predict` reads).
    public func modelJSON(_ id: String) throws -> String {
        try exports(id).first { $0.name == "model.json" }!.text
    }

    /// The files that replay a finished run elsewhere: replicates.csv, rows.csv and (with BCa)
    /// jackknife.csv; and model.json, which `lassoboot predict` scores new rows with.
    public func exports(_ id: String) throws -> [(name: String, text: String)] {
        guard let run = try runRow(id), run.state == .done else { throw ServiceError(.conflict, "run \(id) has no finished report") }
        let executor = try prepare(run)
        let results = try decodedResults(id)
        var files = [("replicates.csv", Aggregation.replicatesCSV(data: executor.data, results: results)),
                     ("rows.csv", Aggregation.rowCellsCSV(data: executor.data, executor: executor))]
        if let j = Aggregation.jackknifeCSV(data: executor.data, executor: executor, results: results) { files.append(("jackknife.csv", j)) }
        files.append(("model.json", try Aggregation.model(data: executor.data, results: results, software: software)))
        return files.map { (name: $0.0, text: $0.1) }
    }

    public func context(_ id: String) throws -> Wire.RunContext {
        guard let run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        return Wire.RunContext(run: id, spec: String(decoding: try Self.specForRun(run), as: UTF8.self), dataset: run.dataset,
                               resampleIndices: run.resampleIndices)
    }

    // MARK: workers

    /// Notes that a worker was heard from; returns the row to write when it is due (new, or
    /// not written for a second: liveness, not results, lives in memory).
    func touchWorker(_ id: String, host: String? = nil, threads: Int? = nil, done: Int = 0) -> StoreWrite? {
        let now = clock()
        let isNew = workers[id] == nil
        var w = workers[id] ?? WorkerRow(id: id, host: host ?? "?", threads: threads ?? 0, lastSeen: now, tasksDone: 0)
        if let host { w.host = host }
        if let threads { w.threads = threads }
        w.lastSeen = now
        w.tasksDone += done
        workers[id] = w
        if isNew && workers.count > housekeeping.maxWorkers { capRegistry() }
        guard isNew || now - (workerSaved[id] ?? 0) >= 1 else { return nil }
        workerSaved[id] = now
        return .worker(w)
    }

    /// Makes one state change durable: returns once the transaction holding it has committed
    /// (with SQLite, together with the changes of other requests: see ``GroupCommitter``).
    /// Every in-memory change is made before this is called, in the same actor turn, so
    /// changes reach the store in the order they were made. `barrier` waits for everything
    /// queued so far even when this change is empty.
    func persist(_ writes: [StoreWrite], barrier: Bool = false) async throws {
        let writes = writes.filter {
            if case let .tasks(t) = $0 { return !t.isEmpty }
            return true
        }
        guard !writes.isEmpty || barrier else { return }
        if let committer {
            try await committer.enqueue(writes).wait()
        } else if !writes.isEmpty {
            try store.apply([writes])
        }
    }

    /// A run, from memory when possible.
    func runRow(_ id: String) throws -> RunRow? {
        if let r = runCache[id] { return r }
        let r = try store.run(id: id)
        if let r { runCache[id] = r }
        return r
    }

    /// Leases up to `max` tasks without waiting.
    public func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask] {
        guard !request.worker.isEmpty, request.max >= 1 else { throw ServiceError(.invalid, "worker must be non-empty and max >= 1") }
        guard request.worker.count <= 256, request.host.count <= 256, (1...65536).contains(request.threads) else {
            throw ServiceError(.invalid, "worker and host must be at most 256 characters and threads between 1 and 65536")
        }
        guard !quarantined.contains(request.worker) else {
            throw ServiceError(.forbidden, "worker \(request.worker) is quarantined: a result it handed in differed from the coordinator's recomputation")
        }
        if !stalledRuns.isEmpty {
            let stalled = stalledRuns
            stalledRuns = []
            for id in stalled { try await advance(id) }
        }
        var writes: [StoreWrite] = []
        if clock() - lastExpiry >= 0.25 { writes += expireDue() }
        if let w = touchWorker(request.worker, host: request.host, threads: request.threads) { writes.append(w) }
        if let started = request.started, !started.isEmpty {
            writes.append(.tasks(scheduler.markStarted(worker: request.worker, leaseIDs: started).tasks))
        }
        let (leases, changes) = scheduler.lease(worker: request.worker, max: grant(request), now: clock())
        writes.append(.tasks(changes.tasks))
        counters.leasesIssued += leases.count
        var out: [Wire.LeasedTask] = []
        for (id, info) in leases {
            guard let run = try runRow(id.run) else { continue }
            out.append(Wire.LeasedTask(run: id.run, key: id.key, lease: info.id, dataset: run.dataset,
                                       input: id.key.phase == 2 ? run.phaseTwo : nil))
        }
        try await persist(writes)
        return out
    }

    /// How many tasks a lease request gets: what it asks for (at most 256), but no more than its
    /// share of the queue by threads among the workers heard from in the last 5 s (at least one
    /// per thread). Workers lease ahead (about 0.5 s of work per thread); without the cap the
    /// first to ask near the end of a phase takes the rest of the queue and the others idle
    /// while it works through it.
    func grant(_ request: Wire.LeaseRequest) -> Int {
        let wanted = min(request.max, 256)
        let threads = max(1, request.threads)
        guard wanted > threads else { return wanted }
        let now = clock()
        if now - activeThreadsAt >= 0.25 {
            activeThreadsAt = now
            activeThreads = workers.values.reduce(0) { $0 + (now - $1.lastSeen < 5 ? max(1, $1.threads) : 0) }
        }
        let share = (scheduler.queuedCount * threads + max(activeThreads, threads) - 1) / max(activeThreads, threads)
        return min(wanted, max(threads, share))
    }

    /// Leases up to `max` tasks, waiting until `wait` seconds (at most `maxWait`) have passed
    /// for one to be queued: a long poll woken as soon as tasks are queued.
    public func lease(_ request: Wire.LeaseRequest, maxWait: Double) async throws -> [Wire.LeasedTask] {
        let deadline = clock() + min(max(request.wait, 0), maxWait)
        var request = request
        while true {
            let tasks = try await lease(request)
            let now = clock()
            if !tasks.isEmpty || now >= deadline || Task.isCancelled { return tasks }
            if request.started != nil {
                request = Wire.LeaseRequest(worker: request.worker, host: request.host, threads: request.threads, max: request.max, wait: request.wait)
            }
            // Re-check at least twice a second (retry backoffs end without a wake-up).
            await waitForWork(seconds: min(deadline - now, 0.5))
        }
    }

    func waitForWork(seconds: Double) async {
        let id = nextWaiter
        nextWaiter += 1
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let timer = Task { [weak self] in
                try? await Task.sleep(for: .seconds(seconds))
                await self?.wake(id)
            }
            leaseWaiters[id] = (c, timer)
        }
    }

    func wake(_ id: Int) {
        leaseWaiters.removeValue(forKey: id)?.0.resume()
    }

    /// Wakes every waiting lease request (tasks were queued).
    func notifyWork() {
        guard !leaseWaiters.isEmpty else { return }
        let waiters = leaseWaiters
        leaseWaiters = [:]
        for (c, timer) in waiters.values {
            timer.cancel()
            c.resume()
        }
    }

    public func heartbeat(_ h: Wire.Heartbeat) async throws -> [String] {
        try WorkerIdentity.validate(worker: h.worker)
        var writes: [StoreWrite] = []
        if let w = touchWorker(h.worker) { writes.append(w) }
        let (valid, changes) = scheduler.heartbeat(worker: h.worker, leaseIDs: h.leases, started: h.started ?? [], now: clock())
        writes.append(.tasks(changes.tasks))
        try await persist(writes)
        return valid
    }

    /// Expires leases whose time is up (called on lease requests and by a timer).
    public func expireLeases() async throws {
        try await persist(expireDue())
    }

    /// Expires due leases in memory; returns the writes that make it durable.
    func expireDue() -> [StoreWrite] {
        lastExpiry = clock()
        let changes = scheduler.expire(now: lastExpiry)
        guard !changes.tasks.isEmpty else { return [] }
        counters.leasesExpired += changes.tasks.count
        counters.retries += changes.tasks.filter { $0.state == .queued }.count
        var writes: [StoreWrite] = [.tasks(changes.tasks)]
        for id in changes.failed { writes += failRun(id) }
        logger.warning("\(changes.tasks.count) lease(s) expired", metadata: ["tasks": "\(changes.tasks.count)", "ids": "\(changes.tasks.prefix(8).map { "\($0.id.run)/\($0.id.key)" }.joined(separator: ","))"])
        notifyWork()
        return writes
    }

    /// Fails the run of a task that failed for good (in memory); returns the write.
    func failRun(_ id: TaskID) -> [StoreWrite] {
        counters.tasksFailed += 1
        guard var run = runCache[id.run], run.state == .running else { return [] }
        let cause = scheduler.tasks[id]?.lastError ?? "unknown"
        run.state = .failed
        run.error = "task \(id.key) failed after \(scheduler.policy.maxAttempts) attempts: \(cause)"
        run.finished = clock()
        runCache[id.run] = run
        scheduler.remove(run: id.run)
        notifyRun(id.run)
        logger.error("run failed", metadata: ["run": "\(id.run)", "task": "\(id.key)", "error": "\(run.error ?? "")"])
        return [.run(run, tasks: [])]
    }

    /// Accepts a result (or a failure report, or a released lease).
    ///
    /// A result is stored only if, in this order: its run and dataset match; its key is a task
    /// of the run and it has the task's shape and in-range numbers; its lease was issued to
    /// this worker for this task; every fit in it passes its KKT certificate (or, if not, the
    /// coordinator's own recomputation agrees with it); and, for a random sample of tasks, the
    /// coordinator's recomputation is byte-identical. A worker whose result disagrees with the
    /// recomputation is quarantined and every unfinished run it contributed to is failed,
    /// loudly, since its earlier results may be wrong too.
    public func submit(_ s: Wire.Submission) async throws -> Wire.SubmissionStatus {
        let id = TaskID(run: s.run, key: s.key)
        guard !quarantined.contains(s.worker) else {
            counters.rejectedResults += 1
            throw ServiceError(.forbidden, "worker \(s.worker) is quarantined: a result it handed in differed from the coordinator's recomputation")
        }
        if let r = runCache[s.run], r.state == .running, prepared[s.run] == nil {
            _ = try await executor(for: r)     // the run's data is still being prepared (it has just been created)
        }
        guard let run = try runRow(s.run) else { throw ServiceError(.notFound, "no run \(s.run)") }
        guard s.dataset == run.dataset else {
            counters.rejectedResults += 1
            throw ServiceError(.unprocessable, "result for dataset \(s.dataset) but run \(s.run) uses \(run.dataset)")
        }
        // Checks first: a refused submission changes nothing.
        var bytes = Data()
        let handsInResult = s.released != true && s.error == nil
        if handsInResult {
            guard let result = s.result else { throw ServiceError(.invalid, "a submission needs a result, an error, or released: true") }
            if run.state == .running {
                let executor = try prepare(run)
                if let problem = executor.keyProblem(s.key) {
                    counters.rejectedResults += 1
                    throw ServiceError(.unprocessable, "invalid result for \(s.key): \(problem)")
                }
                if scheduler.check(id, lease: s.lease, worker: s.worker) == .notLeased {
                    counters.unleasedResults += 1
                    counters.rejectedResults += 1
                    throw ServiceError(.conflict, "lease \(s.lease.prefix(64)) was not issued to worker \(s.worker.prefix(64)) for task \(s.key) of run \(s.run) (or the coordinator restarted since): result refused")
                }
                if let problem = executor.validate(result, key: s.key) {
                    counters.rejectedResults += 1
                    throw ServiceError(.unprocessable, "invalid result for \(s.key): \(problem)")
                }
                do {
                    bytes = try result.canonicalJSON()
                } catch {
                    counters.rejectedResults += 1
                    throw ServiceError(.unprocessable, "invalid result for \(s.key): \(error)")
                }
                if scheduler.check(id, lease: s.lease, worker: s.worker) == .accepted {
                    try await vouch(for: result, bytes: bytes, key: s.key, run: run, worker: s.worker, executor: executor)
                }
            }
        }
        var writes: [StoreWrite] = []
        if let started = s.started, !started.isEmpty {
            writes.append(.tasks(scheduler.markStarted(worker: s.worker, leaseIDs: started).tasks))
        }
        if s.released == true {
            if let w = touchWorker(s.worker) { writes.append(w) }
            writes.append(.tasks(scheduler.fail(id, leaseID: s.lease, worker: s.worker, cause: "released by a draining worker", countsAsAttempt: false, now: clock()).tasks))
            notifyWork()
            try await persist(writes)
            return .released
        }
        if let error = s.error {
            if let w = touchWorker(s.worker) { writes.append(w) }
            let changes = scheduler.fail(id, leaseID: s.lease, worker: s.worker, cause: String(error.prefix(4096)), now: clock())
            writes.append(.tasks(changes.tasks))
            counters.retries += changes.tasks.filter { $0.state == .queued }.count
            for f in changes.failed { writes += failRun(f) }
            notifyWork()
            try await persist(writes)
            return .failed
        }
        let current = try runRow(run.id)
        guard run.state == .running, current?.state == .running else {
            // Late results of finished or cancelled runs are acknowledged and dropped.
            if let w = touchWorker(s.worker) { writes.append(w) }
            try await persist(writes)
            return .duplicate
        }
        let (outcome, changes) = scheduler.complete(id, lease: s.lease, worker: s.worker, now: clock())
        if let w = touchWorker(s.worker, done: outcome == .accepted ? 1 : 0) { writes.append(w) }
        switch outcome {
        case .notLeased:
            counters.unleasedResults += 1
            counters.rejectedResults += 1
            try await persist(writes)
            logger.warning("result refused: lease not issued to this worker for this task", metadata: ["run": "\(id.run)", "task": "\(id.key)", "worker": "\(s.worker.prefix(64))"])
            throw ServiceError(.conflict, "lease \(s.lease.prefix(64)) was not issued to worker \(s.worker.prefix(64)) for task \(s.key) of run \(s.run) (or the coordinator restarted since): result refused")
        case .unknownTask, .duplicate:
            // The first result may still be on its way to the disk: compare with it, and answer
            // only once it is committed (the barrier).
            let stored = try pendingResults[id] ?? store.result(id)
            try await persist(writes, barrier: true)
            if stored == nil && outcome == .unknownTask { throw ServiceError(.notFound, "run \(s.run) has no task \(s.key)") }
            counters.duplicateResults += 1
            if let stored, stored != bytes {
                counters.mismatchedDuplicates += 1
                logger.error("MISMATCH: duplicate result differs from the stored one", metadata: ["run": "\(id.run)", "task": "\(id.key)", "worker": "\(s.worker.prefix(64))"])
                return .mismatch
            }
            return .duplicate
        case .accepted:
            writes.append(.result(id, bytes, changes.tasks[0]))
            counters.resultsAccepted += 1
            contributors[run.id, default: []].insert(s.worker)
            let closesPhase = !scheduler.hasOpenTasks(run: run.id, phase: run.phase)
            pendingResults[id] = bytes
            defer { pendingResults[id] = nil }
            try await persist(writes)
            // Every result of the phase was queued before this one, so all are committed now.
            if closesPhase { try await advance(run.id) }
            return .accepted
        }
    }

    /// Whether the coordinator recomputes this task before accepting it: a salted hash of the
    /// task, so the sample is unpredictable to workers but the same for every copy of a result.
    func sampledForVerification(_ run: String, _ key: TaskKey) -> Bool {
        let rate = key.phase == 1 ? min(1, verifyFraction * 5) : verifyFraction
        guard rate > 0 else { return false }
        var h: UInt64 = verifySalt ^ 0xcbf2_9ce4_8422_2325
        for b in run.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        for b in key.jsonText.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return Double(h >> 11) / Double(1 << 53) < rate
    }

    /// The content checks of a result whose lease is valid: the KKT certificate of every fit
    /// and, for sampled tasks (or when a certificate fails), the coordinator's recomputation.
    /// Both run off the actor. Throws (refusing the result) when the result is not vouched for.
    func vouch(for result: TaskResult, bytes: Data, key: TaskKey, run: RunRow, worker: String, executor: TaskExecutor) async throws {
        let input = run.phaseTwo
        let (certificateProblem, certifySeconds): (String?, Double) = key.isCertifiable && certifyResults
            ? await Task.detached(priority: .userInitiated) { Self.timed { executor.certify(result, key: key, input: input) } }.value : (nil, 0)
        checkSeconds[run.id, default: (0, 0)].certify += certifySeconds
        guard certificateProblem != nil || sampledForVerification(run.id, key) else { return }
        let (recomputed, recomputeSeconds) = await Task.detached(priority: .userInitiated) {
            Self.timed { () -> Data? in try? executor.run(key, input: input).canonicalJSON() }
        }.value
        checkSeconds[run.id, default: (0, 0)].recompute += recomputeSeconds
        counters.verifiedResults += 1
        if recomputed == bytes {
            if let certificateProblem {
                // The worker's fit is what this coordinator computes too: the check was too strict.
                logger.warning("certificate check failed but the recomputation agrees; accepted", metadata: ["run": "\(run.id)", "task": "\(key)", "problem": "\(certificateProblem)"])
            }
            return
        }
        if certificateProblem != nil { counters.uncertifiedResults += 1 }
        counters.verificationMismatches += 1
        counters.rejectedResults += 1
        try await quarantine(worker, because: "its result for task \(key) of run \(run.id) differs from the coordinator's recomputation"
                             + (certificateProblem.map { " (\($0))" } ?? ""))
        throw ServiceError(.unprocessable, "result for \(key) refused: it differs from the coordinator's recomputation\(certificateProblem.map { " (\($0))" } ?? ""); worker \(worker.prefix(64)) is quarantined")
    }

    /// The value of `body` and the thread CPU seconds it took.
    nonisolated static func timed<T>(_ body: () -> T) -> (T, Double) {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        let value = body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return (value, Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9)
    }

    /// Refuses a worker from now on and fails every unfinished run it handed results to (they
    /// may rest on wrong numbers): loud, never a wrong table.
    func quarantine(_ worker: String, because cause: String) async throws {
        guard quarantined.insert(worker).inserted else { return }
        counters.quarantinedWorkers += 1
        logger.critical("QUARANTINED worker \(worker.prefix(64)): \(cause)")
        var writes: [StoreWrite] = [.tasks(scheduler.revokeLeases(of: worker, now: clock()).tasks)]
        notifyWork()
        for (runID, workers) in contributors where workers.contains(worker) {
            guard var r = runCache[runID], r.state == .running else { continue }
            r.state = .failed
            r.error = "worker \(worker.prefix(64)) was quarantined (\(cause)); it had handed in results for this run, which may be wrong: resubmit the run"
            r.finished = clock()
            runCache[runID] = r
            scheduler.remove(run: runID)
            writes.append(.run(r, tasks: []))
            logger.error("run failed", metadata: ["run": "\(runID)", "error": "\(r.error ?? "")"])
        }
        try await persist(writes)
        for w in writes { if case let .run(r, _) = w { notifyRun(r.id) } }
    }

    func decodedResults(_ run: String) throws -> [TaskKey: TaskResult] {
        let decoder = JSONDecoder()
        return try store.results(run: run).mapValues { try TaskResult.fastDecode($0) ?? decoder.decode(TaskResult.self, from: $0) }
    }

    /// Moves a run to phase 2 or to done when its current phase has no work left (called once
    /// the result that closed the phase is committed, so every result of the phase is stored).
    func advance(_ runID: String) async throws {
        guard var run = try runRow(runID), run.state == .running, !scheduler.hasOpenTasks(run: runID, phase: run.phase) else { return }
        let executor = try prepare(run)
        var tasks: [TaskRecord] = []
        do {
            let results = try decodedResults(run.id)
            // A report is built only from a complete result set: a task marked done whose result
            // is not in the store (it never should be) is queued again rather than left out.
            let expected = run.phase == 1 ? executor.phaseOneKeys() : executor.phaseOneKeys() + executor.phaseTwoKeys()
            let missing = expected.filter { results[$0] == nil }
            if !missing.isEmpty {
                let records = missing.map { TaskRecord(id: TaskID(run: run.id, key: $0)) }
                _ = scheduler.add(records)
                logger.error("results missing from the store for tasks marked done: queued again", metadata: [
                    "run": "\(run.id)", "tasks": "\(missing.count)", "keys": "\(missing.prefix(8).map(\.description).joined(separator: ","))"])
                try await persist([.tasks(records)])
                notifyWork()
                return
            }
            if run.phase == 1 {
                let (input, _) = try Aggregation.phaseTwoInput(data: executor.data, results: results)
                run.phase = 2
                run.phaseTwo = input
                tasks = executor.phaseTwoKeys().map { TaskRecord(id: TaskID(run: run.id, key: $0)) }
                logger.info("cross-validation done", metadata: ["run": "\(run.id)", "alphas": "\(input.alphas)", "tasks": "\(tasks.count)"])
            } else {
                let report = try Aggregation.report(data: executor.data, executor: executor, results: results, software: software)
                run.report = Data(Render.json(report).utf8)
                run.state = .done
                run.finished = clock()
                let check = checkSeconds[run.id] ?? (0, 0)
                logger.info("run done", metadata: ["run": "\(run.id)", "certifyMs": "\(Int(check.certify * 1000))", "recomputeMs": "\(Int(check.recompute * 1000))"])
            }
        } catch let e as ServiceError {
            throw e
        } catch {
            run.state = .failed
            run.error = "\(error)"
            run.finished = clock()
            logger.error("run failed", metadata: ["run": "\(run.id)", "error": "\(error)"])
        }
        runCache[run.id] = run
        if run.state == .running {
            _ = scheduler.add(tasks)
            notifyWork()
        } else {
            scheduler.remove(run: run.id)
            contributors[run.id] = nil
            checkSeconds[run.id] = nil
        }
        try await persist([.run(run, tasks: tasks)])
        notifyRun(run.id)
    }
}

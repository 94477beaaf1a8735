import Analysis
import CoordinatorAPI
import Foundation
import Lasso
import Logging
import Plan
import Scheduler
import Store
import Tabular

// The run catalog: creating, preparing, listing, cancelling and exporting runs, and the long
// poll on a run's status.

extension CoordinatorService {
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
            let executor = try TaskExecutor.prepare(
                spec: String(decoding: spec, as: UTF8.self), source: "spec of run \(run.id)",
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
        guard var object = try? JSONValue.parse(run.spec), object["data"]?.isObject == true else {
            throw ServiceError(.invalid, "the job spec must be a JSON object with a \"data\" object")
        }
        object["data"]?["csv"] = .string(run.dataName ?? "sha256:\(run.dataset)")
        return try object.encoded()
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
        var run = RunRow(
            id: id, sequence: sequence, name: "", spec: Data(request.spec.utf8), dataset: request.dataset,
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
            logger.info(
                "run created",
                metadata: [
                    "run": "\(id)", "tasks": "\(tasks.count)", "dataset": "\(request.dataset.prefix(12))", "rows": "\(executor.data.rowCount)",
                ])
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
            logger.info(
                "run created",
                metadata: [
                    "run": "\(id)", "tasks": "\(tasks.count)", "dataset": "\(request.dataset.prefix(12))", "rows": "\(executor.data.rowCount)",
                ])
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
        let records =
            scheduler.tasks.values.contains(where: { $0.id.run == run.id })
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
        return Wire.RunStatus(
            id: run.id, name: run.name, state: run.state, phase: run.phase, tasks: counts,
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
        return MetricsSnapshot(
            counters: counters, tasks: tasks, runs: runs,
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
        var files = [
            ("replicates.csv", Aggregation.replicatesCSV(data: executor.data, results: results)),
            ("rows.csv", Aggregation.rowCellsCSV(data: executor.data, executor: executor)),
        ]
        if let j = Aggregation.jackknifeCSV(data: executor.data, executor: executor, results: results) { files.append(("jackknife.csv", j)) }
        files.append(("model.json", try Aggregation.model(data: executor.data, results: results, software: software)))
        return files.map { (name: $0.0, text: $0.1) }
    }

    public func context(_ id: String) throws -> Wire.RunContext {
        guard let run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        return Wire.RunContext(
            run: id, spec: String(decoding: try Self.specForRun(run), as: UTF8.self), dataset: run.dataset,
            resampleIndices: run.resampleIndices)
    }
}

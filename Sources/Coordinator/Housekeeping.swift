import Analysis
import Foundation
import Store

/// What the coordinator keeps and for how long, so that its memory and its store stay bounded
/// however many runs, workers and uploads come and go.
public struct Housekeeping: Sendable {
    /// Bytes of prepared runs (parsed data, compressed design) kept in memory: running runs and
    /// the latest finished run whose exports were asked for. Over the budget the least recently
    /// used is dropped (preparation is deterministic: it is rebuilt on demand).
    public var preparedBudget: Int
    /// Workers not heard from for this many seconds are forgotten (memory and store).
    public var workerExpiry: Double
    /// At most this many workers are registered; beyond it the least recently seen are forgotten.
    public var maxWorkers: Int
    /// A dataset no run refers to is deleted this many seconds after its upload (or after the
    /// last run using it was deleted). Datasets whose runs all failed or were cancelled go at once.
    public var datasetGrace: Double

    public init(preparedBudget: Int = 256 << 20, workerExpiry: Double = 3600, maxWorkers: Int = 10_000, datasetGrace: Double = 3600) {
        self.preparedBudget = preparedBudget
        self.workerExpiry = workerExpiry
        self.maxWorkers = maxWorkers
        self.datasetGrace = datasetGrace
    }
}

/// Worker and host names as every worker endpoint accepts them.
public enum WorkerIdentity {
    /// Longest worker or host name accepted.
    public static let maxLength = 256

    /// Checks a worker's self-description (the one check of every worker endpoint): a
    /// non-empty name and a host of at most 256 characters without control characters, and
    /// (when given) threads in 1...65536.
    public static func validate(worker: String, host: String? = nil, threads: Int? = nil) throws {
        func check(_ value: String, _ what: String, allowEmpty: Bool) throws {
            if value.isEmpty && !allowEmpty { throw ServiceError(.invalid, "\(what) must be non-empty") }
            if value.utf8.count > maxLength * 4 || value.count > maxLength {
                throw ServiceError(.invalid, "\(what) must be at most \(maxLength) characters")
            }
            if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                throw ServiceError(.invalid, "\(what) must not contain control characters")
            }
        }
        try check(worker, "worker", allowEmpty: false)
        if let host { try check(host, "host", allowEmpty: true) }
        if let threads, !(1...65536).contains(threads) { throw ServiceError(.invalid, "threads must be between 1 and 65536") }
    }
}

extension CoordinatorService {
    // MARK: prepared runs

    /// Keeps a prepared run in the LRU, dropping others over the byte budget (finished runs'
    /// first: only the latest finished one is kept, for repeated exports).
    func remember(_ id: String, _ executor: TaskExecutor) {
        useTick += 1
        prepared[id] = executor
        preparedUse[id] = (executor.estimatedBytes, useTick)
        resampleCounts[id] = executor.resampleCount
        var dropped = false
        if !isRunning(id) {
            for other in preparedUse.keys where other != id && !isRunning(other) {
                dropPreparation(other, trim: false)
                dropped = true
            }
        }
        var total = preparedUse.values.reduce(0) { $0 + $1.bytes }
        while total > housekeeping.preparedBudget, preparedUse.count > 1,
            let victim = preparedUse.filter({ $0.key != id }).min(by: { $0.value.tick < $1.value.tick })
        {
            total -= victim.value.bytes
            logger.info("prepared run evicted (over the budget)", metadata: ["run": "\(victim.key)", "bytes": "\(victim.value.bytes)"])
            dropPreparation(victim.key, trim: false)
            dropped = true
        }
        if dropped { returnFreedMemory() }
    }

    /// Whether a run is running (a run being created, not yet cached, counts as running).
    func isRunning(_ id: String) -> Bool { runCache[id].map { $0.state == .running } ?? true }

    /// Forgets a run's preparation (rebuilt on demand if it is needed again).
    func dropPreparation(_ id: String, trim: Bool = true) {
        guard let executor = prepared.removeValue(forKey: id) else { return }
        preparedUse[id] = nil
        TaskExecutor.forgetShared(dataHash: executor.data.dataHash)
        if trim { returnFreedMemory() }
    }

    /// Bytes of the prepared runs held now (an estimate).
    public var preparedBytes: Int { preparedUse.values.reduce(0) { $0 + $1.bytes } }

    /// Runs whose preparation is held now.
    public var preparedRuns: [String] { prepared.keys.sorted() }

    /// A run's number of resamples without preparing it when that can be avoided.
    func resampleCount(of run: RunRow) -> Int {
        if let n = resampleCounts[run.id] { return n }
        if run.resampleIndices == nil, let spec = try? Self.parseSpec(Self.specForRun(run), run: run.id) {
            resampleCounts[run.id] = spec.bootstrap.resamples
            return spec.bootstrap.resamples
        }
        guard run.state == .running, preparing[run.id] == nil, let e = try? prepare(run) else { return 0 }
        return e.resampleCount
    }

    /// The ids of the running runs, listed at most four times a second (sent with lease
    /// answers so workers drop the preparations of runs that ended).
    public func runningRunIDs() -> [String] {
        let now = clock()
        if now - runningIDsAt >= 0.25 || now < runningIDsAt {
            runningIDsAt = now
            runningIDs = runCache.values.filter { $0.state == .running }.map(\.id).sorted()
        }
        return runningIDs
    }

    // MARK: workers

    /// Forgets the least recently seen tenth of the registry (it is over ``Housekeeping/maxWorkers``).
    func capRegistry() {
        let keep = housekeeping.maxWorkers - max(1, housekeeping.maxWorkers / 10)
        let oldest = workers.values.sorted { $0.lastSeen < $1.lastSeen }.prefix(max(0, workers.count - keep))
        for w in oldest { forgetWorker(w.id) }
        logger.warning("worker registry full: forgot the \(oldest.count) least recently seen", metadata: ["max": "\(housekeeping.maxWorkers)"])
    }

    func forgetWorker(_ id: String) {
        workers[id] = nil
        workerSaved[id] = nil
        forgottenWorkers.append(id)
    }

    // MARK: housekeeping

    /// Forgets workers not heard from within ``Housekeeping/workerExpiry`` and deletes datasets
    /// no live run uses (at once when their runs failed or were cancelled, after
    /// ``Housekeeping/datasetGrace`` when no run refers to them). Called periodically.
    public func housekeep() throws {
        let now = clock()
        for w in workers.values where now - w.lastSeen > housekeeping.workerExpiry { forgetWorker(w.id) }
        if !forgottenWorkers.isEmpty {
            let ids = forgottenWorkers
            forgottenWorkers = []
            logger.info("forgot \(ids.count) worker(s) not heard from lately")
            do {
                try store.deleteWorkers(ids: ids)
            } catch {
                forgottenWorkers += ids
                throw error
            }
        }
        var live = Set<String>(), dead = Set<String>()
        for stored in try store.runs() {
            let run = runCache[stored.id] ?? stored
            let hashes = [run.dataset] + (run.resampleIndices.map { [$0] } ?? [])
            if run.state == .running || run.state == .done { live.formUnion(hashes) } else { dead.formUnion(hashes) }
        }
        for hash in try store.datasetHashes() where !live.contains(hash) {
            if dead.contains(hash) {
                try deleteStoredDataset(hash, reason: "its runs failed or were cancelled")
            } else if let seen = datasetSeen[hash] {
                if now - seen >= housekeeping.datasetGrace { try deleteStoredDataset(hash, reason: "no run used it within the grace period") }
            } else {
                datasetSeen[hash] = now
            }
        }
        for hash in datasetSeen.keys where live.contains(hash) { datasetSeen[hash] = nil }
    }

    func deleteStoredDataset(_ hash: String, reason: String) throws {
        if try store.deleteDataset(hash: hash) {
            logger.notice("dataset deleted: \(reason)", metadata: ["dataset": "\(hash.prefix(12))"])
        }
        datasetSeen[hash] = nil
    }

    // MARK: deletes

    /// `DELETE /v1/runs/{id}`: cancels the run if it is running, then removes it with its
    /// tasks, results and report. Its dataset stays until housekeeping finds no run using it
    /// (after the grace period, so the data can be submitted again without an upload).
    public func deleteRun(_ id: String) async throws {
        guard var run = try runRow(id) else { throw ServiceError(.notFound, "no run \(id)") }
        if run.state == .running {
            run.state = .cancelled
            run.finished = clock()
            runCache[id] = run
            scheduler.remove(run: id)
            try await persist([.run(run, tasks: [])])
        }
        // Every write queued for the run (results in a group commit) lands before the delete.
        try await persist([], barrier: true)
        _ = try store.deleteRun(id: id)
        runCache[id] = nil
        resampleCounts[id] = nil
        runningIDsAt = -Double.infinity
        dropPreparation(id)
        notifyRun(id)
        let now = clock()
        for hash in [run.dataset] + (run.resampleIndices.map { [$0] } ?? []) { datasetSeen[hash] = now }
        logger.notice("run deleted", metadata: ["run": "\(id)"])
    }

    /// `DELETE /v1/datasets/{hash}`: removes a dataset; 409 while a running run uses it. The
    /// reports of finished runs stay (their exports need the data: upload it again).
    public func deleteDataset(_ hash: String) throws {
        guard try store.hasDataset(hash: hash) else { throw ServiceError(.notFound, "no dataset with hash \(hash)") }
        let users = try store.runs().map { runCache[$0.id] ?? $0 }
            .filter { $0.state == .running && ($0.dataset == hash || $0.resampleIndices == hash) }
        if !users.isEmpty {
            throw ServiceError(
                .conflict,
                "dataset \(hash) is used by running run(s) \(users.prefix(5).map(\.id).joined(separator: ", ")): cancel or delete them first")
        }
        try deleteStoredDataset(hash, reason: "deleted by a client")
    }
}

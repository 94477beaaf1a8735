import Analysis
import CoordinatorAPI
import Foundation
import Lasso
import Logging
import Plan
import Scheduler
import Store
import Tabular

/// A refusal by the coordinator.
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
    public internal(set) var counters = ServiceCounters()
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
    /// Runs whose report is being built (off the actor): a second advance of the same run
    /// meanwhile does nothing.
    var aggregating: Set<String> = []

    /// Opens a coordinator on `store`, resuming every unfinished run.
    public init(
        store: Store, policy: SchedulerPolicy = SchedulerPolicy(), software: String,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        logger: Logger = Logger(label: "lassoboot.coordinator", factory: { _ in SwiftLogNoOpLogHandler() }),
        queueBeforePreparing: Bool = true, verifyFraction: Double = 0.02, certifyResults: Bool = true,
        housekeeping: Housekeeping = Housekeeping(),
        onFatalStorageError: @escaping @Sendable (Error) -> Void = GroupCommitter.exitOnFatal
    ) throws {
        self.store = store
        self.housekeeping = housekeeping
        self.verifyFraction = min(max(verifyFraction, 0), 1)
        self.certifyResults = certifyResults
        self.queueBeforePreparing = queueBeforePreparing
        self.clock = clock
        self.logger = logger
        self.software = software
        committer =
            store is MemoryStore
            ? nil
            : GroupCommitter(
                store: store,
                onAlert: { [logger] alert in
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
        guard bytes.count <= maxBytes else {
            throw ServiceError(.tooLarge, "dataset of \(bytes.count) bytes is larger than the limit of \(maxBytes) bytes")
        }
        let hash = SHA256.hex(bytes)
        if let expected = expectedHash, expected != hash {
            throw ServiceError(.invalid, "dataset hash mismatch: the body hashes to \(hash), the URL says \(expected)")
        }
        let store = self.store
        let created = try await Self.retryingStorage("storing dataset \(hash.prefix(12))") { try store.putDataset(hash: hash, bytes: bytes) }
        datasetSeen[hash] = clock()  // the grace period of an unreferenced upload starts (again)
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
                    throw ServiceError(
                        full ? .storageFull : .unavailable,
                        "\(what): \(GroupCommitter.describe(error, path: nil)) for \(Int(seconds)) s; try again later")
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
        let created = try await Self.retryingStorage("storing dataset \(hash.prefix(12))") {
            try store.finishUpload(upload: upload, hash: hash, size: size)
        }
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
}

import CoordinatorAPI
import Foundation
import Plan
import Scheduler
import Synchronization

/// A run as the coordinator keeps it.
public struct RunRow: Codable, Sendable, Equatable {
    public typealias State = Wire.RunState
    public let id: String
    /// Creation order.
    public let sequence: Int
    public var name: String
    /// The job spec as submitted (JSON bytes; its data path is replaced by the dataset hash).
    public var spec: Data
    public var dataset: String
    public var state: State
    public var phase: Int
    public var phaseTwo: PhaseTwoInput?
    /// `report.json` bytes when done.
    public var report: Data?
    public var error: String?
    public var created: Double
    public var finished: Double?
    /// Dataset hash of an imported resample index matrix, if the run replays one.
    public var resampleIndices: String?
    /// The data file's name, for reports.
    public var dataName: String?

    public init(
        id: String, sequence: Int, name: String, spec: Data, dataset: String, state: State = .running, phase: Int = 1,
        phaseTwo: PhaseTwoInput? = nil, report: Data? = nil, error: String? = nil, created: Double, finished: Double? = nil,
        resampleIndices: String? = nil, dataName: String? = nil
    ) {
        self.resampleIndices = resampleIndices
        self.dataName = dataName
        self.id = id
        self.sequence = sequence
        self.name = name
        self.spec = spec
        self.dataset = dataset
        self.state = state
        self.phase = phase
        self.phaseTwo = phaseTwo
        self.report = report
        self.error = error
        self.created = created
        self.finished = finished
    }
}

/// A worker the coordinator has heard from.
public struct WorkerRow: Codable, Sendable, Equatable {
    public let id: String
    public var host: String
    public var threads: Int
    public var lastSeen: Double
    public var tasksDone: Int

    public init(id: String, host: String, threads: Int, lastSeen: Double, tasksDone: Int) {
        self.id = id
        self.host = host
        self.threads = threads
        self.lastSeen = lastSeen
        self.tasksDone = tasksDone
    }
}

/// One write of a state change (see ``Store/apply(_:)``).
public enum StoreWrite: Sendable {
    /// Task records (inserted or replaced).
    case tasks([TaskRecord])
    /// The first result of a task, with its new record (a later result for the task is ignored).
    case result(TaskID, Data, TaskRecord)
    /// A run row (inserted or replaced) and task records.
    case run(RunRow, tasks: [TaskRecord])
    case worker(WorkerRow)
}

/// Durable coordinator state. Every method is one transaction, so a crash leaves either the
/// state before or after a change, never half of it.
public protocol Store: Sendable {
    /// Applies several state changes (each a list of writes) in one transaction, in order: all
    /// of them commit, or (throwing) none. Every write is idempotent (records replace, a task's
    /// first result wins), so a failed batch can be applied again as it is.
    func apply(_ changes: [[StoreWrite]]) throws
    /// Stores dataset bytes under their sha256; returns false if they were already there.
    func putDataset(hash: String, bytes: Data) throws -> Bool
    func dataset(hash: String) throws -> Data?
    func hasDataset(hash: String) throws -> Bool
    /// Stores piece `index` (0, 1, ...) of a dataset still arriving (`upload` names the upload;
    /// its hash is known only at the end), so an upload of any size is stored without being held
    /// whole in memory.
    func putUploadPiece(upload: String, index: Int, bytes: Data) throws
    /// Files a finished upload of `size` bytes under its sha256; returns false (dropping the
    /// pieces) if that dataset was already stored.
    func finishUpload(upload: String, hash: String, size: Int) throws -> Bool
    /// Drops the pieces of an upload that will not finish (refused, cut off, hash mismatch).
    func abandonUpload(upload: String) throws
    /// Creates a run with its first tasks.
    func createRun(_ run: RunRow, tasks: [TaskRecord]) throws
    func runs() throws -> [RunRow]
    func run(id: String) throws -> RunRow?
    func saveTasks(_ tasks: [TaskRecord]) throws
    func tasks(run: String) throws -> [TaskRecord]
    func results(run: String) throws -> [TaskKey: Data]
    func result(_ id: TaskID) throws -> Data?
    func workers() throws -> [WorkerRow]
    /// Removes a run with its tasks and results (and its report, stored in the run) in one
    /// transaction; returns false if there was no such run.
    func deleteRun(id: String) throws -> Bool
    /// Removes a dataset's bytes; returns false if there was no such dataset.
    func deleteDataset(hash: String) throws -> Bool
    /// The hashes of every stored dataset (data files and resample index matrices).
    func datasetHashes() throws -> [String]
    /// Forgets workers (the registry is liveness information, not results).
    func deleteWorkers(ids: [String]) throws
}

/// Stable text form of a task key for storage: its JSON with sorted keys (as JSONEncoder
/// writes it; built by hand, it is on every write).
public func storageKey(_ key: TaskKey) -> String { key.jsonText }

extension TaskRecord {
    /// The record as JSONEncoder (`.sortedKeys`) writes it, built by hand (it is on every write).
    public func jsonBytes() throws -> Data {
        var w = JSONWriter(capacity: 160 + leases.count * 96)
        w.raw("{\"attempts\":"); w.int(attempts)
        w.raw(",\"id\":{\"key\":"); id.key.writeJSON(to: &w); w.raw(",\"run\":"); w.string(id.run); w.raw("}")
        if let lastError { w.raw(",\"lastError\":"); w.string(lastError) }
        w.raw(",\"leases\":[")
        for (i, l) in leases.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"expiresAt\":"); try w.double(l.expiresAt)
            w.raw(",\"id\":"); w.string(l.id)
            w.raw(",\"issuedAt\":"); try w.double(l.issuedAt)
            w.raw(",\"started\":"); w.bool(l.started)
            w.raw(",\"worker\":"); w.string(l.worker)
            w.raw("}")
        }
        w.raw("],\"notBefore\":"); try w.double(notBefore)
        w.raw(",\"state\":"); w.string(state.rawValue)
        w.raw(",\"unstartedExpiries\":"); w.int(unstartedExpiries)
        w.raw("}")
        return w.data
    }
}

/// The in-memory twin of ``SQLiteStore`` for tests and one-shot local runs.
public final class MemoryStore: Store {
    struct State {
        var datasets: [String: Data] = [:]
        var uploads: [String: [Int: Data]] = [:]
        var runs: [String: RunRow] = [:]
        var tasks: [TaskID: TaskRecord] = [:]
        var results: [TaskID: Data] = [:]
        var workers: [String: WorkerRow] = [:]
    }
    let state = Mutex(State())

    public init() {}

    public func apply(_ changes: [[StoreWrite]]) throws {
        state.withLock { s in
            for change in changes {
                for write in change {
                    switch write {
                    case let .tasks(tasks): for t in tasks { s.tasks[t.id] = t }
                    case let .result(id, bytes, task):
                        if s.results[id] == nil { s.results[id] = bytes }
                        s.tasks[id] = task
                    case let .run(run, tasks):
                        s.runs[run.id] = run
                        for t in tasks { s.tasks[t.id] = t }
                    case let .worker(w): s.workers[w.id] = w
                    }
                }
            }
        }
    }

    public func putDataset(hash: String, bytes: Data) throws -> Bool {
        state.withLock { s in
            if s.datasets[hash] != nil { return false }
            s.datasets[hash] = bytes
            return true
        }
    }
    public func dataset(hash: String) throws -> Data? { state.withLock { $0.datasets[hash] } }
    public func hasDataset(hash: String) throws -> Bool { state.withLock { $0.datasets[hash] != nil } }
    public func putUploadPiece(upload: String, index: Int, bytes: Data) throws {
        state.withLock { $0.uploads[upload, default: [:]][index] = bytes }
    }
    public func finishUpload(upload: String, hash: String, size: Int) throws -> Bool {
        state.withLock { s in
            let pieces = s.uploads.removeValue(forKey: upload) ?? [:]
            if s.datasets[hash] != nil { return false }
            var bytes = Data(capacity: size)
            for i in pieces.keys.sorted() { bytes.append(pieces[i]!) }
            s.datasets[hash] = bytes
            return true
        }
    }
    public func abandonUpload(upload: String) throws { state.withLock { _ = $0.uploads.removeValue(forKey: upload) } }
    public func createRun(_ run: RunRow, tasks: [TaskRecord]) throws {
        state.withLock { s in
            s.runs[run.id] = run
            for t in tasks { s.tasks[t.id] = t }
        }
    }
    public func runs() throws -> [RunRow] { state.withLock { $0.runs.values.sorted { $0.sequence < $1.sequence } } }
    public func run(id: String) throws -> RunRow? { state.withLock { $0.runs[id] } }
    public func saveTasks(_ tasks: [TaskRecord]) throws {
        state.withLock { s in for t in tasks { s.tasks[t.id] = t } }
    }
    public func tasks(run: String) throws -> [TaskRecord] {
        state.withLock { s in s.tasks.values.filter { $0.id.run == run }.sorted { $0.id < $1.id } }
    }
    public func results(run: String) throws -> [TaskKey: Data] {
        state.withLock { s in
            var out: [TaskKey: Data] = [:]
            for (id, r) in s.results where id.run == run { out[id.key] = r }
            return out
        }
    }
    public func result(_ id: TaskID) throws -> Data? { state.withLock { $0.results[id] } }
    public func workers() throws -> [WorkerRow] { state.withLock { $0.workers.values.sorted { $0.id < $1.id } } }
    public func deleteRun(id: String) throws -> Bool {
        state.withLock { s in
            guard s.runs.removeValue(forKey: id) != nil else { return false }
            s.tasks = s.tasks.filter { $0.key.run != id }
            s.results = s.results.filter { $0.key.run != id }
            return true
        }
    }
    public func deleteDataset(hash: String) throws -> Bool { state.withLock { $0.datasets.removeValue(forKey: hash) != nil } }
    public func datasetHashes() throws -> [String] { state.withLock { $0.datasets.keys.sorted() } }
    public func deleteWorkers(ids: [String]) throws {
        state.withLock { s in for id in ids { s.workers[id] = nil } }
    }
}

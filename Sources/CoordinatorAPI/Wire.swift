import Foundation
import Plan

/// The coordinator's API bodies (`/v1`), shared by the coordinator, workers and the CLI.
public enum Wire {
    /// The version of these bodies' shapes and meanings, sent by every worker with its leases: a
    /// coordinator refuses a worker of another version (their tasks and results would not fit),
    /// with a message saying so. Bump it whenever a task, input or result body changes.
    public static let protocolVersion = 3

    /// `POST /v1/runs`: a job spec (JSON text whose `data.csv` names a dataset by hash) to run.
    public struct CreateRun: Codable, Sendable {
        public let spec: String
        public let dataset: String
        /// The data file's name, for reports (the bytes are known by hash).
        public let dataName: String?
        /// An uploaded resample index matrix (one resample of kept-row indices per line) to
        /// replay instead of drawing resamples.
        public let resampleIndices: String?
        public init(spec: String, dataset: String, dataName: String?, resampleIndices: String? = nil) {
            self.spec = spec; self.dataset = dataset; self.dataName = dataName; self.resampleIndices = resampleIndices
        }
    }

    /// Task counts by state.
    public struct TaskCounts: Codable, Sendable, Equatable {
        public var queued = 0, leased = 0, done = 0, failed = 0
        public init(queued: Int = 0, leased: Int = 0, done: Int = 0, failed: Int = 0) {
            self.queued = queued; self.leased = leased; self.done = done; self.failed = failed
        }
        public var total: Int { queued + leased + done + failed }
    }

    /// A worker as `status` shows it.
    public struct WorkerInfo: Codable, Sendable, Equatable {
        public let id: String
        public let host: String
        public let threads: Int
        public let tasksDone: Int
        public let lastSeen: Double
        public init(id: String, host: String, threads: Int, tasksDone: Int, lastSeen: Double) {
            self.id = id; self.host = host; self.threads = threads; self.tasksDone = tasksDone; self.lastSeen = lastSeen
        }
    }

    /// `GET /v1/runs/{id}`: a run and its progress.
    public struct RunStatus: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let state: RunState
        public let phase: Int
        public let tasks: TaskCounts
        public let resamplesDone: Int
        public let resamples: Int
        public let error: String?
        public let created: Double
        public let finished: Double?
        public let dataset: String
        /// Why a running run is not progressing, e.g. `stalled: disk full (SQLITE_FULL) ...`: the
        /// coordinator cannot commit results and is retrying (the run resumes by itself).
        public let alert: String?
        public init(
            id: String, name: String, state: RunState, phase: Int, tasks: TaskCounts, resamplesDone: Int, resamples: Int, error: String?,
            created: Double, finished: Double?, dataset: String, alert: String? = nil
        ) {
            self.id = id; self.name = name; self.state = state; self.phase = phase; self.tasks = tasks; self.resamplesDone = resamplesDone;
            self.resamples = resamples; self.error = error; self.created = created; self.finished = finished; self.dataset = dataset;
            self.alert = alert
        }
    }

    public struct RunList: Codable, Sendable {
        public let runs: [RunStatus]
        public let workers: [WorkerInfo]
        public init(runs: [RunStatus], workers: [WorkerInfo]) { self.runs = runs; self.workers = workers }
    }

    /// `POST /v1/lease`: a worker asks for up to `max` tasks, waiting up to `wait` seconds.
    public struct LeaseRequest: Codable, Sendable {
        public let worker: String
        public let host: String
        public let threads: Int
        public let max: Int
        public let wait: Double
        /// Leases (ids) whose tasks this worker has started running since it last said so.
        /// Optional in every worker request (lease, heartbeat, result): a worker leases a few
        /// tasks ahead, and only a started lease costs its task an attempt when it expires.
        public let started: [String]?
        /// The worker's ``Wire/protocolVersion`` (absent from hand-written clients and workers
        /// from before the check: those are served as before).
        public let protocolVersion: Int?
        public init(
            worker: String, host: String, threads: Int, max: Int, wait: Double, started: [String]? = nil,
            protocolVersion: Int? = Wire.protocolVersion
        ) {
            self.worker = worker; self.host = host; self.threads = threads; self.max = max; self.wait = wait; self.started = started
            self.protocolVersion = protocolVersion
        }
    }

    /// One leased task.
    public struct LeasedTask: Codable, Sendable, Equatable {
        public let run: String
        public let key: TaskKey
        public let lease: String
        public let dataset: String
        public let input: PhaseTwoInput?
        public init(run: String, key: TaskKey, lease: String, dataset: String, input: PhaseTwoInput?) {
            self.run = run; self.key = key; self.lease = lease; self.dataset = dataset; self.input = input
        }
    }

    public struct LeaseResponse: Codable, Sendable {
        public let tasks: [LeasedTask]
        /// The runs still running (absent from older coordinators): a worker drops what it
        /// prepared for any other run.
        public let running: [String]?
        public init(tasks: [LeasedTask], running: [String]? = nil) { self.tasks = tasks; self.running = running }
    }

    /// `POST /v1/heartbeat`: renew these leases.
    public struct Heartbeat: Codable, Sendable {
        public let worker: String
        public let leases: [String]
        /// Leases whose tasks this worker has started running since it last said so (see ``LeaseRequest/started``).
        public let started: [String]?
        public init(worker: String, leases: [String], started: [String]? = nil) { self.worker = worker; self.leases = leases; self.started = started }
    }

    public struct HeartbeatResponse: Codable, Sendable {
        /// The leases still held; a worker drops work on the others.
        public let valid: [String]
        public init(valid: [String]) { self.valid = valid }
    }

    /// `POST /v1/results`: a task's result, or why it failed, or the lease handed back unrun.
    public struct Submission: Codable, Sendable {
        public let worker: String
        public let run: String
        public let key: TaskKey
        public let lease: String
        public let dataset: String
        public let result: TaskResult?
        public let error: String?
        /// True when a draining worker gives the lease back without running it.
        public let released: Bool?
        /// Leases whose tasks this worker has started running since it last said so (see ``LeaseRequest/started``).
        public let started: [String]?
        /// Compute time of the task on the worker (for the fit-time metric; not part of the result).
        public let seconds: Double?
        public init(
            worker: String, run: String, key: TaskKey, lease: String, dataset: String,
            result: TaskResult?, error: String? = nil, released: Bool? = nil, started: [String]? = nil, seconds: Double? = nil
        ) {
            self.worker = worker; self.run = run; self.key = key; self.lease = lease; self.dataset = dataset
            self.result = result; self.error = error; self.released = released; self.started = started; self.seconds = seconds
        }
    }

    /// What the coordinator did with a submitted result. Results refused (not leased to this
    /// worker, invalid, not certified, differing from the coordinator's recomputation) get a 4xx
    /// error instead.
    public enum SubmissionStatus: String, Codable, Sendable, CaseIterable {
        /// Stored: the task is done.
        case accepted
        /// The task already had an equal result.
        case duplicate
        /// The task already had a result and this one differs (logged and counted).
        case mismatch
        /// The worker reported the task failed (it is retried or fails the run).
        case failed
        /// The worker handed the lease back unstarted.
        case released
    }

    public struct SubmissionResponse: Codable, Sendable {
        public let status: SubmissionStatus
        public init(status: SubmissionStatus) { self.status = status }
    }

    /// What became of a run.
    public enum RunState: String, Codable, Sendable, CaseIterable {
        /// Tasks of phase 1 or 2 are being worked on.
        case running
        /// The report is ready.
        case done
        /// A task failed for good, or the analysis could not be completed.
        case failed
        case cancelled
    }

    /// `GET /v1/runs/{id}/context`: what a worker needs to execute the run's tasks.
    public struct RunContext: Codable, Sendable {
        public let run: String
        public let spec: String
        public let dataset: String
        /// Dataset hash of an imported resample index matrix, if the run replays one.
        public let resampleIndices: String?
        public init(run: String, spec: String, dataset: String, resampleIndices: String?) {
            self.run = run; self.spec = spec; self.dataset = dataset; self.resampleIndices = resampleIndices
        }
    }

    /// Every error body.
    public struct ErrorBody: Codable, Sendable {
        public let error: String
        public init(error: String) { self.error = error }
    }
}

import Plan

/// Identity of one task of one run.
public struct TaskID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let run: String
    public let key: TaskKey

    public init(run: String, key: TaskKey) {
        self.run = run
        self.key = key
    }

    public static func < (a: TaskID, b: TaskID) -> Bool { (a.run, a.key) < (b.run, b.key) }
    public var description: String { "\(run)/\(key)" }
}

/// Where a task is in its life.
public enum TaskState: String, Codable, Sendable {
    case queued, leased, done, failed
}

/// One outstanding lease of a task to a worker.
public struct LeaseInfo: Codable, Sendable, Equatable {
    public let id: String
    public let worker: String
    public let issuedAt: Double
    public var expiresAt: Double
    /// The worker reported that it started running the task (rather than holding it in its
    /// prefetch queue). Only a started lease that expires costs the task an attempt.
    public var started: Bool

    public init(id: String, worker: String, issuedAt: Double, expiresAt: Double, started: Bool = false) {
        self.id = id
        self.worker = worker
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.started = started
    }

    enum CodingKeys: String, CodingKey { case id, worker, issuedAt, expiresAt, started }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        worker = try c.decode(String.self, forKey: .worker)
        issuedAt = try c.decode(Double.self, forKey: .issuedAt)
        expiresAt = try c.decode(Double.self, forKey: .expiresAt)
        started = try c.decodeIfPresent(Bool.self, forKey: .started) ?? false  // rows written before the field existed
    }
}

/// The scheduler's view of one task.
public struct TaskRecord: Codable, Sendable, Equatable {
    public let id: TaskID
    public var state: TaskState
    /// Started leases that ended without a result (expired, failed).
    public var attempts: Int
    /// Leases that expired before their worker reported starting the task (prefetched by a
    /// worker that was lost): not attempts, but bounded by ``SchedulerPolicy/maxUnstartedExpiries``.
    public var unstartedExpiries: Int
    /// Not to be leased before this time (retry backoff).
    public var notBefore: Double
    public var leases: [LeaseInfo]
    public var lastError: String?

    public init(
        id: TaskID, state: TaskState = .queued, attempts: Int = 0, notBefore: Double = 0,
        leases: [LeaseInfo] = [], lastError: String? = nil, unstartedExpiries: Int = 0
    ) {
        self.id = id
        self.state = state
        self.attempts = attempts
        self.notBefore = notBefore
        self.leases = leases
        self.lastError = lastError
        self.unstartedExpiries = unstartedExpiries
    }

    enum CodingKeys: String, CodingKey { case id, state, attempts, notBefore, leases, lastError, unstartedExpiries }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(TaskID.self, forKey: .id)
        state = try c.decode(TaskState.self, forKey: .state)
        attempts = try c.decode(Int.self, forKey: .attempts)
        notBefore = try c.decode(Double.self, forKey: .notBefore)
        leases = try c.decode([LeaseInfo].self, forKey: .leases)
        lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
        unstartedExpiries = try c.decodeIfPresent(Int.self, forKey: .unstartedExpiries) ?? 0
    }
}

/// Lease timing and retry policy.
public struct SchedulerPolicy: Sendable, Equatable {
    /// A lease not renewed within this many seconds expires and its task goes back to the queue.
    public var leaseDuration: Double = 30
    /// Attempts (leases that ended without a result) before a task is failed for good.
    public var maxAttempts: Int = 3
    /// Backoff before a retry: base * 2^(attempts - 1) seconds.
    public var backoffBase: Double = 1
    /// When the queue is empty, a task leased longer ago than this may get a second lease
    /// (to an idle worker), so one slow or lost worker does not hold up the end of a run.
    public var speculativeAfter: Double = 10
    /// Leases that expire unstarted (a lost worker's prefetch queue) are not attempts, but after
    /// this many the next one counts as one: a task that kills its worker before the worker can
    /// report the start still ends up failed instead of being re-issued forever.
    public var maxUnstartedExpiries: Int = 20

    public init(
        leaseDuration: Double = 30, maxAttempts: Int = 3, backoffBase: Double = 1, speculativeAfter: Double = 10,
        maxUnstartedExpiries: Int = 20
    ) {
        self.leaseDuration = leaseDuration
        self.maxAttempts = maxAttempts
        self.backoffBase = backoffBase
        self.speculativeAfter = speculativeAfter
        self.maxUnstartedExpiries = maxUnstartedExpiries
    }
}

/// What the I/O layer must do after a scheduler step: persist these task records.
public struct SchedulerChanges: Sendable, Equatable {
    public var tasks: [TaskRecord] = []
    /// Tasks that just failed for good (after the last attempt).
    public var failed: [TaskID] = []
}

/// The outcome of handing in a result.
public enum CompletionOutcome: Sendable, Equatable {
    /// First valid result: store it.
    case accepted
    /// The task already has a result (a re-issued or late lease): acknowledge and compare.
    case duplicate
    /// No such task.
    case unknownTask
    /// The lease is not one this coordinator issued to this worker for this task: refused.
    case notLeased
}

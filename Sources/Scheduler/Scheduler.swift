import Analysis

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

    public init(id: String, worker: String, issuedAt: Double, expiresAt: Double) {
        self.id = id
        self.worker = worker
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// The scheduler's view of one task.
public struct TaskRecord: Codable, Sendable, Equatable {
    public let id: TaskID
    public var state: TaskState
    /// Leases issued that ended without a result (expired, released, failed).
    public var attempts: Int
    /// Not to be leased before this time (retry backoff).
    public var notBefore: Double
    public var leases: [LeaseInfo]
    public var lastError: String?

    public init(id: TaskID, state: TaskState = .queued, attempts: Int = 0, notBefore: Double = 0,
                leases: [LeaseInfo] = [], lastError: String? = nil) {
        self.id = id
        self.state = state
        self.attempts = attempts
        self.notBefore = notBefore
        self.leases = leases
        self.lastError = lastError
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

    public init(leaseDuration: Double = 30, maxAttempts: Int = 3, backoffBase: Double = 1, speculativeAfter: Double = 10) {
        self.leaseDuration = leaseDuration
        self.maxAttempts = maxAttempts
        self.backoffBase = backoffBase
        self.speculativeAfter = speculativeAfter
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
}

/// The lease / attempt / retry state machine: pure, clock injected as seconds.
///
/// Every method takes `now` and returns the records it changed, for the caller to persist in
/// one transaction. Nothing here sleeps, reads a clock or touches a socket, so lease expiry and
/// retries are tested by passing times.
public struct Scheduler: Sendable {
    public let policy: SchedulerPolicy
    public private(set) var tasks: [TaskID: TaskRecord] = [:]
    /// Queued tasks in lease order (run creation order, then key order).
    private var queue: [TaskID] = []
    private var queueHead = 0
    private var nextLease = 0
    private let leasePrefix: String

    /// - Parameter leasePrefix: distinguishes lease ids across coordinator restarts.
    public init(policy: SchedulerPolicy = SchedulerPolicy(), leasePrefix: String = "L") {
        self.policy = policy
        self.leasePrefix = leasePrefix
    }

    /// Adds tasks (new, or reloaded after a restart: outstanding leases are dropped and their
    /// tasks queued again, since no worker can hand in a result for a lease it cannot prove).
    public mutating func add(_ records: [TaskRecord]) -> SchedulerChanges {
        var changes = SchedulerChanges()
        for var r in records.sorted(by: { $0.id < $1.id }) {
            if r.state == .leased {
                r.state = .queued
                r.leases = []
                changes.tasks.append(r)
            }
            tasks[r.id] = r
            if r.state == .queued { queue.append(r.id) }
        }
        return changes
    }

    /// Drops every task of a run (cancelled or finished and archived).
    public mutating func remove(run: String) {
        tasks = tasks.filter { $0.key.run != run }
        queue = queue[queueHead...].filter { $0.run != run }
        queueHead = 0
    }

    /// Counts by state for one run.
    public func counts(run: String) -> [TaskState: Int] {
        var c: [TaskState: Int] = [:]
        for (id, r) in tasks where id.run == run { c[r.state, default: 0] += 1 }
        return c
    }

    /// Up to `max` leases for `worker`: queued tasks first; when none is left, tasks whose
    /// only lease is older than ``SchedulerPolicy/speculativeAfter`` get a second lease.
    public mutating func lease(worker: String, max: Int, now: Double) -> (leases: [(TaskID, LeaseInfo)], changes: SchedulerChanges) {
        var out: [(TaskID, LeaseInfo)] = []
        var changes = SchedulerChanges()
        var deferred: [TaskID] = []
        while out.count < max && queueHead < queue.count {
            let id = queue[queueHead]
            queueHead += 1
            guard var r = tasks[id], r.state == .queued else { continue }
            if r.notBefore > now { deferred.append(id); continue }
            let info = newLease(worker: worker, now: now)
            r.state = .leased
            r.leases.append(info)
            tasks[id] = r
            changes.tasks.append(r)
            out.append((id, info))
        }
        compactQueue(prepending: deferred)
        if out.count < max {
            // Speculative re-issue near the end of a run.
            let candidates = tasks.values
                .filter { $0.state == .leased && $0.leases.count == 1 && now - $0.leases[0].issuedAt >= policy.speculativeAfter
                    && $0.leases[0].worker != worker }
                .sorted { ($0.leases[0].issuedAt, $0.id) < ($1.leases[0].issuedAt, $1.id) }
            for var r in candidates.prefix(max - out.count) {
                let info = newLease(worker: worker, now: now)
                r.leases.append(info)
                tasks[r.id] = r
                changes.tasks.append(r)
                out.append((r.id, info))
            }
        }
        return (out, changes)
    }

    private mutating func newLease(worker: String, now: Double) -> LeaseInfo {
        nextLease += 1
        return LeaseInfo(id: "\(leasePrefix)\(nextLease)", worker: worker, issuedAt: now, expiresAt: now + policy.leaseDuration)
    }

    private mutating func compactQueue(prepending deferred: [TaskID]) {
        if queueHead > 1024 && queueHead * 2 > queue.count || !deferred.isEmpty {
            queue = deferred + queue[queueHead...]
            queueHead = 0
        }
    }

    /// Renews the worker's leases; returns the ids that are still valid (others were lost).
    public mutating func heartbeat(worker: String, leaseIDs: [String], now: Double) -> (valid: [String], changes: SchedulerChanges) {
        let wanted = Set(leaseIDs)
        var valid: [String] = []
        var changes = SchedulerChanges()
        for (id, var r) in tasks where r.state == .leased {
            var touched = false
            for i in r.leases.indices where r.leases[i].worker == worker && wanted.contains(r.leases[i].id) {
                r.leases[i].expiresAt = now + policy.leaseDuration
                valid.append(r.leases[i].id)
                touched = true
            }
            if touched {
                tasks[id] = r
                changes.tasks.append(r)
            }
        }
        return (valid.sorted(), changes)
    }

    /// Records a result for `id` (from any lease, even an expired one: results are deterministic,
    /// so the first valid one is as good as any).
    public mutating func complete(_ id: TaskID, now: Double) -> (CompletionOutcome, SchedulerChanges) {
        guard var r = tasks[id] else { return (.unknownTask, SchedulerChanges()) }
        if r.state == .done { return (.duplicate, SchedulerChanges()) }
        r.state = .done
        r.leases = []
        r.lastError = nil
        tasks[id] = r
        return (.accepted, SchedulerChanges(tasks: [r]))
    }

    /// A worker reports that running the task failed (or it gives the lease back on shutdown
    /// with `countsAsAttempt: false`).
    public mutating func fail(_ id: TaskID, leaseID: String, cause: String, countsAsAttempt: Bool = true, now: Double) -> SchedulerChanges {
        guard var r = tasks[id], r.state == .leased, let i = r.leases.firstIndex(where: { $0.id == leaseID }) else {
            return SchedulerChanges()
        }
        r.leases.remove(at: i)
        return endAttempt(&r, cause: cause, counts: countsAsAttempt, now: now)
    }

    /// Expires leases whose time is up; their tasks are queued again (with backoff) or failed.
    public mutating func expire(now: Double) -> SchedulerChanges {
        var changes = SchedulerChanges()
        let due = tasks.values.filter { $0.state == .leased && $0.leases.contains { $0.expiresAt <= now } }.map(\.id).sorted()
        for id in due {
            guard var r = tasks[id], r.state == .leased else { continue }
            let before = r.leases.count
            r.leases.removeAll { $0.expiresAt <= now }
            guard r.leases.count != before else { continue }
            let c = endAttempt(&r, cause: "lease expired (worker lost or too slow)", counts: true, now: now)
            changes.tasks += c.tasks
            changes.failed += c.failed
        }
        return changes
    }

    private mutating func endAttempt(_ r: inout TaskRecord, cause: String, counts: Bool, now: Double) -> SchedulerChanges {
        var changes = SchedulerChanges()
        if counts { r.attempts += 1 }
        r.lastError = cause
        if !r.leases.isEmpty {
            // Another lease of the same task is still running.
        } else if r.attempts >= policy.maxAttempts {
            r.state = .failed
            changes.failed.append(r.id)
        } else {
            r.state = .queued
            r.notBefore = counts ? now + policy.backoffBase * Double(1 << max(0, r.attempts - 1)) : now
            queue.append(r.id)
        }
        tasks[r.id] = r
        changes.tasks.append(r)
        return changes
    }

    /// The earliest time a lease expires (so the I/O layer knows when to call ``expire(now:)``).
    public var nextExpiry: Double? {
        tasks.values.lazy.filter { $0.state == .leased }.flatMap { $0.leases.map(\.expiresAt) }.min()
    }
}

import Plan

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
    /// The task of every outstanding lease (by lease id).
    private var leaseIndex: [String: TaskID] = [:]
    /// Tasks not done, per run and phase (so "is this phase finished?" is O(1)).
    private var open: [String: [Int: Int]] = [:]
    /// Leases issued by this scheduler that ended without a result (expired, or a speculative
    /// twin), per task: lease id to worker. A late result from one is genuine (it was issued),
    /// so it is still accepted if the task has no result yet. Dropped when the task completes.
    private var endedLeases: [TaskID: [String: String]] = [:]
    /// Workers that reported an error for a task.
    private var errorReporters: [TaskID: Set<String>] = [:]
    /// Unpredictable part of every lease id, so a lease id cannot be guessed from another.
    private let leaseNonce: @Sendable () -> UInt64

    /// - Parameters:
    ///   - leasePrefix: distinguishes lease ids across coordinator restarts.
    ///   - leaseNonce: the random part of lease ids (injected so tests can fix it).
    public init(
        policy: SchedulerPolicy = SchedulerPolicy(), leasePrefix: String = "L",
        leaseNonce: @escaping @Sendable () -> UInt64 = { UInt64.random(in: .min ... .max) }
    ) {
        self.policy = policy
        self.leasePrefix = leasePrefix
        self.leaseNonce = leaseNonce
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
            if let old = tasks[r.id] {
                if old.state != .done { open[r.id.run, default: [:]][r.id.key.phase, default: 0] -= 1 }
                for l in old.leases { leaseIndex[l.id] = nil }
            }
            tasks[r.id] = r
            if r.state != .done { open[r.id.run, default: [:]][r.id.key.phase, default: 0] += 1 }
            for l in r.leases { leaseIndex[l.id] = r.id }
            if r.state == .queued { queue.append(r.id) }
        }
        return changes
    }

    /// Drops every task of a run (cancelled or finished and archived).
    public mutating func remove(run: String) {
        tasks = tasks.filter { $0.key.run != run }
        endedLeases = endedLeases.filter { $0.key.run != run }
        errorReporters = errorReporters.filter { $0.key.run != run }
        queue = queue[queueHead...].filter { $0.run != run }
        queueHead = 0
        leaseIndex = leaseIndex.filter { $0.value.run != run }
        open[run] = nil
    }

    /// Counts by state for one run.
    public func counts(run: String) -> [TaskState: Int] {
        var c: [TaskState: Int] = [:]
        for (id, r) in tasks where id.run == run { c[r.state, default: 0] += 1 }
        return c
    }

    /// Whether a task of this run and phase is not done yet (queued, leased or failed).
    public func hasOpenTasks(run: String, phase: Int) -> Bool {
        (open[run]?[phase] ?? 0) > 0
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
            // A task this worker reported an error for waits a lease duration for other workers.
            if now < r.notBefore + policy.leaseDuration, errorReporters[id]?.contains(worker) == true { deferred.append(id); continue }
            let info = newLease(worker: worker, now: now, task: id)
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
                .filter {
                    $0.state == .leased && $0.leases.count == 1 && now - $0.leases[0].issuedAt >= policy.speculativeAfter
                        && $0.leases[0].worker != worker
                }
                .sorted { ($0.leases[0].issuedAt, $0.id) < ($1.leases[0].issuedAt, $1.id) }
            for var r in candidates.prefix(max - out.count) {
                let info = newLease(worker: worker, now: now, task: r.id)
                r.leases.append(info)
                tasks[r.id] = r
                changes.tasks.append(r)
                out.append((r.id, info))
            }
        }
        return (out, changes)
    }

    /// Queued tasks (an upper bound: entries of tasks leased since are skipped lazily).
    public var queuedCount: Int { queue.count - queueHead }

    private mutating func newLease(worker: String, now: Double, task: TaskID) -> LeaseInfo {
        nextLease += 1
        let nonce = String(leaseNonce(), radix: 16)
        let info = LeaseInfo(
            id: "\(leasePrefix)\(nextLease)-\(String(repeating: "0", count: 16 - nonce.count))\(nonce)", worker: worker, issuedAt: now,
            expiresAt: now + policy.leaseDuration)
        leaseIndex[info.id] = task
        return info
    }

    private mutating func compactQueue(prepending deferred: [TaskID]) {
        if queueHead > 1024 && queueHead * 2 > queue.count || !deferred.isEmpty {
            queue = deferred + queue[queueHead...]
            queueHead = 0
        }
    }

    /// Renews the worker's leases; returns the ids that are still valid (others were lost).
    /// `started` lists leases the worker has begun running (see ``markStarted(worker:leaseIDs:)``).
    public mutating func heartbeat(
        worker: String, leaseIDs: [String], started: [String] = [], now: Double
    ) -> (valid: [String], changes: SchedulerChanges) {
        var changed: [TaskID: TaskRecord] = [:]
        var valid: [String] = []
        let startedSet = Set(started)
        for lease in Set(leaseIDs).union(startedSet) {
            guard let id = leaseIndex[lease], var r = changed[id] ?? tasks[id], r.state == .leased,
                let i = r.leases.firstIndex(where: { $0.id == lease && $0.worker == worker })
            else { continue }
            r.leases[i].expiresAt = now + policy.leaseDuration
            if startedSet.contains(lease) { r.leases[i].started = true }
            valid.append(lease)
            changed[id] = r
        }
        for (id, r) in changed { tasks[id] = r }
        return (valid.sorted(), SchedulerChanges(tasks: changed.values.sorted { $0.id < $1.id }))
    }

    /// Records that `worker` has started running the tasks of these leases (a worker leases a
    /// few tasks ahead; only a lease whose task was started costs an attempt when it expires).
    /// Unknown, foreign or already started leases are ignored.
    public mutating func markStarted(worker: String, leaseIDs: [String]) -> SchedulerChanges {
        var changes = SchedulerChanges()
        for lease in leaseIDs {
            guard let id = leaseIndex[lease], var r = tasks[id], r.state == .leased,
                let i = r.leases.firstIndex(where: { $0.id == lease && $0.worker == worker }), !r.leases[i].started
            else { continue }
            r.leases[i].started = true
            tasks[id] = r
            changes.tasks.append(r)
        }
        return changes
    }

    /// What ``complete(_:lease:worker:now:)`` would answer now, changing nothing (so a result
    /// can be checked before the expensive checks of its content).
    public func check(_ id: TaskID, lease: String, worker: String) -> CompletionOutcome {
        guard let r = tasks[id] else { return .unknownTask }
        if r.state == .done { return .duplicate }
        let live = leaseIndex[lease] == id && r.leases.contains { $0.id == lease && $0.worker == worker }
        return live || endedLeases[id]?[lease] == worker ? .accepted : .notLeased
    }

    /// Records a result for `id` handed in by `worker` under `lease`.
    ///
    /// Accepted only from a lease this scheduler issued to that worker for that task: a live
    /// one, or one that ended without a result (expired, a speculative twin) if the task has no
    /// result yet: results are deterministic, so a late genuine one is as good as any. A result
    /// for a task that is done is a duplicate (the caller compares it with the stored one).
    public mutating func complete(_ id: TaskID, lease: String, worker: String, now: Double) -> (CompletionOutcome, SchedulerChanges) {
        let verdict = check(id, lease: lease, worker: worker)
        guard verdict == .accepted, var r = tasks[id] else { return (verdict, SchedulerChanges()) }
        endedLeases[id] = nil
        errorReporters[id] = nil
        r.state = .done
        for l in r.leases { leaseIndex[l.id] = nil }
        r.leases = []
        r.lastError = nil
        tasks[id] = r
        open[id.run, default: [:]][id.key.phase, default: 0] -= 1
        return (.accepted, SchedulerChanges(tasks: [r]))
    }

    /// A worker reports that running the task failed (or it gives the lease back on shutdown
    /// with `countsAsAttempt: false`). Only the worker holding the lease can end it. Errors
    /// from one worker count once per task: the task is then kept from that worker for a lease
    /// duration (see ``lease(worker:max:now:)``), so one faulty or hostile worker cannot fail a
    /// task by itself; only if no other worker took it in that time (a one-worker run) does the
    /// same worker's next error count again, so a lone worker still ends a failing task.
    public mutating func fail(
        _ id: TaskID, leaseID: String, worker: String, cause: String, countsAsAttempt: Bool = true, now: Double
    ) -> SchedulerChanges {
        guard var r = tasks[id], r.state == .leased, let i = r.leases.firstIndex(where: { $0.id == leaseID && $0.worker == worker }) else {
            return SchedulerChanges()
        }
        let issued = r.leases[i].issuedAt
        var counts = countsAsAttempt
        if countsAsAttempt && !errorReporters[id, default: []].insert(worker).inserted {
            // A repeat: it counts only if the task had waited a lease duration for other workers.
            counts = issued >= r.notBefore + policy.leaseDuration
        }
        endedLeases[id, default: [:]][leaseID] = worker
        r.leases.remove(at: i)
        leaseIndex[leaseID] = nil
        return endAttempt(&r, cause: cause, counts: counts, now: now)
    }

    /// Ends every lease a worker holds without counting attempts (the worker is quarantined:
    /// its tasks go to others at once instead of waiting for its leases to expire).
    public mutating func revokeLeases(of worker: String, now: Double) -> SchedulerChanges {
        var changes = SchedulerChanges()
        let held = tasks.values.filter { $0.state == .leased && $0.leases.contains { $0.worker == worker } }.map(\.id).sorted()
        for id in held {
            guard var r = tasks[id] else { continue }
            for l in r.leases where l.worker == worker { leaseIndex[l.id] = nil }
            r.leases.removeAll { $0.worker == worker }
            let c = endAttempt(&r, cause: "lease revoked: worker \(worker.prefix(64)) quarantined", counts: false, now: now)
            changes.tasks += c.tasks
        }
        return changes
    }

    /// Expires leases whose time is up; their tasks are queued again (with backoff) or failed.
    /// A lease that expires before its worker reported starting the task (it sat in the prefetch
    /// queue of a worker that was lost) re-queues the task at once without costing an attempt.
    public mutating func expire(now: Double) -> SchedulerChanges {
        var changes = SchedulerChanges()
        let due = tasks.values.filter { $0.state == .leased && $0.leases.contains { $0.expiresAt <= now } }.map(\.id).sorted()
        for id in due {
            guard var r = tasks[id], r.state == .leased else { continue }
            let expired = r.leases.filter { $0.expiresAt <= now }
            guard !expired.isEmpty else { continue }
            r.leases.removeAll { $0.expiresAt <= now }
            for l in expired {
                leaseIndex[l.id] = nil
                endedLeases[id, default: [:]][l.id] = l.worker
            }
            var counts = expired.contains { $0.started }
            let cause: String
            if counts {
                cause = "lease expired (worker lost or too slow)"
            } else {
                r.unstartedExpiries += 1
                counts = r.unstartedExpiries > policy.maxUnstartedExpiries
                cause =
                    counts
                    ? "lease expired \(r.unstartedExpiries) times before a worker reported starting the task (workers lost)"
                    : "lease expired before the task was started (worker lost)"
            }
            let c = endAttempt(&r, cause: cause, counts: counts, now: now)
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

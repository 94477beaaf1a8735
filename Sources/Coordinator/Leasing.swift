import Analysis
import CoordinatorAPI
import Foundation
import Lasso
import Logging
import Plan
import Scheduler
import Store
import Tabular

// Leasing: the worker registry, leases and their long poll, heartbeats, lease expiry.

extension CoordinatorService {
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
            throw ServiceError(
                .forbidden, "worker \(request.worker) is quarantined: a result it handed in differed from the coordinator's recomputation")
        }
        if let version = request.protocolVersion, version != Wire.protocolVersion {
            throw ServiceError(
                .conflict,
                "worker \(request.worker) speaks /v1 protocol version \(version), this coordinator (\(software)) speaks version \(Wire.protocolVersion): run the same lassoboot release on the coordinator and every worker"
            )
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
            out.append(
                Wire.LeasedTask(
                    run: id.run, key: id.key, lease: info.id, dataset: run.dataset,
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
                request = Wire.LeaseRequest(
                    worker: request.worker, host: request.host, threads: request.threads, max: request.max, wait: request.wait,
                    protocolVersion: request.protocolVersion)
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
        logger.warning(
            "\(changes.tasks.count) lease(s) expired",
            metadata: [
                "tasks": "\(changes.tasks.count)", "ids": "\(changes.tasks.prefix(8).map { "\($0.id.run)/\($0.id.key)" }.joined(separator: ","))",
            ])
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
}

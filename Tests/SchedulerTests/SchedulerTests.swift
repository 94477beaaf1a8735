import Plan
import Scheduler
import Testing

@Suite("Scheduler: leases, expiry, retries with a test clock")
struct SchedulerTests {
    func ids(_ n: Int, run: String = "r1") -> [TaskID] { (0..<n).map { TaskID(run: run, key: .bootstrap(start: $0 * 10, end: $0 * 10 + 10)) } }

    func scheduler(_ n: Int, policy: SchedulerPolicy = SchedulerPolicy()) -> Scheduler {
        var s = Scheduler(policy: policy)
        _ = s.add(ids(n).map { TaskRecord(id: $0) })
        return s
    }

    @Test("tasks are leased in key order, each once, and completed once")
    func leaseAndComplete() {
        var s = scheduler(5)
        let (a, changes) = s.lease(worker: "w1", max: 3, now: 0)
        #expect(a.map(\.0) == Array(ids(5).prefix(3)))
        #expect(changes.tasks.count == 3 && changes.tasks.allSatisfy { $0.state == .leased })
        let (b, _) = s.lease(worker: "w2", max: 10, now: 1)
        #expect(b.map(\.0) == Array(ids(5).suffix(2)))
        #expect(s.lease(worker: "w3", max: 10, now: 2).leases.isEmpty)  // nothing queued, nothing old enough
        #expect(s.complete(ids(5)[0], lease: "forged", worker: "w1", now: 3).0 == .notLeased)
        #expect(s.complete(ids(5)[0], lease: a[0].1.id, worker: "w2", now: 3).0 == .notLeased)  // w1's lease, not w2's
        #expect(s.complete(ids(5)[0], lease: b[0].1.id, worker: "w2", now: 3).0 == .notLeased)  // w2's lease of another task
        #expect(s.complete(ids(5)[0], lease: a[0].1.id, worker: "w1", now: 3).0 == .accepted)
        #expect(s.complete(ids(5)[0], lease: "forged", worker: "w9", now: 4).0 == .duplicate)
        #expect(s.complete(TaskID(run: "zz", key: .estimate(outcome: 0)), lease: a[0].1.id, worker: "w1", now: 4).0 == .unknownTask)
        #expect(s.counts(run: "r1") == [.done: 1, .leased: 4])
    }

    @Test("an unrenewed lease expires; the task is retried with backoff, then failed after max attempts")
    func expiryAndRetry() {
        var s = scheduler(1, policy: SchedulerPolicy(leaseDuration: 30, maxAttempts: 3, backoffBase: 1, speculativeAfter: 1000))
        let id = ids(1)[0]
        // Each worker starts the task (only started leases are attempts: see unstartedLeases).
        func leaseAndStart(_ worker: String, _ now: Double) -> Int {
            let l = s.lease(worker: worker, max: 1, now: now).leases
            _ = s.markStarted(worker: worker, leaseIDs: l.map(\.1.id))
            return l.count
        }
        _ = leaseAndStart("w1", 0)
        let firstLease = s.tasks[id]!.leases[0].id
        #expect(s.expire(now: 29.9).tasks.isEmpty)
        let c1 = s.expire(now: 30)
        #expect(c1.tasks.first?.state == .queued && c1.tasks.first?.attempts == 1 && c1.tasks.first?.notBefore == 31)
        #expect(s.lease(worker: "w2", max: 1, now: 30.5).leases.isEmpty)  // backoff
        #expect(leaseAndStart("w2", 31) == 1)
        _ = s.expire(now: 61)  // attempt 2, backoff 2 s
        #expect(s.tasks[id]?.notBefore == 63)
        _ = leaseAndStart("w3", 63)
        let c3 = s.expire(now: 93)
        #expect(c3.failed == [id] && s.tasks[id]?.state == .failed)
        #expect(s.tasks[id]?.lastError?.contains("lease expired") == true)
        // A late result from a genuine (expired) lease is still the first valid one; a made-up lease is not.
        #expect(s.complete(id, lease: "L9-0000000000000000", worker: "w1", now: 100).0 == .notLeased)
        #expect(s.complete(id, lease: firstLease, worker: "w2", now: 100).0 == .notLeased)
        #expect(s.complete(id, lease: firstLease, worker: "w1", now: 100).0 == .accepted)
    }

    @Test("heartbeats renew only the worker's own live leases")
    func heartbeats() {
        var s = scheduler(2, policy: SchedulerPolicy(leaseDuration: 30, speculativeAfter: 1000))
        let (l1, _) = s.lease(worker: "w1", max: 1, now: 0)
        let (l2, _) = s.lease(worker: "w2", max: 1, now: 0)
        let (valid, _) = s.heartbeat(worker: "w1", leaseIDs: [l1[0].1.id, l2[0].1.id, "bogus"], now: 20)
        #expect(valid == [l1[0].1.id])
        let changes = s.expire(now: 35)
        #expect(changes.tasks.map(\.id) == [l2[0].0])  // w2's lease expired, w1's was renewed to 50
        #expect(s.tasks[l1[0].0]?.state == .leased)
        #expect(s.nextExpiry == 50)
    }

    @Test("near the end, a slow task is re-issued to an idle worker; the first result wins")
    func speculative() {
        var s = scheduler(2, policy: SchedulerPolicy(leaseDuration: 30, speculativeAfter: 5))
        let (first, _) = s.lease(worker: "slow", max: 2, now: 0)
        #expect(first.count == 2)
        #expect(s.lease(worker: "idle", max: 1, now: 4).leases.isEmpty)
        let (again, _) = s.lease(worker: "idle", max: 1, now: 6)
        #expect(again.count == 1 && again[0].0 == first[0].0 && again[0].1.worker == "idle")
        #expect(s.tasks[first[0].0]?.leases.count == 2)
        #expect(s.lease(worker: "slow", max: 5, now: 7).leases.isEmpty)  // never a second lease to the same worker
        #expect(s.complete(first[0].0, lease: again[0].1.id, worker: "idle", now: 8).0 == .accepted)
        #expect(s.complete(first[0].0, lease: first[0].1.id, worker: "slow", now: 9).0 == .duplicate)
        // One of two leases expiring does not count against the task while the other lives.
        var t = scheduler(1, policy: SchedulerPolicy(leaseDuration: 30, speculativeAfter: 5))
        let (x, _) = t.lease(worker: "a", max: 1, now: 0)
        _ = t.lease(worker: "b", max: 1, now: 10)
        _ = t.expire(now: 30)
        #expect(t.tasks[x[0].0]?.state == .leased && t.tasks[x[0].0]?.leases.map(\.worker) == ["b"])
    }

    @Test("failures and releases: a release is not an attempt")
    func failuresAndRelease() {
        var s = scheduler(1, policy: SchedulerPolicy(maxAttempts: 2, backoffBase: 1, speculativeAfter: 1000))
        let id = ids(1)[0]
        let (l, _) = s.lease(worker: "w", max: 1, now: 0)
        _ = s.fail(id, leaseID: l[0].1.id, worker: "w", cause: "drained", countsAsAttempt: false, now: 1)
        #expect(s.tasks[id]?.state == .queued && s.tasks[id]?.attempts == 0 && s.tasks[id]?.notBefore == 1)
        let (l2, _) = s.lease(worker: "w", max: 1, now: 1)
        _ = s.fail(id, leaseID: l2[0].1.id, worker: "w", cause: "boom", now: 2)
        let (l3, _) = s.lease(worker: "w2", max: 1, now: 3)
        #expect(s.fail(id, leaseID: "unknown", worker: "w2", cause: "x", now: 4).tasks.isEmpty)
        #expect(s.fail(id, leaseID: l3[0].1.id, worker: "w", cause: "not w's lease", now: 4).tasks.isEmpty)
        let c = s.fail(id, leaseID: l3[0].1.id, worker: "w2", cause: "boom again", now: 4)
        #expect(c.failed == [id] && s.tasks[id]?.lastError == "boom again")
    }

    @Test("errors from one worker count once: the task goes to other workers; a lone worker still ends it")
    func repeatedErrors() {
        let policy = SchedulerPolicy(leaseDuration: 30, maxAttempts: 3, backoffBase: 1, speculativeAfter: 1000)
        var s = scheduler(1, policy: policy)
        let id = ids(1)[0]
        // A hostile worker reports an error: it counts once, and the task is kept from it for a lease duration.
        let l1 = s.lease(worker: "bad", max: 1, now: 0).leases
        _ = s.fail(id, leaseID: l1[0].1.id, worker: "bad", cause: "boom", now: 0)
        #expect(s.tasks[id]?.attempts == 1)
        #expect(s.lease(worker: "bad", max: 1, now: 5).leases.isEmpty)
        let l2 = s.lease(worker: "good", max: 1, now: 5).leases
        #expect(l2.map(\.0) == [id])
        #expect(s.complete(id, lease: l2[0].1.id, worker: "good", now: 6).0 == .accepted)
        // A lone worker whose task keeps failing: each repeat counts once no one else took the task.
        var t = scheduler(1, policy: policy)
        var now = 0.0, reports = 0
        while t.tasks[id]?.state != .failed && reports < 20 {
            if let lease = t.lease(worker: "alone", max: 1, now: now).leases.first {
                _ = t.fail(id, leaseID: lease.1.id, worker: "alone", cause: "boom", now: now)
                reports += 1
            }
            now += 10
        }
        #expect(reports == 3 && t.tasks[id]?.state == .failed)
        #expect(now >= 60)  // two waits of a lease duration for another worker
        // Three different workers fail it with three reports, without waiting.
        var u = scheduler(1, policy: SchedulerPolicy(maxAttempts: 3, backoffBase: 1, speculativeAfter: 1000))
        for (i, w) in ["a", "b", "c"].enumerated() {
            let l = u.lease(worker: w, max: 1, now: Double(i) * 5).leases
            _ = u.fail(id, leaseID: l[0].1.id, worker: w, cause: "boom", now: Double(i) * 5)
        }
        #expect(u.tasks[id]?.state == .failed)
    }

    @Test("reloading after a restart puts leased tasks back in the queue, keeps done ones")
    func reload() {
        var s = Scheduler(leasePrefix: "B")
        let records = [
            TaskRecord(id: ids(3)[0], state: .done),
            TaskRecord(id: ids(3)[1], state: .leased, attempts: 1, leases: [LeaseInfo(id: "A7", worker: "w", issuedAt: 0, expiresAt: 30)]),
            TaskRecord(id: ids(3)[2], state: .queued),
        ]
        let changes = s.add(records)
        #expect(changes.tasks.map(\.id) == [ids(3)[1]] && changes.tasks[0].state == .queued && changes.tasks[0].leases.isEmpty)
        let (l, _) = s.lease(worker: "w", max: 5, now: 100)
        #expect(l.map(\.0) == [ids(3)[1], ids(3)[2]])
        #expect(l.allSatisfy { $0.1.id.hasPrefix("B") })
        #expect(Set(l.map(\.1.id)).count == 2 && l.allSatisfy { $0.1.id.count >= 18 })  // random part: not guessable
        #expect(s.complete(ids(3)[0], lease: "A7", worker: "w", now: 101).0 == .duplicate)
        #expect(s.complete(ids(3)[1], lease: "A7", worker: "w", now: 101).0 == .notLeased)  // a lease from before the restart
    }

    @Test("a prefetched lease that expires unstarted re-queues its task at once without costing an attempt")
    func unstartedLeases() {
        var s = scheduler(3, policy: SchedulerPolicy(leaseDuration: 30, maxAttempts: 1, backoffBase: 1, speculativeAfter: 1000))
        let (l, _) = s.lease(worker: "w1", max: 3, now: 0)
        #expect(l.count == 3)
        // w1 runs the first task; another worker cannot mark w1's leases; a repeat is no change.
        #expect(s.markStarted(worker: "w2", leaseIDs: [l[1].1.id]).tasks.isEmpty)
        let marked = s.markStarted(worker: "w1", leaseIDs: [l[0].1.id, "bogus"])
        #expect(marked.tasks.map(\.id) == [l[0].0] && marked.tasks[0].leases[0].started)
        #expect(s.markStarted(worker: "w1", leaseIDs: [l[0].1.id]).tasks.isEmpty)
        // w1 is killed: every lease expires.
        let c = s.expire(now: 30)
        #expect(c.tasks.count == 3)
        #expect(c.failed == [l[0].0])  // the started one was its only attempt
        #expect(s.tasks[l[0].0]?.attempts == 1 && s.tasks[l[0].0]?.state == .failed)
        for (id, _) in l.dropFirst() {
            let r = s.tasks[id]!
            #expect(r.state == .queued && r.attempts == 0 && r.unstartedExpiries == 1 && r.notBefore == 30)
            #expect(r.lastError?.contains("before the task was started") == true)
        }
        // Queued again with no backoff: leased at once.
        #expect(s.lease(worker: "w3", max: 5, now: 30).leases.map(\.0) == l.dropFirst().map(\.0))
    }

    @Test("a heartbeat can report started leases; unstarted expiries are bounded")
    func startedByHeartbeatAndBound() {
        var s = scheduler(
            2,
            policy: SchedulerPolicy(
                leaseDuration: 30, maxAttempts: 1, backoffBase: 1, speculativeAfter: 1000,
                maxUnstartedExpiries: 2))
        let (l, _) = s.lease(worker: "w", max: 2, now: 0)
        let (valid, changes) = s.heartbeat(worker: "w", leaseIDs: [l[1].1.id], started: [l[0].1.id], now: 10)
        #expect(valid == [l[0].1.id, l[1].1.id].sorted())
        #expect(changes.tasks.count == 2 && s.tasks[l[0].0]?.leases[0].started == true && s.tasks[l[1].0]?.leases[0].started == false)
        #expect(s.tasks[l[0].0]?.leases[0].expiresAt == 40)
        #expect(s.expire(now: 40).failed == [l[0].0])
        // The unstarted task: two free expiries, then the third counts (a task that kills its
        // worker before the start is reported is not re-issued forever).
        let id = l[1].0
        #expect(s.tasks[id]?.unstartedExpiries == 1 && s.tasks[id]?.state == .queued)
        var now = 40.0
        for round in 2...3 {
            #expect(s.lease(worker: "w\(round)", max: 1, now: now).leases.map(\.0) == [id])
            now += 30
            let c = s.expire(now: now)
            #expect(s.tasks[id]?.unstartedExpiries == round)
            #expect(c.failed == (round == 3 ? [id] : []), "round \(round)")
        }
        #expect(s.tasks[id]?.state == .failed && s.tasks[id]?.lastError?.contains("3 times") == true)
    }

    @Test("open tasks per run and phase are tracked through completion, retries and removal")
    func openTasks() {
        var s = scheduler(2)
        let cv = TaskID(run: "r1", key: .cv(outcome: 0, fold: 0))
        _ = s.add([TaskRecord(id: cv)])
        #expect(s.hasOpenTasks(run: "r1", phase: 1) && s.hasOpenTasks(run: "r1", phase: 2))
        #expect(!s.hasOpenTasks(run: "r2", phase: 1))
        let leases = Dictionary(uniqueKeysWithValues: s.lease(worker: "w", max: 10, now: 0).leases.map { ($0.0, $0.1.id) })
        _ = s.complete(cv, lease: leases[cv]!, worker: "w", now: 0)
        _ = s.complete(cv, lease: leases[cv]!, worker: "w", now: 1)  // a duplicate changes nothing
        #expect(!s.hasOpenTasks(run: "r1", phase: 1) && s.hasOpenTasks(run: "r1", phase: 2))
        for id in ids(2) { _ = s.complete(id, lease: leases[id]!, worker: "w", now: 2) }
        #expect(!s.hasOpenTasks(run: "r1", phase: 2))
        _ = s.add([TaskRecord(id: TaskID(run: "r1", key: .estimate(outcome: 0)))])
        #expect(s.hasOpenTasks(run: "r1", phase: 2))
        s.remove(run: "r1")
        #expect(!s.hasOpenTasks(run: "r1", phase: 2))
    }
}

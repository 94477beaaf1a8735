import Analysis
import CoordinatorAPI
import Dispatch
import Foundation
import Lasso
import Logging
import Plan
import Scheduler
import Store
import Tabular

// Result intake: a submitted result is checked against its lease, validated, certified or
// recomputed, stored, and may advance its run to the next phase or to its report.

extension CoordinatorService {
    /// Accepts a result (or a failure report, or a released lease).
    ///
    /// A result is stored only if, in this order: its run and dataset match; its key is a task
    /// of the run and it has the task's shape and in-range numbers; its lease was issued to
    /// this worker for this task; every fit in it passes its KKT certificate (or, if not, the
    /// coordinator's own recomputation agrees with it); and, for a random sample of tasks, the
    /// coordinator's recomputation is byte-identical. A worker whose result disagrees with the
    /// recomputation is quarantined and every unfinished run it contributed to is failed,
    /// loudly, since its earlier results may be wrong too.
    public func submit(_ s: Wire.Submission) async throws -> Wire.SubmissionStatus {
        let id = TaskID(run: s.run, key: s.key)
        guard !quarantined.contains(s.worker) else {
            counters.rejectedResults += 1
            throw ServiceError(.forbidden, "worker \(s.worker) is quarantined: a result it handed in differed from the coordinator's recomputation")
        }
        if let r = runCache[s.run], r.state == .running, prepared[s.run] == nil {
            _ = try await executor(for: r)  // the run's data is still being prepared (it has just been created)
        }
        guard let run = try runRow(s.run) else { throw ServiceError(.notFound, "no run \(s.run)") }
        guard s.dataset == run.dataset else {
            counters.rejectedResults += 1
            throw ServiceError(.unprocessable, "result for dataset \(s.dataset) but run \(s.run) uses \(run.dataset)")
        }
        // Checks first: a refused submission changes nothing.
        var bytes = Data()
        let handsInResult = s.released != true && s.error == nil
        if handsInResult {
            guard let result = s.result else { throw ServiceError(.invalid, "a submission needs a result, an error, or released: true") }
            if run.state == .running {
                let executor = try prepare(run)
                if let problem = executor.keyProblem(s.key) {
                    counters.rejectedResults += 1
                    throw ServiceError(.unprocessable, "invalid result for \(s.key): \(problem)")
                }
                if scheduler.check(id, lease: s.lease, worker: s.worker) == .notLeased {
                    counters.unleasedResults += 1
                    counters.rejectedResults += 1
                    throw ServiceError(
                        .conflict,
                        "lease \(s.lease.prefix(64)) was not issued to worker \(s.worker.prefix(64)) for task \(s.key) of run \(s.run) (or the coordinator restarted since): result refused"
                    )
                }
                if let problem = executor.validate(result, key: s.key) {
                    counters.rejectedResults += 1
                    throw ServiceError(.unprocessable, "invalid result for \(s.key): \(problem)")
                }
                do {
                    bytes = try result.canonicalJSON()
                } catch {
                    counters.rejectedResults += 1
                    throw ServiceError(.unprocessable, "invalid result for \(s.key): \(error)")
                }
                if scheduler.check(id, lease: s.lease, worker: s.worker) == .accepted {
                    try await vouch(for: result, bytes: bytes, key: s.key, run: run, worker: s.worker, executor: executor)
                }
            }
        }
        var writes: [StoreWrite] = []
        if let started = s.started, !started.isEmpty {
            writes.append(.tasks(scheduler.markStarted(worker: s.worker, leaseIDs: started).tasks))
        }
        if s.released == true {
            if let w = touchWorker(s.worker) { writes.append(w) }
            writes.append(
                .tasks(
                    scheduler.fail(
                        id, leaseID: s.lease, worker: s.worker, cause: "released by a draining worker", countsAsAttempt: false, now: clock()
                    ).tasks))
            notifyWork()
            try await persist(writes)
            return .released
        }
        if let error = s.error {
            if let w = touchWorker(s.worker) { writes.append(w) }
            let changes = scheduler.fail(id, leaseID: s.lease, worker: s.worker, cause: String(error.prefix(4096)), now: clock())
            writes.append(.tasks(changes.tasks))
            counters.retries += changes.tasks.filter { $0.state == .queued }.count
            for f in changes.failed { writes += failRun(f) }
            notifyWork()
            try await persist(writes)
            return .failed
        }
        let current = try runRow(run.id)
        guard run.state == .running, current?.state == .running else {
            // Late results of finished or cancelled runs are acknowledged and dropped.
            if let w = touchWorker(s.worker) { writes.append(w) }
            try await persist(writes)
            return .duplicate
        }
        let (outcome, changes) = scheduler.complete(id, lease: s.lease, worker: s.worker, now: clock())
        if let w = touchWorker(s.worker, done: outcome == .accepted ? 1 : 0) { writes.append(w) }
        switch outcome {
        case .notLeased:
            counters.unleasedResults += 1
            counters.rejectedResults += 1
            try await persist(writes)
            logger.warning(
                "result refused: lease not issued to this worker for this task",
                metadata: ["run": "\(id.run)", "task": "\(id.key)", "worker": "\(s.worker.prefix(64))"])
            throw ServiceError(
                .conflict,
                "lease \(s.lease.prefix(64)) was not issued to worker \(s.worker.prefix(64)) for task \(s.key) of run \(s.run) (or the coordinator restarted since): result refused"
            )
        case .unknownTask, .duplicate:
            // The first result may still be on its way to the disk: compare with it, and answer
            // only once it is committed (the barrier).
            let stored = try pendingResults[id] ?? store.result(id)
            try await persist(writes, barrier: true)
            if stored == nil && outcome == .unknownTask { throw ServiceError(.notFound, "run \(s.run) has no task \(s.key)") }
            counters.duplicateResults += 1
            if let stored, stored != bytes {
                counters.mismatchedDuplicates += 1
                logger.error(
                    "MISMATCH: duplicate result differs from the stored one",
                    metadata: ["run": "\(id.run)", "task": "\(id.key)", "worker": "\(s.worker.prefix(64))"])
                return .mismatch
            }
            return .duplicate
        case .accepted:
            writes.append(.result(id, bytes, changes.tasks[0]))
            counters.resultsAccepted += 1
            contributors[run.id, default: []].insert(s.worker)
            let closesPhase = !scheduler.hasOpenTasks(run: run.id, phase: run.phase)
            pendingResults[id] = bytes
            defer { pendingResults[id] = nil }
            try await persist(writes)
            // Every result of the phase was queued before this one, so all are committed now.
            if closesPhase { try await advance(run.id) }
            return .accepted
        }
    }

    /// Whether the coordinator recomputes this task before accepting it: a salted hash of the
    /// task, so the sample is unpredictable to workers but the same for every copy of a result.
    func sampledForVerification(_ run: String, _ key: TaskKey) -> Bool {
        let rate = key.phase == 1 ? min(1, verifyFraction * 5) : verifyFraction
        guard rate > 0 else { return false }
        var h: UInt64 = verifySalt ^ 0xcbf2_9ce4_8422_2325
        for b in run.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        for b in key.jsonText.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return Double(h >> 11) / Double(1 << 53) < rate
    }

    /// The content checks of a result whose lease is valid: the KKT certificate of every fit
    /// and, for sampled tasks (or when a certificate fails), the coordinator's recomputation.
    /// Both run off the actor. Throws (refusing the result) when the result is not vouched for.
    func vouch(for result: TaskResult, bytes: Data, key: TaskKey, run: RunRow, worker: String, executor: TaskExecutor) async throws {
        let input = run.phaseTwo
        let (certificateProblem, certifySeconds): (String?, Double) =
            key.isCertifiable && certifyResults
            ? await Task.detached(priority: .userInitiated) { Self.timed { executor.certify(result, key: key, input: input) } }.value : (nil, 0)
        checkSeconds[run.id, default: (0, 0)].certify += certifySeconds
        guard certificateProblem != nil || sampledForVerification(run.id, key) else { return }
        let (recomputed, recomputeSeconds) = await Task.detached(priority: .userInitiated) {
            Self.timed { () -> Data? in try? executor.run(key, input: input).canonicalJSON() }
        }.value
        checkSeconds[run.id, default: (0, 0)].recompute += recomputeSeconds
        counters.verifiedResults += 1
        if recomputed == bytes {
            if let certificateProblem {
                // The worker's fit is what this coordinator computes too: the check was too strict.
                logger.warning(
                    "certificate check failed but the recomputation agrees; accepted",
                    metadata: ["run": "\(run.id)", "task": "\(key)", "problem": "\(certificateProblem)"])
            }
            return
        }
        if certificateProblem != nil { counters.uncertifiedResults += 1 }
        counters.verificationMismatches += 1
        counters.rejectedResults += 1
        try await quarantine(
            worker,
            because: "its result for task \(key) of run \(run.id) differs from the coordinator's recomputation"
                + (certificateProblem.map { " (\($0))" } ?? ""))
        throw ServiceError(
            .unprocessable,
            "result for \(key) refused: it differs from the coordinator's recomputation\(certificateProblem.map { " (\($0))" } ?? ""); worker \(worker.prefix(64)) is quarantined"
        )
    }

    /// The value of `body` and the thread CPU seconds it took.
    nonisolated static func timed<T>(_ body: () -> T) -> (T, Double) {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        let value = body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return (value, Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9)
    }

    /// Refuses a worker from now on and fails every unfinished run it handed results to (they
    /// may rest on wrong numbers): loud, never a wrong table.
    func quarantine(_ worker: String, because cause: String) async throws {
        guard quarantined.insert(worker).inserted else { return }
        counters.quarantinedWorkers += 1
        logger.critical("QUARANTINED worker \(worker.prefix(64)): \(cause)")
        var writes: [StoreWrite] = [.tasks(scheduler.revokeLeases(of: worker, now: clock()).tasks)]
        notifyWork()
        for (runID, workers) in contributors where workers.contains(worker) {
            guard var r = runCache[runID], r.state == .running else { continue }
            r.state = .failed
            r.error =
                "worker \(worker.prefix(64)) was quarantined (\(cause)); it had handed in results for this run, which may be wrong: resubmit the run"
            r.finished = clock()
            runCache[runID] = r
            scheduler.remove(run: runID)
            writes.append(.run(r, tasks: []))
            logger.error("run failed", metadata: ["run": "\(runID)", "error": "\(r.error ?? "")"])
        }
        try await persist(writes)
        for w in writes { if case let .run(r, _) = w { notifyRun(r.id) } }
    }

    func decodedResults(_ run: String) throws -> [TaskKey: TaskResult] {
        let decoder = JSONDecoder()
        return try store.results(run: run).mapValues { try TaskResult.fastDecode($0) ?? decoder.decode(TaskResult.self, from: $0) }
    }

    /// Moves a run to phase 2 or to done when its current phase has no work left (called once
    /// the result that closed the phase is committed, so every result of the phase is stored).
    ///
    /// The report is built off the actor (at large p it takes tens of seconds), so leases,
    /// heartbeats and status requests of every run are answered meanwhile.
    func advance(_ runID: String) async throws {
        guard !aggregating.contains(runID), var run = try runRow(runID), run.state == .running,
            !scheduler.hasOpenTasks(run: runID, phase: run.phase)
        else { return }
        aggregating.insert(runID)
        defer { aggregating.remove(runID) }
        let executor = try prepare(run)
        var tasks: [TaskRecord] = []
        do {
            let results = try decodedResults(run.id)
            // A report is built only from a complete result set: a task marked done whose result
            // is not in the store (it never should be) is queued again rather than left out.
            let expected = run.phase == 1 ? executor.phaseOneKeys() : executor.phaseOneKeys() + executor.phaseTwoKeys()
            let missing = expected.filter { results[$0] == nil }
            if !missing.isEmpty {
                let records = missing.map { TaskRecord(id: TaskID(run: run.id, key: $0)) }
                _ = scheduler.add(records)
                logger.error(
                    "results missing from the store for tasks marked done: queued again",
                    metadata: [
                        "run": "\(run.id)", "tasks": "\(missing.count)", "keys": "\(missing.prefix(8).map(\.description).joined(separator: ","))",
                    ])
                try await persist([.tasks(records)])
                notifyWork()
                return
            }
            if run.phase == 1 {
                let (input, _) = try Aggregation.phaseTwoInput(data: executor.data, results: results)
                run.phase = 2
                run.phaseTwo = input
                tasks = executor.phaseTwoKeys().map { TaskRecord(id: TaskID(run: run.id, key: $0)) }
                logger.info("cross-validation done", metadata: ["run": "\(run.id)", "alphas": "\(input.alphas)", "tasks": "\(tasks.count)"])
            } else {
                let software = self.software
                // On a dispatch thread: tens of seconds on the cooperative pool would hold up the
                // requests this actor serves meanwhile.
                let report = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Data, any Error>) in
                    DispatchQueue.global(qos: .userInitiated).async {
                        c.resume(
                            with: Result {
                                let report = try Aggregation.report(data: executor.data, executor: executor, results: results, software: software)
                                return Data(Render.json(report).utf8)
                            })
                    }
                }
                // The run may have ended meanwhile (cancelled, deleted, failed by a quarantine).
                guard let current = try runRow(runID), current.state == .running, current.phase == 2 else { return }
                run = current
                run.report = report
                run.state = .done
                run.finished = clock()
                let check = checkSeconds[run.id] ?? (0, 0)
                logger.info(
                    "run done",
                    metadata: ["run": "\(run.id)", "certifyMs": "\(Int(check.certify * 1000))", "recomputeMs": "\(Int(check.recompute * 1000))"])
            }
        } catch let e as ServiceError {
            throw e
        } catch {
            // A run that ended while its report was being built keeps its end.
            guard let current = try runRow(runID), current.state == .running else { return }
            run = current
            run.state = .failed
            run.error = "\(error)"
            run.finished = clock()
            logger.error("run failed", metadata: ["run": "\(run.id)", "error": "\(error)"])
        }
        runCache[run.id] = run
        if run.state == .running {
            _ = scheduler.add(tasks)
            notifyWork()
        } else {
            scheduler.remove(run: run.id)
            contributors[run.id] = nil
            checkSeconds[run.id] = nil
        }
        try await persist([.run(run, tasks: tasks)])
        notifyRun(run.id)
    }
}

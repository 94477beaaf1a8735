import Analysis
import Coordinator
import CoordinatorAPI
import Foundation
import Plan
import Scheduler
import Store
import Testing

/// Result intake against hostile or broken workers, in process: a result counts only against a
/// live lease of that worker, with the task's shape, in-range numbers and a valid certificate;
/// a worker whose result differs from the coordinator's recomputation is quarantined. None of
/// it changes the final table.
@Suite("Coordinator result intake: leases, checks, certificates, quarantine")
struct IntakeTests {
    static let csv = HTTPTests.csv
    static let spec = HTTPTests.spec

    /// An honest worker: leases and runs tasks until the run ends; returns the report bytes.
    func finish(_ service: CoordinatorService, _ run: String, worker: String = "honest") async throws -> Data? {
        let context = try await service.context(run)
        let executor = try TaskExecutor.prepare(
            spec: context.spec, source: "test", data: try await service.dataset(context.dataset),
            dataHash: context.dataset, resampleIndices: nil)
        for _ in 0..<200 {
            let status = try await service.status(run)
            if status.state != .running { break }
            let tasks = try await service.lease(Wire.LeaseRequest(worker: worker, host: "h", threads: 1, max: 4, wait: 0))
            for t in tasks {
                let result = executor.run(t.key, input: t.input)
                _ = try await service.submit(
                    Wire.Submission(worker: worker, run: t.run, key: t.key, lease: t.lease, dataset: t.dataset, result: result))
            }
        }
        let status = try await service.status(run)
        guard status.state == .done else { return nil }
        return Data(Render.json(try await service.report(run)).utf8)
    }

    func newRun(_ service: CoordinatorService) async throws -> (run: String, dataset: String) {
        let hash = try await service.putDataset(Data(Self.csv.utf8)).hash
        let run = try await service.createRun(Wire.CreateRun(spec: Self.spec, dataset: hash, dataName: "data.csv"))
        return (run.id, hash)
    }

    func status(of error: Error) -> Int { (error as? ServiceError)?.kind.httpStatus ?? -1 }

    @Test("forged leases, foreign leases, bad keys and out-of-range scores are refused and counted; the table is unchanged")
    func forgedAndInvalid() async throws {
        let reference = try CoordinatorService(store: MemoryStore(), software: "test")
        let (refRun, _) = try await newRun(reference)
        let expected = try await finish(reference, refRun)
        #expect(expected != nil)

        let service = try CoordinatorService(store: MemoryStore(), software: "test", verifyFraction: 1)
        let (run, dataset) = try await newRun(service)
        let context = try await service.context(run)
        let executor = try TaskExecutor.prepare(
            spec: context.spec, source: "test", data: Data(Self.csv.utf8), dataHash: dataset, resampleIndices: nil)
        // The attacker leases one task honestly and another worker leases the rest of phase 1.
        let mine = try await service.lease(Wire.LeaseRequest(worker: "evil", host: "h", threads: 1, max: 1, wait: 0))[0]
        let theirs = try await service.lease(Wire.LeaseRequest(worker: "other", host: "h", threads: 1, max: 1, wait: 0))[0]
        let good = executor.run(mine.key, input: nil)
        func submit(_ key: TaskKey, lease: String, result: TaskResult, worker: String = "evil") async -> Int {
            do {
                _ = try await service.submit(Wire.Submission(worker: worker, run: run, key: key, lease: lease, dataset: dataset, result: result))
                return 200
            } catch {
                return status(of: error)
            }
        }
        // A made-up lease; another worker's lease; the attacker's lease for another task.
        #expect(await submit(theirs.key, lease: "forged", result: executor.run(theirs.key, input: nil)) == 409)
        #expect(await submit(theirs.key, lease: theirs.lease, result: executor.run(theirs.key, input: nil)) == 409)
        #expect(await submit(theirs.key, lease: mine.lease, result: executor.run(theirs.key, input: nil)) == 409)
        // Keys that are not tasks of the run (negative, out of range) and scores out of range.
        #expect(await submit(.cv(outcome: -1, fold: 0), lease: mine.lease, result: good) == 422)
        #expect(await submit(.cv(outcome: 0, fold: -1), lease: mine.lease, result: good) == 422)
        #expect(await submit(.cv(outcome: 7, fold: 99), lease: mine.lease, result: good) == 422)
        #expect(await submit(.bootstrap(start: -5, end: 5), lease: mine.lease, result: .bootstrap(fits: [], chosenAlphas: nil)) == 422)
        #expect(await submit(.jackknife(outcome: 0, start: -256, end: 0), lease: mine.lease, result: .jackknife(fits: [])) == 422)
        guard case let .cv(scores, failures, weight) = good else { Issue.record("not a CV result"); return }
        for bad in [-5.0, 12345, .nan] {
            let forged = TaskResult.cv(scores: scores.map { $0 == nil ? nil : bad }, failures: failures, heldOutWeight: weight)
            #expect(await submit(mine.key, lease: mine.lease, result: forged) == 422)
        }
        let counters = await service.counters
        #expect(counters.unleasedResults == 3)
        #expect(counters.rejectedResults == 3 + 5 + 3)
        #expect(counters.resultsAccepted == 0 && counters.quarantinedWorkers == 0)
        // The attacker's own task, honestly computed, is accepted; then the run finishes normally.
        #expect(await submit(mine.key, lease: mine.lease, result: good) == 200)
        _ = try await service.submit(
            Wire.Submission(
                worker: "other", run: run, key: theirs.key, lease: theirs.lease, dataset: dataset, result: executor.run(theirs.key, input: nil)))
        let report = try await finish(service, run)
        #expect(report == expected)
    }

    @Test(
        "altered coefficients of the right shape fail their certificate: the worker is quarantined, the table is unchanged",
        arguments: [false, true])
    func alteredCoefficients(debiasedReplicate: Bool) async throws {
        let reference = try CoordinatorService(store: MemoryStore(), software: "test")
        let (refRun, _) = try await newRun(reference)
        let expected = try await finish(reference, refRun)

        let service = try CoordinatorService(store: MemoryStore(), software: "test", verifyFraction: 0)
        let (run, dataset) = try await newRun(service)
        let context = try await service.context(run)
        let executor = try TaskExecutor.prepare(
            spec: context.spec, source: "test", data: Data(Self.csv.utf8), dataHash: dataset, resampleIndices: nil)
        // Phase 1 by an honest worker, up to the first phase-2 lease.
        var phaseTwo: Wire.LeasedTask?
        while phaseTwo == nil {
            for t in try await service.lease(Wire.LeaseRequest(worker: "honest", host: "h", threads: 1, max: 1, wait: 0)) {
                if t.key.phase == 2 {
                    _ = try await service.submit(
                        Wire.Submission(worker: "honest", run: run, key: t.key, lease: t.lease, dataset: dataset, result: nil, released: true))
                    phaseTwo = t
                } else {
                    _ = try await service.submit(
                        Wire.Submission(
                            worker: "honest", run: run, key: t.key, lease: t.lease, dataset: dataset, result: executor.run(t.key, input: nil)))
                }
            }
        }
        // The attacker takes a bootstrap task and scales one coefficient: a valid shape, finite, wrong.
        var stolen: Wire.LeasedTask?
        while stolen == nil {
            for t in try await service.lease(Wire.LeaseRequest(worker: "evil", host: "h", threads: 1, max: 1, wait: 0)) {
                if case .bootstrap = t.key {
                    stolen = t
                } else {
                    _ = try await service.submit(
                        Wire.Submission(worker: "evil", run: run, key: t.key, lease: t.lease, dataset: dataset, result: nil, released: true))
                }
            }
        }
        let t = stolen!
        guard case let .bootstrap(fits, chosen, debiased?) = executor.run(t.key, input: t.input) else {
            Issue.record("not a bootstrap result with debiased replicates"); return
        }
        // Either a lasso fit or (with the lasso fits honest) a debiased replicate is moved.
        var altered = debiasedReplicate ? debiased : fits
        guard case var .coefficients(c) = altered[0][0] else { Issue.record("the first fit failed"); return }
        c[1] += 0.5
        altered[0][0] = .coefficients(c)
        let forged: TaskResult =
            debiasedReplicate
            ? .bootstrap(fits: fits, chosenAlphas: chosen, debiased: altered)
            : .bootstrap(fits: altered, chosenAlphas: chosen, debiased: debiased)
        await #expect(throws: ServiceError.self) {
            _ = try await service.submit(Wire.Submission(worker: "evil", run: run, key: t.key, lease: t.lease, dataset: dataset, result: forged))
        }
        let counters = await service.counters
        #expect(counters.uncertifiedResults == 1 && counters.quarantinedWorkers == 1 && counters.verificationMismatches == 1)
        // Quarantined: no more leases, no more results.
        do {
            _ = try await service.lease(Wire.LeaseRequest(worker: "evil", host: "h", threads: 1, max: 1, wait: 0))
            Issue.record("a quarantined worker got a lease")
        } catch {
            #expect(status(of: error) == 403)
        }
        // The attacker had handed in nothing accepted, so the run goes on; its table is the reference's.
        let report = try await finish(service, run)
        #expect(report == expected)
    }

    @Test("a quarantined worker's earlier results fail the runs they went into, loudly")
    func quarantineFailsContributedRuns() async throws {
        let service = try CoordinatorService(store: MemoryStore(), software: "test", verifyFraction: 1)
        let (run, dataset) = try await newRun(service)
        let context = try await service.context(run)
        let executor = try TaskExecutor.prepare(
            spec: context.spec, source: "test", data: Data(Self.csv.utf8), dataHash: dataset, resampleIndices: nil)
        let tasks = try await service.lease(Wire.LeaseRequest(worker: "flaky", host: "h", threads: 2, max: 2, wait: 0))
        #expect(tasks.count == 2)
        // First an honest result (accepted), then a forged CV score inside [0, 1] (caught by recomputation).
        _ = try await service.submit(
            Wire.Submission(
                worker: "flaky", run: run, key: tasks[0].key, lease: tasks[0].lease, dataset: dataset,
                result: executor.run(tasks[0].key, input: nil)))
        guard case let .cv(scores, failures, weight) = executor.run(tasks[1].key, input: nil) else { Issue.record("not CV"); return }
        let forged = TaskResult.cv(scores: scores.map { $0.map { min(1, $0 + 0.01) } }, failures: failures, heldOutWeight: weight)
        await #expect(throws: ServiceError.self) {
            _ = try await service.submit(
                Wire.Submission(worker: "flaky", run: run, key: tasks[1].key, lease: tasks[1].lease, dataset: dataset, result: forged))
        }
        let status = try await service.status(run)
        #expect(status.state == .failed)
        #expect(status.error?.contains("quarantined") == true)
    }
}

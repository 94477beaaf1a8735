import Analysis
import Coordinator
import CoordinatorAPI
import Foundation
import Logging
import Store
import Synchronization
import Testing
import Worker

/// The worker loop and the coordinator together in one process (``InProcessClient``): leasing,
/// prefetch, hand-in, drain and idle exit without sockets, with the clock injected.
@Suite("Worker loop against an in-process coordinator")
struct WorkerLoopTests {
    static let spec =
        #"{"name": "t", "data": {"csv": "x.csv"}, "outcomes": ["labour", "sexual"], "features": [{"name": "age"}, {"name": "female", "encoding": "binary"}, {"name": "debt", "encoding": "binary"}], "alphas": {"count": 4}, "cv": {"folds": 3}, "bootstrap": {"resamples": 40, "batch": 5, "methods": ["percentile", "bca"]}, "seed": 3}"#

    /// Runs the spec on a fresh coordinator with one worker loop per entry of `threads`; returns
    /// the report bytes and the tasks each worker completed.
    func run(threads: [Int]) async throws -> (report: String, done: [Int]) {
        let service = try CoordinatorService(store: MemoryStore(), software: "test")
        let hash = try await service.putDataset(Data(HTTPTests.csv.utf8)).hash
        let created = try await service.createRun(Wire.CreateRun(spec: Self.spec, dataset: hash, dataName: "data.csv"))
        let workers = threads.enumerated().map { i, t in
            WorkerLoop(
                client: InProcessClient(service: service),
                config: WorkerConfig(id: "w\(i)", host: "test", threads: t, leaseWait: 0.2))
        }
        let loops = workers.map { w in Task { await w.run() } }
        var status = created
        while status.state == .running { status = try await service.status(created.id, waitingUpTo: 5) }
        for w in workers { w.drain() }
        for l in loops { await l.value }
        #expect(status.state == .done, "\(status.error ?? status.state.rawValue)")
        return (Render.json(try await service.report(created.id)), workers.map(\.tasksDone))
    }

    @Test("one worker with one thread and three workers with 1-3 threads give byte-identical reports; every task is handed in once")
    func workersAgree() async throws {
        let single = try await run(threads: [1])
        let many = try await run(threads: [1, 2, 3])
        #expect(single.report == many.report)
        #expect(many.done.reduce(0, +) == single.done[0], "\(many.done) vs \(single.done)")
        #expect(single.done[0] > 0)
    }

    /// One worker serves two runs on the same data, one after the other (the first forgotten
    /// before the second starts); returns the second run's report and the worker's dataset
    /// downloads. (Whether it parsed again is `DatasetCacheTests`' subject: in one process the
    /// coordinator's own preparation of a run can serve the worker too.)
    func twoRuns(datasetBudget: Int) async throws -> (report: String, fetched: Int) {
        let service = try CoordinatorService(store: MemoryStore(), software: "test")
        let hash = try await service.putDataset(Data(HTTPTests.csv.utf8)).hash
        let worker = WorkerLoop(
            client: InProcessClient(service: service),
            config: WorkerConfig(id: "w", host: "test", threads: 2, leaseWait: 0.05, datasetBudget: datasetBudget))
        let loop = Task { await worker.run() }
        var report = ""
        for seed in [3, 4] {
            let spec = Self.spec.replacingOccurrences(of: #""seed": 3"#, with: #""seed": \#(seed)"#)
            let created = try await service.createRun(Wire.CreateRun(spec: spec, dataset: hash, dataName: "data.csv"))
            var status = created
            while status.state == .running { status = try await service.status(created.id, waitingUpTo: 5) }
            #expect(status.state == .done, "\(status.error ?? status.state.rawValue)")
            #expect(status.state != .running)
            report = Render.json(try await service.report(created.id))
            // The worker drops an ended run's preparation at its next lease answer.
            for _ in 0..<500 where !worker.preparedRuns.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(worker.preparedRuns.isEmpty, "run \(created.id) is still prepared")
        }
        worker.drain()
        await loop.value
        return (report, worker.datasetsFetched)
    }

    @Test(
        "a worker keeps a dataset between runs: the second run on the same data downloads nothing, and its report is the one a worker without the cache gives"
    )
    func datasetKeptBetweenRuns() async throws {
        let kept = try await twoRuns(datasetBudget: 64 << 20)
        #expect(kept.fetched == 1)
        let fresh = try await twoRuns(datasetBudget: 0)
        #expect(fresh.fetched == 2)
        #expect(kept.report == fresh.report)
    }

    @Test("idle exit follows the injected clock: with nothing to do the loop returns once the clock passes idleExit")
    func idleExitByClock() async throws {
        let service = try CoordinatorService(store: MemoryStore(), software: "test")
        // Each reading of the clock is 40 s later than the last: the 30 s idle limit passes at the
        // first empty lease, whatever the real time.
        let ticks = Mutex(0.0)
        let clock: @Sendable () -> Double = {
            ticks.withLock {
                $0 += 40; return $0
            }
        }
        let worker = WorkerLoop(
            client: InProcessClient(service: service),
            config: WorkerConfig(id: "idle", host: "test", threads: 2, idleExit: 30, leaseWait: 5), clock: clock)
        await worker.run()
        #expect(worker.tasksDone == 0 && worker.stopReason == nil)
        #expect(ticks.withLock { $0 } <= 40 * 4, "the loop read the clock only a few times before exiting")
    }
}

@Suite("The coordinator's ticker service")
struct TickerTests {
    @Test("the ticker expires a lease nobody renews, by the service's injected clock, and stops when cancelled")
    func expiresLeases() async throws {
        let now = Mutex(1000.0)
        let service = try CoordinatorService(store: MemoryStore(), software: "test", clock: { now.withLock { $0 } })
        let hash = try await service.putDataset(Data(HTTPTests.csv.utf8)).hash
        _ = try await service.createRun(Wire.CreateRun(spec: WorkerLoopTests.spec, dataset: hash, dataName: "data.csv"))
        let leased = try await service.lease(Wire.LeaseRequest(worker: "gone", host: "h", threads: 1, max: 1, wait: 0))
        #expect(leased.count == 1)
        now.withLock { $0 += 3600 }  // far past any lease duration
        let ticker = Task { try await CoordinatorTicker(service: service, logger: Logger(label: "test"), interval: .milliseconds(5)).run() }
        var expired = 0
        for _ in 0..<2000 where expired == 0 {
            try await Task.sleep(for: .milliseconds(5))
            expired = await service.counters.leasesExpired
        }
        ticker.cancel()
        try await ticker.value
        #expect(expired == 1)
        // The task is leasable again, by another worker.
        let again = try await service.lease(Wire.LeaseRequest(worker: "other", host: "h", threads: 1, max: 8, wait: 0))
        #expect(again.contains { $0.key == leased[0].key })
    }
}

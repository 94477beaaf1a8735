import Analysis
import CoordinatorAPI
import Dispatch
import Foundation
import Logging
import Plan
import Synchronization
import Tabular

/// Worker settings.
public struct WorkerConfig: Sendable {
    public var id: String
    public var host: String
    public var threads: Int
    /// Exit after this many seconds without work (for batch schedulers); nil = never.
    public var idleExit: Double?
    /// Seconds between lease renewals.
    public var heartbeatInterval: Double
    /// Long-poll time of a lease request.
    public var leaseWait: Double
    /// Bytes of prepared runs kept (least recently used dropped beyond it; runs the
    /// coordinator no longer runs are dropped at once).
    public var preparedBudget: Int
    /// Bytes of datasets kept after the runs using them end, for their CSV bytes and again for
    /// their parsed, encoded and compressed form (so at most twice this in all), so a later run
    /// on the same data neither downloads nor parses it; least recently used dropped beyond it;
    /// 0 keeps nothing.
    public var datasetBudget: Int

    /// The shortest heartbeat interval, in seconds (a shorter one would only spin a core).
    public static let minimumHeartbeat = 0.5
    /// The most threads a worker runs.
    public static let maximumThreads = 4096

    public init(
        id: String, host: String, threads: Int, idleExit: Double? = nil, heartbeatInterval: Double = 10, leaseWait: Double = 10,
        preparedBudget: Int = 256 << 20, datasetBudget: Int = 256 << 20
    ) {
        self.preparedBudget = preparedBudget
        self.datasetBudget = datasetBudget
        self.id = id
        self.host = host
        self.threads = max(1, threads)
        self.idleExit = idleExit
        self.heartbeatInterval = heartbeatInterval.isFinite ? max(Self.minimumHeartbeat, heartbeatInterval) : 10
        self.leaseWait = leaseWait
    }
}

/// The pull loop: lease tasks, run them on local cores, hand in results, renew leases,
/// back off while the coordinator is unreachable, drain on request.
public final class WorkerLoop: Sendable {
    let client: CoordinatorClient
    public let config: WorkerConfig
    /// Logs carry run and task ids as metadata (the caller adds the worker's id).
    let logger: Logger
    /// Seconds on a monotonic clock (injected: tests drive idle exits and timings without waiting).
    let now: @Sendable () -> Double

    struct State {
        var draining = false
        /// Set when the coordinator refused the worker (a 4xx): the loop stops.
        var stopReason: String?
        /// Lease loop finished: executors stop when the queue is empty.
        var stopped = false
        /// Leased, not started.
        var queue: [Wire.LeasedTask] = []
        /// Started, not handed in.
        var inFlight: [String: Wire.LeasedTask] = [:]
        /// Leases started since the coordinator was last told (sent with the next request).
        var unreportedStarts: [String] = []
        var executors: [String: TaskExecutor] = [:]
        /// Size estimate and last use of each prepared run (an LRU within the budget).
        var executorUse: [String: (bytes: Int, tick: Int)] = [:]
        var useTick = 0
        /// Runs being prepared: threads that need the same run wait for one preparation.
        var preparing: [String: Task<TaskExecutor, any Error>] = [:]
        /// Datasets' bytes by hash, and the last use of each (kept within the dataset budget once no
        /// prepared run uses them).
        var datasets: [String: Data] = [:]
        var datasetUse: [String: Int] = [:]
        var datasetsFetched = 0
        var done = 0
        /// Smoothed seconds per task, to size leases to ~0.5 s of work per thread.
        var secondsPerTask = 0.0
    }
    let state = Mutex(State())
    /// Rung on every change the loops wait for (tasks queued or taken, stop, drain).
    let bell = Bell()
    /// Parsed datasets kept between runs (within ``WorkerConfig/datasetBudget``).
    public let datasetCache: DatasetCache

    /// Seconds of work one lease round should hand each thread.
    static let targetLeaseSeconds = 0.5

    public init(
        client: CoordinatorClient, config: WorkerConfig,
        logger: Logger = Logger(label: "lassoboot.worker", factory: { _ in SwiftLogNoOpLogHandler() }),
        clock now: @escaping @Sendable () -> Double = WorkerLoop.monotonicSeconds
    ) {
        self.client = client
        self.config = config
        self.logger = logger
        self.now = now
        datasetCache = DatasetCache(budget: config.datasetBudget)
    }

    /// Seconds since an arbitrary fixed point, never going back (unlike the wall clock).
    @Sendable public static func monotonicSeconds() -> Double {
        let d = ContinuousClock.now - origin
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
    private static let origin = ContinuousClock.now

    /// Tasks completed so far.
    public var tasksDone: Int { state.withLock { $0.done } }

    /// Datasets downloaded from the coordinator so far (a dataset kept from an earlier run is not
    /// downloaded again).
    public var datasetsFetched: Int { state.withLock { $0.datasetsFetched } }

    /// Stops leasing; tasks already running finish and are handed in, leased tasks not yet
    /// started are handed back, then ``run()`` returns.
    public func drain() {
        state.withLock { $0.draining = true }
        bell.ring()
    }

    var draining: Bool { state.withLock { $0.draining } }

    /// Why the worker stopped on its own (a refusal by the coordinator), or nil.
    public var stopReason: String? { state.withLock { $0.stopReason } }

    func stop(because reason: String) {
        state.withLock { s in
            s.stopReason = reason
            s.draining = true
        }
        bell.ring()
    }

    /// Runs until drained or idle for `idleExit` seconds.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeatLoop() }
            for _ in 0..<config.threads { group.addTask { await self.executorLoop() } }
            await leaseLoop()
            // Hand back what was leased but not started.
            let unstarted: [Wire.LeasedTask] = state.withLock { s in
                defer { s.queue = []; s.stopped = true }
                return s.draining ? s.queue : []
            }
            bell.ring()
            for task in unstarted {
                _ = try? await client.submit(
                    Wire.Submission(
                        worker: config.id, run: task.run, key: task.key, lease: task.lease,
                        dataset: task.dataset, result: nil, released: true))
            }
            if !unstarted.isEmpty { logger.notice("handed back unstarted tasks", metadata: ["tasks": "\(unstarted.count)"]) }
            // Until the last result is handed in (each hand-in rings the bell).
            while true {
                let ring = bell.generation
                if state.withLock({ $0.inFlight.isEmpty && $0.queue.isEmpty }) { break }
                await bell.wait(since: ring)
            }
            group.cancelAll()
        }
    }

    /// Leases so that every thread has about ``targetLeaseSeconds`` of work queued; the
    /// decisions are ``LeasePlanner``'s, this loop only carries them out.
    func leaseLoop() async {
        var planner = LeasePlanner(
            threads: config.threads, leaseWait: config.leaseWait, idleExit: config.idleExit,
            targetLeaseSeconds: Self.targetLeaseSeconds, now: now())
        while !draining {
            let ring = bell.generation
            let (queued, running, perTask) = state.withLock { ($0.queue.count, $0.inFlight.count, $0.secondsPerTask) }
            guard case let .lease(want, wait) = planner.next(queued: queued, running: running, secondsPerTask: perTask, now: now()) else {
                await bell.wait(since: ring)  // until an executor takes a task (or a drain)
                continue
            }
            let tasks: [Wire.LeasedTask]
            let started = takeStarts()
            do {
                let answer = try await client.leaseAnswer(
                    Wire.LeaseRequest(worker: config.id, host: config.host, threads: config.threads, max: want, wait: wait, started: started))
                tasks = answer.tasks
                if let running = answer.running { forgetEnded(running: Set(running).union(tasks.map(\.run))) }
            } catch {
                restoreStarts(started)
                switch planner.failed(error) {
                case let .stop(reason):
                    stop(because: reason)
                    return
                case let .retry(delay, announce):
                    if announce { logger.warning("coordinator unreachable; retrying with backoff", metadata: ["error": "\(error)"]) }
                    try? await Task.sleep(for: .seconds(delay * Double.random(in: 0.5...1.5)))
                }
                continue
            }
            let busy = state.withLock { !$0.inFlight.isEmpty || !$0.queue.isEmpty }
            let (answer, recovered) = planner.answered(tasks: tasks.count, busy: busy, now: now())
            if recovered { logger.notice("coordinator reachable again") }
            switch answer {
            case .exitIdle:
                logger.notice("idle for \(config.idleExit ?? 0) s: exiting")
                return
            case .again: continue
            case .work:
                state.withLock { $0.queue += tasks }
                bell.ring()
            }
        }
    }

    /// Leases started and not yet reported, now handed to a request (nil when none).
    func takeStarts() -> [String]? {
        state.withLock { s in
            guard !s.unreportedStarts.isEmpty else { return nil }
            defer { s.unreportedStarts = [] }
            return s.unreportedStarts
        }
    }

    /// Puts back starts whose request failed.
    func restoreStarts(_ starts: [String]?) {
        guard let starts else { return }
        state.withLock { $0.unreportedStarts = starts + $0.unreportedStarts }
    }

    /// One thread's loop: take the next leased task, run it, hand it in.
    ///
    /// Each result is handed in while the next task runs, and that request also tells the
    /// coordinator the next task has started (a task started with no result to hand in is
    /// reported by a heartbeat at once). Leases still in the prefetch queue are not started, so
    /// if this worker dies they go back to the queue without costing their tasks an attempt.
    func executorLoop() async {
        var finished: (Wire.Submission, Wire.LeasedTask)?
        while true {
            let ring = bell.generation
            let next: Wire.LeasedTask? = state.withLock { s in
                guard !s.queue.isEmpty else { return nil }
                let t = s.queue.removeFirst()
                s.inFlight[t.lease] = t
                s.unreportedStarts.append(t.lease)
                return t
            }
            if next != nil { bell.ring() }  // room in the queue: the lease loop may ask for more
            if let (submission, task) = finished {
                // Hand in while the next task runs; the lease stays in flight (and renewed) until then.
                finished = nil
                Task {
                    await self.handIn(submission, task: task)
                    self.state.withLock { _ = $0.inFlight.removeValue(forKey: task.lease) }
                    self.bell.ring()
                }
            } else if next != nil {
                Task { await self.reportStarts() }
            }
            guard let task = next else {
                if state.withLock({ $0.stopped }) || Task.isCancelled { return }
                await bell.wait(since: ring)  // until tasks are queued (or the loop stops)
                continue
            }
            let started = now()
            let submission = await compute(task)
            let seconds = now() - started
            state.withLock { s in
                s.secondsPerTask = s.secondsPerTask == 0 ? seconds : 0.8 * s.secondsPerTask + 0.2 * seconds
            }
            finished = (submission, task)
        }
    }

    /// Tells the coordinator which leases have started (when no other request is about to).
    func reportStarts() async {
        guard let started = takeStarts() else { return }
        let leases = state.withLock { Array($0.inFlight.keys) }
        do {
            _ = try await client.heartbeat(Wire.Heartbeat(worker: config.id, leases: leases, started: started))
        } catch {
            restoreStarts(started)
        }
    }

    func heartbeatLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(config.heartbeatInterval))
            if Task.isCancelled { return }
            let leases = state.withLock { Array($0.inFlight.keys) + $0.queue.map(\.lease) }
            guard !leases.isEmpty else { continue }
            let started = takeStarts()
            do {
                _ = try await client.heartbeat(Wire.Heartbeat(worker: config.id, leases: leases, started: started))
            } catch {
                restoreStarts(started)
            }
        }
    }

    /// Retries transport failures with jittered backoff (other errors are final).
    func retrying<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        var delay = 0.5
        while true {
            do {
                return try await body()
            } catch ClientError.unreachable(let m) {
                if draining && delay > 5 { throw ClientError.unreachable(m) }
                try? await Task.sleep(for: .seconds(delay * Double.random(in: 0.5...1.5)))
                delay = min(delay * 2, 10)
            }
        }
    }

    /// Runs a task on a dispatch thread (compute must not block the cooperative pool).
    func compute(_ task: Wire.LeasedTask) async -> Wire.Submission {
        do {
            let executor = try await executor(for: task)
            let (result, seconds) = await Self.offPool { () -> (TaskResult, Double) in
                let start = DispatchTime.now().uptimeNanoseconds
                let result = executor.run(task.key, input: task.input)
                return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return Wire.Submission(
                worker: config.id, run: task.run, key: task.key, lease: task.lease, dataset: task.dataset,
                result: result, seconds: seconds)
        } catch {
            return Wire.Submission(
                worker: config.id, run: task.run, key: task.key, lease: task.lease, dataset: task.dataset,
                result: nil, error: "\(error)")
        }
    }

    func handIn(_ submission: Wire.Submission, task: Wire.LeasedTask) async {
        let s = submission
        let submission = Wire.Submission(
            worker: s.worker, run: s.run, key: s.key, lease: s.lease, dataset: s.dataset, result: s.result,
            error: s.error, released: s.released, started: takeStarts(), seconds: s.seconds)
        do {
            let status = try await retrying { try await self.client.submit(submission) }
            if status == .mismatch {
                logger.error("coordinator reports a differing duplicate result", metadata: ["run": "\(task.run)", "task": "\(task.key)"])
            }
            state.withLock { $0.done += 1 }
        } catch {
            logger.error("could not hand in a result", metadata: ["run": "\(task.run)", "task": "\(task.key)", "error": "\(error)"])
        }
    }
}

import Analysis
import Dispatch
import Foundation
import Synchronization

/// What a worker needs from a coordinator: over HTTP (``HTTPCoordinatorClient``) or in the
/// same process (`lassoboot run`), so both use one worker loop.
public protocol CoordinatorClient: Sendable {
    func lease(_ request: Wire.LeaseRequest) async throws -> [Wire.LeasedTask]
    func heartbeat(_ heartbeat: Wire.Heartbeat) async throws -> [String]
    func submit(_ submission: Wire.Submission) async throws -> String
    func context(run: String) async throws -> Wire.RunContext
    func dataset(hash: String) async throws -> Data
}

/// Errors a client reports: transport problems are retried, the others are not.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// The coordinator could not be reached (connection refused, timeout, DNS...).
    case unreachable(String)
    /// The coordinator answered with an error status.
    case http(status: Int, message: String)

    public var description: String {
        switch self {
        case let .unreachable(m): return "coordinator unreachable: \(m)"
        case let .http(status, m): return "coordinator answered \(status): \(m)"
        }
    }
}

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

    public init(id: String, host: String, threads: Int, idleExit: Double? = nil, heartbeatInterval: Double = 10, leaseWait: Double = 10) {
        self.id = id
        self.host = host
        self.threads = max(1, threads)
        self.idleExit = idleExit
        self.heartbeatInterval = heartbeatInterval
        self.leaseWait = leaseWait
    }
}

/// The pull loop: lease tasks, run them on local cores, hand in results, renew leases,
/// back off while the coordinator is unreachable, drain on request.
public final class WorkerLoop: Sendable {
    let client: CoordinatorClient
    public let config: WorkerConfig
    let log: @Sendable (String) -> Void

    struct State {
        var draining = false
        var inFlight: [String: Wire.LeasedTask] = [:]
        var executors: [String: TaskExecutor] = [:]
        var datasets: [String: Data] = [:]
        var done = 0
    }
    let state = Mutex(State())

    public init(client: CoordinatorClient, config: WorkerConfig, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.config = config
        self.log = log
    }

    /// Tasks completed so far.
    public var tasksDone: Int { state.withLock { $0.done } }

    /// Stops leasing; tasks in flight finish and are handed in, then ``run()`` returns.
    public func drain() {
        state.withLock { $0.draining = true }
    }

    var draining: Bool { state.withLock { $0.draining } }

    /// Runs until drained or idle for `idleExit` seconds.
    public func run() async {
        let slots = AsyncSemaphore(config.threads)
        var lastWork = Date()
        var backoff = 0.5
        var reportedOutage = false
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeatLoop() }
            while !draining {
                let free = await slots.acquireAll(atLeastOne: true)
                if draining { slots.release(free); break }
                let tasks: [Wire.LeasedTask]
                do {
                    let wait = config.idleExit.map { min(config.leaseWait, max(0.05, $0 - Date().timeIntervalSince(lastWork))) } ?? config.leaseWait
                    tasks = try await client.lease(Wire.LeaseRequest(worker: config.id, host: config.host, threads: config.threads, max: free, wait: wait))
                    if reportedOutage { log("coordinator reachable again"); reportedOutage = false }
                    backoff = 0.5
                } catch {
                    slots.release(free)
                    if !reportedOutage { log("\(error); retrying with backoff"); reportedOutage = true }
                    let jitter = Double.random(in: 0.5...1.5)
                    try? await Task.sleep(for: .seconds(backoff * jitter))
                    backoff = min(backoff * 2, 10)
                    continue
                }
                slots.release(free - tasks.count)
                if tasks.isEmpty {
                    if let idle = config.idleExit, Date().timeIntervalSince(lastWork) >= idle, state.withLock({ $0.inFlight.isEmpty }) {
                        log("idle for \(idle) s: exiting")
                        break
                    }
                    continue
                }
                lastWork = Date()
                for task in tasks {
                    state.withLock { $0.inFlight[task.lease] = task }
                    group.addTask {
                        await self.execute(task)
                        self.state.withLock { $0.inFlight[task.lease] = nil }
                        slots.release(1)
                    }
                }
            }
            // Drained or idle: wait for the tasks in flight, then stop the heartbeats.
            while state.withLock({ !$0.inFlight.isEmpty }) { try? await Task.sleep(for: .milliseconds(20)) }
            state.withLock { $0.draining = true }
            group.cancelAll()
        }
    }

    func heartbeatLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(config.heartbeatInterval))
            if Task.isCancelled { return }
            let leases = state.withLock { Array($0.inFlight.keys) }
            guard !leases.isEmpty else { continue }
            _ = try? await client.heartbeat(Wire.Heartbeat(worker: config.id, leases: leases))
        }
    }

    func executor(for task: Wire.LeasedTask) async throws -> TaskExecutor {
        if let e = state.withLock({ $0.executors[task.run] }) { return e }
        let context = try await retrying { try await self.client.context(run: task.run) }
        var bytes = state.withLock { $0.datasets[task.dataset] }
        if bytes == nil {
            let fetched = try await retrying { try await self.client.dataset(hash: task.dataset) }
            bytes = fetched
            state.withLock { $0.datasets[task.dataset] = fetched }
        }
        var indices: Data?
        if let h = context.resampleIndices {
            indices = try await retrying { try await self.client.dataset(hash: h) }
        }
        let executor = try TaskExecutor.prepare(spec: context.spec, source: "spec of run \(task.run)", data: bytes!, resampleIndices: indices)
        state.withLock { $0.executors[task.run] = executor }
        return executor
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

    func execute(_ task: Wire.LeasedTask) async {
        let submission: Wire.Submission
        do {
            let executor = try await executor(for: task)
            let result = await withCheckedContinuation { (continuation: CheckedContinuation<TaskResult, Never>) in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(returning: executor.run(task.key, input: task.input))
                }
            }
            submission = Wire.Submission(worker: config.id, run: task.run, key: task.key, lease: task.lease, dataset: task.dataset, result: result)
        } catch {
            submission = Wire.Submission(worker: config.id, run: task.run, key: task.key, lease: task.lease, dataset: task.dataset,
                                         result: nil, error: "\(error)")
        }
        do {
            let status = try await retrying { try await self.client.submit(submission) }
            if status == "mismatch" { log("coordinator reports a differing duplicate result for \(task.run)/\(task.key)") }
            state.withLock { $0.done += 1 }
        } catch {
            log("could not hand in \(task.run)/\(task.key): \(error)")
        }
    }
}

/// A counting semaphore for async code.
final class AsyncSemaphore: Sendable {
    struct State { var permits: Int; var waiters: [CheckedContinuation<Void, Never>] = [] }
    let state: Mutex<State>

    init(_ permits: Int) { state = Mutex(State(permits: permits)) }

    /// Waits for at least one permit, then takes all that are free.
    func acquireAll(atLeastOne: Bool) async -> Int {
        while true {
            let got: Int = state.withLock { s in
                let n = s.permits
                s.permits = 0
                return n
            }
            if got > 0 { return got }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = state.withLock { s in
                    if s.permits > 0 { return true }
                    s.waiters.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }

    func release(_ n: Int) {
        guard n > 0 else { return }
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { s in
            s.permits += n
            let w = s.waiters
            s.waiters = []
            return w
        }
        for w in waiters { w.resume() }
    }
}

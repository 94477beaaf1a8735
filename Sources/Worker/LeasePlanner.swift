import CoordinatorAPI

/// The lease loop's decisions as a state machine: given what the worker holds and the time, it
/// says what to do next (wait for room, lease how many for how long, exit idle, stop, back off).
/// Pure: no clock, no I/O, no randomness, so every decision is tested without a coordinator.
struct LeasePlanner: Sendable {
    /// Executor threads.
    let threads: Int
    /// Longest long poll of a lease request, in seconds.
    let leaseWait: Double
    /// Exit after this many seconds without work (`nil`: never).
    let idleExit: Double?
    /// Seconds of work one lease round should hand each thread.
    let targetLeaseSeconds: Double
    /// When work last arrived (the worker's clock).
    private(set) var lastWork: Double
    /// The next retry delay (before jitter) while the coordinator is unreachable.
    private(set) var backoff = 0.5
    /// Whether the outage was announced (announced once, and its end once).
    private(set) var inOutage = false

    init(threads: Int, leaseWait: Double, idleExit: Double?, targetLeaseSeconds: Double, now: Double) {
        self.threads = threads
        self.leaseWait = leaseWait
        self.idleExit = idleExit
        self.targetLeaseSeconds = targetLeaseSeconds
        self.lastWork = now
    }

    /// What the lease loop does next.
    enum Step: Equatable {
        /// Every thread has a task queued: wait until an executor takes one (or a drain).
        case waitForRoom
        /// Ask for up to `max` tasks, long-polling up to `wait` seconds.
        case lease(max: Int, wait: Double)
    }

    /// The next step, from the tasks queued and running and the smoothed seconds per task
    /// (0 before the first task): leases keep about ``targetLeaseSeconds`` of work per thread
    /// (1 to 32 tasks each). With tasks in hand the long poll is short (2 s at most) so a drain
    /// is not held up; idle, it ends by the idle-exit time.
    func next(queued: Int, running: Int, secondsPerTask: Double, now: Double) -> Step {
        if queued >= threads { return .waitForRoom }
        let perThread = secondsPerTask > 0 ? min(32, max(1, Int((targetLeaseSeconds / secondsPerTask).rounded(.up)))) : 1
        let want = max(1, threads * perThread - queued - running)
        if queued + running > 0 { return .lease(max: want, wait: min(leaseWait, 2)) }
        let idleLeft = idleExit.map { max(0.05, $0 - (now - lastWork)) }
        return .lease(max: want, wait: min(leaseWait, idleLeft ?? leaseWait))
    }

    /// What a lease answer means.
    enum Answer: Equatable {
        /// Tasks arrived: queue them.
        case work
        /// Nothing, not idle long enough to exit: ask again.
        case again
        /// Nothing for `idleExit` seconds with nothing in hand: the worker exits.
        case exitIdle
    }

    /// Records an answer of `tasks` tasks; `busy` says whether tasks are queued or running.
    /// `recovered` is true when this answer ends an announced outage.
    mutating func answered(tasks: Int, busy: Bool, now: Double) -> (answer: Answer, recovered: Bool) {
        let recovered = inOutage
        inOutage = false
        backoff = 0.5
        if tasks > 0 {
            lastWork = now
            return (.work, recovered)
        }
        if let idle = idleExit, now - lastWork >= idle, !busy { return (.exitIdle, recovered) }
        return (.again, recovered)
    }

    /// What a failed lease request means.
    enum Failure: Equatable {
        /// The coordinator refused the worker (a 4xx other than 408/429): retrying cannot help.
        case stop(reason: String)
        /// An outage: retry after `delay` seconds (times the caller's jitter); `announce` is true
        /// for the first failure of an outage.
        case retry(delay: Double, announce: Bool)
    }

    /// Records a failed request; backoff doubles from 0.5 s up to 10 s.
    mutating func failed(_ error: any Error) -> Failure {
        if let e = error as? ClientError, e.isRefusal { return .stop(reason: "the coordinator refused this worker: \(e)") }
        let announce = !inOutage
        inOutage = true
        let delay = backoff
        backoff = min(backoff * 2, 10)
        return .retry(delay: delay, announce: announce)
    }
}

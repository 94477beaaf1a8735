import Dispatch
import Plan
import Synchronization

/// Progress of a run, for progress bars and logs.
public struct RunProgress: Sendable {
    public let phase: Int
    public let done: Int
    public let total: Int
    /// Bootstrap resamples finished so far (phase 2).
    public let resamplesDone: Int

    public init(phase: Int, done: Int, total: Int, resamplesDone: Int) {
        self.phase = phase
        self.done = done
        self.total = total
        self.resamplesDone = resamplesDone
    }
}

/// Runs all tasks of a run on local threads: one executor of the task plan among several.
///
/// Tasks are handed out in key order to `threads` workers; results are stored by key, so the
/// report does not depend on the number of threads or on which thread ran what.
public struct LocalRunner: Sendable {
    public let executor: TaskExecutor
    public let threads: Int

    public init(executor: TaskExecutor, threads: Int) {
        self.executor = executor
        self.threads = max(1, threads)
    }

    /// Runs both phases; `progress` is called from worker threads after each task.
    public func run(progress: @escaping @Sendable (RunProgress) -> Void = { _ in }) throws -> [TaskKey: TaskResult] {
        var results = execute(executor.phaseOneKeys(), phase: 1, input: nil, progress: progress)
        let (input, _) = try Aggregation.phaseTwoInput(data: executor.data, results: results)
        let two = execute(executor.phaseTwoKeys(), phase: 2, input: input, progress: progress)
        results.merge(two) { a, _ in a }
        return results
    }

    /// Runs `keys` in parallel and returns their results by key.
    public func execute(
        _ keys: [TaskKey], phase: Int, input: PhaseTwoInput?,
        progress: @escaping @Sendable (RunProgress) -> Void
    ) -> [TaskKey: TaskResult] {
        struct State { var next = 0; var done = 0; var resamples = 0; var results: [TaskKey: TaskResult] = [:] }
        let state = Mutex(State())
        let executor = self.executor
        DispatchQueue.concurrentPerform(iterations: min(threads, max(keys.count, 1))) { _ in
            while true {
                let index: Int? = state.withLock { s in
                    guard s.next < keys.count else { return nil }
                    defer { s.next += 1 }
                    return s.next
                }
                guard let i = index else { return }
                let key = keys[i]
                let result = executor.run(key, input: input)
                let report: RunProgress = state.withLock { s in
                    s.results[key] = result
                    s.done += 1
                    if case let .bootstrap(start, end) = key { s.resamples += end - start }
                    return RunProgress(phase: phase, done: s.done, total: keys.count, resamplesDone: s.resamples)
                }
                progress(report)
            }
        }
        return state.withLock { $0.results }
    }
}

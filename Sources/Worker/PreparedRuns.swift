import Analysis
import CoordinatorAPI
import Dispatch
import Foundation
import Logging
import Plan
import Synchronization
import Tabular

// Prepared runs: each run's executor is built once per process from its context and dataset
// (content-addressed, hash-checked), kept within a memory budget, and dropped when its run ends.

extension WorkerLoop {
    func executor(for task: Wire.LeasedTask) async throws -> TaskExecutor {
        let (ready, job): (TaskExecutor?, Task<TaskExecutor, any Error>?) = state.withLock { s in
            if let e = s.executors[task.run] {
                s.useTick += 1
                s.executorUse[task.run]?.tick = s.useTick
                return (e, nil)
            }
            if let p = s.preparing[task.run] { return (nil, p) }
            let p = Task { try await self.prepareExecutor(for: task) }
            s.preparing[task.run] = p
            return (nil, p)
        }
        if let ready { return ready }
        do {
            let e = try await job!.value
            state.withLock { $0.preparing[task.run] = nil }
            return e
        } catch {
            state.withLock { $0.preparing[task.run] = nil }
            throw error
        }
    }

    /// Fetches a run's context and data and prepares its executor (once per run per process).
    func prepareExecutor(for task: Wire.LeasedTask) async throws -> TaskExecutor {
        let t0 = now()
        let context = try await retrying { try await self.client.context(run: task.run) }
        var bytes: Data? = state.withLock { s in
            s.useTick += 1
            if s.datasets[task.dataset] != nil { s.datasetUse[task.dataset] = s.useTick }
            return s.datasets[task.dataset]
        }
        if bytes == nil {
            let fetched = try await retrying { try await self.client.dataset(hash: task.dataset) }
            // Content-addressed: refuse bytes that do not hash to the name they were fetched by.
            let actual = await Self.offPool { SHA256.hex(fetched) }
            guard actual == task.dataset else {
                throw ClientError.hashMismatch(expected: task.dataset, actual: actual)
            }
            bytes = fetched
            state.withLock { s in
                s.datasets[task.dataset] = fetched
                s.useTick += 1
                s.datasetUse[task.dataset] = s.useTick
                s.datasetsFetched += 1
            }
        }
        var indices: Data?
        if let h = context.resampleIndices {
            indices = try await retrying { try await self.client.dataset(hash: h) }
        }
        let t1 = now()
        let (data, cache, resampleIndices) = (bytes!, datasetCache, indices)
        let executor = try await Self.offPool {
            try TaskExecutor.prepare(
                spec: context.spec, source: "spec of run \(task.run)", data: data, dataHash: task.dataset,
                resampleIndices: resampleIndices, indicesHash: context.resampleIndices, cache: cache)
        }
        keep(executor, run: task.run)
        logger.info(
            "run prepared",
            metadata: [
                "run": "\(task.run)", "fetchMs": "\(Int((t1 - t0) * 1000))", "prepareMs": "\(Int((now() - t1) * 1000))",
            ])
        return executor
    }

    /// `body` on a dispatch thread: hashing and parsing a large dataset take seconds to minutes,
    /// and on the cooperative pool they would hold up the heartbeats that keep this worker's
    /// leases (and the hand-ins of the other threads).
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// ``offPool(_:)`` for work that cannot fail.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: body()) }
        }
    }

    /// Keeps a prepared run, dropping the least recently used others over the byte budget.
    func keep(_ executor: TaskExecutor, run: String) {
        let dropped: Bool = state.withLock { s in
            s.useTick += 1
            s.executors[run] = executor
            s.executorUse[run] = (executor.estimatedBytes, s.useTick)
            var total = s.executorUse.values.reduce(0) { $0 + $1.bytes }
            var dropped = false
            while total > config.preparedBudget,
                let victim = s.executorUse.filter({ $0.key != run }).min(by: { $0.value.tick < $1.value.tick })
            {
                total -= victim.value.bytes
                drop(victim.key, from: &s)
                dropped = true
            }
            return dropped
        }
        if dropped { returnFreedMemory() }
    }

    /// Drops the preparations of runs the coordinator no longer runs (and has no task of in
    /// this worker): finished, failed, cancelled or deleted runs.
    func forgetEnded(running: Set<String>) {
        let dropped: [String] = state.withLock { s in
            let busy = Set(s.queue.map(\.run)).union(s.inFlight.values.map(\.run)).union(s.preparing.keys)
            let ended = s.executors.keys.filter { !running.contains($0) && !busy.contains($0) }
            for run in ended { drop(run, from: &s) }
            return ended
        }
        guard !dropped.isEmpty else { return }
        returnFreedMemory()
        logger.info("dropped the preparation of ended run(s)", metadata: ["runs": "\(dropped.joined(separator: ","))"])
    }

    /// Removes a run's preparation. Its dataset's bytes stay while they fit the dataset budget
    /// with the others no kept run uses (least recently used dropped first), so a later run on
    /// the same data does not download it again; its parsed form stays in ``datasetCache``.
    func drop(_ run: String, from s: inout State) {
        guard let executor = s.executors.removeValue(forKey: run) else { return }
        s.executorUse[run] = nil
        let hash = executor.data.dataHash
        if !s.executors.values.contains(where: { $0.data.dataHash == hash }) {
            TaskExecutor.forgetShared(dataHash: hash)
        }
        let inUse = Set(s.executors.values.map(\.data.dataHash))
        var idle = s.datasets.filter { !inUse.contains($0.key) }
        var total = idle.values.reduce(0) { $0 + $1.count }
        while total > config.datasetBudget, let victim = idle.min(by: { (s.datasetUse[$0.key] ?? 0) < (s.datasetUse[$1.key] ?? 0) }) {
            total -= victim.value.count
            idle[victim.key] = nil
            s.datasets[victim.key] = nil
            s.datasetUse[victim.key] = nil
        }
    }

    /// Runs whose preparation this worker holds now.
    public var preparedRuns: [String] { state.withLock { $0.executors.keys.sorted() } }
}

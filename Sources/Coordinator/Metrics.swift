import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The coordinator's Prometheus metrics (`GET /metrics`), kept in a registry of its own so
/// several coordinators in one process (tests, `lassoboot run`) never mix their numbers.
///
/// Event counts live in the service (``ServiceCounters``, also shown in logs); they are carried
/// into swift-metrics counters when scraped, so the exported counters equal the service's
/// exactly. Fit times are recorded as results arrive.
public final class CoordinatorMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    let leasesIssued, leasesExpired, retries, resultsAccepted, duplicates, mismatches, rejected, tasksFailed: CoreMetrics.Counter
    let unleased, uncertified, verified, verificationMismatches, quarantined, storageRetries: CoreMetrics.Counter
    let storageStalled: CoreMetrics.Gauge
    let tasksByState: [String: CoreMetrics.Gauge]
    let runsByState: [String: CoreMetrics.Gauge]
    let workersAlive, workersSeen, queueDepth: CoreMetrics.Gauge
    let fitSeconds: CoreMetrics.Timer
    /// The counters as last exported (what has been added to the swift-metrics counters).
    let exported = Mutex(ServiceCounters())
    /// A worker counts as alive when seen within this many seconds.
    let aliveWithin: Double

    /// - Parameter aliveWithin: how recently a worker must have been seen to count as alive
    ///   (the lease duration is a natural choice: a worker heartbeats three times per lease).
    public init(aliveWithin: Double = 30) {
        self.aliveWithin = aliveWithin
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["lassoboot_fit_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = factory
        func counter(_ name: String) -> CoreMetrics.Counter { CoreMetrics.Counter(label: "lassoboot_" + name, factory: factory) }
        leasesIssued = counter("leases_issued_total")
        leasesExpired = counter("leases_expired_total")
        retries = counter("task_retries_total")
        resultsAccepted = counter("results_accepted_total")
        duplicates = counter("results_duplicate_total")
        mismatches = counter("results_mismatched_duplicate_total")
        rejected = counter("results_rejected_total")
        tasksFailed = counter("tasks_failed_total")
        unleased = counter("results_unleased_total")
        uncertified = counter("results_uncertified_total")
        verified = counter("results_verified_total")
        verificationMismatches = counter("results_verification_mismatch_total")
        quarantined = counter("workers_quarantined_total")
        storageRetries = counter("storage_commit_retries_total")
        storageStalled = CoreMetrics.Gauge(label: "lassoboot_storage_stalled", factory: factory)
        var byState: [String: CoreMetrics.Gauge] = [:]
        for s in ["queued", "leased", "done", "failed"] {
            byState[s] = CoreMetrics.Gauge(label: "lassoboot_tasks", dimensions: [("state", s)], factory: factory)
        }
        tasksByState = byState
        var runs: [String: CoreMetrics.Gauge] = [:]
        for s in ["running", "done", "failed", "cancelled"] {
            runs[s] = CoreMetrics.Gauge(label: "lassoboot_runs", dimensions: [("state", s)], factory: factory)
        }
        runsByState = runs
        workersAlive = CoreMetrics.Gauge(label: "lassoboot_workers_alive", factory: factory)
        workersSeen = CoreMetrics.Gauge(label: "lassoboot_workers_seen", factory: factory)
        queueDepth = CoreMetrics.Gauge(label: "lassoboot_queue_depth", factory: factory)
        fitSeconds = CoreMetrics.Timer(label: "lassoboot_fit_seconds", factory: factory)
    }

    /// Records the compute time a worker reports for one task.
    public func recordFit(seconds: Double) {
        guard seconds.isFinite, seconds >= 0, seconds < 1e7 else { return }
        fitSeconds.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// Brings every metric up to `snapshot` and renders the Prometheus text format.
    public func render(_ snapshot: MetricsSnapshot) -> String {
        let c = snapshot.counters
        exported.withLock { last in
            func add(_ counter: CoreMetrics.Counter, _ now: Int, _ before: Int) {
                if now > before { counter.increment(by: Int64(now - before)) }
            }
            add(leasesIssued, c.leasesIssued, last.leasesIssued)
            add(leasesExpired, c.leasesExpired, last.leasesExpired)
            add(retries, c.retries, last.retries)
            add(resultsAccepted, c.resultsAccepted, last.resultsAccepted)
            add(duplicates, c.duplicateResults, last.duplicateResults)
            add(mismatches, c.mismatchedDuplicates, last.mismatchedDuplicates)
            add(rejected, c.rejectedResults, last.rejectedResults)
            add(tasksFailed, c.tasksFailed, last.tasksFailed)
            add(unleased, c.unleasedResults, last.unleasedResults)
            add(uncertified, c.uncertifiedResults, last.uncertifiedResults)
            add(verified, c.verifiedResults, last.verifiedResults)
            add(verificationMismatches, c.verificationMismatches, last.verificationMismatches)
            add(quarantined, c.quarantinedWorkers, last.quarantinedWorkers)
            add(storageRetries, c.storageRetries, last.storageRetries)
            last = c
        }
        for (state, gauge) in tasksByState { gauge.record(snapshot.tasks[state] ?? 0) }
        for (state, gauge) in runsByState { gauge.record(snapshot.runs[state] ?? 0) }
        queueDepth.record(snapshot.tasks["queued"] ?? 0)
        storageStalled.record(snapshot.storageAlert == nil ? 0 : 1)
        workersAlive.record(snapshot.workersAlive)
        workersSeen.record(snapshot.workersSeen)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

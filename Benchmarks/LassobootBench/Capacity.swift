// lassoboot-bench capacity: how many lease -> result round trips per second a coordinator serves.
//
//   lassoboot-bench capacity --coordinator http://127.0.0.1:PORT --token T --job JOB.json
//                            [--tasks 20000] [--workers 64] [--max 1] [--threads N] [--label TEXT]
//
// The job's bootstrap is replaced by {"batch": 1, "resamples": --tasks, "methods": ["percentile"]}
// so the run has one phase-2 task per resample. Every task's real result is computed here first
// (TaskExecutor, the code workers run), so the timed part is only the protocol: --workers fake
// workers, each on its own keep-alive HTTP/1.1 connection, lease up to --max tasks
// (POST /v1/lease) and hand in the precomputed results at once (POST /v1/results), until every
// task of the run is accepted. One thread drives all connections with poll(2) (plain sockets:
// the client must cost the shared cores as little as possible).
//
// Prints one JSON line: round trips per second (whole run, and between the 10% and 90%
// completions), p50/p99/max of a round trip (lease sent -> last result acknowledged) and of
// each request, statuses, and the run's final state.
import Analysis
import CoordinatorAPI
import Dispatch
import Foundation
import Plan
import Synchronization
import Tabular

#if canImport(Glibc)
import Glibc
#endif

// MARK: - the load

/// Percentile of sorted values (nearest rank).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
}

func runCapacity(_ args: Arguments) throws {
    let target = try HTTPTarget(
        url: try args.required("coordinator"),
        token: try args.string("token") ?? ProcessInfo.processInfo.environment["LASSOBOOT_TOKEN"] ?? "")
    let jobPath = try args.required("job")
    let resamples = try args.int("tasks") ?? 20000
    let workers = try args.int("workers") ?? 64
    let maxPerLease = try args.int("max") ?? 1
    let threads = try args.int("threads") ?? ProcessInfo.processInfo.activeProcessorCount
    let clock = ContinuousClock()
    func note(_ s: String) { FileHandle.standardError.write(Data("capacity: \(s)\n".utf8)) }

    // The spec: the job with one resample per task, percentile intervals only.
    guard let specBytes = FileManager.default.contents(atPath: jobPath),
        var object = try JSONSerialization.jsonObject(with: specBytes) as? [String: Any],
        var dataObject = object["data"] as? [String: Any], let csv = dataObject["csv"] as? String
    else {
        throw UsageError(description: "cannot read the job spec \(jobPath) (a JSON object with data.csv)")
    }
    _ = csv
    let csvPath = try RunSpec.load(path: jobPath).data.csv  // resolved against the spec's directory
    guard let data = FileManager.default.contents(atPath: csvPath) else { throw UsageError(description: "cannot read the data \(csvPath)") }
    let hash = SHA256.hex(data)
    dataObject["csv"] = "sha256:\(hash)"
    object["data"] = dataObject
    var boot = object["bootstrap"] as? [String: Any] ?? [:]
    boot["batch"] = 1
    boot["resamples"] = resamples
    boot["methods"] = ["percentile"]
    boot["nested"] = false
    object["bootstrap"] = boot
    let spec = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)

    // Every task's real result, computed once (not timed against the coordinator).
    let executor = try TaskExecutor.prepare(spec: spec, source: "capacity spec", data: data, resampleIndices: nil)
    let keyEncoder = JSONEncoder()
    keyEncoder.outputFormatting = [.sortedKeys]
    func compute(_ keys: [TaskKey], _ input: PhaseTwoInput?) -> [TaskResult] {
        let out = Mutex([TaskResult?](repeating: nil, count: keys.count))
        let chunks = max(1, min(keys.count, threads * 8))
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var mine: [(Int, TaskResult)] = []
            var i = c
            while i < keys.count { mine.append((i, executor.run(keys[i], input: input))); i += chunks }
            out.withLock { for (i, r) in mine { $0[i] = r } }
        }
        return out.withLock { $0.map { $0! } }
    }
    var results: [TaskKey: TaskResult] = [:]
    let precompute = clock.measure {
        let one = executor.phaseOneKeys()
        for (k, r) in zip(one, compute(one, nil)) { results[k] = r }
    }
    let (input, _) = try Aggregation.phaseTwoInput(data: executor.data, results: results)
    let two = executor.phaseTwoKeys()
    let precompute2 = clock.measure { for (k, r) in zip(two, compute(two, input)) { results[k] = r } }
    var resultBytes: [TaskKey: [UInt8]] = [:]
    var byKeyText: [[UInt8]: [UInt8]] = [:]
    for (k, r) in results {
        let b = Array(try keyEncoder.encode(r))
        resultBytes[k] = b
        byKeyText[Array(try keyEncoder.encode(k))] = b
    }
    let total = results.count
    note(
        "\(total) tasks (\(executor.phaseOneKeys().count) phase 1, \(two.count) phase 2) precomputed in \(String(format: "%.1f", (precompute + precompute2).seconds)) s"
    )

    // The run.
    let (putStatus, putBody) = try target.call("PUT", "/v1/datasets/\(hash)", body: Array(data), contentType: "text/csv")
    guard putStatus == 200 || putStatus == 201 else {
        throw UsageError(description: "PUT dataset: \(putStatus) \(String(decoding: putBody, as: UTF8.self))")
    }
    let create = Wire.CreateRun(spec: spec, dataset: hash, dataName: URL(fileURLWithPath: csvPath).lastPathComponent)
    let (runStatus, runBody) = try target.call("POST", "/v1/runs", body: Array(try JSONEncoder().encode(create)))
    guard runStatus == 201 || runStatus == 200, let run = try? JSONDecoder().decode(Wire.RunStatus.self, from: Data(runBody)) else {
        throw UsageError(description: "POST /v1/runs: \(runStatus) \(String(decoding: runBody, as: UTF8.self))")
    }
    note("run \(run.id): \(workers) fake workers, up to \(maxPerLease) task(s) per lease")

    // The timed loop.
    enum Phase { case leasing, submitting }
    struct Conn {
        let fd: Int32
        let worker: String
        var out: [UInt8] = []
        var sent = 0
        var parser = ResponseParser()
        var phase = Phase.leasing
        var pending: [[UInt8]] = []  // submission bodies still to send for the current lease
        var tripStart: UInt64 = 0
        var requestStart: UInt64 = 0
    }
    func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    let runBytes = Array(run.id.utf8), hashBytes = Array(hash.utf8)
    func submission(worker: String, key: [UInt8], lease: [UInt8], result: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(result.count + key.count + 200)
        b += Array("{\"dataset\":\"".utf8) + hashBytes + Array("\",\"key\":".utf8) + key
        b += Array(",\"lease\":\"".utf8) + lease + Array("\",\"result\":".utf8) + result
        b += Array(",\"run\":\"".utf8) + runBytes + Array("\",\"worker\":\"\(worker)\"}".utf8)
        return b
    }
    func leaseBody(_ worker: String) -> [UInt8] {
        Array("{\"host\":\"bench\",\"max\":\(maxPerLease),\"threads\":\(maxPerLease),\"wait\":0.5,\"worker\":\"\(worker)\"}".utf8)
    }
    /// (key JSON text, lease id) of every task in a lease response.
    let keyTag = Array("\"key\":".utf8), leaseTag = Array("\"lease\":\"".utf8)
    func parseLease(_ body: [UInt8]) -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        var i = 0
        while let k = ResponseParser.find(body, keyTag, from: i) {
            var j = k + keyTag.count, depth = 0
            let start = j
            repeat {
                if body[j] == UInt8(ascii: "{") { depth += 1 } else if body[j] == UInt8(ascii: "}") { depth -= 1 }
                j += 1
            } while depth > 0 && j < body.count
            let key = Array(body[start..<j])
            guard let l = ResponseParser.find(body, leaseTag, from: j) else { break }
            var e = l + leaseTag.count
            while e < body.count && body[e] != UInt8(ascii: "\"") { e += 1 }
            out.append((key, Array(body[(l + leaseTag.count)..<e])))
            i = e
        }
        return out
    }

    var conns: [Conn] = []
    for w in 0..<workers {
        let fd = try target.connectSocket()
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        conns.append(Conn(fd: fd, worker: "cap-\(w)"))
    }
    defer { for c in conns { close(c.fd) } }
    var trips: [Double] = [], leaseLatency: [Double] = [], submitLatency: [Double] = []
    trips.reserveCapacity(total + workers)
    leaseLatency.reserveCapacity(total * 2)
    submitLatency.reserveCapacity(total + workers)
    var completions: [UInt64] = []
    completions.reserveCapacity(total)
    var statuses: [String: Int] = [:]
    var emptyLeases = 0, leaseRequests = 0, submitRequests = 0, accepted = 0
    let acceptedTag = Array("\"accepted\"".utf8)
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    let t0 = now()
    func startLease(_ c: inout Conn) {
        c.phase = .leasing
        c.out = target.request("POST", "/v1/lease", body: leaseBody(c.worker))
        c.sent = 0
        c.tripStart = now()
        c.requestStart = c.tripStart
        leaseRequests += 1
    }
    func startSubmit(_ c: inout Conn) {
        c.phase = .submitting
        c.out = target.request("POST", "/v1/results", body: c.pending.removeFirst())
        c.sent = 0
        c.requestStart = now()
        submitRequests += 1
    }
    for i in conns.indices { startLease(&conns[i]) }
    var fds = conns.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
    var deadlineNs = t0 + 600_000_000_000
    while accepted < total {
        guard now() < deadlineNs else { throw UsageError(description: "no progress: \(accepted)/\(total) accepted after 600 s") }
        for i in fds.indices { fds[i].events = Int16(conns[i].sent < conns[i].out.count ? POLLOUT : POLLIN) }
        let n = poll(&fds, nfds_t(fds.count), 1000)
        if n < 0 && errno != EINTR { throw UsageError(description: "poll: errno \(errno)") }
        if n <= 0 { continue }
        for i in fds.indices where fds[i].revents != 0 {
            var c = conns[i]
            if c.sent < c.out.count {
                let w = c.out[c.sent...].withUnsafeBytes { write(c.fd, $0.baseAddress, $0.count) }
                if w > 0 { c.sent += w } else if errno != EAGAIN { throw UsageError(description: "write: errno \(errno)") }
                conns[i] = c
                continue
            }
            let r = chunk.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
            if r == 0 { throw UsageError(description: "the coordinator closed connection \(i)") }
            if r < 0 { if errno == EAGAIN { continue }; throw UsageError(description: "read: errno \(errno)") }
            c.parser.buffer += chunk[0..<r]
            guard let (status, body) = try c.parser.next() else { conns[i] = c; continue }
            let t = now()
            guard status == 200 else {
                throw UsageError(
                    description:
                        "\(c.phase == .leasing ? "lease" : "result") answered \(status): \(String(decoding: body.prefix(300), as: UTF8.self))")
            }
            switch c.phase {
            case .leasing:
                leaseLatency.append(Double(t - c.requestStart) * 1e-9)
                let tasks = parseLease(body)
                if tasks.isEmpty {
                    emptyLeases += 1
                    startLease(&c)
                } else {
                    c.pending = try tasks.map { key, lease in
                        guard let result = byKeyText[key] ?? (try? JSONDecoder().decode(TaskKey.self, from: Data(key))).flatMap({ resultBytes[$0] })
                        else {
                            throw UsageError(description: "leased an unknown task \(String(decoding: key, as: UTF8.self))")
                        }
                        return submission(worker: c.worker, key: key, lease: lease, result: result)
                    }
                    startSubmit(&c)
                }
            case .submitting:
                submitLatency.append(Double(t - c.requestStart) * 1e-9)
                let s = ResponseParser.find(body, acceptedTag) != nil ? "accepted" : String(decoding: body, as: UTF8.self)
                statuses[s, default: 0] += 1
                if s == "accepted" { accepted += 1; completions.append(t - t0); deadlineNs = t + 600_000_000_000 }
                if !c.pending.isEmpty {
                    startSubmit(&c)
                } else {
                    trips.append(Double(t - c.tripStart) * 1e-9)
                    if accepted < total { startLease(&c) }
                }
            }
            conns[i] = c
        }
    }
    let wall = Double(completions.last!) * 1e-9
    let lo = Double(completions[total / 10]) * 1e-9, hi = Double(completions[total * 9 / 10]) * 1e-9
    trips.sort(); leaseLatency.sort(); submitLatency.sort()

    // The run must be done (the last result triggers the report).
    let (_, statusBody) = try target.call("GET", "/v1/runs/\(run.id)")
    let final = try? JSONDecoder().decode(Wire.RunStatus.self, from: Data(statusBody))

    var j = JSONLine()
    j.add("tool", "lassoboot")
    j.add("label", try args.string("label") ?? "coordinator capacity")
    j.add("run", run.id)
    j.add("runState", final?.state.rawValue ?? "?")
    j.add("tasks", total)
    j.add("workers", workers)
    j.add("maxPerLease", maxPerLease)
    j.add("seconds", wall)
    j.add("roundTripsPerSecond", Double(trips.count) / wall)
    j.add("resultsPerSecond", Double(total) / wall)
    j.add("steadyResultsPerSecond", Double(total * 9 / 10 - total / 10) / (hi - lo))
    j.add("requestsPerSecond", Double(leaseRequests + submitRequests) / wall)
    j.add("leaseRequests", leaseRequests)
    j.add("emptyLeases", emptyLeases)
    j.add("roundTripP50", percentile(trips, 0.5))
    j.add("roundTripP99", percentile(trips, 0.99))
    j.add("roundTripMax", trips.last ?? .nan)
    j.add("leaseP50", percentile(leaseLatency, 0.5))
    j.add("leaseP99", percentile(leaseLatency, 0.99))
    j.add("submitP50", percentile(submitLatency, 0.5))
    j.add("submitP99", percentile(submitLatency, 0.99))
    j.add("statuses", statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    // Throughput per tenth of the run (results per second), to see whether it slows as tasks finish.
    var tenths: [Double] = []
    for d in 0..<10 {
        let a = completions[total * d / 10], b = completions[max(total * (d + 1) / 10 - 1, total * d / 10)]
        tenths.append(Double(total * (d + 1) / 10 - total * d / 10) / max(1e-9, Double(b - a) * 1e-9))
    }
    j.add("resultsPerSecondByTenth", tenths.map { ($0 * 10).rounded() / 10 })
    print(j.text)
}

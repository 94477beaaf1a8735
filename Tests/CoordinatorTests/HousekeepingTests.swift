import Analysis
import Coordinator
import CoordinatorAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Scheduler
import Store
import Synchronization
import Testing

/// A clock the test moves by hand.
final class TestClock: Sendable {
    let now = Mutex(1_000_000.0)
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
}

/// Deletes, worker-name validation, the worker registry's bounds and dataset collection.
@Suite("Coordinator housekeeping: DELETE, validation, registry expiry, dataset collection")
struct HousekeepingTests {
    func app(
        store: MemoryStore = MemoryStore(), clock: TestClock = TestClock(), housekeeping: Housekeeping = Housekeeping()
    )
        throws -> (some ApplicationProtocol, CoordinatorService)
    {
        let service = try CoordinatorService(store: store, software: "test", clock: clock.read, housekeeping: housekeeping)
        let router = CoordinatorHTTP.router(service: service, tokens: Tokens(client: "client-token", worker: "worker-token"), maxLeaseWait: 0.2)
        return (Application(router: router), service)
    }

    func headers(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }
    func message(_ r: TestResponse) -> String { (try? JSONDecoder().decode(Wire.ErrorBody.self, from: Data(r.body.readableBytesView)).error) ?? "" }

    func createRun(_ service: CoordinatorService) async throws -> (run: String, hash: String) {
        let hash = try await service.putDataset(Data(HTTPTests.csv.utf8)).hash
        let run = try await service.createRun(Wire.CreateRun(spec: HTTPTests.spec, dataset: hash, dataName: "x.csv"))
        return (run.id, hash)
    }

    @Test("DELETE /v1/runs/{id} cancels a running run and removes it with its tasks and results; client token only")
    func deleteRun() async throws {
        let store = MemoryStore()
        let (app, service) = try app(store: store)
        let (id, hash) = try await createRun(service)
        let leased = try await service.lease(Wire.LeaseRequest(worker: "w", host: "h", threads: 1, max: 1, wait: 0))
        #expect(leased.count == 1)
        try await app.test(.router) { client in
            let worker = try await client.execute(uri: "/v1/runs/\(id)", method: .delete, headers: headers("worker-token"))
            #expect(worker.status == .unauthorized)
            let r = try await client.execute(uri: "/v1/runs/\(id)", method: .delete, headers: headers("client-token"))
            #expect(r.status == .ok, "\(message(r))")
            let gone = try await client.execute(uri: "/v1/runs/\(id)", method: .get, headers: headers("client-token"))
            #expect(gone.status == .notFound)
            let again = try await client.execute(uri: "/v1/runs/\(id)", method: .delete, headers: headers("client-token"))
            #expect(again.status == .notFound && message(again).contains("no run"))
        }
        #expect(try store.run(id: id) == nil)
        #expect(try store.tasks(run: id).isEmpty && store.results(run: id).isEmpty)
        #expect(await service.preparedRuns.isEmpty)
        // A late result of the deleted run is refused, and the dataset is still there (grace period).
        let late = Wire.Submission(
            worker: "w", run: id, key: leased[0].key, lease: leased[0].lease, dataset: hash,
            result: .cv(scores: [0.5], failures: [nil], heldOutWeight: 1))
        await #expect(throws: ServiceError.self) { try await service.submit(late) }
        #expect(try store.hasDataset(hash: hash))
    }

    @Test("DELETE /v1/datasets/{hash}: 409 while a running run uses it, removed once it does not, 404 after")
    func deleteDataset() async throws {
        let store = MemoryStore()
        let (app, service) = try app(store: store)
        let (id, hash) = try await createRun(service)
        try await app.test(.router) { client in
            let busy = try await client.execute(uri: "/v1/datasets/\(hash)", method: .delete, headers: headers("client-token"))
            #expect(busy.status == .conflict && message(busy).contains(id), "\(message(busy))")
            _ = try await service.cancel(id)
            let ok = try await client.execute(uri: "/v1/datasets/\(hash)", method: .delete, headers: headers("client-token"))
            #expect(ok.status == .ok, "\(message(ok))")
            let missing = try await client.execute(uri: "/v1/datasets/\(hash)", method: .delete, headers: headers("client-token"))
            #expect(missing.status == .notFound)
        }
        #expect(try !store.hasDataset(hash: hash))
    }

    @Test("worker and host names are checked the same way on lease, heartbeat and results")
    func validation() async throws {
        let (app, service) = try app()
        let (id, hash) = try await createRun(service)
        let long = String(repeating: "n", count: 257)
        try await app.test(.router) { client in
            func post(_ uri: String, _ body: String) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: headers("worker-token"), body: ByteBuffer(string: body))
            }
            for name in [long, "a\\u001b[31mred", ""] {
                let lease = try await post("/v1/lease", #"{"worker": "\#(name)", "host": "h", "threads": 1, "max": 1, "wait": 0}"#)
                let heartbeat = try await post("/v1/heartbeat", #"{"worker": "\#(name)", "leases": []}"#)
                let result = try await post(
                    "/v1/results",
                    #"{"worker": "\#(name)", "run": "\#(id)", "key": {"cv": {"outcome": 0, "fold": 0}}, "lease": "L", "dataset": "\#(hash)", "error": "x"}"#
                )
                for (what, r) in [("lease", lease), ("heartbeat", heartbeat), ("results", result)] {
                    #expect(r.status == .badRequest, "\(what) with a \(name.count)-character name: \(r.status) \(message(r))")
                    #expect(message(r).hasPrefix("worker must"), "\(what): \(message(r))")
                }
            }
            let host = try await post("/v1/lease", #"{"worker": "w", "host": "\#(long)", "threads": 1, "max": 1, "wait": 0}"#)
            #expect(host.status == .badRequest && message(host).contains("host must be at most 256"))
            let ok = try await post("/v1/heartbeat", #"{"worker": "w", "leases": []}"#)
            #expect(ok.status == .ok)
        }
        #expect(try await service.list().workers.map(\.id) == ["w"])
    }

    @Test("silent workers are forgotten in memory and in the store; the registry is capped")
    func registry() async throws {
        let store = MemoryStore()
        let clock = TestClock()
        let (_, service) = try app(store: store, clock: clock, housekeeping: Housekeeping(workerExpiry: 60, maxWorkers: 100))
        _ = try await service.heartbeat(Wire.Heartbeat(worker: "old", leases: []))
        clock.advance(50)
        _ = try await service.heartbeat(Wire.Heartbeat(worker: "new", leases: []))
        clock.advance(20)
        try await service.housekeep()
        #expect(try await service.list().workers.map(\.id) == ["new"])
        #expect(try store.workers().map(\.id) == ["new"])
        // A flood of names: the registry never holds more than the cap, and the newest stay.
        for i in 0..<1000 {
            clock.advance(0.001)
            _ = try await service.heartbeat(Wire.Heartbeat(worker: "flood-\(i)", leases: []))
        }
        let workers = try await service.list().workers
        #expect(workers.count <= 100)
        #expect(workers.contains { $0.id == "flood-999" })
        try await service.housekeep()
        #expect(try store.workers().count <= 100)
        let metrics = await service.metricsSnapshot(aliveWithin: 10)
        #expect(metrics.workersSeen <= 100)
    }

    @Test("datasets: a failed run's go at once, unreferenced uploads after the grace period, used ones stay")
    func datasetCollection() async throws {
        let store = MemoryStore()
        let clock = TestClock()
        let (_, service) = try app(store: store, clock: clock, housekeeping: Housekeeping(datasetGrace: 600))
        let (id, hash) = try await createRun(service)
        let upload = try await service.putDataset(Data("a,b\n1,2\n".utf8)).hash
        try await service.housekeep()
        #expect(try store.hasDataset(hash: hash) && store.hasDataset(hash: upload))
        clock.advance(601)
        try await service.housekeep()
        #expect(try store.hasDataset(hash: hash), "a running run's dataset stays")
        #expect(try !store.hasDataset(hash: upload), "an upload no run used is gone after the grace period")
        // A spec that does not fit the data fails its run: its dataset is collected at once.
        let other = try await service.putDataset(Data("x,y\n1,0\n0,1\n".utf8)).hash
        await #expect(throws: ServiceError.self) {
            try await service.createRun(Wire.CreateRun(spec: HTTPTests.spec, dataset: other, dataName: nil))
        }
        try await service.housekeep()
        #expect(try !store.hasDataset(hash: other))
        _ = try await service.cancel(id)
        try await service.housekeep()
        #expect(try !store.hasDataset(hash: hash))
    }

    @Test("a finished run's preparation is dropped at once; running runs stay within the byte budget")
    func preparedEviction() async throws {
        let (_, service) = try app(housekeeping: Housekeeping(preparedBudget: 1))
        let (a, hash) = try await createRun(service)
        #expect(await service.preparedRuns == [a])
        let b = try await service.createRun(
            Wire.CreateRun(
                spec: HTTPTests.spec.replacingOccurrences(of: #""seed": 3"#, with: #""seed": 4"#),
                dataset: hash, dataName: "x.csv")
        ).id
        #expect(await service.preparedRuns == [b], "over the budget the least recently used goes")
        _ = try await service.cancel(b)
        #expect(await service.preparedRuns.isEmpty)
        #expect(try await service.status(a).resamples == 10, "status needs no preparation")
    }
}

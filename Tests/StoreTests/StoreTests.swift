import CoordinatorAPI
import Foundation
import Plan
import Scheduler
import Store
import Testing

/// The same contract for the SQLite store and its in-memory twin.
enum StoreKind: String, CaseIterable, Sendable { case memory, sqlite }

func makeStore(_ kind: StoreKind) throws -> (Store, String?) {
    switch kind {
    case .memory: return (MemoryStore(), nil)
    case .sqlite:
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-store-\(UUID().uuidString).db").path
        return (try SQLiteStore(path: path), path)
    }
}

@Suite("Store: durable runs, tasks, results")
struct StoreTests {
    let run = RunRow(id: "r1", sequence: 1, name: "job", spec: Data("{}".utf8), dataset: "abc", created: 10)
    let t1 = TaskRecord(id: TaskID(run: "r1", key: .cv(outcome: 0, fold: 1)))
    let t2 = TaskRecord(id: TaskID(run: "r1", key: .bootstrap(start: 0, end: 25)))

    @Test("one contract for both stores", arguments: StoreKind.allCases)
    func contract(kind: StoreKind) throws {
        let (store, path) = try makeStore(kind)
        defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
        #expect(try store.putDataset(hash: "abc", bytes: Data("a,b\n1,2\n".utf8)))
        #expect(try !store.putDataset(hash: "abc", bytes: Data("a,b\n1,2\n".utf8)))
        #expect(try store.hasDataset(hash: "abc") && !store.hasDataset(hash: "zzz"))
        #expect(try store.dataset(hash: "abc") == Data("a,b\n1,2\n".utf8))
        try store.createRun(run, tasks: [t1, t2])
        #expect(try store.runs() == [run])
        #expect(try store.tasks(run: "r1") == [t1, t2])
        var leased = t2
        leased.state = .leased
        leased.leases = [LeaseInfo(id: "L1", worker: "w", issuedAt: 1, expiresAt: 31)]
        try store.saveTasks([leased])
        var done = t1
        done.state = .done
        try store.apply([[.result(t1.id, Data("first".utf8), done)]])
        try store.apply([[.result(t1.id, Data("second".utf8), done)]])  // the first result is kept
        #expect(try store.result(t1.id) == Data("first".utf8))
        #expect(try store.results(run: "r1") == [t1.id.key: Data("first".utf8)])
        #expect(try store.tasks(run: "r1") == [done, leased])
        var finished = run
        finished.state = .done
        finished.report = Data("report".utf8)
        try store.apply([[.run(finished, tasks: [])]])
        #expect(try store.run(id: "r1")?.report == Data("report".utf8))
        #expect(try store.runs().map(\.state) == [.done])
        try store.apply([[.worker(WorkerRow(id: "w", host: "h", threads: 2, lastSeen: 5, tasksDone: 3))]])
        #expect(try store.workers().map(\.tasksDone) == [3])
    }

    @Test("SQLite: state survives closing and reopening the file, in WAL mode")
    func durability() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lassoboot-store-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            let store = try SQLiteStore(path: path)
            _ = try store.putDataset(hash: "abc", bytes: Data([1, 2, 3]))
            try store.createRun(run, tasks: [t1, t2])
            var done = t2
            done.state = .done
            try store.apply([[.result(t2.id, Data("r".utf8), done)]])
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.run(id: "r1") == run)
        #expect(try reopened.results(run: "r1")[t2.id.key] == Data("r".utf8))
        #expect(try reopened.tasks(run: "r1").map(\.state) == [t1.state, .done])
        #expect(try reopened.dataset(hash: "abc") == Data([1, 2, 3]))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }
}

@Suite("Store: hand-written rows and group commit")
struct StoreRowTests {
    @Test("task records and keys are written as JSONEncoder writes them, and read back")
    func taskRecordJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let records = [
            TaskRecord(id: TaskID(run: "r1", key: .cv(outcome: 0, fold: 1))),
            TaskRecord(
                id: TaskID(run: "r/2", key: .jackknife(outcome: 1, start: 3, end: 9)), state: .leased, attempts: 2, notBefore: 1_763_700_000.125,
                leases: [
                    LeaseInfo(id: "L1-7", worker: "host \"a\"", issuedAt: 1_763_700_001.5, expiresAt: 1_763_700_031.5, started: true),
                    LeaseInfo(id: "L1-8", worker: "b", issuedAt: 0.1, expiresAt: 30.1),
                ],
                lastError: "lease expired\n(worker lost)", unstartedExpiries: 4),
        ]
        for r in records {
            #expect(try r.jsonBytes() == encoder.encode(r))
            #expect(try JSONDecoder().decode(TaskRecord.self, from: r.jsonBytes()) == r)
        }
        #expect(storageKey(.bootstrap(start: 0, end: 25)) == #"{"bootstrap":{"end":25,"start":0}}"#)
        // Rows written before `started` and `unstartedExpiries` existed still load.
        let old =
            #"{"attempts":1,"id":{"key":{"estimate":{"outcome":0}},"run":"r"},"leases":[{"expiresAt":3,"id":"L","issuedAt":1,"worker":"w"}],"notBefore":0,"state":"leased"}"#
        let decoded = try JSONDecoder().decode(TaskRecord.self, from: Data(old.utf8))
        #expect(decoded.unstartedExpiries == 0 && decoded.leases[0].started == false && decoded.attempts == 1)
    }

    @Test("group commit: concurrent changes commit in the order they were queued", arguments: StoreKind.allCases)
    func groupCommit(kind: StoreKind) async throws {
        let (store, path) = try makeStore(kind)
        defer { if let path { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } } }
        let run = RunRow(id: "r1", sequence: 1, name: "job", spec: Data("{}".utf8), dataset: "abc", created: 10)
        try store.createRun(run, tasks: [])
        let committer = GroupCommitter(store: store)
        let n = 200
        // Every change rewrites the same task: the last one enqueued must be what is stored.
        let tickets = (0..<n).map { i in
            committer.enqueue([
                .tasks([TaskRecord(id: TaskID(run: "r1", key: .estimate(outcome: 0)), attempts: i)]),
                .result(
                    TaskID(run: "r1", key: .bootstrap(start: i, end: i + 1)), Data("\(i)".utf8),
                    TaskRecord(id: TaskID(run: "r1", key: .bootstrap(start: i, end: i + 1)), state: .done)),
            ])
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in tickets { group.addTask { try await t.wait() } }
            try await group.waitForAll()
        }
        try await committer.enqueue([]).wait()  // a barrier
        #expect(try store.tasks(run: "r1").first { $0.id.key == .estimate(outcome: 0) }?.attempts == n - 1)
        #expect(try store.results(run: "r1").count == n)
        let stats = committer.stats
        #expect(stats.changes == n + 1 && stats.batches >= 1 && stats.batches <= n + 1)
    }
}

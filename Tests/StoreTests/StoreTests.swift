import Analysis
import Foundation
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
        #expect(try store.allUnfinishedTasks() == [t1, leased])
        var done = t1
        done.state = .done
        try store.saveResult(t1.id, result: Data("first".utf8), task: done)
        try store.saveResult(t1.id, result: Data("second".utf8), task: done)   // the first result is kept
        #expect(try store.result(t1.id) == Data("first".utf8))
        #expect(try store.results(run: "r1") == [t1.id.key: Data("first".utf8)])
        #expect(try store.allUnfinishedTasks() == [leased])
        var finished = run
        finished.state = .done
        finished.report = Data("report".utf8)
        try store.updateRun(finished, tasks: [])
        #expect(try store.run(id: "r1")?.report == Data("report".utf8))
        #expect(try store.allUnfinishedTasks().isEmpty)            // tasks of finished runs are not resumed
        try store.saveWorker(WorkerRow(id: "w", host: "h", threads: 2, lastSeen: 5, tasksDone: 3))
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
            try store.saveResult(t2.id, result: Data("r".utf8), task: done)
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.run(id: "r1") == run)
        #expect(try reopened.results(run: "r1")[t2.id.key] == Data("r".utf8))
        #expect(try reopened.allUnfinishedTasks() == [t1])
        #expect(try reopened.dataset(hash: "abc") == Data([1, 2, 3]))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }
}

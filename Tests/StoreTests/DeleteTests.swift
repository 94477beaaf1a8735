import CoordinatorAPI
import Foundation
import Plan
import Scheduler
import Store
import Testing

@Suite("Store: deletes of runs, datasets and workers")
struct StoreDeleteTests {
    @Test("both stores delete a run with its tasks and results, a dataset, and workers; other rows stay", arguments: StoreKind.allCases)
    func deletes(kind: StoreKind) throws {
        let (store, path) = try makeStore(kind)
        defer { if let path { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } } }
        let keep = RunRow(id: "keep", sequence: 1, name: "a", spec: Data("{}".utf8), dataset: "d1", created: 1)
        let gone = RunRow(id: "gone", sequence: 2, name: "b", spec: Data("{}".utf8), dataset: "d2", created: 2)
        let k = TaskRecord(id: TaskID(run: "keep", key: .cv(outcome: 0, fold: 0)))
        let g = TaskRecord(id: TaskID(run: "gone", key: .cv(outcome: 0, fold: 0)))
        try store.createRun(keep, tasks: [k])
        try store.createRun(gone, tasks: [g])
        try store.apply([[.result(k.id, Data("k".utf8), k)]])
        try store.apply([[.result(g.id, Data("g".utf8), g)]])
        #expect(try store.putDataset(hash: "d1", bytes: Data("1".utf8)) && store.putDataset(hash: "d2", bytes: Data("2".utf8)))
        #expect(try store.datasetHashes() == ["d1", "d2"])
        #expect(try store.deleteRun(id: "gone"))
        #expect(try !store.deleteRun(id: "gone"))
        #expect(try store.runs().map(\.id) == ["keep"])
        #expect(try store.tasks(run: "gone").isEmpty && store.results(run: "gone").isEmpty && store.result(g.id) == nil)
        #expect(try store.tasks(run: "keep") == [k] && store.result(k.id) == Data("k".utf8))
        #expect(try store.deleteDataset(hash: "d2"))
        #expect(try !store.deleteDataset(hash: "d2"))
        #expect(try store.datasetHashes() == ["d1"] && !store.hasDataset(hash: "d2"))
        for id in ["w1", "w2", "w3"] { try store.apply([[.worker(WorkerRow(id: id, host: "h", threads: 1, lastSeen: 1, tasksDone: 0))]]) }
        try store.deleteWorkers(ids: ["w1", "w3", "nope"])
        #expect(try store.workers().map(\.id) == ["w2"])
    }
}

import Foundation
import GRDB
import Plan
import Scheduler

/// Why the coordinator's database cannot be used.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// Another process (a second coordinator) holds the database.
    case locked(path: String, holder: String)
    /// The file is not a database, or its integrity check failed.
    case corrupt(path: String, detail: String)
    /// The file could not be opened or created.
    case unavailable(path: String, detail: String)

    public var description: String {
        switch self {
        case let .locked(path, holder):
            return "the database \(path) is in use by another coordinator (\(holder)); stop it first, or give this one its own --db"
        case let .corrupt(path, detail):
            return "the database \(path) is damaged: \(detail). Restore it from a backup, or move it aside to start empty"
        case let .unavailable(path, detail):
            return "cannot open the database \(path): \(detail)"
        }
    }
}

/// Coordinator state in one SQLite file (WAL mode, one transaction per state change).
///
/// One coordinator owns a database at a time: opening takes an exclusive lock on `PATH.lock`
/// (held until the process ends), so a second coordinator on the same file refuses to start
/// instead of interleaving its writes. Opening also runs `PRAGMA quick_check`, so a damaged
/// file is named at start-up rather than found mid-run.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    /// The lock file's descriptor (flock held while open).
    let lockDescriptor: Int32
    /// The database file, for error messages.
    public let path: String
    let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    let decoder = JSONDecoder()

    /// Opens (creating if needed) the database at `path`, taking its lock and checking it.
    public init(path: String) throws {
        self.path = path
        lockDescriptor = try Self.lock(path)
        var config = Configuration()
        // Another process briefly holding the write lock (a backup, `sqlite3` running a
        // checkpoint) is waited for; longer holds fail the write, which the caller retries.
        config.busyMode = .timeout(1)
        config.prepareDatabase { db in
            // WAL is GRDB's default for pools; NORMAL sync is durable across process crashes in WAL mode.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            let check = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            if check != ["ok"] {
                throw StoreError.corrupt(path: path, detail: "PRAGMA quick_check: " + check.prefix(5).joined(separator: "; "))
            }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB || e.resultCode == .SQLITE_CORRUPT {
            close(lockDescriptor)
            throw StoreError.corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
        } catch let e as StoreError {
            close(lockDescriptor)
            throw e
        } catch let e as DatabaseError {
            close(lockDescriptor)
            throw StoreError.unavailable(path: path, detail: e.message ?? "\(e.resultCode)")
        }
        try pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS datasets(hash TEXT PRIMARY KEY, bytes BLOB NOT NULL, size INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS runs(id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, state TEXT NOT NULL, body BLOB NOT NULL);
                    CREATE TABLE IF NOT EXISTS tasks(run TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY(run, key));
                    CREATE TABLE IF NOT EXISTS results(run TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY(run, key));
                    CREATE TABLE IF NOT EXISTS workers(id TEXT PRIMARY KEY, body BLOB NOT NULL);
                    CREATE TABLE IF NOT EXISTS dataset_pieces(hash TEXT NOT NULL, seq INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(hash, seq));
                    DELETE FROM dataset_pieces WHERE hash LIKE 'upload:%';
                    """)
        }
    }

    deinit { close(lockDescriptor) }

    /// Takes the exclusive lock of the database at `path` (`PATH.lock`, holding the owner's pid
    /// and host), or throws ``StoreError/locked(path:holder:)``.
    static func lock(_ path: String) throws -> Int32 {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError.unavailable(path: path, detail: "cannot create its lock file \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = pread(fd, &buffer, 255, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown process"
            throw StoreError.locked(path: path, holder: holder.isEmpty ? "unknown process" : holder)
        }
        let owner = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n"
        _ = ftruncate(fd, 0)
        _ = owner.withCString { pwrite(fd, $0, strlen($0), 0) }
        return fd
    }

    func encode<T: Encodable>(_ value: T) throws -> Data { try encoder.encode(value) }

    // Statements on the hot path are prepared once per connection (GRDB caches them by SQL).

    func writeTasks(_ db: Database, _ tasks: [TaskRecord]) throws {
        guard !tasks.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO tasks(run, key, state, body) VALUES (?, ?, ?, ?)")
        for t in tasks {
            try statement.execute(arguments: [t.id.run, storageKey(t.id.key), t.state.rawValue, try t.jsonBytes()])
        }
    }

    func writeRun(_ db: Database, _ run: RunRow) throws {
        // The body omits nothing: spec and report are stored inside it.
        try db.execute(
            sql: "INSERT OR REPLACE INTO runs(id, sequence, state, body) VALUES (?, ?, ?, ?)",
            arguments: [run.id, run.sequence, run.state.rawValue, try encode(run)])
    }

    func write(_ db: Database, _ write: StoreWrite) throws {
        switch write {
        case let .tasks(tasks): try writeTasks(db, tasks)
        case let .result(id, bytes, task):
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO results(run, key, body) VALUES (?, ?, ?)")
                .execute(arguments: [id.run, storageKey(id.key), bytes])
            try writeTasks(db, [task])
        case let .run(run, tasks):
            try writeRun(db, run)
            try writeTasks(db, tasks)
        case let .worker(worker):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO workers(id, body) VALUES (?, ?)").execute(arguments: [worker.id, try encode(worker)])
        }
    }

    public func apply(_ changes: [[StoreWrite]]) throws {
        if changes.allSatisfy(\.isEmpty) { return }
        // One transaction: all the changes commit, or none (the caller retries the batch).
        try pool.write { db in
            for change in changes {
                for w in change { try write(db, w) }
            }
        }
    }

    /// Datasets are stored in pieces of this many bytes (SQLite holds at most 10^9 in one blob): a
    /// `datasets` row with an empty blob and the total size, and its pieces in `dataset_pieces`.
    public static let pieceBytes = 16 << 20

    public func putDataset(hash: String, bytes: Data) throws -> Bool {
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM datasets WHERE hash = ?", arguments: [hash]) != nil { return false }
            if bytes.count <= Self.pieceBytes {
                try db.execute(sql: "INSERT INTO datasets(hash, bytes, size) VALUES (?, ?, ?)", arguments: [hash, bytes, bytes.count])
                return true
            }
            let insert = try db.cachedStatement(sql: "INSERT INTO dataset_pieces(hash, seq, bytes) VALUES (?, ?, ?)")
            var seq = 0
            for start in stride(from: bytes.startIndex, to: bytes.endIndex, by: Self.pieceBytes) {
                let piece = bytes[start..<min(start + Self.pieceBytes, bytes.endIndex)]
                try insert.execute(arguments: [hash, seq, piece])
                seq += 1
            }
            try db.execute(sql: "INSERT INTO datasets(hash, bytes, size) VALUES (?, x'', ?)", arguments: [hash, bytes.count])
            return true
        }
    }

    public func putUploadPiece(upload: String, index: Int, bytes: Data) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO dataset_pieces(hash, seq, bytes) VALUES (?, ?, ?)",
                arguments: ["upload:" + upload, index, bytes])
        }
    }

    public func finishUpload(upload: String, hash: String, size: Int) throws -> Bool {
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM datasets WHERE hash = ?", arguments: [hash]) != nil {
                try db.execute(sql: "DELETE FROM dataset_pieces WHERE hash = ?", arguments: ["upload:" + upload])
                return false
            }
            try db.execute(sql: "DELETE FROM dataset_pieces WHERE hash = ?", arguments: [hash])  // leftovers of a deleted dataset
            try db.execute(sql: "UPDATE dataset_pieces SET hash = ? WHERE hash = ?", arguments: [hash, "upload:" + upload])
            try db.execute(sql: "INSERT INTO datasets(hash, bytes, size) VALUES (?, x'', ?)", arguments: [hash, size])
            return true
        }
    }

    public func abandonUpload(upload: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM dataset_pieces WHERE hash = ?", arguments: ["upload:" + upload]) }
    }

    public func dataset(hash: String) throws -> Data? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT length(bytes) AS inline, size FROM datasets WHERE hash = ?", arguments: [hash]) else {
                return nil
            }
            let inline: Int = row["inline"], size: Int = row["size"]
            if inline == size { return try Data.fetchOne(db, sql: "SELECT bytes FROM datasets WHERE hash = ?", arguments: [hash]) }
            var bytes = Data(capacity: size)
            let pieces = try Data.fetchCursor(db, sql: "SELECT bytes FROM dataset_pieces WHERE hash = ? ORDER BY seq", arguments: [hash])
            while let piece = try pieces.next() { bytes.append(piece) }
            guard bytes.count == size else {
                throw StoreError.corrupt(path: path, detail: "dataset \(hash) has \(bytes.count) of its \(size) bytes stored")
            }
            return bytes
        }
    }

    public func hasDataset(hash: String) throws -> Bool {
        try pool.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM datasets WHERE hash = ?", arguments: [hash]) != nil }
    }

    public func createRun(_ run: RunRow, tasks: [TaskRecord]) throws {
        try pool.write { db in
            try writeRun(db, run)
            try writeTasks(db, tasks)
        }
    }

    public func runs() throws -> [RunRow] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM runs ORDER BY sequence").map { try decoder.decode(RunRow.self, from: $0) }
        }
    }

    public func run(id: String) throws -> RunRow? {
        try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM runs WHERE id = ?", arguments: [id]).map { try decoder.decode(RunRow.self, from: $0) }
        }
    }

    public func saveTasks(_ tasks: [TaskRecord]) throws {
        guard !tasks.isEmpty else { return }
        try pool.write { db in try writeTasks(db, tasks) }
    }

    public func tasks(run: String) throws -> [TaskRecord] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM tasks WHERE run = ?", arguments: [run])
                .map { try decoder.decode(TaskRecord.self, from: $0) }.sorted { $0.id < $1.id }
        }
    }

    public func results(run: String) throws -> [TaskKey: Data] {
        try pool.read { db in
            var out: [TaskKey: Data] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, body FROM results WHERE run = ?", arguments: [run]) {
                let key = try decoder.decode(TaskKey.self, from: Data((row["key"] as String).utf8))
                out[key] = row["body"] as Data
            }
            return out
        }
    }

    public func result(_ id: TaskID) throws -> Data? {
        try pool.read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM results WHERE run = ? AND key = ?"), arguments: [id.run, storageKey(id.key)])
        }
    }

    public func workers() throws -> [WorkerRow] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM workers ORDER BY id").map { try decoder.decode(WorkerRow.self, from: $0) }
        }
    }

    public func deleteRun(id: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM results WHERE run = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM tasks WHERE run = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func deleteDataset(hash: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM datasets WHERE hash = ?", arguments: [hash])
            let deleted = db.changesCount > 0
            try db.execute(sql: "DELETE FROM dataset_pieces WHERE hash = ?", arguments: [hash])
            return deleted
        }
    }

    public func datasetHashes() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT hash FROM datasets ORDER BY hash") }
    }

    public func deleteWorkers(ids: [String]) throws {
        guard !ids.isEmpty else { return }
        try pool.write { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM workers WHERE id = ?")
            for id in ids { try statement.execute(arguments: [id]) }
        }
    }
}

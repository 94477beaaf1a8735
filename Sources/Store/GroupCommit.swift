import Dispatch
import Foundation
import GRDB
import Synchronization

/// Group commit: the state changes of concurrent requests are written in one transaction.
///
/// A caller enqueues its change (synchronously, so changes reach the store in the order the
/// caller made them) and then awaits its ticket, which resolves once the transaction holding the
/// change has committed. One writer thread commits everything queued so far in one transaction
/// (``Store/apply(_:)``: each change in its own savepoint), then the next batch, and so on. So a
/// request is acknowledged only after its change is durable, exactly as with a transaction per
/// change; a crash loses only changes no one was told about, and the store always holds a prefix
/// of the sequence of changes. What changes is the cost: one commit (and one set of WAL page
/// writes) per batch instead of per request.
///
/// A batch that fails to commit for a reason that can pass (another process holding the write
/// lock, a full disk, an I/O error) is retried with capped exponential backoff until it
/// commits: its requests wait, unanswered, and nothing after it commits first, so the store
/// stays a prefix of the changes and no change the coordinator has made in memory is ever
/// lost while the process lives. While it waits, ``alert`` says why (`stalled: disk full`).
/// A failure that cannot pass (a damaged file) goes to `onFatal`, which by default ends the
/// process: a restart then names the damage (see ``SQLiteStore``) instead of publishing a
/// table built from state the disk does not hold.
public final class GroupCommitter: Sendable {
    let store: Store
    let queue = DispatchQueue(label: "lassoboot.group-commit", qos: .userInitiated)
    /// Why commits are failing right now, or nil.
    let currentAlert = Mutex<String?>(nil)
    let onAlert: @Sendable (String?) -> Void
    let onFatal: @Sendable (Error) -> Void
    /// Longest wait between two attempts at a failing batch (seconds).
    let maxBackoff: Double
    let retried = Mutex(0)

    struct Pending {
        var changes: [[StoreWrite]] = []
        var tickets: [CommitTicket] = []
        var running = false
        var batches = 0
        var committed = 0
    }
    let pending = Mutex(Pending())

    /// - Parameters:
    ///   - onAlert: told when commits start failing (with the reason) and when they recover (nil).
    ///   - onFatal: told of a failure that retrying cannot fix; the default logs it to stderr and exits.
    public init(
        store: Store, maxBackoff: Double = 2,
        onAlert: @escaping @Sendable (String?) -> Void = { _ in },
        onFatal: @escaping @Sendable (Error) -> Void = GroupCommitter.exitOnFatal
    ) {
        self.store = store
        self.maxBackoff = maxBackoff
        self.onAlert = onAlert
        self.onFatal = onFatal
    }

    /// The default fatal handler: one clear line on stderr, then exit status 75 (EX_TEMPFAIL),
    /// so a supervisor restarts the coordinator, which resumes from what was committed.
    public static let exitOnFatal: @Sendable (Error) -> Void = { error in
        FileHandle.standardError.write(
            Data("lassoboot coordinator: cannot write its database: \(error); stopping (nothing unsaved was acknowledged)\n".utf8))
        exit(75)
    }

    /// Why commits are failing right now (e.g. `stalled: disk full (SQLITE_FULL) writing coordinator.db`), or nil.
    public var alert: String? { currentAlert.withLock { $0 } }

    /// Failed commit attempts retried so far.
    public var retries: Int { retried.withLock { $0 } }

    /// Whether a commit failure can pass with time (lock held elsewhere, disk full, I/O error).
    public static func isTransient(_ error: Error) -> Bool {
        guard let e = error as? DatabaseError else { return false }
        switch e.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL, .SQLITE_NOMEM, .SQLITE_READONLY:
            return true
        default:
            return false
        }
    }

    /// The alert text for a transient failure.
    public static func describe(_ error: Error, path: String?) -> String {
        let place = path.map { " writing \($0)" } ?? ""
        guard let e = error as? DatabaseError else { return "stalled: \(error)\(place)" }
        switch e.resultCode {
        case .SQLITE_FULL: return "stalled: disk full (SQLITE_FULL)\(place); retrying until space is freed"
        case .SQLITE_BUSY, .SQLITE_LOCKED: return "stalled: database locked by another process (\(e.resultCode))\(place); retrying"
        case .SQLITE_READONLY: return "stalled: database is read-only (\(e.resultCode))\(place); retrying"
        default: return "stalled: storage error (\(e.resultCode): \(e.message ?? ""))\(place); retrying"
        }
    }

    /// Commits one batch, retrying transient failures; returns the error it gave up on (fatal).
    func commit(_ changes: [[StoreWrite]]) -> Error? {
        var delay = 0.005
        var alerted = false
        while true {
            do {
                try store.apply(changes)
                if alerted {
                    currentAlert.withLock { $0 = nil }
                    onAlert(nil)
                }
                return nil
            } catch {
                guard Self.isTransient(error) else {
                    onFatal(error)
                    return error
                }
                retried.withLock { $0 += 1 }
                let text = Self.describe(error, path: (store as? SQLiteStore)?.path)
                let changed = currentAlert.withLock { a -> Bool in
                    defer { a = text }
                    return a != text
                }
                if changed { onAlert(text) }
                alerted = true
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, maxBackoff)
            }
        }
    }

    /// Transactions and changes committed so far.
    public var stats: (batches: Int, changes: Int) { pending.withLock { ($0.batches, $0.committed) } }

    /// Queues a change; its ticket resolves when the change is committed (or failed). An empty
    /// change is a barrier: it resolves once everything queued before it is committed.
    public func enqueue(_ change: [StoreWrite]) -> CommitTicket {
        let ticket = CommitTicket()
        let start = pending.withLock { p -> Bool in
            p.changes.append(change)
            p.tickets.append(ticket)
            if p.running { return false }
            p.running = true
            return true
        }
        if start { queue.async { self.drain() } }
        return ticket
    }

    func drain() {
        while true {
            let batch = pending.withLock { p -> ([[StoreWrite]], [CommitTicket])? in
                if p.changes.isEmpty {
                    p.running = false
                    return nil
                }
                defer {
                    p.changes = []
                    p.tickets = []
                }
                return (p.changes, p.tickets)
            }
            guard let (changes, tickets) = batch else { return }
            let error = commit(changes)
            if error == nil {
                pending.withLock {
                    $0.batches += 1
                    $0.committed += changes.count
                }
            }
            for ticket in tickets { ticket.resolve(error) }
        }
    }
}

/// The outcome of one queued change: awaited by the request that made it.
public final class CommitTicket: Sendable {
    enum State {
        case pending(CheckedContinuation<Void, Error>?)
        case done(Error?)
    }
    let state = Mutex(State.pending(nil))

    init() {}

    func resolve(_ error: Error?) {
        let waiter: CheckedContinuation<Void, Error>? = state.withLock { s in
            guard case let .pending(c) = s else { return nil }
            s = .done(error)
            return c
        }
        guard let waiter else { return }
        if let error { waiter.resume(throwing: error) } else { waiter.resume() }
    }

    /// Returns once the change is committed; throws its error if it was not.
    public func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            let done: Error?? = state.withLock { s in
                switch s {
                case let .done(e): return .some(e)
                case .pending:
                    s = .pending(c)
                    return nil
                }
            }
            if let done {
                if let e = done { c.resume(throwing: e) } else { c.resume() }
            }
        }
    }
}

import Dispatch
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
public final class GroupCommitter: Sendable {
    let store: Store
    let queue = DispatchQueue(label: "lassoboot.group-commit", qos: .userInitiated)

    struct Pending {
        var changes: [[StoreWrite]] = []
        var tickets: [CommitTicket] = []
        var running = false
        var batches = 0
        var committed = 0
    }
    let pending = Mutex(Pending())

    public init(store: Store) {
        self.store = store
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
            do {
                let errors = try store.apply(changes)
                pending.withLock {
                    $0.batches += 1
                    $0.committed += changes.count
                }
                for (ticket, error) in zip(tickets, errors) { ticket.resolve(error) }
            } catch {
                for ticket in tickets { ticket.resolve(error) }
            }
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

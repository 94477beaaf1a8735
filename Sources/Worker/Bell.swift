import Synchronization

/// Wakes the worker's loops when its state changes, instead of polling. A waiter notes the
/// generation before it checks its condition and waits only if no ring came since, so no
/// ring is lost between the check and the wait.
final class Bell: Sendable {
    struct State {
        var generation = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    let state = Mutex(State())

    var generation: Int { state.withLock { $0.generation } }

    func ring() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation += 1
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Returns once the bell has rung after `generation` (at once if it already has).
    func wait(since generation: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.generation != generation { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

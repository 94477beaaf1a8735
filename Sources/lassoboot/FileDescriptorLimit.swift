#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit, and how many connections fit under it.
///
/// Every accepted connection costs a file descriptor; at the limit `accept(2)` fails with
/// EMFILE and so do SQLite's own opens. The coordinator raises its soft limit to the hard one
/// and serves at most the limit minus ``reserve`` connections, so clients alone can never
/// exhaust the descriptors it needs for its database and listener.
enum FileDescriptorLimit {
    /// Descriptors kept for everything but connections (database, WAL, listener, logs).
    static let reserve = 64

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force
    /// (`Int.max` when unlimited, RLIM_INFINITY, or unknown).
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return Int.max }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// The connection cap: the requested one, lowered to fit `limit` descriptors.
    static func connectionCap(requested: Int, limit: Int) -> Int {
        guard limit != Int.max else { return requested }
        return max(1, min(requested, limit - reserve))
    }
}

import Foundation
import Lasso
import Synchronization
import Tabular

/// Parsed and encoded datasets kept between runs, so a second run on the same data (another
/// seed, alpha grid or number of resamples) neither parses nor encodes it again: a worker keeps
/// one across the runs it serves. Keyed by the bytes' sha256 and the spec's data section (the
/// reading and encoding depend on nothing else); the least recently used entries go beyond a
/// byte budget. Entries are values shared with the runs using them, so a hit costs no copy.
public final class DatasetCache: Sendable {
    /// Bytes of encoded data and designs kept (estimated); 0 keeps nothing.
    public let budget: Int

    struct Entry: Sendable {
        let hash: String
        let spec: DataSpec
        let encoded: EncodedData
        let design: CompressedDesign
        let bytes: Int
    }

    private struct State {
        /// Most recently used first.
        var entries: [Entry] = []
        var hits = 0
        var misses = 0
    }
    private let state = Mutex(State())

    public init(budget: Int) { self.budget = max(0, budget) }

    /// Lookups answered from the cache and lookups that had to parse.
    public var counts: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    /// Estimated bytes held now.
    public var heldBytes: Int { state.withLock { $0.entries.reduce(0) { $0 + $1.bytes } } }

    func get(hash: String, spec: DataSpec) -> (EncodedData, CompressedDesign)? {
        state.withLock { s in
            guard let i = s.entries.firstIndex(where: { $0.hash == hash && $0.spec == spec }) else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            let e = s.entries.remove(at: i)
            s.entries.insert(e, at: 0)
            return (e.encoded, e.design)
        }
    }

    func put(hash: String, spec: DataSpec, encoded: EncodedData, design: CompressedDesign) {
        let bytes = TaskExecutor.datasetBytes(encoded: encoded, design: design) + 4096
        guard bytes <= budget else { return }
        state.withLock { s in
            s.entries.removeAll { $0.hash == hash && $0.spec == spec }
            s.entries.insert(Entry(hash: hash, spec: spec, encoded: encoded, design: design, bytes: bytes), at: 0)
            var total = s.entries.reduce(0) { $0 + $1.bytes }
            while total > budget, let last = s.entries.popLast() { total -= last.bytes }
        }
    }

    /// Drops every entry (memory handed back by the caller's `returnFreedMemory()`).
    public func removeAll() { state.withLock { $0.entries.removeAll() } }
}

import Foundation
import Lasso
import Tabular

#if canImport(Glibc)
import Glibc
#endif

extension TaskExecutor {
    /// An estimate of the bytes a prepared run holds (encoded columns and outcomes, row
    /// indices, folds, the compressed design and its cells, imported resamples), for the
    /// byte budgets of the coordinator's and the workers' caches of prepared runs.
    public var estimatedBytes: Int {
        let n = data.rowCount, o = data.outcomeCount
        let cells = data.cellCount.count
        var bytes = Self.datasetBytes(encoded: data.encoded, design: data.design)
        bytes += n * (4 + 8)  // row cell, fold
        bytes += cells * (8 + 8 + o * 8)  // cell pattern, count, outcomes
        bytes += data.foldCellCount.count * cells * 8
        bytes += data.grids.reduce(0) { $0 + $1.count * 8 }
        bytes += (importedResamples?.count ?? 0) * cells * 4
        return bytes + 4096
    }

    /// An estimate of the bytes of a parsed dataset: encoded columns and outcomes, source rows,
    /// row patterns, and the compressed design with the solver's layout. The part of a prepared
    /// run that the workers' dataset cache keeps between runs.
    static func datasetBytes(encoded: EncodedData, design: CompressedDesign) -> Int {
        let n = encoded.rowCount
        let values = encoded.columns.reduce(0) { $0 + $1.count } + encoded.outcomes.count * n
        let rows: Int = values * 8 + encoded.oneHotBlocks.count * n * 4 + n * (8 + 4)
        guard design.isSparse else { return rows + design.patternCount * design.featureCount * 8 * 2 }
        // Sparse columns and rows: a row or pattern index and a value per nonzero, each way.
        let nonzeros = Int(design.density * Double(design.patternCount) * Double(design.featureCount))
        return rows + nonzeros * 12 * 2 + design.patternCount * 8
    }

    /// Drops the process-wide shared preparations of a dataset (see ``prepare(spec:source:data:dataHash:resampleIndices:indicesHash:)``),
    /// so a run evicted from a cache is not kept alive by the shared one. Preparation is
    /// deterministic: a later `prepare` rebuilds the same executor.
    public static func forgetShared(dataHash: String) {
        PreparedCache.shared.entries.withLock { e in e.removeAll { $0.0.hasPrefix(dataHash + "|") } }
    }
}

/// Hands memory freed by dropped preparations back to the operating system (glibc keeps
/// freed heap pages otherwise, so the resident size would not fall); a no-op elsewhere.
public func returnFreedMemory() {
    #if canImport(Glibc)
    _ = mallocTrim?(0)
    #endif
}

#if canImport(Glibc)
/// glibc's `malloc_trim` (not in the Swift Glibc module), looked up once.
private let mallocTrim: (@convention(c) (Int) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
}()
#endif

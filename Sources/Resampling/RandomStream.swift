/// What a random stream is used for; the first counter word of every Philox block.
///
/// The raw values are part of the reproducibility contract: together with the run seed and the
/// stream index they determine every random number of a run. Never renumber a case; add new
/// purposes with new values.
public enum StreamPurpose: UInt32, Sendable, CaseIterable {
    /// Bootstrap resample `index`.
    case bootstrap = 1
    /// The cross-validation fold assignment (index 0, or one per repetition).
    case folds = 2
    /// The fold assignment inside bootstrap resample `index` (nested CV).
    case nestedFolds = 3
    /// Random tie breaking.
    case tieBreak = 4
    /// Simulations (coverage studies, synthetic data).
    case simulation = 5
    /// The random split of the rows into two halves for stability-selection pair `index`.
    case stabilityHalves = 6
}

/// A reproducible random number generator derived from `(seed, purpose, index)` only.
///
/// Block `b` of the stream is Philox4x32-10 with key `(seed low 32 bits, seed high 32 bits)` and
/// counter `(purpose.rawValue, index low 32 bits, index high 32 bits, b)`, for b = 0, 1, ...
/// Each block gives two `UInt64` values, `w0 | w1 << 32` then `w2 | w3 << 32`. So resample 17
/// of a run draws the same numbers on any worker, in any order, after any failure. A stream
/// holds 2^33 values; drawing more is a programming error and traps.
public struct RandomStream: RandomNumberGenerator, Sendable {
    /// The run seed.
    public let seed: UInt64
    /// What this stream is for.
    public let purpose: StreamPurpose
    /// Which stream of that purpose (e.g. the resample number).
    public let index: UInt64
    private let key: Philox4x32.Key
    private var block: UInt32 = 0
    private var exhausted = false
    private var pending: UInt64 = 0
    private var hasPending = false

    /// Starts the stream `(seed, purpose, index)` at its first value.
    public init(seed: UInt64, purpose: StreamPurpose, index: UInt64) {
        self.seed = seed
        self.purpose = purpose
        self.index = index
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        if hasPending {
            hasPending = false
            return pending
        }
        precondition(!exhausted, "RandomStream exhausted: more than 2^33 values drawn from one stream")
        let w = Philox4x32.block(
            counter: (purpose.rawValue, UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), block),
            key: key)
        block &+= 1
        if block == 0 { exhausted = true }
        pending = UInt64(w.2) | UInt64(w.3) << 32
        hasPending = true
        return UInt64(w.0) | UInt64(w.1) << 32
    }

    /// A uniform double in [0, 1) with 53 random bits: `(next() >> 11) * 2^-53`.
    @inline(__always)
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform integer in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    ///
    /// Defined here rather than taken from the standard library so that the mapping from
    /// random bits to integers is part of this package's reproducibility contract.
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0, "nextIndex(below:) needs a positive bound")
        let n = UInt64(bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n
            while m.low < threshold { m = next().multipliedFullWidth(by: n) }
        }
        return Int(m.high)
    }
}

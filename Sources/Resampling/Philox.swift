/// The Philox4x32-10 counter-based pseudorandom function (Salmon, Moraes, Dror and Shaw 2011,
/// "Parallel random numbers: as easy as 1, 2, 3"; the Random123 library).
///
/// A block is a pure function of a 128-bit counter and a 64-bit key, so any worker can compute
/// the random numbers of any task directly, in any order, without sharing generator state.
/// Checked bit for bit against Random123's known-answer vectors.
public enum Philox4x32 {
    /// Four 32-bit words: a counter, or one output block.
    public typealias Words = (UInt32, UInt32, UInt32, UInt32)
    /// Two 32-bit key words.
    public typealias Key = (UInt32, UInt32)

    /// Round multipliers M0 and M1.
    static let m0: UInt64 = 0xD251_1F53
    static let m1: UInt64 = 0xCD9E_8D57
    /// Weyl key increments W0 and W1 (golden ratio and sqrt(3) - 1).
    static let w0: UInt32 = 0x9E37_79B9
    static let w1: UInt32 = 0xBB67_AE85

    /// Computes the Philox4x32 block (10 rounds) for `counter` under `key`.
    ///
    /// Each round maps `(c0, c1, c2, c3)` to `(hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0))`;
    /// the key is bumped by `(W0, W1)` between rounds.
    @inline(__always)
    public static func block(counter: Words, key: Key) -> Words {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 {
                k0 &+= w0
                k1 &+= w1
            }
            let p0 = m0 &* UInt64(c0)
            let p1 = m1 &* UInt64(c2)
            (c0, c1, c2, c3) = (
                UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0,
                UInt32(truncatingIfNeeded: p1),
                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1,
                UInt32(truncatingIfNeeded: p0)
            )
        }
        return (c0, c1, c2, c3)
    }
}

import Foundation
import Testing

@testable import Resampling

@Suite("Philox4x32-10 and RandomStream")
struct RandomStreamTests {
    /// Random123 tests/kat_vectors, the three `philox4x32 10` lines (counter[4] key[2] -> result[4]).
    @Test func random123KnownAnswers() {
        let vectors: [(Philox4x32.Words, Philox4x32.Key, Philox4x32.Words)] = [
            ((0, 0, 0, 0), (0, 0), (0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (
                (0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), (0xffff_ffff, 0xffff_ffff),
                (0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)
            ),
            (
                (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0),
                (0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)
            ),
        ]
        for (counter, key, expected) in vectors {
            let got = Philox4x32.block(counter: counter, key: key)
            #expect([got.0, got.1, got.2, got.3] == [expected.0, expected.1, expected.2, expected.3])
        }
    }

    /// The same vectors and the stream layout, from the independent Python implementation.
    @Test func matchesIndependentPythonImplementation() throws {
        let fixture = try Fixtures.load("resampling_stream.json", as: StreamFixture.self)
        #expect(fixture.kat.count == 3)
        for k in fixture.kat {
            let got = Philox4x32.block(counter: (k.counter[0], k.counter[1], k.counter[2], k.counter[3]), key: (k.key[0], k.key[1]))
            #expect([got.0, got.1, got.2, got.3] == k.result)
        }
        for s in fixture.streams {
            let purpose = try #require(StreamPurpose(rawValue: s.purpose))
            var stream = RandomStream(seed: UInt64(s.seed)!, purpose: purpose, index: UInt64(s.index)!)
            let values = (0..<s.next.count).map { _ in stream.next() }
            #expect(values == s.next.map { UInt64($0)! }, "stream \(s.seed) \(s.purpose) \(s.index)")
            var again = RandomStream(seed: UInt64(s.seed)!, purpose: purpose, index: UInt64(s.index)!)
            let uniforms = (0..<s.uniform.count).map { _ in again.nextUniform() }
            #expect(uniforms == s.uniform)
        }
    }

    @Test func purposeRawValuesAreStable() {
        #expect(StreamPurpose.allCases.map(\.rawValue) == [1, 2, 3, 4, 5, 6])
        #expect(
            StreamPurpose.bootstrap.rawValue == 1 && StreamPurpose.folds.rawValue == 2
                && StreamPurpose.nestedFolds.rawValue == 3 && StreamPurpose.tieBreak.rawValue == 4
                && StreamPurpose.simulation.rawValue == 5 && StreamPurpose.stabilityHalves.rawValue == 6)
    }

    @Test func streamsRepeatAndDiffer() {
        func first(_ seed: UInt64, _ purpose: StreamPurpose, _ index: UInt64) -> [UInt64] {
            var s = RandomStream(seed: seed, purpose: purpose, index: index)
            return (0..<8).map { _ in s.next() }
        }
        let base = first(42, .bootstrap, 7)
        #expect(first(42, .bootstrap, 7) == base)
        var seen: Set<[UInt64]> = [base]
        for variant in [
            first(43, .bootstrap, 7), first(42, .folds, 7), first(42, .bootstrap, 8),
            first(42, .bootstrap, 7 + (1 << 32)), first(1 << 32 | 42, .bootstrap, 7),
            first(42, .nestedFolds, 7), first(42, .tieBreak, 7), first(42, .simulation, 7),
        ] {
            #expect(!seen.contains(variant))
            seen.insert(variant)
        }
        // A copied stream continues identically (value semantics).
        var a = RandomStream(seed: 1, purpose: .simulation, index: 0)
        _ = a.next()
        var b = a
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
    }

    @Test func uniformMoments() {
        var s = RandomStream(seed: 2024, purpose: .simulation, index: 0)
        let n = 200_000
        var sum = 0.0, sum2 = 0.0, sum3 = 0.0
        var below = 0
        var minimum = 1.0, maximum = 0.0
        var outOfRange = 0
        for _ in 0..<n {
            let u = s.nextUniform()
            if !(u >= 0 && u < 1) { outOfRange += 1 }
            sum += u; sum2 += u * u; sum3 += u * u * u
            if u < 0.1 { below += 1 }
            minimum = min(minimum, u); maximum = max(maximum, u)
        }
        #expect(outOfRange == 0)
        let nd = Double(n)
        // Means of U, U^2, U^3 are 1/2, 1/3, 1/4 with SDs sqrt(1/12), sqrt(4/45), sqrt(9/112).
        #expect(abs(sum / nd - 0.5) < 5 * (1.0 / 12 / nd).squareRoot())
        #expect(abs(sum2 / nd - 1.0 / 3) < 5 * (4.0 / 45 / nd).squareRoot())
        #expect(abs(sum3 / nd - 0.25) < 5 * (9.0 / 112 / nd).squareRoot())
        #expect(abs(Double(below) / nd - 0.1) < 5 * (0.09 / nd).squareRoot())
        #expect(minimum < 1e-4 && maximum > 1 - 1e-4)
    }

    @Test func boundedIndicesAreUniform() {
        var s = RandomStream(seed: 9, purpose: .tieBreak, index: 3)
        let bound = 7
        var hist = [Int](repeating: 0, count: bound)
        let n = 70_000
        for _ in 0..<n { hist[s.nextIndex(below: bound)] += 1 }
        let e = Double(n) / Double(bound)
        let chi = hist.reduce(0.0) { $0 + (Double($1) - e) * (Double($1) - e) / e }
        #expect(chi < Stat.chiSquareCritical(df: bound - 1))
        #expect(s.nextIndex(below: 1) == 0)
        // Large bounds stay in range.
        for _ in 0..<1000 { let v = s.nextIndex(below: Int.max); #expect(v >= 0 && v < Int.max) }
    }
}

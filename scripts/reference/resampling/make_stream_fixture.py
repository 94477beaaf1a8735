"""Independent Philox4x32-10 and RandomStream reference for the Swift tests.

Writes Tests/Fixtures/resampling_stream.json. Plain Python integers, written
from the published algorithm (Salmon, Moraes, Dror, Shaw 2011, "Parallel random
numbers: as easy as 1, 2, 3"): multipliers M0=0xD2511F53, M1=0xCD9E8D57, Weyl
key increments W0=0x9E3779B9, W1=0xBB67AE85, 10 rounds; each round
  (c0, c1, c2, c3) -> (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0))
and the key is bumped by (W0, W1) between rounds.

The script first checks itself against the three Random123 known-answer vectors
for philox4x32_10 (tests/kat_vectors in github.com/DEShawResearch/random123) and
stops if any differs; it then records them and the first outputs of a few
RandomStreams, whose layout is the reproducibility contract of lassoboot:
  key     = (seed & 0xffffffff, seed >> 32)
  counter = (purpose, index & 0xffffffff, index >> 32, block), block = 0, 1, ...
  each block gives two UInt64: w0 | w1 << 32, then w2 | w3 << 32
  uniform = (next() >> 11) * 2^-53
Usage: python3 make_stream_fixture.py   (no dependencies)
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "resampling_stream.json")
MASK = 0xFFFFFFFF
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85

KAT = [  # philox4x32 10: counter[4] key[2] -> result[4] (Random123 tests/kat_vectors)
    ([0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000],
     [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
    ([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff],
     [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
    ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0],
     [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]),
]


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r > 0:
            k0 = (k0 + W0) & MASK
            k1 = (k1 + W1) & MASK
        p0 = M0 * c0
        p1 = M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK)
    return [c0, c1, c2, c3]


def stream(seed, purpose, index, count):
    key = [seed & MASK, seed >> 32]
    out = []
    block = 0
    while len(out) < count:
        w = philox4x32_10([purpose, index & MASK, index >> 32, block], key)
        out += [w[0] | (w[1] << 32), w[2] | (w[3] << 32)]
        block += 1
    return out[:count]


def main():
    for ctr, key, expected in KAT:
        got = philox4x32_10(ctr, key)
        assert got == expected, (ctr, key, [hex(v) for v in got])
    streams = []
    for seed, purpose, index in [(0, 1, 0), (20240601, 1, 0), (20240601, 1, 1), (20240601, 2, 0),
                                 (0xFEDCBA9876543210, 5, 0x123456789ABCDEF0)]:
        words = stream(seed, purpose, index, 6)
        streams.append({"seed": str(seed), "purpose": purpose, "index": str(index),
                        "next": [str(v) for v in words],
                        "uniform": [(v >> 11) * 2.0 ** -53 for v in words[:3]]})
    doc = {
        "generator": "scripts/reference/resampling/make_stream_fixture.py",
        "note": "UInt64 values as decimal strings; kat: philox4x32_10 counter, key, result (Random123 tests/kat_vectors)",
        "kat": [{"counter": c, "key": k, "result": r} for c, k, r in KAT],
        "streams": streams,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"KAT ok; wrote {OUT}")


if __name__ == "__main__":
    main()

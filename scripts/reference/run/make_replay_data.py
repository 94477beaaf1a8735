"""The small data set of the replay job (scripts/reference/run/replay.json).

Writes Tests/Fixtures/run_replay_data.csv: 300 rows, columns
  age (0..3), female, citizen, debt, threats, noise (0/1; `threats` has some empty cells, which
  the spec's `binary` encoding reads as 0), labour, sexual (0/1 outcomes).
Only 4 * 2^5 = 128 covariate patterns, so many rows share a (pattern, outcome) cell and with it one
delete-one jackknife fit: the replay checks the row-level jackknife that lassoboot compresses.
  labour ~ Bernoulli(sigmoid(-0.8 + 0.35 age - 1.0 female - 0.6 citizen + 1.2 debt + 0.5 threats))
  sexual ~ Bernoulli(sigmoid(-0.2 - 0.3 age + 1.5 female + 0.2 citizen - 0.9 debt + 0.4 threats))
`noise` has no effect in either model, so its coefficient is exactly 0 in many resamples.

Usage: python3 scripts/reference/run/make_replay_data.py   (numpy; deterministic, seed 20251121)
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(os.path.join(HERE, "..", "..", "..", "Tests", "Fixtures", "run_replay_data.csv"))
SEED = 20251121
N = 300


def main():
    rng = np.random.default_rng(SEED)
    age = rng.integers(0, 4, size=N)
    female = (rng.random(N) < 0.55).astype(int)
    citizen = (rng.random(N) < 0.4).astype(int)
    debt = (rng.random(N) < 0.35).astype(int)
    threats = (rng.random(N) < 0.5).astype(int)
    noise = (rng.random(N) < 0.5).astype(int)
    eta_l = -0.8 + 0.35 * age - 1.0 * female - 0.6 * citizen + 1.2 * debt + 0.5 * threats
    eta_s = -0.2 - 0.3 * age + 1.5 * female + 0.2 * citizen - 0.9 * debt + 0.4 * threats
    labour = (rng.random(N) < 1 / (1 + np.exp(-eta_l))).astype(int)
    sexual = (rng.random(N) < 1 / (1 + np.exp(-eta_s))).astype(int)
    blank = rng.random(N) < 0.1  # some 0s of `threats` written as empty cells
    lines = ["age,female,citizen,debt,threats,noise,labour,sexual"]
    for i in range(N):
        t = "" if threats[i] == 0 and blank[i] else str(threats[i])
        lines.append(f"{age[i]},{female[i]},{citizen[i]},{debt[i]},{t},{noise[i]},{labour[i]},{sexual[i]}")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}: {N} rows, {len(set(zip(age, female, citizen, debt, threats, noise)))} patterns, "
          f"labour {labour.sum()}, sexual {sexual.sum()}")


if __name__ == "__main__":
    main()

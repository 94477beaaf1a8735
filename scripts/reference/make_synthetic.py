"""Small synthetic logistic dataset with many distinct rows.

1500 rows; x1..x5 standard normal rounded to 4 decimals, x6..x8 binary 0/1;
y ~ Bernoulli(sigmoid(-0.5 + x.beta)) with the known coefficients below
(three of them zero). Fixed numpy seed. Written to
Tests/Fixtures/synthetic_logistic.csv with plain decimals.
"""
import os

import numpy as np

from common import FIXTURES

SEED = 20240601
N = 1500
INTERCEPT = -0.5
BETA = {"x1": 1.0, "x2": -0.75, "x3": 0.0, "x4": 0.5, "x5": 0.0,
        "x6": 1.25, "x7": 0.0, "x8": -0.8}


def make():
    rng = np.random.default_rng(SEED)
    cont = np.round(rng.standard_normal((N, 5)), 4)
    cont[cont == 0] = 0.0  # no "-0.0"
    binary = (rng.random((N, 3)) < np.array([0.3, 0.5, 0.7])).astype(np.int64)
    beta = np.array(list(BETA.values()))
    X = np.column_stack([cont, binary.astype(np.float64)])
    eta = INTERCEPT + X @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    y = (rng.random(N) < p).astype(np.int64)
    return cont, binary, y


def main():
    cont, binary, y = make()
    path = os.path.join(FIXTURES, "synthetic_logistic.csv")
    with open(path, "w") as f:
        f.write(",".join(list(BETA) + ["y"]) + "\n")
        for i in range(N):
            vals = [f"{v:.4f}" for v in cont[i]] + [str(v) for v in binary[i]] + [str(y[i])]
            f.write(",".join(vals) + "\n")
    X = np.column_stack([cont, binary])
    n_distinct = len({tuple(r) for r in X.tolist()})
    print(f"wrote {path}: {N} rows, {n_distinct} distinct feature rows, "
          f"mean(y)={y.mean():.4f}, {os.path.getsize(path)} bytes")
    assert os.path.getsize(path) < 150_000


if __name__ == "__main__":
    main()

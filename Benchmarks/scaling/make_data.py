"""Synthetic logistic data for the scaling benchmark (issue 12's grid).

Features: AR(1)-correlated Gaussian (rho 0.5), or binary (the Gaussian thresholded at 0);
10 true nonzeros (alternating +-1 at evenly spaced features, scaled so the linear predictor
has SD about 2); intercept -0.5. Deterministic in (n, p, kind, seed).

    python3 make_data.py --n 5000 --p 1000 --kind continuous --out data.csv

`--kind onehot`: four categorical columns c1..c4 of integer level codes, about p / 4 levels each
with power-law frequencies (level l drawn with probability proportional to (l + 1)^-0.5, so
level 0 is the most frequent: the reference; most levels are rare, as zip codes or product IDs).
One-hot encoded without the reference they give about p indicator features, 4 nonzeros a row.
10 true nonzeros: levels 1-5 of c1 and c2, alternating +-1; intercept -0.5.
"""
import argparse

import numpy as np


def make(n, p, kind, seed):
    rng = np.random.default_rng(seed)
    rho = 0.5
    z = np.empty((n, p))
    z[:, 0] = rng.standard_normal(n)
    scale = np.sqrt(1 - rho * rho)
    for j in range(1, p):
        z[:, j] = rho * z[:, j - 1] + scale * rng.standard_normal(n)
    x = (z > 0).astype(float) if kind == "binary" else z
    beta = np.zeros(p)
    idx = np.linspace(0, p - 1, min(10, p)).astype(int)
    beta[idx] = np.where(np.arange(len(idx)) % 2 == 0, 1.0, -1.0)
    eta = x @ beta
    eta = -0.5 + 2 * (eta - eta.mean()) / max(eta.std(), 1e-12)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return x, y


def make_onehot(n, p, seed):
    rng = np.random.default_rng(seed)
    levels = max(2, round(0.275 * p))
    prob = (np.arange(levels) + 1.0) ** -0.5
    prob /= prob.sum()
    codes = np.stack([rng.choice(levels, size=n, p=prob) for _ in range(4)], axis=1)
    eta = np.full(n, -0.5)
    for c in range(2):
        for level in range(1, 6):
            eta[codes[:, c] == level] += 1.0 if (level + c) % 2 == 0 else -1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return codes, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--p", type=int, required=True)
    ap.add_argument("--kind", choices=["continuous", "binary", "onehot"], default="continuous")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.kind == "onehot":
        codes, y = make_onehot(a.n, a.p, a.seed)
        np.savetxt(a.out, np.column_stack([y, codes]), delimiter=",", header="y,c1,c2,c3,c4", comments="", fmt="%d")
        return
    x, y = make(a.n, a.p, a.kind, a.seed)
    header = "y," + ",".join(f"x{j + 1}" for j in range(a.p))
    fmt = ["%d"] + (["%d"] * a.p if a.kind == "binary" else ["%.10g"] * a.p)
    np.savetxt(a.out, np.column_stack([y, x]), delimiter=",", header=header, comments="", fmt=fmt)


if __name__ == "__main__":
    main()

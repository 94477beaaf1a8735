"""The desparsified intercept at every lambda of the nodewise grid, recomputed independently
(numpy + scikit-learn's lasso_path) from `lassoboot-bench coverage --dump DIR` directories: each
repetition's data and the penalized fit the run projected from.

    python3 Benchmarks/intercept_lambda_scan.py DIR [DIR ...]

Per repetition: the weights w = pi (1 - pi) at the dumped lasso estimate, the grid lassoboot uses
(20 values geometric from the largest absolute w-weighted correlation between two columns down to
5% of it), the constant column regressed on the columns divided by their w-weighted SD (no
intercept, lasso with weights w), u = 1 - X d, and b_0 = beta_0 + u'(y - pi) / u'W1 with SE
sqrt(u'W u) / |u'W 1|. Prints, per grid index, the intercept's coverage, mean error, z mean and
z SD over the repetitions, and the median variance relative to a few grid indices (what
Zhang & Zhang's 1.25x rule moves along).

Written to find why the intercept under-covered at the features' CV lambda (stop 31): the
coverage rises as its lambda falls, which is what `interceptNodewiseLambda` now does.
"""
import json, math, os, sys

import numpy as np
from sklearn.linear_model import lasso_path

from coverage_dumps import load_repetitions

Z = 1.959963984540054
GRID = 20


def main():
    dirs = sys.argv[1:]
    if not dirs:
        sys.exit(__doc__)
    truth = json.load(open(os.path.join(dirs[0], "model.json")))["truth"]
    reps = load_repetitions(dirs)
    hits = np.zeros(GRID)
    errors, zs, variances = [], [], []
    for rep, (d, r) in sorted(reps.items()):
        data = np.loadtxt(os.path.join(d, f"rep{rep}.csv"), delimiter=",", skiprows=1, ndmin=2)
        y, X = data[:, 0], data[:, 1:]
        beta = np.array(r["estimate"])
        pi = 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))
        w = pi * (1 - pi)
        W = w.sum()
        mean = (w @ X) / W
        var = (w @ (X * X)) / W - mean * mean
        keep = var > 1e-13 * np.maximum(1, mean * mean)
        sd = np.sqrt(var[keep])
        Zc = (X[:, keep] - mean[keep]) / sd
        R = (Zc * w[:, None]).T @ Zc / W
        top = np.abs(R - np.diag(np.diag(R))).max()
        lambdas = top * np.exp(np.linspace(0, math.log(0.05), GRID))
        Xs = X[:, keep] / sd
        # (1/2n) sum n w/W (1 - x d)^2 = (1/2W) sum w (1 - x d)^2: lassoboot's objective.
        scale = np.sqrt(len(y) * w / W)
        _, coefs, _ = lasso_path(Xs * scale[:, None], scale, alphas=lambdas, max_iter=100_000, tol=1e-10)
        e, z, v = [], [], []
        for i in range(GRID):
            u = 1 - Xs @ coefs[:, i]
            D = (w * u).sum()
            b0 = beta[0] + (u * (y - pi)).sum() / D
            se = math.sqrt((w * u * u).sum()) / abs(D)
            hits[i] += abs(b0 - truth[0]) <= Z * se
            e.append(b0 - truth[0])
            z.append((b0 - truth[0]) / se)
            v.append(se * se)
        errors.append(e)
        zs.append(z)
        variances.append(v)
    n = len(errors)
    errors, zs, variances = np.array(errors), np.array(zs), np.array(variances)
    print(f"{n} repetitions; intercept truth {truth[0]}")
    for i in range(GRID):
        print(
            f"lambda index {i:2d} ({math.exp(i * math.log(0.05) / (GRID - 1)):.3f} x top): cover {hits[i] / n:.3f} "
            f"(MC SE {math.sqrt(hits[i] / n * (1 - hits[i] / n) / n):.3f}) error {errors[:, i].mean():+.3f} "
            f"z mean {zs[:, i].mean():+.2f} z SD {zs[:, i].std():.2f}"
        )
    for ref in (4, 6, 8, 10):
        ratios = " ".join(f"{np.median(variances[:, i] / variances[:, ref]):.2f}" for i in range(GRID))
        print(f"median variance relative to index {ref:2d}: {ratios}")


if __name__ == "__main__":
    main()

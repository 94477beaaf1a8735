"""The wide bootstrap job (wide-100k-1000-job.json) extrapolated for skglm: what the same work
costs when skglm makes every lasso fit and numpy the unpenalized (debiased) fits.

The job: 5-fold CV over 30 alphas (alpha_max down to 0.01 alpha_max, each fold a warm-started
path on 4/5 of the rows), the full-data fit at the chosen alpha, B = 200 resamples each fitted at
that alpha (warm-started from the full-data fit) and, for the debiased intervals, each resample's
unpenalized maximum-likelihood fit (Newton steps from the full-data MLE). This script times one
fold's path, the full-data fit, --sample resample lasso fits and --sample resample MLE fits
(numpy Newton, one BLAS thread: the job runs one fit per core), then extrapolates the job's CPU
seconds and its wall time on --cores cores with perfect parallel scaling (a lower bound: no
scheduling, no I/O, no report). skglm 0.5, tol 1e-10 (the scaling benchmark's setting).

    OPENBLAS_NUM_THREADS=1 python3 Benchmarks/scaling/skglm_job.py --data c100k1000.csv --ratio 0.049
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
import pandas as pd


def mle_newton(X1, y, start, tol=1e-10, steps=50):
    """Newton steps on the unpenalized logistic likelihood (intercept column included)."""
    b = start.copy()
    for k in range(steps):
        eta = X1 @ b
        p = 1 / (1 + np.exp(-eta))
        g = X1.T @ (y - p)
        H = (X1 * (p * (1 - p))[:, None]).T @ X1
        d = np.linalg.solve(H, g)
        b += d
        if np.max(np.abs(d) / np.maximum(1, np.abs(b))) < tol:
            return b, k + 1
    return b, steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ratio", type=float, default=0.049, help="the chosen alpha / alpha_max (lassoboot's CV chose 0.049)")
    ap.add_argument("--sample", type=int, default=2)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--alphas", type=int, default=30)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    from skglm import SparseLogisticRegression

    t = time.perf_counter()
    d = pd.read_csv(a.data, engine="pyarrow").to_numpy(dtype=float)
    load = time.perf_counter() - t
    y, X = d[:, 0].copy(), np.asfortranarray(d[:, 1:])
    del d
    n, p = X.shape
    lam_max = float(np.abs(X.T @ (y - y.mean())).max() / n)
    grid = lam_max * np.geomspace(1, 0.01, a.alphas)
    rng = np.random.default_rng(a.seed)
    fold = rng.permutation(n) % a.folds

    def fit(Xs, ys, lam, model=None):
        m = model or SparseLogisticRegression(alpha=lam, tol=1e-10, max_iter=100, max_epochs=100_000, fit_intercept=True, warm_start=True)
        m.alpha = lam
        m.fit(Xs, ys)
        return m

    # One CV fold's warm-started path.
    train = fold != 0
    Xt, yt = np.asfortranarray(X[train]), y[train]
    t = time.perf_counter()
    m = None
    for lam in grid:
        m = fit(Xt, yt, lam, m)
    fold_path = time.perf_counter() - t
    del Xt

    lam = a.ratio * lam_max
    t = time.perf_counter()
    full = fit(X, y, lam)
    full_fit = time.perf_counter() - t
    X1 = np.column_stack([np.ones(n), X])
    t = time.perf_counter()
    start = np.concatenate([np.ravel(full.intercept_), np.ravel(full.coef_)])
    mle, steps = mle_newton(X1, y, start)
    full_mle = time.perf_counter() - t

    boot, boot_mle, mle_steps = [], [], []
    for _ in range(a.sample):
        idx = rng.integers(0, n, n)
        Xb, yb = np.asfortranarray(X[idx]), y[idx]
        mb = SparseLogisticRegression(alpha=lam, tol=1e-10, max_iter=100, max_epochs=100_000, fit_intercept=True, warm_start=True)
        mb.coef_, mb.intercept_ = full.coef_.copy(), np.array(full.intercept_, dtype=float).copy()
        t = time.perf_counter()
        mb.fit(Xb, yb)
        boot.append(time.perf_counter() - t)
        X1b = X1[idx]
        t = time.perf_counter()
        _, k = mle_newton(X1b, yb, mle)
        boot_mle.append(time.perf_counter() - t)
        mle_steps.append(k)
        del Xb, X1b

    lasso_cpu = a.folds * fold_path + full_fit + a.resamples * float(np.mean(boot))
    mle_cpu = full_mle + a.resamples * float(np.mean(boot_mle))
    out = {
        "tool": "skglm+numpy", "rows": n, "features": p, "loadSeconds": load, "foldPathSeconds": fold_path,
        "fullFitSeconds": full_fit, "fullMLESeconds": full_mle, "fullMLESteps": steps,
        "resampleFitSeconds": boot, "resampleMLESeconds": boot_mle, "resampleMLESteps": mle_steps,
        "lassoCPUSeconds": lasso_cpu, "mleCPUSeconds": mle_cpu, "jobCPUSeconds": lasso_cpu + mle_cpu,
        "jobWallSecondsOnCores": (lasso_cpu + mle_cpu) / a.cores, "jobWallWithoutDebiasedOnCores": lasso_cpu / a.cores,
        "cores": a.cores, "blasThreads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""One cell of the scaling benchmark: lassoboot against skglm, glum, scikit-learn liblinear and R glmnet.

Every solver fits the same problem, the L1 logistic regression with a free intercept on the
mean scale, (1/n) sum_i loss_i + lambda ||beta||_1 with lambda = ratio * lambda_max, without
standardization. Fit time only (data already in memory; lassoboot's `fitSeconds` excludes its
CSV read), median of `--repeats` runs. Each peer's objective is printed relative to
lassoboot's, so a fast but inexact fit shows. glmnet runs in its own R process (timed there).

    python3 peers.py --data data.csv --ratio 0.1 --lassoboot .build/release/lassoboot
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np


def objective(X, y, b0, b, lam):
    eta = b0 + X @ b
    loss = np.mean(np.logaddexp(0, eta) - y * eta)
    return loss + lam * np.abs(b).sum()


def load_onehot(path, header, columns):
    """The outcome and a CSC matrix of indicators, encoded as `lassoboot fit --onehot` does: one
    column per level but the most frequent (ties: the first in the file), levels in order of first
    appearance, named "column: level"; other columns numeric."""
    import scipy.sparse as sp
    d = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64)
    y = d[:, 0].astype(float)
    n = len(y)
    blocks, names = [], []
    for k, name in enumerate(header[1:], start=1):
        col = d[:, k]
        if name not in columns:
            blocks.append(sp.csc_matrix(col.astype(float).reshape(-1, 1)))
            names.append(name)
            continue
        levels, first, inverse, counts = np.unique(col, return_index=True, return_inverse=True, return_counts=True)
        reference = min(np.flatnonzero(counts == counts.max()), key=lambda i: first[i])
        order = [i for i in np.argsort(first, kind="stable") if i != reference]   # first appearance
        position = np.full(len(levels), -1)
        position[order] = np.arange(len(order))
        keep = position[inverse] >= 0
        rows = np.flatnonzero(keep)
        blocks.append(sp.csc_matrix((np.ones(len(rows)), (rows, position[inverse][keep])), shape=(n, len(order))))
        names += [f"{name}: {levels[i]}" for i in order]
    return sp.hstack(blocks, format="csc"), y, names


def timed(f, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ratio", type=float, required=True)
    ap.add_argument("--lassoboot", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers", default="skglm,glum,glmnet")
    ap.add_argument("--solver", default="automatic", help="lassoboot --solver")
    ap.add_argument("--onehot", default="", help="comma-separated columns to one-hot encode (lassoboot --onehot)")
    a = ap.parse_args()
    warnings.simplefilter("ignore")

    with open(a.data) as fh:
        header = fh.readline().strip().split(",")
    onehot = a.onehot.split(",") if a.onehot else []
    if onehot:
        X, y, names = load_onehot(a.data, header, onehot)
    else:
        d = np.loadtxt(a.data, delimiter=",", skiprows=1)
        y, X = d[:, 0], np.ascontiguousarray(d[:, 1:])
        names = header[1:]
    n, p = X.shape
    lam_max = float(np.abs(X.T @ (y - y.mean())).max() / n)
    lam = float(a.ratio * lam_max)
    rows = []

    def lassoboot():
        extra = [arg for c in onehot for arg in ("--onehot", c)]
        out = subprocess.run([a.lassoboot, "fit", "--data", a.data, "--outcome", "y", "--alpha", repr(lam),
                              "--scale", "mean", "--solver", a.solver, "--format", "json"] + extra,
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    walls = []
    fits = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        fits.append(lassoboot())
        walls.append(time.perf_counter() - t)
    lb_time = statistics.median(f["fitSeconds"] for f in fits)
    # Peak RSS of the lassoboot processes (CSV read, encoding, fit, Wald): the only children so far.
    import resource
    lb_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    f = fits[0]
    coef = {c["name"]: c["coef"] for c in f["coefficients"]}
    b0 = coef["const"]
    # Identical one-hot levels are merged by lassoboot into one feature named "a = b": its
    # coefficient goes to the first member (the same X b and, for the lasso, the same objective).
    for name in list(coef):
        if " = " in name:
            members = name.split(" = ")
            coef[members[0]] = coef.pop(name)
            for m in members[1:]:
                coef[m] = 0.0
    b = np.array([coef[name] for name in names])
    lb_obj = objective(X, y, b0, b, lam)
    rows.append(("lassoboot", lb_time, lb_obj, int((b != 0).sum()),
                 f"{f['solver']}" + (f" (set {f['workingSet']})" if f.get("workingSet") else "")
                 + (" cd" if f.get("innerSolver") == "coordinate-descent" else "")))

    peers = a.peers.split(",") if a.peers else []
    if "skglm" in peers:
        from skglm import SparseLogisticRegression
        y_pm = 2 * y - 1
        Xf = X if onehot else np.asfortranarray(X)   # skglm's column kernels want Fortran order (or CSC)

        def fit():
            m = SparseLogisticRegression(alpha=lam, tol=1e-10, max_iter=100, max_epochs=100_000, fit_intercept=True)
            m.fit(Xf, y_pm)
            return m
        fit()   # numba compiles on the first call: not timed
        t, m = timed(fit, a.repeats)
        rows.append(("skglm", t, objective(X, y, float(np.ravel(m.intercept_)[0]), np.ravel(m.coef_), lam), int((m.coef_ != 0).sum()), "tol 1e-10"))
    if "glum" in peers:
        from glum import GeneralizedLinearRegressor

        def fit():
            m = GeneralizedLinearRegressor(family="binomial", alpha=lam, l1_ratio=1.0, fit_intercept=True,
                                           gradient_tol=1e-12, max_iter=1000)
            m.fit(X, y)
            return m
        t, m = timed(fit, a.repeats)
        rows.append(("glum", t, objective(X, y, m.intercept_, m.coef_, lam), int((m.coef_ != 0).sum()), "gradient_tol 1e-12"))
    if "liblinear" in peers:
        from sklearn.linear_model import LogisticRegression

        # liblinear penalizes the intercept: it is a column of intercept_scaling, so a large
        # scaling makes its penalty negligible (scikit-learn's documented workaround). C = 1/(n lam)
        # gives sum-scale loss / n + lam ||b||_1. tol 1e-8: at 1e-10 liblinear does not converge
        # (1,000 iterations, 5-6 s on continuous 10,000 x 100); the objective column shows the cost.
        def fit():
            m = LogisticRegression(penalty="l1", solver="liblinear", C=1 / (n * lam), intercept_scaling=1e3, tol=1e-8, max_iter=1000)
            m.fit(X, y)
            return m
        t, m = timed(fit, a.repeats)
        rows.append(("liblinear", t, objective(X, y, float(m.intercept_[0]), np.ravel(m.coef_), lam), int((m.coef_ != 0).sum()),
                     "tol 1e-8, intercept_scaling 1e3"))
    if "glmnet" in peers:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "coef.txt")
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "glmnet_fit.R")
            args = ["Rscript", script, a.data, repr(lam), str(a.repeats), out, repr(lam_max)]
            if onehot:
                # The same sparse matrix, handed over in Matrix Market format with the outcome beside it.
                import scipy.io
                scipy.io.mmwrite(os.path.join(tmp, "x.mtx"), X)
                np.savetxt(os.path.join(tmp, "y.txt"), y, fmt="%d")
                args[2] = os.path.join(tmp, "x.mtx")
                args.append(os.path.join(tmp, "y.txt"))
            res = subprocess.run(args, capture_output=True, text=True)
            if res.returncode == 0:
                v = np.loadtxt(out)
                t = float(res.stdout.strip().splitlines()[-1])
                rows.append(("glmnet", t, objective(X, y, v[0], v[1:], lam), int((v[1:] != 0).sum()), "thresh 1e-14, 20-point path"))
            else:
                print(f"glmnet failed: {res.stderr.strip()[:300]}", file=sys.stderr)

    print(f"n={n} p={p} lambda/lambda_max={a.ratio} (lambda {lam:.6g}, mean scale); load average {os.getloadavg()[0]:.2f}")
    print(f"lassoboot whole command (read CSV, fit, Wald) {statistics.median(walls):.2f} s, peak RSS {lb_rss:.0f} MB")
    print(f"{'solver':<10} {'fit s':>9} {'vs lassoboot':>13} {'objective - lassoboot (rel)':>28} {'nonzero':>8}  note")
    for name, t, obj, nnz, note in rows:
        rel = (obj - lb_obj) / abs(lb_obj)
        print(f"{name:<10} {t:9.4f} {t / lb_time:12.2f}x {rel:28.2e} {nnz:8d}  {note}")


if __name__ == "__main__":
    main()

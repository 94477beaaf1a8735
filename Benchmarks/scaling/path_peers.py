"""The 100-alpha path of issue 12's scaling grid: lassoboot against R glmnet and skglm.

Every solver fits the same path: the mean-scale L1 logistic regression with a free intercept,
unstandardized, at lassoboot's grid (`count` lambdas geometric from lambda_max down to
min_ratio x lambda_max), each fit warm-started from the previous one. Path time only (data in
memory), median of `--repeats`. Every solver's objective is evaluated here, at every lambda, and the
largest relative excess over the best of the three is printed, so a fast but inexact path shows.

    python3 path_peers.py --data data.csv --bench .build/release/lassoboot-bench [--count 100] [--min-ratio 0.01]
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


def objectives(X, y, lams, coefs):
    eta = coefs[:, :1].T + X @ coefs[:, 1:].T          # n x L
    loss = np.mean(np.logaddexp(0, eta) - y[:, None] * eta, axis=0)
    return loss + lams * np.abs(coefs[:, 1:]).sum(axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--min-ratio", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers", default="glmnet,skglm")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    d = np.loadtxt(a.data, delimiter=",", skiprows=1)
    y, X = d[:, 0], np.ascontiguousarray(d[:, 1:])
    n, p = X.shape
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "lb.txt")
        res = json.loads(subprocess.run([a.bench, "path", "--data", a.data, "--outcome", "y", "--count", str(a.count),
                                         "--min-ratio", repr(a.min_ratio), "--repeat", str(a.repeats), "--out", out],
                                        check=True, capture_output=True, text=True).stdout)
        v = np.loadtxt(out, delimiter=",", ndmin=2)
        lams, rows["lassoboot"] = v[:, 0], (res["medianSeconds"], v[:, 1:], f"max KKT {res['maxKKT']:.1e}")
        peers = a.peers.split(",") if a.peers else []
        if "glmnet" in peers:
            grid = os.path.join(tmp, "lambdas.txt")
            np.savetxt(grid, lams)
            gout = os.path.join(tmp, "glmnet.txt")
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "glmnet_path.R")
            r = subprocess.run(["Rscript", script, a.data, grid, str(a.repeats), gout], capture_output=True, text=True)
            if r.returncode == 0:
                rows["glmnet"] = (float(r.stdout.strip().splitlines()[-1]), np.loadtxt(gout, delimiter=",", ndmin=2), "thresh 1e-14")
            else:
                print(f"glmnet failed: {r.stderr.strip()[:300]}", file=sys.stderr)
    if "skglm" in (a.peers.split(",") if a.peers else []):
        from skglm import SparseLogisticRegression
        y_pm, Xf = 2 * y - 1, np.asfortranarray(X)

        def path():
            m = SparseLogisticRegression(alpha=lams[0], tol=1e-10, max_iter=100, max_epochs=100_000, fit_intercept=True,
                                         warm_start=True)
            out = []
            for lam in lams:
                m.alpha = lam
                m.fit(Xf, y_pm)
                out.append(np.concatenate([np.ravel(m.intercept_)[:1], np.ravel(m.coef_)]))
            return np.array(out)
        path()   # numba compiles on the first call: not timed
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            coefs = path()
            times.append(time.perf_counter() - t)
        rows["skglm"] = (statistics.median(times), coefs, "tol 1e-10, warm started")
    objs = {k: objectives(X, y, lams, c) for k, (_, c, _) in rows.items()}
    best = np.min(np.vstack(list(objs.values())), axis=0)
    lb_time = rows["lassoboot"][0]
    print(f"n={n} p={p}: {len(lams)} lambdas from lambda_max down to {a.min_ratio} x; load average {os.getloadavg()[0]:.2f}")
    print(f"{'solver':<10} {'path s':>9} {'vs lassoboot':>13} {'worst objective excess over best (rel)':>40}  note")
    for k, (t, _, note) in rows.items():
        excess = np.max((objs[k] - best) / np.abs(best))
        print(f"{k:<10} {t:9.4f} {t / lb_time:12.2f}x {excess:40.2e}  {note}")


if __name__ == "__main__":
    main()

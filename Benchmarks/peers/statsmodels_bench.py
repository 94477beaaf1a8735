#!/usr/bin/env python3
"""Time ONE full-data statsmodels L1 logistic fit, as the original analysis ran it:

    Logit(y, sm.add_constant(X)).fit_regularized(method='l1_cvxopt_cp', alpha=A, disp=False)

statsmodels penalizes the constant too when alpha is a scalar, so the problem is
    sum_i [log(1 + exp(eta_i)) - y_i eta_i] + alpha * (|b0| + sum_j |b_j|).
The data frame and the design matrix are built beforehand; only fit_regularized() is timed
(time.perf_counter, median of --repeat runs). Prints one JSON line with the KKT violation / n
and the objective, computed here in numpy.

Usage: statsmodels_bench.py --data CSV --outcome COL --exclude COL [COL ...] --alpha A [--repeat N]
"""
import argparse
import json
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--outcome", required=True)
    ap.add_argument("--exclude", nargs="*", default=[])
    ap.add_argument("--alpha", type=float, required=True)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--label", default="")
    a = ap.parse_args()

    df = pd.read_csv(a.data)
    X = df.drop(columns=[a.outcome] + a.exclude)
    y = df[a.outcome].astype(float)
    Xc = sm.add_constant(X)
    model = sm.Logit(y, Xc)

    times = []
    res = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from cvxopt/statsmodels
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            res = model.fit_regularized(method="l1_cvxopt_cp", alpha=a.alpha, disp=False)
            times.append(time.perf_counter() - t0)

    A = Xc.to_numpy(dtype=np.float64)
    yv = y.to_numpy()
    b = np.asarray(res.params, dtype=np.float64)   # const first (add_constant prepends it)
    eta = A @ b
    softplus = np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))
    loss = float(np.sum(softplus - yv * eta))
    objective = loss + a.alpha * float(np.sum(np.abs(b)))
    g = A.T @ (1.0 / (1.0 + np.exp(-eta)) - yv)
    viol = np.where(b == 0, np.maximum(0.0, np.abs(g) - a.alpha), np.abs(g + a.alpha * np.sign(b)))
    n = A.shape[0]
    print(json.dumps({
        "tool": "statsmodels", "label": a.label, "version": statsmodels.__version__,
        "method": "l1_cvxopt_cp", "rows": n, "features": A.shape[1] - 1,
        "alpha": a.alpha, "penalizeIntercept": True, "repeat": a.repeat,
        "medianSeconds": statistics.median(times), "minSeconds": min(times),
        "kktViolation": float(np.max(viol)) / n, "objective": objective, "loss": loss,
        "nonzero": int(np.sum(b[1:] != 0)), "coefficients": b.tolist(),
    }))


if __name__ == "__main__":
    main()

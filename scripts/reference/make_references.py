"""Reference L1-logistic fits from independent tools (R glmnet, liblinear).

Problem ("sum scale"):
    F(b0, b) = sum_i w_i [log(1 + exp(eta_i)) - y_i eta_i] + alpha sum_j |b_j|
               (+ alpha |b0| if the intercept is penalized),  eta_i = b0 + x_i.b

* glmnet (R, via glmnet_fit.R): unpenalized intercept, lambda = alpha / sum(w).
* liblinear (scikit-learn): C = 1/alpha, intercept_scaling = 1, which solves
  the PENALIZED-intercept problem exactly on the sum scale.

For every fit the objective and the max KKT violation (divided by n) are
computed here in numpy float64. As an independent accuracy check each fit is
also "polished" by a numpy Newton solve on its active set/sign pattern; the
max |coef - polished coef| is recorded as maxAbsDiffFromNewtonPolish.

Writes Tests/Fixtures/reference_fits.json.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from common import (CTDC_CSV, FIXTURES, HERE, OUTCOMES, alpha_max, gradient,
                    kkt_violation, objective, sigmoid)

FRACTIONS = [1e-4, 1e-3, 1e-2, 0.1, 0.3, 0.7]
WEIGHTED_FRACTION = 0.01
WEIGHTS_NAME = "1+(i mod 3)"
GLMNET_THRESH = 1e-20
LIBLINEAR_TOL = 1e-12
SYNTH_CSV = os.path.join(FIXTURES, "synthetic_logistic.csv")


def datasets():
    ctdc = pd.read_csv(CTDC_CSV)
    syn = pd.read_csv(SYNTH_CSV)
    return [
        {"name": "ctdc", "path": CTDC_CSV, "drop": OUTCOMES, "outcomes": OUTCOMES,
         "source": "shared/data/madiforman_CTDC_analysis_final_data.csv (all rows)",
         "df": ctdc},
        {"name": "synthetic", "path": SYNTH_CSV, "drop": ["y"], "outcomes": ["y"],
         "source": "Tests/Fixtures/synthetic_logistic.csv", "df": syn},
    ]


def weights_mod3(n):
    return 1.0 + (np.arange(n) % 3).astype(np.float64)


def newton_polish(X, y, b0, b, alpha, pen_int, w=None, iters=100):
    """Solve the smooth problem on the fit's active set with fixed signs."""
    n, p = X.shape
    Z = np.column_stack([np.ones(n), X])
    beta = np.concatenate([[b0], b])
    penalized = np.array([pen_int] + [True] * p)
    active = (beta != 0.0) | ~penalized
    sgn = np.sign(beta) * penalized
    ww = np.ones(n) if w is None else w
    Za = Z[:, active]

    def f(bet):
        eta = Z @ bet
        return float(np.sum(ww * (np.maximum(eta, 0) + np.log1p(np.exp(-np.abs(eta))) - y * eta))
                     + alpha * np.sum(sgn * bet))

    cur = beta.copy()
    for _ in range(iters):
        mu = sigmoid(Z @ cur)
        g = Za.T @ (ww * (mu - y)) + alpha * sgn[active]
        H = (Za * (ww * mu * (1 - mu))[:, None]).T @ Za
        step = np.linalg.solve(H, g)
        t, f0 = 1.0, f(cur)
        while True:
            trial = cur.copy()
            trial[active] -= t * step
            if f(trial) <= f0 + 1e-12 * abs(f0) or t < 1e-8:
                break
            t *= 0.5
        cur = trial
        if np.max(np.abs(t * step)) < 1e-15:
            break
    ok = bool(np.all((np.sign(cur) == sgn)[active & penalized]))
    return cur[0], cur[1:], ok


def make_record(ds, outcome, tool, alpha, pen_int, X, y, names, b0, b,
                w=None, extra=None):
    n = X.shape[0]
    rec = {"dataset": ds, "outcome": outcome, "tool": tool, "alpha": float(alpha),
           "penalizeIntercept": pen_int, "n": int(n)}
    if w is not None:
        rec["weights"] = WEIGHTS_NAME
        rec["sumWeights"] = float(np.sum(w))
    rec["coefficients"] = {"const": float(b0)}
    rec["coefficients"].update({nm: float(v) for nm, v in zip(names, b)})
    rec["objective"] = objective(X, y, b0, b, alpha, pen_int, w)
    rec["kktViolation"] = kkt_violation(X, y, b0, b, alpha, pen_int, w)
    pb0, pb, ok = newton_polish(X, y, b0, b, alpha, pen_int, w)
    rec["maxAbsDiffFromNewtonPolish"] = float(max(abs(pb0 - b0), np.max(np.abs(pb - b))))
    rec["polishKktViolation"] = kkt_violation(X, y, pb0, pb, alpha, pen_int, w)
    rec["polishSignsUnchanged"] = ok
    rec["nonzeroSlopes"] = int(np.count_nonzero(b))
    # Conditioning hints for tests: how far zero slopes are from becoming
    # active ((alpha - |g_j|)/n) and the smallest nonzero |slope|.
    _, g = gradient(X, y, b0, b, w)
    zero = b == 0.0
    rec["minZeroSlopeMargin"] = float(np.min(alpha - np.abs(g[zero])) / n) if zero.any() else None
    rec["minAbsNonzeroSlope"] = float(np.min(np.abs(b[~zero]))) if (~zero).any() else None
    if extra:
        rec.update(extra)
    return rec


def run_glmnet(jobs, tmp):
    spec = os.path.join(tmp, "spec.csv")
    out = os.path.join(tmp, "glmnet_out.csv")
    with open(spec, "w", newline="") as f:
        wr = csv.writer(f, quoting=csv.QUOTE_ALL)
        wr.writerow(["job", "data", "drop", "outcome", "weights", "alpha", "alphamax", "thresh"])
        for j in jobs:
            wr.writerow([j["job"], j["data"], ";".join(j["drop"]), j["outcome"], j["weights"],
                         repr(j["alpha"]), repr(j["alphamax"]), repr(GLMNET_THRESH)])
    subprocess.run(["Rscript", os.path.join(HERE, "glmnet_fit.R"), spec, out], check=True)
    res = {}
    with open(out, newline="") as f:
        for row in csv.DictReader(f):
            res.setdefault(int(row["job"]), {})[row["name"]] = float(row["value"])
    return res


def fit_liblinear(X, y, alpha):
    m = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=1.0 / alpha,
                           fit_intercept=True, intercept_scaling=1,
                           tol=LIBLINEAR_TOL, max_iter=10**7, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fail on ConvergenceWarning
        m.fit(X, y)
    return float(m.intercept_[0]), m.coef_[0].astype(np.float64), int(np.max(m.n_iter_))


def main():
    dss = datasets()
    meta, problems, jobs = [], [], []
    for d in dss:
        df = d["df"]
        names = [c for c in df.columns if c not in d["drop"]]
        X = df[names].to_numpy(dtype=np.float64)
        dmeta = {"name": d["name"], "source": d["source"], "n": int(X.shape[0]),
                 "features": names, "outcomes": []}
        for outcome in d["outcomes"]:
            y = df[outcome].to_numpy(dtype=np.float64)
            amax = alpha_max(X, y)
            alphas = [amax * f for f in FRACTIONS]
            om = {"outcome": outcome, "alphaMax": amax, "alphas": alphas}
            for a in alphas:
                problems.append((d, outcome, X, y, names, a, None, amax))
            if d["name"] == "ctdc":
                w = weights_mod3(X.shape[0])
                amax_w = alpha_max(X, y, w)
                om["alphaMaxWeighted"] = amax_w
                om["alphaWeighted"] = amax_w * WEIGHTED_FRACTION
                problems.append((d, outcome, X, y, names, amax_w * WEIGHTED_FRACTION, w, amax_w))
            dmeta["outcomes"].append(om)
        meta.append(dmeta)

    for k, (d, outcome, X, y, names, a, w, amax) in enumerate(problems):
        jobs.append({"job": k, "data": d["path"], "drop": d["drop"], "outcome": outcome,
                     "weights": "none" if w is None else WEIGHTS_NAME,
                     "alpha": a, "alphamax": amax})
    tmp = tempfile.mkdtemp(prefix="lassoboot_glmnet_")
    try:
        t0 = time.time()
        gres = run_glmnet(jobs, tmp)
        print(f"glmnet: {len(jobs)} fits in {time.time() - t0:.1f}s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    records = []
    for k, (d, outcome, X, y, names, a, w, amax) in enumerate(problems):
        r = gres[k]
        assert r[".jerr"] == 0, (k, r[".jerr"])
        b0 = r["const"]
        b = np.array([r[nm] for nm in names])
        sumw = X.shape[0] if w is None else float(np.sum(w))
        assert abs(r[".lambda"] - a / sumw) <= 1e-14 * a / sumw
        extra = {"settings": {"lambda": r[".lambda"], "lambdaRule": "alpha/sum(w)",
                              "thresh": GLMNET_THRESH, "type.logistic": "Newton",
                              "standardize": False, "pathLength": 40,
                              "npasses": int(r[".npasses"])}}
        records.append(make_record(d["name"], outcome, "glmnet", a, False, X, y, names,
                                   b0, b, w, extra))
        if w is None:
            lb0, lb, nit = fit_liblinear(X, y, a)
            extra = {"settings": {"C": 1.0 / a, "tol": LIBLINEAR_TOL, "intercept_scaling": 1,
                                  "random_state": 0, "n_iter": nit}}
            records.append(make_record(d["name"], outcome, "liblinear", a, True, X, y, names,
                                       lb0, lb, None, extra))

    print(f"{'dataset':9s} {'outcome':15s} {'tool':9s} {'w':1s} {'alpha/amax':>10s} "
          f"{'KKT/n':>9s} {'|d polish|':>10s} {'polishKKT':>9s} nnz {'zeroMargin':>9s} {'min|b|':>9s} objective")
    for rec in records:
        om = next(o for m in meta if m["name"] == rec["dataset"]
                  for o in m["outcomes"] if o["outcome"] == rec["outcome"])
        amax = om["alphaMaxWeighted"] if "weights" in rec else om["alphaMax"]
        print(f"{rec['dataset']:9s} {rec['outcome']:15s} {rec['tool']:9s} "
              f"{'w' if 'weights' in rec else ' '} {rec['alpha'] / amax:10.1e} "
              f"{rec['kktViolation']:9.2e} {rec['maxAbsDiffFromNewtonPolish']:10.2e} "
              f"{rec['polishKktViolation']:9.2e} {rec['nonzeroSlopes']:3d} {rec['minZeroSlopeMargin'] or 0:9.2e} "
              f"{rec['minAbsNonzeroSlope'] or 0:9.2e} {rec['objective']!r}"
              f"{'' if rec['polishSignsUnchanged'] else '  (polish changed signs!)'}")

    out = {
        "problem": "F(b0,b) = sum_i w_i*[log(1+exp(eta_i)) - y_i*eta_i] + alpha*sum_j |b_j| "
                   "(+ alpha*|b0| if penalizeIntercept); eta_i = b0 + x_i.b; w_i = 1 unless 'weights'",
        "kktDefinition": "max over coords of: penalized & b_j==0: max(0,|g_j|-alpha); "
                         "penalized & b_j!=0: |g_j + alpha*sign(b_j)|; unpenalized: |g_j|; "
                         "g = gradient of the unpenalized (weighted) sum loss; divided by n",
        "alphaFractions": FRACTIONS,
        "weightedFraction": WEIGHTED_FRACTION,
        "glmnetCorrespondence": "glmnet lambda = alpha / sum(w) (alpha / n for unit weights)",
        "datasets": meta,
        "records": records,
    }
    path = os.path.join(FIXTURES, "reference_fits.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({len(records)} records)")


if __name__ == "__main__":
    sys.exit(main())

"""Unpenalized logistic Wald intervals from statsmodels, the reference for lassoboot's
converged debiased lasso intervals (issue 10).

Converged Newton steps from any lasso fit end at the unpenalized maximum-likelihood
estimate, so lassoboot's debiased Wald interval b_j +/- z sqrt((H^-1)_jj) must equal
statsmodels' Logit(y, add_constant(X)).fit().conf_int() on the same rows.

Two data sets:
  - ctdc: the CTDC job (jobs/ctdc-north-america.json): all 91,043 rows of
    madiforman_CTDC_analysis_final_data.csv, features in the job's order, both outcomes
    (skipped with a message when the CSV is absent; CTDC_CSV overrides its location);
  - synthetic: Tests/Fixtures/synthetic_logistic.csv (continuous x1..x5, binary x6..x8), outcome y.

Writes Tests/Fixtures/debiased_statsmodels_wald.json. Run from anywhere:
    python3 scripts/reference/debiased/make_statsmodels_wald.py
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from common import CTDC_CSV, FIXTURES, REPO  # noqa: E402

LEVEL = 0.95


def fit(X, y, names):
    model = sm.Logit(y, sm.add_constant(X, has_constant="add"))
    res = model.fit(method="newton", tol=1e-14, maxiter=100, disp=False)
    ci = res.conf_int(alpha=1 - LEVEL)
    # Sandwich (HC0) from the same fit, as the robust check.
    robust = model.fit(method="newton", tol=1e-14, maxiter=100, disp=False, cov_type="HC0")
    return {
        "names": ["const"] + names,
        "params": [float(v) for v in res.params],
        "bse": [float(v) for v in res.bse],
        "sandwichBse": [float(v) for v in robust.bse],
        "low": [float(v) for v in np.asarray(ci)[:, 0]],
        "high": [float(v) for v in np.asarray(ci)[:, 1]],
        "converged": bool(res.mle_retvals["converged"]),
    }


def main():
    out = {"statsmodels": statsmodels.__version__, "level": LEVEL, "datasets": {}}
    synthetic = pd.read_csv(os.path.join(FIXTURES, "synthetic_logistic.csv"))
    names = [c for c in synthetic.columns if c != "y"]
    out["datasets"]["synthetic"] = {
        "csv": "Tests/Fixtures/synthetic_logistic.csv", "rows": int(len(synthetic)),
        "outcomes": {"y": fit(synthetic[names].to_numpy(float), synthetic["y"].to_numpy(float), names)},
    }
    if os.path.exists(CTDC_CSV):
        with open(os.path.join(REPO, "jobs", "ctdc-north-america.json")) as f:
            job = json.load(f)
        df = pd.read_csv(CTDC_CSV)
        names = [feat["name"] for feat in job["features"]]
        X = df[names].to_numpy(float)
        out["datasets"]["ctdc"] = {
            "csv": os.path.basename(CTDC_CSV), "rows": int(len(df)),
            "outcomes": {o: fit(X, df[o].to_numpy(float), names) for o in job["outcomes"]},
        }
    else:
        print(f"CTDC data not found at {CTDC_CSV}: only the synthetic reference is written", file=sys.stderr)
    path = os.path.join(FIXTURES, "debiased_statsmodels_wald.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()

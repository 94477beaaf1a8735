"""Writes Tests/Fixtures/desparsified_wide.csv (n = 50 rows, p = 70 correlated Gaussian features,
3 signals) and Tests/Fixtures/desparsified_hdi.json: the lasso fit by skglm (sum-scale alpha,
unpenalized intercept, no standardization) and the desparsified estimates of
Benchmarks/peers/desparsified.py (scikit-learn's Lasso for the nodewise regressions) at fixed
nodewise lambdas. Run from the repository root: python3 scripts/reference/desparsified/make_desparsified.py
"""
import json
import os
import sys

import numpy as np
from skglm import GeneralizedLinearEstimator
from skglm.datafits import Logistic
from skglm.penalties import L1
from skglm.solvers import ProxNewton

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "Benchmarks", "peers"))
from desparsified import desparsify  # noqa: E402

rng = np.random.default_rng(20261204)
n, p = 50, 70
X = np.zeros((n, p))
for j in range(p):
    X[:, j] = (0.5 * X[:, j - 1] if j else 0) + 0.866 * rng.standard_normal(n)
X = np.round(X, 5)
eta = -0.2 + 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.8 * X[:, 4]
y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
with open(os.path.join(root, "Tests/Fixtures/desparsified_wide.csv"), "w") as f:
    f.write("y," + ",".join(f"x{j}" for j in range(p)) + "\n")
    for i in range(n):
        f.write(f"{int(y[i])}," + ",".join(f"{v:.5f}" for v in X[i]) + "\n")

alpha = 2.0  # sum scale: sum_i loss_i + alpha |beta|_1
# skglm's Logistic datafit is the mean loss with labels in {-1, 1}: alpha / n on its scale.
est = GeneralizedLinearEstimator(Logistic(), L1(alpha / n), ProxNewton(tol=1e-12, fit_intercept=True, max_iter=1000))
est.fit(X, 2 * y - 1)
b0, beta = float(est.intercept_), est.coef_.ravel()
out = {"alpha": alpha, "intercept": b0, "coefficients": beta.tolist(), "lambdas": {}}
for lam in [0.05, 0.2]:
    out["lambdas"][str(lam)] = desparsify(X, y, b0, beta, lam)
with open(os.path.join(root, "Tests/Fixtures/desparsified_hdi.json"), "w") as f:
    json.dump(out, f, indent=1)
print("nonzero lasso coefficients:", int((beta != 0).sum()))

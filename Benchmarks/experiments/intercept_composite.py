"""Experiment: the desparsified intercept at p > n, two ways, at every nodewise lambda of the grid.

current:   the constant column regressed (lasso) on the uncentered features (lassoboot's now)
composite: b0 = b0_hat - sum_l m_l (b_l - beta_l_hat), m_l the w-weighted mean of x_l, b_l the
           features' desparsified estimates at the same lambda (linear representation
           v = 1/W - sum_l m_l u_l / den_l, SE = sqrt(sum w v^2)).
usage: python3 Benchmarks/experiments/intercept_composite.py DUMPDIR [--reps N] [--workers K]
"""
import argparse
import json
import os
import sys
import warnings
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from coverage_peers import load  # noqa: E402  (the dump's data sets, as the peers read them)
from desparsified import standardize  # noqa: E402  (w-weighted means and population SDs)


def one(args):
    d, rep, fit = args
    from sklearn.linear_model import lasso_path
    X, y = load(d, rep)
    n, p = X.shape
    b0, beta = fit[0], np.array(fit[1:])
    eta = b0 + X @ beta
    pi = 1 / (1 + np.exp(-eta))
    w = pi * (1 - pi)
    W = w.sum()
    m, sd = standardize(X, w)
    const = sd <= 1e-12
    sd = np.where(const, 1, sd)
    Z = (X - m) / sd
    Z[:, const] = 0
    sc = np.sqrt(w * n / W)
    Zs = Z * sc[:, None]
    G = Zs.T @ Zs
    R = G / n
    off = np.abs(R - np.diag(np.diag(R)))
    top = off.max()
    grid = top * np.geomspace(1, 0.05, 20)
    r = y - pi
    nl = len(grid)
    est = np.zeros((nl, p)); se = np.zeros((nl, p))
    V = np.zeros((nl, n))  # sum_l m_l u_l / den_l per lambda
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(p):
            others = np.r_[0:j, j + 1:p]
            _, coefs, _ = lasso_path(Zs[:, others], Zs[:, j], alphas=grid, tol=1e-10,
                                     precompute=G[np.ix_(others, others)], Xy=G[others, j], max_iter=100000)
            # coefs: (p-1, nl)
            U = Z[:, [j]] - Z[:, others] @ coefs  # n x nl
            den = (w * X[:, j]) @ U
            est[:, j] = beta[j] + (r @ U) / den
            se[:, j] = np.sqrt((w[:, None] * U * U).sum(0)) / np.abs(den)
            ok = np.isfinite(den) & (np.abs(den) > 1e-12)
            contrib = np.where(ok, m[j] * U / np.where(ok, den, 1), 0.0)
            V += contrib.T
        # current intercept
        S = X / sd
        Ss = S * sc[:, None]
        GS = Ss.T @ Ss
        _, d, _ = lasso_path(Ss, sc.copy(), alphas=grid, tol=1e-10, precompute=GS, Xy=Ss.T @ sc, max_iter=100000)
    u0 = 1 - S @ d  # n x nl
    den0 = w @ u0
    cur = b0 + (r @ u0) / den0
    cur_se = np.sqrt((w[:, None] * u0 * u0).sum(0)) / np.abs(den0)
    v = 1 / W - V  # nl x n
    comp = b0 + v @ r
    comp_se = np.sqrt((w * v * v).sum(1))
    return rep, est.tolist(), se.tolist(), cur.tolist(), cur_se.tolist(), comp.tolist(), comp_se.tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--reps", type=int, default=10**9)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    model = json.load(open(f"{a.dir}/model.json"))
    fits = {}
    for line in open(f"{a.dir}/lassoboot.jsonl"):
        o = json.loads(line)
        if o.get("setting") == "cv" and o.get("estimate") and all(v is not None for v in o["estimate"]):
            fits[o["rep"]] = o["estimate"]
    reps = sorted(fits)[: a.reps]
    jobs = [(a.dir, r, fits[r]) for r in reps]
    with Pool(a.workers) as pool:
        res = pool.map(one, jobs)
    if a.out:
        json.dump(res, open(a.out, "w"))
    summarize(model, res)


def summarize(model, res):
    truth = model["truth"]
    names = model.get("names")
    t0, tb = truth[0], np.array(truth[1:])
    nl = len(res[0][3])
    z = 1.959963984540054
    R = len(res)
    print(f"{R} repetitions; intercept truth {t0}")
    for i in range(nl):
        cur = np.array([x[3][i] for x in res]); cse = np.array([x[4][i] for x in res])
        com = np.array([x[5][i] for x in res]); mse = np.array([x[6][i] for x in res])
        cc = np.mean(np.abs(cur - t0) <= z * cse); mc = np.mean(np.abs(com - t0) <= z * mse)
        est = np.array([x[1][i] for x in res]); se = np.array([x[2][i] for x in res])
        cov = (np.abs(est - tb) <= z * se).mean(0)
        nz = np.nonzero(tb)[0]
        zero = np.nonzero(tb == 0)[0]
        feats = " ".join(f"{names[j+1] if names else j}:{cov[j]:.3f}" for j in nz)
        print(f"lam {i:2d}: current {cc:.3f} (err {np.mean(cur - t0):+.3f}, SE {np.median(cse):.3f})"
              f"  composite {mc:.3f} (err {np.mean(com - t0):+.3f}, SE {np.median(mse):.3f})"
              f"  | {feats} zero {cov[zero].mean():.3f} min0 {cov[zero].min():.3f}")


if __name__ == "__main__":
    main()

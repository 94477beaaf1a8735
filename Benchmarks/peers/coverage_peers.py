#!/usr/bin/env python3
"""The peers of `lassoboot-bench coverage`, on the very same data sets, side by side with lassoboot.

    lassoboot-bench coverage ... --dump DIR          # lassoboot's intervals and every data set
    python3 Benchmarks/peers/coverage_peers.py DIR [--peers sm-mle,sm-l1,hdi,glmnet-boot]
                                                   [--settings cv] [--resamples B] [--workers 2]

Peers (each 95% interval, or the level in DIR/model.json):
  sm-mle       statsmodels Logit(y, add_constant(X)).fit() conf_int(): the unpenalized MLE's Wald
               interval, the control (and the oracle width the others are divided by);
  sm-l1        statsmodels Logit.fit_regularized(method='l1', alpha=n * alpha on every feature, 0
               on the constant) conf_int() at lassoboot's chosen alpha of that repetition: the Wald
               interval of the L1 fit, what the CTDC analysis reported. statsmodels gives no
               interval for a coefficient it trims to 0; that coefficient counts as the interval
               [0, 0] (the table the analysis printed shows it as 0);
  hdi          the desparsified lasso of R hdi's lasso.proj(family = "binomial"), re-implemented
               in Benchmarks/peers/desparsified.py (hdi is not installable here; credit: Dezeure,
               Buhlmann, Meier & Meinshausen 2015): the initial lasso is lassoboot's fit at the
               chosen alpha (glmnet's lambda.min at the same CV rule is what hdi uses); the
               nodewise lambda by 5-fold CV over 20 values, error pooled over all features, as
               hdi does; b_j +- z se_j. hdi gives no interval for the intercept;
  glmnet-boot  R glmnet + boot as an R user writes it (coverage_glmnet_boot.R): cv.glmnet(AUC,
               5 folds, 30 lambdas to 1e-3, standardize = FALSE), lambda.min (setting cv) or
               lambda.1se (cv1se), boot(R = B) of coef(glmnet(x[i, ], y[i], lambda)), boot.ci
               percentile. Its CV is its own (own folds), so its alpha differs from lassoboot's.

Every peer's intervals are kept in DIR/peers-NAME[-SETTING].jsonl and reused when present
(--force recomputes). The summary prints, per setting and method: coverage per class
(intercept, large, small, zero; pooled over the class's coefficients, +- the SE of the
per-repetition class mean), the lowest coefficient's coverage, the mean width over the oracle MLE
Wald width, the share of [0, 0] intervals, failed repetitions, seconds per repetition, and the
issue's pass criterion (every class within 2 MC SE of 0.95, no coefficient below 0.93, width at
most 1.15x the oracle).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy.stats import norm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desparsified import standardize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load(directory, rep):
    df = pd.read_csv(os.path.join(directory, f"rep{rep}.csv"))
    y = df.pop("y").to_numpy(float)
    return df.to_numpy(float), y


def nan_intervals(k):
    return [[None, None] for _ in range(k)]


def clean(v):
    return None if v is None or not math.isfinite(v) else float(v)


def sm_mle(X, y, level):
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError

    Xc = sm.add_constant(X, has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = sm.Logit(y, Xc).fit(disp=0, method="newton", maxiter=100)
        ci = np.asarray(res.conf_int(1 - level))
        return [float(b) for b in res.params], [[clean(lo), clean(hi)] for lo, hi in ci], ""
    except (PerfectSeparationError, np.linalg.LinAlgError, ValueError) as e:
        return [None] * Xc.shape[1], nan_intervals(Xc.shape[1]), f"{type(e).__name__}: {e}"


def sm_l1(X, y, alpha, level):
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    n, p = X.shape
    Xc = sm.add_constant(X, has_constant="add")
    weights = np.full(p + 1, alpha * n)
    weights[0] = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.Logit(y, Xc).fit_regularized(method="l1", alpha=weights, disp=0, trim_mode="auto", qc_verbose=False)
            ci = np.asarray(res.conf_int(1 - level))
        params = np.asarray(res.params)
        out = []
        for b, (lo, hi) in zip(params, ci):
            if not (math.isfinite(lo) and math.isfinite(hi)) and b == 0:
                out.append([0.0, 0.0])  # trimmed: no interval, the estimate 0
            else:
                out.append([clean(lo), clean(hi)])
        return [float(b) for b in params], out, ""
    except (np.linalg.LinAlgError, ValueError, ConvergenceWarning) as e:
        return [None] * (p + 1), nan_intervals(p + 1), f"{type(e).__name__}: {e}"


def hdi_lassoproj(X, y, b0, beta, level, folds=5, nlam=20, seed=1):
    from sklearn.linear_model import Lasso, lasso_path

    n, p = X.shape
    eta = b0 + X @ beta
    pi = 1 / (1 + np.exp(-eta))
    w = pi * (1 - pi)
    mean, sd = standardize(X, w)
    sd = np.where(sd > 0, sd, 1)
    Z = (X - mean) / sd
    # Weighted least squares as plain least squares on rows scaled by sqrt(w n / sum w).
    Zs = Z * np.sqrt(w * n / w.sum())[:, None]
    G = np.abs(Zs.T @ Zs) / n
    np.fill_diagonal(G, 0)
    grid = G.max() * np.logspace(0, -2, nlam)
    fold = np.random.default_rng(seed).permutation(n) % folds
    err = np.zeros(nlam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(folds):
            tr, te = fold != k, fold == k
            # The fold's Gram matrix once: each path then runs on it (scikit-learn's Gram coordinate
            # descent, the same solutions as on the rows, minutes faster per data set at p = 200).
            train, test = Zs[tr], Zs[te]
            gram = train.T @ train
            for j in range(p):
                others = [l for l in range(p) if l != j]
                _, coefs, _ = lasso_path(
                    train[:, others], train[:, j], alphas=grid, tol=1e-8,
                    precompute=gram[np.ix_(others, others)], Xy=gram[others, j])
                pred = test[:, others] @ coefs
                err += ((test[:, j][:, None] - pred) ** 2).sum(0)
        lam = grid[int(np.argmin(err))]
        z = norm.ppf(0.5 + level / 2)
        est, out = [None], [[None, None]]  # no intercept interval
        for j in range(p):
            others = [l for l in range(p) if l != j]
            model = Lasso(alpha=lam, fit_intercept=False, tol=1e-10, max_iter=100_000)
            model.fit(Zs[:, others], Zs[:, j])
            a = np.zeros(p)
            a[j] = 1
            a[others] = -model.coef_
            u = Z @ a
            den = u @ (w * X[:, j])
            b = beta[j] + u @ (y - pi) / den
            se = math.sqrt((w * u * u).sum()) / abs(den)
            est.append(float(b))
            out.append([b - z * se, b + z * se])
    return est, out, ""


def one(job):
    name, directory, rep, level, fit = job
    X, y = load(directory, rep)
    start = time.perf_counter()
    if name == "sm-mle":
        est, ci, err = sm_mle(X, y, level)
    elif name == "sm-l1":
        est, ci, err = sm_l1(X, y, fit["alpha"], level)
    elif name == "hdi":
        e = fit["estimate"]
        est, ci, err = hdi_lassoproj(X, y, e[0], np.array(e[1:]), level, seed=1000 + rep)
    else:
        raise ValueError(name)
    return {"rep": rep, "estimate": est, "intervals": ci, "error": err, "seconds": time.perf_counter() - start}


def run_python_peer(name, directory, model, fits, workers, force):
    path = os.path.join(directory, f"peers-{name}.jsonl" if name == "sm-mle" else f"peers-{name}-{fits['setting']}.jsonl")
    reps = list(range(model["repetitions"])) if name == "sm-mle" else sorted(fits["byRep"])
    if os.path.exists(path) and not force:
        rows = [json.loads(line) for line in open(path)]
        if sorted(r["rep"] for r in rows) == reps:
            return {r["rep"]: r for r in rows}
    jobs = [(name, directory, r, model["level"], fits["byRep"].get(r) if name != "sm-mle" else None) for r in reps]
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(one, jobs, chunksize=4))
    print(f"  {name}: {len(rows)} repetitions in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return {r["rep"]: r for r in rows}


def run_glmnet_boot(directory, model, setting, resamples, workers, force):
    path = os.path.join(directory, f"peers-glmnet-boot-{setting}.jsonl")
    reps = model["repetitions"]
    if os.path.exists(path) and not force:
        rows = [json.loads(line) for line in open(path)]
        if len(rows) == reps:
            return {r["rep"]: r for r in rows}
    csv_out = os.path.join(directory, f"glmnet-boot-{setting}.csv")
    t = time.perf_counter()
    subprocess.run(
        ["Rscript", os.path.join(HERE, "coverage_glmnet_boot.R"), "--dir", directory, "--reps", str(reps), "--setting", setting,
         "--resamples", str(resamples), "--ncpus", str(workers), "--level", str(model["level"]), "--out", csv_out],
        check=True)
    print(f"  glmnet-boot {setting}: {reps} repetitions in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    df = pd.read_csv(csv_out)
    p = len(model["names"])
    rows = []
    for rep, g in df.groupby("rep"):
        g = g.sort_values("coef")
        if len(g) != p:
            raise SystemExit(f"{csv_out}: repetition {rep} has {len(g)} coefficients, expected {p}")
        rows.append({"rep": int(rep), "estimate": [clean(v) for v in g["estimate"]],
                     "intervals": [[clean(a), clean(b)] for a, b in zip(g["low"], g["high"])],
                     "lambda": float(g["lambda"].iloc[0]), "error": "", "seconds": float(g["seconds"].iloc[0])})
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return {r["rep"]: r for r in rows}


def summarize(model, label, by_rep, oracle, reps):
    """One method's row: class coverage, lowest coefficient, width/oracle, [0,0] share."""
    truth = model["truth"]
    groups = model["groups"]
    p = len(truth)
    cover = np.full((len(reps), p), np.nan)
    zero = np.zeros((len(reps), p))
    ratio = []
    failed = 0
    seconds = []
    for i, rep in enumerate(reps):
        row = by_rep.get(rep)
        if row is None or row.get("error"):
            failed += 1
            continue
        if "seconds" in row:
            seconds.append(row["seconds"])
        for j, (lo, hi) in enumerate(row["intervals"]):
            if lo is None or hi is None:
                continue  # no interval for this coefficient (hdi's intercept): left out
            cover[i, j] = 1.0 if lo <= truth[j] <= hi else 0.0
            zero[i, j] = 1.0 if lo == 0 and hi == 0 else 0.0
            o = oracle.get(rep, [None] * p)[j]
            if o:
                ratio.append((j, (hi - lo) / o))
    R = np.sum(~np.isnan(cover), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a coefficient without intervals (hdi's intercept)
        per_coef = np.nanmean(cover, axis=0)
    result = {"label": label, "failed": failed, "seconds": float(np.mean(seconds)) if seconds else float("nan")}
    mcse = math.sqrt(0.95 * 0.05 / max(len(reps) - failed, 1))
    ok = True
    for g in ["intercept", "large", "small", "zero"]:
        idx = [j for j in range(p) if groups[j] == g and R[j] > 0]
        if not idx:
            result[g] = None
            continue
        sub = cover[:, idx]
        pooled = float(np.nanmean(sub))
        per_rep = np.nanmean(sub, axis=1)
        per_rep = per_rep[~np.isnan(per_rep)]
        se = float(np.std(per_rep, ddof=1) / math.sqrt(len(per_rep))) if len(per_rep) > 1 else float("nan")
        result[g] = (pooled, se)
        ok &= abs(pooled - 0.95) <= 2 * mcse
    valid = [j for j in range(p) if R[j] > 0]
    result["min"] = float(min(per_coef[j] for j in valid)) if valid else float("nan")
    result["minName"] = model["names"][min(valid, key=lambda j: per_coef[j])] if valid else "-"
    by_coef = {}
    for j, r in ratio:
        by_coef.setdefault(j, []).append(r)
    result["width"] = float(np.mean([np.mean(v) for v in by_coef.values()])) if by_coef else float("nan")
    result["zeroShare"] = float(zero.sum() / max(np.sum(~np.isnan(cover)), 1))
    result["pass"] = ok and result["min"] >= 0.93 and result["width"] <= 1.15
    result["mcse"] = mcse
    return result


def fmt(x, d=3):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{d}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--peers", default="sm-mle,sm-l1,hdi,glmnet-boot")
    ap.add_argument("--settings", default=None, help="default: the dump's settings other than mle")
    ap.add_argument("--resamples", type=int, default=None, help="glmnet-boot's B (default: the dump's)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON line per setting and method too")
    a = ap.parse_args()

    try:
        model = json.load(open(os.path.join(a.dir, "model.json")))
    except (OSError, ValueError) as e:
        raise SystemExit(f"{a.dir}/model.json: {e} (write it with lassoboot-bench coverage ... --dump {a.dir})")
    lassoboot = {}
    for n, line in enumerate(open(os.path.join(a.dir, "lassoboot.jsonl")), 1):
        try:
            r = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"{a.dir}/lassoboot.jsonl line {n}: {e}")
        lassoboot.setdefault(r["setting"], {})[r["rep"]] = r
    settings = a.settings.split(",") if a.settings else [s for s in model["settings"] if s != "mle"]
    peers = [p for p in a.peers.split(",") if p]
    for p in peers:
        if p not in ("sm-mle", "sm-l1", "hdi", "glmnet-boot"):
            raise SystemExit(f"--peers: unknown peer '{p}' (sm-mle, sm-l1, hdi, glmnet-boot)")
    reps = list(range(model["repetitions"]))
    resamples = a.resamples or model["resamples"]

    # The MLE runs whatever --peers says: its Wald width is the oracle every width is divided by.
    # Where p + 1 >= n there is no MLE (statsmodels returns a separating fit): no control, no widths.
    wide = len(model["names"]) >= model["rows"]
    if wide:
        peers = [p for p in peers if p != "sm-mle"]
    mle = {} if wide else run_python_peer("sm-mle", a.dir, model, None, a.workers, a.force)
    oracle = {}
    for rep, row in mle.items():
        if not row["error"]:
            oracle[rep] = [(hi - lo) if lo is not None and hi is not None else None for lo, hi in row["intervals"]]

    print(f"Data: {model['source']}, design {model['design']}, {model['rows']} rows, {len(model['names']) - 1} features, "
          f"{model['repetitions']} repetitions (seed {model['seed']}); lassoboot B = {model['resamples']}, glmnet-boot B = {resamples}")
    print("Columns: coverage per class (pooled over its coefficients) +- SE of the per-repetition class mean; min = lowest "
          "coefficient's coverage; width = mean interval width / the MLE Wald width of the same data; [0,0] = share of "
          "intervals exactly [0, 0]; s/rep = seconds per repetition (one core; lassoboot's: the run of all its methods)\n")
    for setting in settings:
        fits = lassoboot.get(setting)
        if not fits:
            raise SystemExit(f"setting {setting}: not in {a.dir}/lassoboot.jsonl (settings there: {', '.join(lassoboot)})")
        rows = []
        for m in model["methods"]:
            by_rep = {rep: {"intervals": [[clean(lo) if lo is not None else None, clean(hi) if hi is not None else None]
                                          for lo, hi in r["intervals"][m]], "error": "", "seconds": r["seconds"]}
                      for rep, r in fits.items()}
            rows.append(summarize(model, f"lassoboot {m}", by_rep, oracle, reps))
        if "sm-mle" in peers:
            rows.append(summarize(model, "statsmodels Logit MLE Wald (control)", mle, oracle, reps))
        info = {"setting": setting, "byRep": fits}
        if "sm-l1" in peers:
            rows.append(summarize(model, "statsmodels L1 Wald (same alpha)", run_python_peer("sm-l1", a.dir, model, info, a.workers, a.force), oracle, reps))
        if "hdi" in peers:
            rows.append(summarize(model, "hdi lasso.proj (re-impl.)", run_python_peer("hdi", a.dir, model, info, a.workers, a.force), oracle, reps))
        if "glmnet-boot" in peers and setting in ("cv", "cv1se"):
            rows.append(summarize(model, f"glmnet + boot percentile ({'lambda.min' if setting == 'cv' else 'lambda.1se'})",
                                  run_glmnet_boot(a.dir, model, setting, resamples, a.workers, a.force), oracle, reps))
        alphas = sorted(r["alpha"] for r in fits.values())
        print(f"setting {setting}: lassoboot's alpha median {alphas[len(alphas) // 2]:.4g}; pass criterion at MC SE "
              f"{rows[0]['mcse']:.4f}: every class within {2 * rows[0]['mcse']:.3f} of 0.95, min >= 0.93, width <= 1.15")
        head = f"  {'method':<44}{'intercept':>15}{'large':>15}{'small':>15}{'zero':>15}{'min':>7}{'width':>7}{'[0,0]':>7}{'failed':>7}{'s/rep':>8}  verdict"
        print(head)
        for r in rows:
            def cls(g):
                v = r.get(g)
                return "-" if v is None else f"{fmt(v[0])} +-{fmt(v[1])}"
            print(f"  {r['label']:<44}{cls('intercept'):>15}{cls('large'):>15}{cls('small'):>15}{cls('zero'):>15}"
                  f"{fmt(r['min']):>7}{fmt(r['width'], 2):>7}{fmt(r['zeroShare']):>7}{r['failed']:>7}{fmt(r['seconds'], 3):>8}  "
                  f"{'PASS' if r['pass'] else 'FAIL'} (lowest: {r['minName']})")
            if a.json:
                print(json.dumps({"setting": setting, **{k: v for k, v in r.items()}}))
        print()


if __name__ == "__main__":
    main()

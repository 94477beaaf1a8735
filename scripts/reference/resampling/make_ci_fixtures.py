"""Reference bootstrap confidence intervals for the Swift `Resampling` tests.

Writes Tests/Fixtures/resampling_ci.json. No Swift code is involved: every
expected endpoint comes from scipy.stats.bootstrap or from R's boot package.

For each case a small data set of n rows is drawn with a fixed numpy seed, a
cheap statistic is bootstrapped B times (numpy index matrix, fixed seed), and
the exact row-level delete-one jackknife values are computed. Then:

* scipy.stats.bootstrap (>= 1.11) is called with `bootstrap_result=` holding
  the replicates and `n_resamples=0`, `paired=True`, on the data `arange(n)`
  with a statistic that returns the estimate for the full index vector and the
  precomputed jackknife value when one row index is missing. This yields the
  percentile, basic and BCa intervals (quantiles by Hyndman-Fan type 7, z0 from
  the 'mean' percentile of the estimate, i.e. ties split).
* R boot (r_boot_ci.R): norm.ci (bias-corrected normal), perc.ci and basic.ci
  (norm.inter on the normal-quantile scale), bca.ci with L = the jackknife
  influence values (n-1)(mean - theta_-i).

Levels 0.95 and 0.9. The jackknife is stored compressed: distinct values with
multiplicities (np.unique), which is what the Swift `Jackknife` type holds.

Cases:
  mean_lognormal    mean of n=80 lognormal values, B=1999 (skewed, smooth)
  ratio_cells       ratio of means on n=150 rows in 6 (x, y) cells, B=999:
                    rows of one cell share one jackknife value (multiplicities)
  median_ties       median of n=61 integers in 0..24, B=999: many replicates tie
                    with the estimate (z0 with ties split matters)
  lasso_like        soft-thresholded mean (a lasso coefficient in miniature),
                    n=100, B=1999: a sizeable share of replicates exactly 0
  lasso_zero        soft-thresholded mean with estimate exactly 0 and most
                    replicates exactly 0 (flag `mostlyZero` in Swift), n=30
  sample_min        minimum of n=60 values, B=999: no replicate is below the
                    estimate, so R's bca.ci stops ('w' infinite) while scipy's
                    z0 is finite (ties split)
  estimate_below    replicates of a mean (n=40, B=30) with the estimate given
                    as data below every replicate: scipy's BCa is NaN (z0 =
                    -inf, DegenerateDataWarning), R's bca.ci stops; few
                    replicates, so extreme order statistics are used at 0.95
  all_equal         every row equal: all replicates and jackknife values equal
                    the estimate. scipy gives the point interval for
                    percentile/basic and NaN for BCa (a = 0/0); R's bca.ci
                    stops (w = qnorm(0) is infinite). The Swift code returns
                    the point interval for every method, flagged.
Null in the JSON means NaN (scipy) or an R error (NA).

Usage: python3 make_ci_fixtures.py   (needs numpy, scipy >= 1.11, Rscript with boot)
Deterministic: rerunning gives a byte-identical file.
"""
import json
import os
import subprocess
import tempfile
import warnings

import numpy as np
import scipy
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "resampling_ci.json")
LEVELS = [0.95, 0.9]
SEED = 20240607


def soft(m, lam):
    return np.sign(m) * np.maximum(np.abs(m) - lam, 0.0)


def case_data(rng):
    """Yield (name, description, data (n x d array), statistic(rows) -> float, B, estimate override)."""
    x = rng.lognormal(0.0, 1.0, size=80)
    yield "mean_lognormal", "mean of 80 lognormal values", x[:, None], lambda d: float(np.mean(d[:, 0])), 1999, None

    xc = rng.integers(1, 4, size=150).astype(float)
    yc = (rng.random(150) < 0.2 + 0.15 * xc).astype(float)
    yield ("ratio_cells", "sum(x*y)/sum(x) on 150 rows in 6 (x, y) cells", np.column_stack([xc, yc]),
           lambda d: float(np.sum(d[:, 0] * d[:, 1]) / np.sum(d[:, 0])), 999, None)

    xm = rng.integers(0, 25, size=61).astype(float)
    yield "median_ties", "median of 61 integers in 0..24", xm[:, None], lambda d: float(np.median(d[:, 0])), 999, None

    xl = rng.normal(0.25, 1.0, size=100)
    lam = 0.2
    yield ("lasso_like", "soft-threshold(mean, 0.2) of 100 N(0.25, 1) values", xl[:, None],
           lambda d, lam=lam: float(soft(np.mean(d[:, 0]), lam)), 1999, None)

    # A centred sample with one outlier: the estimate is exactly 0, removing the
    # outlier moves the mean beyond the threshold (jackknife not constant), and
    # most replicates are exactly 0.
    xz = rng.normal(0.0, 1.0, size=29)
    xz = np.append(xz - np.mean(xz) - 8.0 / 30.0, 8.0)
    lamz = 0.25
    yield ("lasso_zero", "soft-threshold(mean, 0.25) of 29 centred N(0,1) values and one outlier 8", xz[:, None],
           lambda d, lam=lamz: float(soft(np.mean(d[:, 0]), lam)), 999, None)

    xs = rng.normal(0.0, 1.0, size=60)
    yield "sample_min", "minimum of 60 N(0,1) values", xs[:, None], lambda d: float(np.min(d[:, 0])), 999, None

    xb = rng.lognormal(0.0, 0.5, size=40)
    yield ("estimate_below", "mean of 40 lognormal values, B=30, estimate given as min(replicates) - 0.1",
           xb[:, None], lambda d: float(np.mean(d[:, 0])), 30, "below")

    xe = np.full(50, 2.5)
    yield "all_equal", "mean of 50 rows all equal to 2.5", xe[:, None], lambda d: float(np.mean(d[:, 0])), 999, None


def scipy_intervals(t0, reps, jack, level, method):
    n = len(jack)

    def statistic(idx):
        idx = np.asarray(idx)
        if idx.shape[-1] == n:
            return t0
        assert idx.shape[-1] == n - 1
        missing = n * (n - 1) // 2 - int(np.sum(idx))
        return jack[missing]

    res = stats.bootstrap((np.arange(n),), statistic, vectorized=False, paired=True,
                          n_resamples=0, bootstrap_result=_Result(reps),
                          confidence_level=level, method=method)
    ci = res.confidence_interval
    return [_num(ci.low), _num(ci.high)]


class _Result:
    def __init__(self, reps):
        self.bootstrap_distribution = reps


def _num(v):
    v = float(v)
    return None if np.isnan(v) else v


def main():
    rng = np.random.default_rng(SEED)
    cases = []
    raw = []
    for name, desc, data, stat, B, override in case_data(rng):
        n = data.shape[0]
        t0 = stat(data)
        idx = rng.integers(0, n, size=(B, n))
        reps = np.array([stat(data[row]) for row in idx])
        jack = np.array([stat(np.delete(data, i, axis=0)) for i in range(n)])
        if override == "below":
            t0 = float(np.min(reps) - 0.1)
        u = (n - 1) * (np.mean(jack) - jack)
        den = np.sum(u ** 2)
        acceleration = float(np.sum(u ** 3) / (6.0 * den ** 1.5)) if den > 0 else None
        values, counts = np.unique(jack, return_counts=True)
        pct = (np.count_nonzero(reps < t0) + np.count_nonzero(reps <= t0)) / (2 * B)
        z0 = float(stats.norm.ppf(pct)) if 0 < pct < 1 else None
        case = {
            "name": name,
            "description": desc,
            "rows": n,
            "estimate": t0,
            "replicates": [float(v) for v in reps],
            "jackknife": {"values": [float(v) for v in values], "counts": [int(c) for c in counts]},
            "acceleration": acceleration,
            "z0": z0,
            "summary": {
                "mean": float(np.mean(reps)),
                "median": float(np.quantile(reps, 0.5)),
                "standardError": float(np.std(reps, ddof=1)),
                "zeroFraction": float(np.mean(reps == 0)),
                "positiveFraction": float(np.mean(reps > 0)),
                "negativeFraction": float(np.mean(reps < 0)),
            },
            "intervals": [],
        }
        for level in LEVELS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sc = {m: scipy_intervals(t0, reps, jack, level, m) for m in ("percentile", "basic", "BCa")}
            case["intervals"].append({"level": level,
                                      "scipy": {"percentile": sc["percentile"], "basic": sc["basic"],
                                                "bca": sc["BCa"]}})
        cases.append(case)
        raw.append((name, t0, reps, u))

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "levels.txt"), "w") as f:
            f.write(" ".join(repr(v) for v in LEVELS) + "\n")
        for name, t0, reps, u in raw:
            with open(os.path.join(tmp, f"{name}.case"), "w") as f:
                f.write(repr(float(t0)) + "\n")
                f.write(" ".join(repr(float(v)) for v in reps) + "\n")
                f.write(" ".join(repr(float(v)) for v in u) + "\n")
        out = os.path.join(tmp, "r_out.txt")
        subprocess.run(["Rscript", os.path.join(HERE, "r_boot_ci.R"), tmp, out], check=True)
        r = {}
        for line in open(out):
            name, level, method, lo, hi = line.split()
            r[(name, float(level), method)] = [None if lo == "NA" else float(lo), None if hi == "NA" else float(hi)]
        r_version = subprocess.run(["Rscript", "-e", "cat(as.character(packageVersion('boot')), R.version$major, R.version$minor)"],
                                   check=True, capture_output=True, text=True).stdout.split()
    for case in cases:
        for iv in case["intervals"]:
            iv["r"] = {m: r[(case["name"], iv["level"], m)] for m in ("normal", "percentile", "basic", "bca")}

    doc = {
        "generator": "scripts/reference/resampling/make_ci_fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "boot": r_version[0],
                     "R": r_version[1] + "." + r_version[2]},
        "note": ("scipy: stats.bootstrap(bootstrap_result=..., n_resamples=0, paired=True); "
                 "r: boot::norm.ci, boot:::perc.ci, boot:::basic.ci, boot:::bca.ci(L = jackknife influence). "
                 "null = NaN (scipy) or an error (R)."),
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

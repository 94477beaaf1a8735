"""Replays lassoboot's bootstrap intervals with scipy.stats.bootstrap and R boot.

Writes Tests/Fixtures/run_replay_expected.json, read by
Tests/AnalysisTests/ReplayReferenceTests.swift.

  1. `lassoboot run scripts/reference/run/replay.json --out TMP` (release build), on the committed
     data Tests/Fixtures/run_replay_data.csv (made by make_replay_data.py).
  2. From the exported files only (no refits, no lassoboot numbers other than the estimate):
       report.json     the full-data estimate t0 of each coefficient (`coef`) and the chosen alpha;
       replicates.csv  the bootstrap replicates (valid resamples, resample order);
       jackknife.csv   one delete-one fit per jackknife cell (outcome,cell,rows,const,...);
       rows.csv        the jackknife cell of every kept row, per outcome.
     The row-level jackknife is rebuilt (row i deleted -> the fit of its cell), and checked
     against the `rows` column of jackknife.csv.
  3. Per outcome and coefficient:
       percentile, basic, BCa: scipy.stats.bootstrap((arange(n),), statistic, paired=True,
           n_resamples=0, bootstrap_result=<the replicates>, confidence_level=LEVEL, method=...),
           where statistic(idx) is t0 on the full index vector and, on a delete-one index vector,
           the jackknife value of the deleted row's cell (so scipy's own jackknife gives the
           acceleration from the same delete-one fits);
       normal: R boot::norm.ci(t0 = t0, t = replicates, conf = LEVEL) (rboot_normal.R).
     NaN from scipy (degenerate BCa) is written as null with the reason. When the jackknife is
     constant (a = 0/0 in scipy; lassoboot takes a = 0 and flags `jackknifeDegenerate`),
     `bcaZeroAcceleration` holds scipy's BCa with a = 0 (a symmetric stand-in jackknife).

Usage: python3 scripts/reference/run/replay_scipy.py [--lassoboot PATH] [--run-dir DIR]
Needs numpy, scipy >= 1.11, Rscript with boot (Debian: r-cran-boot). Deterministic.
"""
import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import scipy
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SPEC = "scripts/reference/run/replay.json"
OUT = "Tests/Fixtures/run_replay_expected.json"


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class _Result:
    """What scipy.stats.bootstrap reads from `bootstrap_result`."""

    def __init__(self, replicates):
        self.bootstrap_distribution = replicates


def scipy_interval(t0, replicates, row_jackknife, level, method):
    n = len(row_jackknife)

    def statistic(idx):
        idx = np.asarray(idx)
        if idx.shape[-1] == n:
            assert np.array_equal(idx, np.arange(n))
            return t0
        assert idx.shape[-1] == n - 1
        return row_jackknife[n * (n - 1) // 2 - int(np.sum(idx))]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap((np.arange(n),), statistic, vectorized=False, paired=True, n_resamples=0,
                              bootstrap_result=_Result(replicates), confidence_level=level, method=method)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return [None if np.isnan(lo) else lo, None if np.isnan(hi) else hi]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lassoboot", help="lassoboot binary (default: build the release product)")
    ap.add_argument("--run-dir", help="existing `lassoboot run --out` directory of the replay spec (skips the run)")
    args = ap.parse_args()
    spec_path = os.path.join(REPO, SPEC)
    with open(spec_path) as f:
        spec = json.load(f)
    level = spec["bootstrap"]["level"]
    data_path = os.path.normpath(os.path.join(os.path.dirname(spec_path), spec["data"]["csv"]))

    with tempfile.TemporaryDirectory(prefix="lassoboot-replay-") as tmp:
        run_dir = args.run_dir
        version = "(given run dir)"
        if not run_dir:
            exe = args.lassoboot
            if not exe:
                subprocess.run(["swift", "build", "-c", "release", "--product", "lassoboot"], cwd=REPO, check=True,
                               stdout=sys.stderr)
                exe = os.path.join(REPO, ".build", "release", "lassoboot")
            run_dir = os.path.join(tmp, "run")
            subprocess.run([exe, "run", spec_path, "--out", run_dir, "--quiet", "--format", "json"], check=True,
                           stdout=subprocess.DEVNULL)
            version = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(run_dir, "report.json")) as f:
            report = json.load(f)
        with open(os.path.join(run_dir, "replicates.csv")) as f:
            rep_rows = list(csv.reader(f))
        with open(os.path.join(run_dir, "jackknife.csv")) as f:
            jack_rows = list(csv.reader(f))
        with open(os.path.join(run_dir, "rows.csv")) as f:
            row_rows = list(csv.reader(f))

        names = rep_rows[0][2:]
        assert jack_rows[0][3:] == names
        n = len(row_rows) - 1
        row_header = row_rows[0]
        outcomes = []
        normal_in = []
        for o in report["outcomes"]:
            name = o["name"]
            reps = np.array([[float(v) for v in r[2:]] for r in rep_rows[1:] if r[0] == name])
            resample_ids = [int(r[1]) for r in rep_rows[1:] if r[0] == name]
            assert resample_ids == sorted(resample_ids) and len(reps) == o["resamples"]
            jack = {int(r[1]): (int(r[2]), [float(v) for v in r[3:]]) for r in jack_rows[1:] if r[0] == name}
            column = row_header.index(name)
            cell_of_row = [int(r[column]) for r in row_rows[1:]]
            counts = np.bincount(cell_of_row, minlength=len(jack))
            assert all(counts[c] == jack[c][0] for c in jack), "jackknife.csv rows disagree with rows.csv"
            assert [f["name"] for f in o["features"]] == names
            features = []
            for j, fname in enumerate(names):
                t0 = float(o["features"][j]["coef"])  # JSON 0 parses as int; scipy would take its dtype
                t = reps[:, j]
                row_jackknife = np.array([jack[c][1][j] for c in cell_of_row])
                u = (n - 1) * (np.mean(row_jackknife) - row_jackknife)
                s2 = float(np.sum(u ** 2))
                acceleration = float(np.sum(u ** 3) / (6 * s2 ** 1.5)) if s2 > 0 else None
                p = (np.count_nonzero(t < t0) + np.count_nonzero(t <= t0)) / (2 * len(t))
                intervals = {m: scipy_interval(t0, t, row_jackknife, level, sm)
                             for m, sm in (("percentile", "percentile"), ("basic", "basic"), ("bca", "BCa"))}
                notes = []
                if intervals["bca"][0] is None:
                    if acceleration is None:
                        notes.append("bca: scipy NaN, the jackknife values are all equal (a = 0/0); "
                                     "bcaZeroAcceleration is scipy's BCa with a = 0, what lassoboot reports (flagged)")
                        # A stand-in jackknife with sum u^3 = 0 and sum u^2 > 0: t0 + 1 and t0 - 1 for
                        # two rows, t0 for the rest, so scipy's acceleration is 0 (up to rounding, ~1e-17).
                        stand_in = np.full(n, t0)
                        stand_in[0], stand_in[1] = t0 + 1, t0 - 1
                        intervals["bcaZeroAcceleration"] = scipy_interval(t0, t, stand_in, level, "BCa")
                    elif not 0 < p < 1:
                        notes.append("bca: scipy NaN, no replicate on one side of the estimate (z0 infinite)")
                    else:
                        notes.append("bca: scipy NaN")
                features.append({
                    "name": fname,
                    "coef": t0,
                    "replicateMean": float(np.mean(t)),
                    "zeroFraction": float(np.mean(t == 0)),
                    "jackknifeDistinct": int(len(np.unique(row_jackknife))),
                    "acceleration": acceleration,
                    "z0": float(stats.norm.ppf(p)) if 0 < p < 1 else None,
                    "intervals": intervals,
                    "notes": notes,
                })
                normal_in.append(f"{name}|{fname}\t{float(t0).hex()}\t{' '.join(float(v).hex() for v in t)}")
            outcomes.append({"name": name, "alpha": o["alpha"], "resamples": o["resamples"],
                             "failedResamples": o["failedResamples"], "jackknifeCells": len(jack), "features": features})

        tsv_in, tsv_out = os.path.join(tmp, "normal_in.tsv"), os.path.join(tmp, "normal_out.tsv")
        with open(tsv_in, "w") as f:
            f.write("\n".join(normal_in) + "\n")
        subprocess.run(["Rscript", os.path.join(HERE, "rboot_normal.R"), tsv_in, repr(level), tsv_out], check=True)
        normal = {}
        r_versions = None
        with open(tsv_out) as f:
            for line in f:
                key, lo, hi = line.rstrip("\n").split("\t")
                if key == "#versions":
                    r_versions = (lo, hi)
                else:
                    normal[key] = [float(lo), float(hi)]
    for o in outcomes:
        for feat in o["features"]:
            feat["intervals"]["normal"] = normal[f"{o['name']}|{feat['name']}"]

    fixture = {
        "description": ("Bootstrap intervals recomputed from `lassoboot run`'s exported replicates.csv, jackknife.csv "
                        "and rows.csv and report.json's estimates: percentile, basic and BCa by scipy.stats.bootstrap "
                        "(paired=True, n_resamples=0, bootstrap_result=replicates, the row-level delete-one jackknife "
                        "rebuilt from the cells), normal by R boot::norm.ci(t0, t). null = scipy NaN (see notes)."),
        "generator": "scripts/reference/run/replay_scipy.py + rboot_normal.R",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "boot": r_versions[0], "R": r_versions[1],
                     "lassoboot": version},
        "spec": SPEC,
        "specSha256": sha256_file(spec_path),
        "dataHash": sha256_file(data_path),
        "seed": report["seed"],
        "rows": n,
        "level": level,
        "outcomes": outcomes,
    }
    out = os.path.join(REPO, OUT)
    with open(out, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")
    for o in outcomes:
        print(f"  {o['name']}: alpha {o['alpha']!r}, {o['resamples']} resamples, {o['jackknifeCells']} jackknife cells")
        for feat in o["features"]:
            iv = feat["intervals"]
            print(f"    {feat['name']:>8}: coef {feat['coef']: .4f}  zero {feat['zeroFraction']:.2f}  "
                  + "  ".join(f"{m} {iv[m]}" for m in ("percentile", "bca")) + ("  " + "; ".join(feat["notes"]) if feat["notes"] else ""))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Print the side-by-side table of Benchmarks/run.sh from its JSON lines.

Usage: report.py RESULTS_DIR   (files written by run.sh: csv.json, and for CTDC
lb_*.json, glmnet_*.json, statsmodels.json; a missing file is skipped)
"""
import json
import os
import sys

d = sys.argv[1]


def load(name):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        return json.loads(f.read().strip().splitlines()[-1])


# (problem, peer file, lassoboot file it is compared with)
ROWS = [
    ("a=0.1 pen.icpt", "lb_pen_tight", None),
    ("a=0.1 pen.icpt", "statsmodels", "lb_pen_tight"),
    ("a=0.1", "lb_free_tight", None),
    ("a=0.1", "glmnet_free_tight", "lb_free_tight"),
    ("a=0.1", "lb_free_loose", None),
    ("a=0.1", "glmnet_free_default", "lb_free_loose"),
    ("a=.01amax", "lb_sparse_tight", None),
    ("a=.01amax", "glmnet_sparse_tight", "lb_sparse_tight"),
    ("a=.01amax", "lb_sparse_loose", None),
    ("a=.01amax", "glmnet_sparse_default", "lb_sparse_loose"),
]


def setting(r):
    if r["tool"] == "lassoboot":
        return "tol=%g" % r["tolerance"]
    if r["tool"] == "glmnet":
        return "thresh=%g" % r["thresh"]
    return r.get("method", "")


ratios = {}
lines = []
header = "%-11s %-15s %-12s %13s %10s %20s %9s %9s" % (
    "tool", "problem", "setting", "s/fit", "KKT/n", "objective", "max|db|", "ratio")
for problem, name, base in ROWS:
    r = load(name)
    if r is None:
        continue
    ref = load(base) if base else None
    if ref is not None:
        ratio = r["medianSeconds"] / ref["medianSeconds"]
        ratios.setdefault(r["tool"], []).append((problem + " " + setting(r), ratio))
        ratio_s = "%8.0fx" % ratio
        db = max(abs(a - b) for a, b in zip(r["coefficients"], ref["coefficients"]))
        db_s = "%9.1e" % db
    else:
        ratio_s, db_s = "%9s" % "1", "%9s" % "-"
    lines.append("%-11s %-15s %-12s %13.6f %10.1e %20.6f %s %s" % (
        r["tool"], problem, setting(r), r["medianSeconds"], r["kktViolation"], r["objective"], db_s, ratio_s))

if lines:
    first = load("lb_free_tight") or load("lb_pen_tight")
    print("CTDC: %d rows, %d features, %d patterns; outcome isForcedLabour; alpha_max = %.6f (sum scale, free intercept)"
          % (first["rows"], first["features"], first["patterns"], first["alphaMax"]))
    sparse = load("lb_sparse_tight")
    if sparse:
        print("a=.01amax is alpha = %.10g; 'pen.icpt' = intercept penalized too (statsmodels' scalar alpha)" % sparse["alpha"])
    print("lassoboot: median of %d fits; CSV read %.3f s, design compression %.4f s (not in s/fit)"
          % (first["repeat"], first["csvReadSeconds"], first["designSeconds"]))
    print("ratio = peer s/fit / lassoboot s/fit at the same problem and comparable KKT/n; max|db| = largest coefficient difference to that lassoboot fit")
    print()
    print(header)
    print("-" * len(header))
    for l in lines:
        print(l)
    print()

c = load("csv")
if c:
    print("CSV read (Tabular): %d rows x %d cols, %.1f MB: median %.3f s (min %.3f) = %.2f M rows/s, %.0f MB/s"
          % (c["rows"], c["cols"], c["bytes"] / 1e6, c["medianSeconds"], c["minSeconds"],
             c["rowsPerSecond"] / 1e6, c["mbPerSecond"]))
    print()

print("Targets:")
for tool, target in (("glmnet", 20), ("statsmodels", 1000)):
    for label, ratio in ratios.get(tool, []):
        print("  %-4s %-11s %-34s %7.0fx (target >= %dx)" % ("MET" if ratio >= target else "MISS", tool, label, ratio, target))
if c:
    print("  %-4s CSV 1M x 20 read %.3f s (target well under 1 s, taken as <= 0.5 s)"
          % ("MET" if c["medianSeconds"] <= 0.5 else "MISS", c["medianSeconds"]))

"""Prints the side-by-side table of Benchmarks/analysis.sh from its raw files (runs.jsonl, R.json)."""
import json
import os
import statistics
import sys

out = sys.argv[1]
runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
r = json.load(open(os.path.join(out, "R.json")))
by = {}
for x in runs:
    by.setdefault(x["label"].split(".")[0], []).append(x)


def med(label):
    xs = by.get(label, [])
    if not xs:
        return None
    wall = statistics.median(x["wall"] for x in xs)
    cpu = statistics.median(x["user"] + x["sys"] for x in xs)
    rss = max(x["maxRssKB"] for x in xs) / 1024
    return wall, cpu, rss, len(xs), min(x["wall"] for x in xs)


rows = []
r_total = r["totalSecondsTarget"]
r_cpu = r["totalCPUSecondsTarget"]
full, perc = med("full"), med("perc")


def row(name, wall, cpu, rss, note, ratio=True, best=None):
    rows.append((name, f"{wall:.2f}", "-" if best is None else f"{best:.2f}", f"{cpu:.2f}", "-" if rss is None else f"{rss:.0f}",
                 f"{r_total / wall:.0f}x" if ratio else "", f"{r_cpu / cpu:.0f}x" if ratio else "", note))


if full:
    row("lassoboot run (all 4 CI methods)", full[0], full[1], full[2], f"median of {full[3]}; CV + B=1999 + BCa jackknife + report", best=full[4])
if perc:
    row("lassoboot run, percentile only", perc[0], perc[1], perc[2], f"median of {perc[3]}; CV + B=1999 (same work as the R column)", best=perc[4])
nested = sorted(by.get("nested", []), key=lambda x: x["B"])
nested_wall = None
if nested:
    if nested[-1]["B"] >= 1999:
        n = nested[-1]
        nested_wall = n["wall"]
        row("lassoboot run, nested: true", n["wall"], n["user"] + n["sys"], n["maxRssKB"] / 1024,
            "B=1999, 5-fold CV x 30 alphas inside every resample", ratio=False)
    else:
        a, b = nested[0], nested[-1]
        slope = (b["wall"] - a["wall"]) / (b["B"] - a["B"])
        wall = a["wall"] + slope * (1999 - a["B"])
        cslope = (b["user"] + b["sys"] - a["user"] - a["sys"]) / (b["B"] - a["B"])
        cpu = a["user"] + a["sys"] + cslope * (1999 - a["B"])
        nested_wall = wall
        row("lassoboot run, nested: true", wall, cpu, b["maxRssKB"] / 1024,
            f"EXTRAPOLATED to B=1999 from B={a['B']} ({a['wall']:.1f} s) and B={b['B']} ({b['wall']:.1f} s)", ratio=False)
row(f"R {r['tool'].replace('R ', '')}, {r['ncpus']} cores", r_total, r_cpu, None,
    f"EXTRAPOLATED: cv.glmnet {r['cvSeconds']:.1f} s + boot {r['bootSecondsTarget']:.1f} s (B={r['b1']},{r['b2']} -> 1999)",
    ratio=False)

head = ("tool", "wall s", "best wall", "CPU s", "peak RSS MB", "R/this wall", "R/this CPU")
if nested_wall is not None:
    # What nested CV would cost in R: one cv.glmnet per outcome per resample, spread over the cores.
    nested_r = 1999 * r["cvSeconds"] / r["ncpus"]
    rows.append((f"R nested (estimate)", f"{nested_r:.0f}", "-", "-", "-", f"{nested_r / nested_wall:.0f}x (vs nested)", "",
                 f"ESTIMATE: 1999 x cv.glmnet ({r['cvSeconds']:.1f} s for both outcomes) / {r['ncpus']} cores"))
w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
print()
print("CTDC North America, both outcomes, 5-fold CV x 30 alphas, B = 1999")
print("(wall = median wall clock; best wall = fastest run; CPU = user + sys of the process, R's forked workers included;")
print(" on a busy machine compare CPU: an idle 2-core machine runs the 2-thread jobs in about CPU / 2)")
print("  ".join(h.ljust(w[0]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(head)) + "  notes")
for x in rows:
    print("  ".join(v.ljust(w[0]) if i == 0 else v.rjust(w[i]) for i, v in enumerate(x[:len(head)])) + "  " + x[len(head)])

print()
print("Peak RSS against B (full job, all 4 CI methods)")
print(f"{'B':>6}  {'wall s':>7}  {'peak RSS MB':>11}")
mem = [(x["B"], x["wall"], x["maxRssKB"] / 1024) for x in runs if x["label"].startswith(("rss.", "full.1"))]
for b, wall, rss in sorted(mem):
    print(f"{b:>6}  {wall:>7.2f}  {rss:>11.1f}")

print()
print("R detail per outcome (glmnet thresh 1e-7 default; lassoboot certifies KKT <= 1e-10):")
for o, d in r["outcomes"].items():
    print(f"  {o}: cv.glmnet {d['cvSeconds']:.1f} s, lambda.min {d['lambdaMin']:.3g} (sum scale {d['alphaSumScale']:.3g}), "
          f"boot B={r['b1']}: {d['bootSecondsB1']:.1f} s, B={r['b2']}: {d['bootSecondsB2']:.1f} s, "
          f"{d['secondsPerResample'] * 1000:.0f} ms/resample -> {d['bootSecondsTarget']:.0f} s at 1999")
rep = os.path.join(out, "full-report", "report.json")
if os.path.exists(rep):
    j = json.load(open(rep))
    print("lassoboot chosen alpha (sum scale): " + ", ".join(f"{o['name']} {o['alpha']:.4g}" for o in j["outcomes"]))
target = []
if perc:
    target.append(f"percentile-only speed-up {r_total / perc[0]:.0f}x wall, {r_cpu / perc[1]:.0f}x CPU (target >= 100x)")
if full:
    target.append(f"full job {full[0]:.1f} s (target: a few seconds)")
if nested_wall is not None:
    target.append(f"nested {nested_wall:.1f} s (target < 60 s)")
print("Targets: " + "; ".join(target))

#!/usr/bin/env bash
# Wide one-hot data through `lassoboot run` and `lassoboot predict` (issue 12, sparse designs):
#   bash Benchmarks/onehot-run.sh
#
# Makes ROWS rows with one text column of LEVELS power-law levels and two numeric features
# (seeded), then runs the same job with "storage": "sparse" and "dense" and prints, side by side,
# wall time and peak RSS (GNU time) and how far the two reports are apart (largest coefficient
# and percentile-endpoint difference, selection frequencies that differ). Then `predict` with the
# sparse run's model (bootstrap replicates included) on the same rows.
#
# Environment:
#   LB         the lassoboot binary (default: a release build of this checkout)
#   ROWS       rows (default 20000)
#   LEVELS     levels of the one-hot column (default 3000; about 2,400 occur)
#   RESAMPLES  bootstrap resamples (default 100)
#   THREADS    threads (default 2)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"
ROWS=${ROWS:-20000}
LEVELS=${LEVELS:-3000}
RESAMPLES=${RESAMPLES:-100}
THREADS=${THREADS:-2}
if [ -z "${LB:-}" ]; then
    swift build -c release --product lassoboot >/dev/null
    LB="$REPO/.build/release/lassoboot"
fi
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install -y time)" >&2; exit 1; }
OUT=$(mktemp -d "${TMPDIR:-/tmp}/lassoboot-onehot-run.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

python3 - "$OUT/data.csv" "$ROWS" "$LEVELS" <<'EOF'
import sys
import numpy as np
path, n, levels = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(5)
# Level l with probability proportional to 1 / (l + 1).
level = np.minimum(levels - 1, (np.power(levels + 1.0, rng.random(n)) - 1).astype(int))
x1 = rng.uniform(-2, 2, n)
x2 = (rng.random(n) < 0.3).astype(int)
eta = -0.5 + 0.8 * x1 - 0.6 * x2 + np.where(level % 7 == 1, 1.2, 0.0)
y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
with open(path, "w") as f:
    f.write("y,g,x1,x2\n")
    for i in range(n):
        f.write(f"{y[i]},L{level[i]},{x1[i]:.4f},{x2[i]}\n")
EOF

for storage in sparse dense; do
    cat > "$OUT/$storage.json" <<EOF
{"name": "one-hot $storage", "data": {"csv": "$OUT/data.csv", "storage": "$storage"}, "outcomes": ["y"],
 "features": [{"name": "g", "encoding": {"type": "onehot", "reference": "L0"}}, "x1", "x2"],
 "alphas": {"count": 10, "minRatio": 0.05}, "cv": {"folds": 5},
 "bootstrap": {"resamples": $RESAMPLES, "methods": ["percentile"]}, "intervals": "penalized", "seed": 1}
EOF
    /usr/bin/time -f "%e %M" -o "$OUT/$storage.time" "$LB" run "$OUT/$storage.json" --threads "$THREADS" --quiet --out "$OUT/$storage" >/dev/null
done
/usr/bin/time -f "%e %M" -o "$OUT/predict.time" "$LB" predict --model "$OUT/sparse/model.json" --data "$OUT/data.csv" --out "$OUT/predict.csv" >/dev/null 2>&1

echo "# lassoboot run, one-hot design: $ROWS rows, $LEVELS levels drawn, B = $RESAMPLES, $THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
def timing(name):
    seconds, kb = open(f"{out}/{name}.time").read().split()
    return float(seconds), int(kb) / 1024
a = json.load(open(f"{out}/sparse/report.json"))["outcomes"][0]
b = json.load(open(f"{out}/dense/report.json"))["outcomes"][0]
coef = max(abs(x["coef"] - y["coef"]) for x, y in zip(a["features"], b["features"]))
ends = max(abs((x["ci"]["percentile"].get(k) or 0) - (y["ci"]["percentile"].get(k) or 0))
           for x, y in zip(a["features"], b["features"]) if "percentile" in x["ci"] for k in ("low", "high"))
freq = sum(1 for x, y in zip(a["features"], b["features"]) if x.get("selectionFrequency") != y.get("selectionFrequency"))
(ts, ms), (td, md) = timing("sparse"), timing("dense")
print(f"features (encoded)        {len(a['features']) - 1}")
print(f"                          {'sparse':>10} {'dense':>10} {'dense/sparse':>13}")
print(f"run wall time (s)         {ts:10.2f} {td:10.2f} {td / ts:12.1f}x")
print(f"run peak RSS (MB)         {ms:10.0f} {md:10.0f} {md / ms:12.1f}x")
print(f"largest coefficient difference  {coef:.2e};  percentile endpoints {ends:.2e};  selection frequencies that differ: {freq}")
tp, mp = timing("predict")
print(f"predict with the sparse run's model.json (bootstrap intervals), all rows: {tp:.2f} s, {mp:.0f} MB peak")
EOF

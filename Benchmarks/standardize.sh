#!/usr/bin/env bash
# Issue 11's benchmark:  bash Benchmarks/standardize.sh
#
# The breast cancer table (Tests/Fixtures/breast_cancer.csv: 569 rows, 30 continuous features
# on raw units from 0.001 to 2500) through `lassoboot run --data` (10-fold CV, B = 1999,
# debiased intervals, 2 threads), three ways:
#   raw + standardize   the raw file, penalty per SD (the default)
#   z-scored            the same table z-scored beforehand, --no-standardize (what a
#                       scikit-learn user does with StandardScaler)
#   raw, no standardize the raw file, penalty per raw unit
# Each is run REPEAT times (default 5, interleaved); the medians, the ratio raw+std / z-scored
# (goal: <= 1.5) and, beside them, R glmnet's cv.glmnet (10 folds, standardize=TRUE) on the same
# table when R glmnet is installed (a reference for one path, not a bootstrap).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"
REPEAT=${REPEAT:-5}
THREADS=${THREADS:-2}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/lassoboot-std.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
echo "== building lassoboot (release)" >&2
swift build -c release --product lassoboot >&2
BIN="$(swift build -c release --show-bin-path)/lassoboot"
RAW=Tests/Fixtures/breast_cancer.csv
# z-score every feature (population SD, as the standardization uses), plain Python.
python3 - "$RAW" "$OUT/z.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0][1:], [r[1:] for r in rows[1:]]
y = head.index("malignant")
cols = [j for j in range(len(head)) if j != y]
n = len(body)
stats = {}
for j in cols:
    v = [float(r[j]) for r in body]
    m = sum(v) / n
    stats[j] = (m, (sum((x - m) ** 2 for x in v) / n) ** 0.5)
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(head)
    for r in body:
        w.writerow([r[j] if j == y else repr((float(r[j]) - stats[j][0]) / stats[j][1]) for j in range(len(head))])
PY
time_run() {  # label, args...
    local label=$1; shift
    local start end
    start=$(date +%s%N)
    "$BIN" run "$@" --outcome malignant --threads "$THREADS" --quiet --format csv > "$OUT/$label.csv"
    end=$(date +%s%N)
    echo "$label $(( (end - start) / 1000000 ))" >> "$OUT/times"
}
for i in $(seq "$REPEAT"); do
    echo "== round $i of $REPEAT" >&2
    time_run raw_std --data "$RAW"
    time_run zscored --data "$OUT/z.csv" --no-standardize
    time_run raw_nostd --data "$RAW" --no-standardize
done
GLMNET=""
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'suppressMessages(library(glmnet))' >/dev/null 2>&1; then
    GLMNET=$(Rscript -e '
suppressMessages(library(glmnet)); df <- read.csv(commandArgs(TRUE)[1], check.names = FALSE)[, -1]
y <- as.numeric(df$malignant == "True"); x <- as.matrix(df[, setdiff(colnames(df), "malignant")])
set.seed(1); t <- system.time(for (i in 1:5) cv.glmnet(x, y, family = "binomial", nfolds = 10, standardize = TRUE))[["elapsed"]] / 5
cat(sprintf("%.3f", t))' "$RAW")
fi
python3 - "$OUT/times" "$GLMNET" <<'PY'
import sys, statistics
times = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    times.setdefault(k, []).append(float(v) / 1000)
med = {k: statistics.median(v) for k, v in times.items()}
print("breast cancer (569 x 30, raw units), lassoboot run --data: 10-fold CV, B = 1999, debiased, %s runs each, median s" % len(times["raw_std"]))
print(f"{'configuration':<40}{'median s':>10}{'runs':>30}")
for k, label in [("raw_std", "raw file, standardize (default)"), ("zscored", "z-scored file, --no-standardize"),
                 ("raw_nostd", "raw file, --no-standardize")]:
    print(f"{label:<40}{med[k]:>10.2f}{'  ' + ' '.join('%.2f' % x for x in times[k]):>30}")
ratio = med["raw_std"] / med["zscored"]
print(f"raw+standardize / z-scored: {ratio:.2f}x (goal <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'})")
if sys.argv[2]:
    print(f"R glmnet cv.glmnet(nfolds = 10, standardize = TRUE), one CV path, no bootstrap: {float(sys.argv[2]):.2f} s")
PY
# The same model either way: the chosen alpha (column 4 of report.csv) agrees.
echo "chosen alpha: raw+standardize $(sed -n 2p "$OUT/raw_std.csv" | cut -d, -f4), z-scored $(sed -n 2p "$OUT/zscored.csv" | cut -d, -f4), raw unstandardized $(sed -n 2p "$OUT/raw_nostd.csv" | cut -d, -f4)"

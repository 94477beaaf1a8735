#!/usr/bin/env bash
# The whole-analysis benchmark in one command:  bash Benchmarks/analysis.sh
#
# `lassoboot run jobs/ctdc-north-america.json` (5-fold CV x 30 alphas per outcome, then B = 1999
# paired bootstrap refits for both outcomes, BCa jackknife, all CI methods) against the same
# analysis written with R glmnet + boot (parallel = "multicore", same number of cores; its
# bootstrap is timed at two small B and extrapolated linearly to 1999).
#
# Measured (each with /usr/bin/time -v: wall clock, user + sys CPU, peak RSS):
#   full       the job as shipped (percentile, basic, normal, bca), B = 1999   [LB_REPEAT runs, median]
#   perc       a temp copy with methods ["percentile"] (no BCa jackknife)      [LB_REPEAT runs, median]
#   nested     a temp copy with nested: true (CV re-run inside every resample), B = NESTED_B
#   rss-B      the job at B = 200, 1999, 5000 (peak RSS must not grow with B)
#   R          Benchmarks/peers/glmnet_boot_bench.R
# then prints one side-by-side table.
#
# Environment: CTDC_CSV (default <repo>/../shared/data/madiforman_CTDC_analysis_final_data.csv),
# THREADS (default nproc), LB_REPEAT (default 3), NESTED_B (default 1999; smaller B is
# extrapolated linearly to 1999 from two runs at NESTED_B/2 and NESTED_B), R_B1 / R_B2 (default
# 20 / 100), BENCH_OUT (raw files; default a temp dir), PYTHON (default python3).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"
PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1
CTDC=${CTDC_CSV:-"$REPO/../shared/data/madiforman_CTDC_analysis_final_data.csv"}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lassoboot-analysis.XXXXXX")}
mkdir -p "$OUT"
THREADS=${THREADS:-$(nproc)}
LB_REPEAT=${LB_REPEAT:-3}
NESTED_B=${NESTED_B:-1999}
R_B1=${R_B1:-20}
R_B2=${R_B2:-100}
JOB="$REPO/jobs/ctdc-north-america.json"
log() { echo "== $*" >&2; }

if [ ! -f "$CTDC" ]; then
  echo "CTDC data not found at $CTDC (set CTDC_CSV): skipping the CTDC analysis benchmark (nothing to compare)." >&2
  echo "The coverage simulation needs no data: swift build -c release --product lassoboot-bench && \$(swift build -c release --show-bin-path)/lassoboot-bench coverage" >&2
  exit 0
fi
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install -y time)" >&2; exit 1; }

# ---- peers ---------------------------------------------------------------------------------
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
have_r() { command -v Rscript >/dev/null 2>&1 && Rscript -e 'suppressMessages({library(glmnet); library(boot)})' >/dev/null 2>&1; }
if ! have_r; then
  log "installing R glmnet and boot (apt)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y r-base-core r-cran-glmnet r-cran-boot \
    || { $SUDO apt-get update && $SUDO apt-get install -y r-base-core r-cran-glmnet r-cran-boot; }
fi

# ---- lassoboot ------------------------------------------------------------------------------
log "building lassoboot (release)"
swift build -c release --product lassoboot >&2
LB="$(swift build -c release --show-bin-path)/lassoboot"

# Temp copies of the job: absolute data path, then the variants.
"$PY" - "$JOB" "$CTDC" "$OUT" <<'EOF'
import json, os, sys
job, csv, out = sys.argv[1:4]
spec = json.load(open(job))
spec["data"]["csv"] = os.path.abspath(csv)
def write(name, **boot):
    s = json.loads(json.dumps(spec)); s["bootstrap"].update(boot)
    json.dump(s, open(os.path.join(out, name + ".json"), "w"), indent=1)
write("full")
write("perc", methods=["percentile"])
write("nested", nested=True)
EOF

# timed LABEL B ARGS...: runs ARGS under /usr/bin/time -v, appends one JSON line to runs.jsonl.
timed() {
  local label=$1 b=$2; shift 2
  local tv="$OUT/$label.time"
  /usr/bin/time -v -o "$tv" "$@" >"$OUT/$label.stdout" 2>"$OUT/$label.stderr" || { cat "$OUT/$label.stderr" >&2; exit 1; }
  "$PY" - "$tv" "$label" "$b" >>"$OUT/runs.jsonl" <<'EOF'
import json, sys
path, label, b = sys.argv[1:4]
v = {}
for line in open(path):
    k, _, x = line.strip().rpartition(": ")
    v[k] = x
w = v["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(w)))
print(json.dumps({"label": label, "B": int(b), "wall": wall, "user": float(v["User time (seconds)"]),
                  "sys": float(v["System time (seconds)"]), "maxRssKB": int(v["Maximum resident set size (kbytes)"])}))
EOF
}
: >"$OUT/runs.jsonl"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

RUN=("$LB" run --threads "$THREADS" --quiet)
log "warm-up (page cache)"
"${RUN[@]}" "$OUT/perc.json" --resamples 50 >/dev/null
for i in $(seq 1 "$LB_REPEAT"); do
  log "lassoboot full job, B = 1999 (run $i/$LB_REPEAT)"
  timed "full.$i" 1999 "${RUN[@]}" "$OUT/full.json" --out "$OUT/full-report"
  log "lassoboot percentile only, B = 1999 (run $i/$LB_REPEAT)"
  timed "perc.$i" 1999 "${RUN[@]}" "$OUT/perc.json"
done
for b in 200 5000; do
  log "lassoboot full job, B = $b (peak RSS)"
  timed "rss.$b" "$b" "${RUN[@]}" "$OUT/full.json" --resamples "$b"
done
if [ "$NESTED_B" -ge 1999 ]; then
  log "lassoboot nested: true, B = 1999 (CV inside every resample; slow)"
  timed "nested.1999" 1999 "${RUN[@]}" "$OUT/nested.json"
else
  half=$(( NESTED_B / 2 ))
  for b in "$half" "$NESTED_B"; do
    log "lassoboot nested: true, B = $b (extrapolated to 1999)"
    timed "nested.$b" "$b" "${RUN[@]}" "$OUT/nested.json" --resamples "$b"
  done
fi

log "R glmnet + boot: cv.glmnet, then boot at B = $R_B1 and $R_B2 on $THREADS cores (extrapolated to 1999)"
timed "R" 0 Rscript "$HERE/peers/glmnet_boot_bench.R" --data "$CTDC" --b1 "$R_B1" --b2 "$R_B2" --target 1999 --ncpus "$THREADS"
cp "$OUT/R.stdout" "$OUT/R.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $THREADS threads;" \
     "load average before $load_before, after $load_after; raw files in $OUT"
"$PY" "$HERE/analysis_report.py" "$OUT"

#!/usr/bin/env bash
# Memory benchmark (issue 14 item 10):  bash Benchmarks/memory.sh
#
# RUNS jobs (default 20), one after the other, through one coordinator and one worker on
# loopback; prints the resident set size (VmRSS from /proc/PID/status) of both after run 1 and
# after the last run, and their ratio (goal: within 1.2x). Each run gets its own seed, so each
# is a separate preparation, as different jobs would be. The job is the CTDC North America job
# when its data file exists, else jobs/demo.json.
#
# Environment:
#   LB         the lassoboot binary to measure (default: a release build of this checkout)
#   RUNS       runs (default 20)
#   RESAMPLES  bootstrap resamples per run (default 200: memory does not depend on it)
#   THREADS    worker threads (default 2)
#   JOB        job spec (default: CTDC if its data exists, else jobs/demo.json)
#   SETTLE     seconds to wait after a run before reading RSS (default 1)
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"
RUNS=${RUNS:-20}
RESAMPLES=${RESAMPLES:-200}
THREADS=${THREADS:-2}
SETTLE=${SETTLE:-1}
CTDC="$REPO/../shared/data/madiforman_CTDC_analysis_final_data.csv"
if [ -z "${JOB:-}" ]; then
    if [ -f "$CTDC" ]; then JOB=jobs/ctdc-north-america.json; else JOB=jobs/demo.json; fi
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/lassoboot-mem-bench.XXXXXX")
export LASSOBOOT_TOKEN="bench-$RANDOM$RANDOM"
log() { echo "== $*" >&2; }
die() { echo "memory.sh: $*" >&2; exit 1; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${LB:-}" ]; then
    log "building lassoboot (release)"
    swift build -c release --product lassoboot 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || die "build failed"
    LB=$(swift build -c release --show-bin-path)/lassoboot
fi
[ -x "$LB" ] || die "no binary at $LB"

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

"$LB" coordinator --port 0 --db "$OUT/c.db" >"$OUT/coordinator.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
for _ in $(seq 1 300); do grep -q "listening on" "$OUT/coordinator.log" && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$OUT/coordinator.log" | head -1)
[ -n "$URL" ] || die "coordinator did not start: $(cat "$OUT/coordinator.log")"
"$LB" worker --coordinator "$URL" --threads "$THREADS" --name bench >"$OUT/worker.log" 2>&1 &
WPID=$!; PIDS+=("$WPID")
log "job $JOB, $RUNS runs of $RESAMPLES resamples, coordinator $URL"
echo "coordinator at start: $(rss_mb "$CPID") MB, worker at start: $(rss_mb "$WPID") MB"

for i in $(seq 1 "$RUNS"); do
    "$LB" submit "$JOB" --coordinator "$URL" --resamples "$RESAMPLES" --seed "$i" --wait --format json >"$OUT/run$i.json" 2>"$OUT/submit$i.log" \
        || die "run $i failed: $(tail -3 "$OUT/submit$i.log")"
    sleep "$SETTLE"
    c=$(rss_mb "$CPID"); w=$(rss_mb "$WPID")
    echo "after run $i: coordinator $c MB, worker $w MB"
    [ "$i" = 1 ] && { C1=$c; W1=$w; }
done
awk -v c1="$C1" -v w1="$W1" -v c="$c" -v w="$w" -v n="$RUNS" 'BEGIN {
    printf "coordinator: %.1f MB after run 1, %.1f MB after run %d (%.2fx)\n", c1, c, n, c / c1
    printf "worker:      %.1f MB after run 1, %.1f MB after run %d (%.2fx)\n", w1, w, n, w / w1
}'

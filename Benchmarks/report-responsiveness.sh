#!/usr/bin/env bash
# Does the coordinator answer while it builds a report? A coordinator and one 2-thread worker on
# loopback run a wide job with debiased (Newton) intervals; `curl /v1/runs/ID` is timed every
# 0.2 s from submission to done. Prints the run's wall time, the three slowest status answers
# (seconds since submission, answer seconds, state, phase) and the report's line count; the
# report is left in $OUT/report.csv to compare builds.
#
#   bash Benchmarks/report-responsiveness.sh BIN DATA.csv [PORT] [OUT]
#   DATA: e.g. the first 20,001 lines of `make_data.py --n 100000 --p 1000 --kind continuous`
set -uo pipefail
BIN=$1; DATA=$2; PORT=${3:-18777}; D=${4:-/tmp/lassoboot-responsiveness}
command -v curl >/dev/null || { echo "needs curl" >&2; exit 1; }
rm -rf "$D"; mkdir -p "$D"
cp "$DATA" "$D/data.csv"
cat > "$D/job.json" <<JOB
{"name":"responsiveness","data":{"csv":"data.csv"},"outcomes":["y"],"features":"all",
 "penalty":{"scale":"mean","penalizeIntercept":false,"standardize":false},
 "alphas":{"count":5,"minRatio":0.05},"cv":{"folds":3,"metric":"auc","rule":"min","choose":"per-outcome"},
 "bootstrap":{"resamples":6,"methods":["percentile"],"level":0.95},"debiased":{"method":"newton"},"seed":1}
JOB
URL=http://127.0.0.1:$PORT
"$BIN" coordinator --host 127.0.0.1 --port "$PORT" --db "$D/c.db" --insecure-no-token --lease-seconds 30 > "$D/coord.log" 2>&1 &
CP=$!
trap 'kill $CP ${WP:-} 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q "listening" "$D/coord.log" && break; sleep 0.1; done
RUN=$("$BIN" submit "$D/job.json" --coordinator "$URL" 2>/dev/null | tail -n 1)
[[ "$RUN" == run-* ]] || { echo "submit failed: $RUN" >&2; exit 1; }
"$BIN" worker --coordinator "$URL" --threads 2 --idle-exit 5 > "$D/worker.log" 2>&1 &
WP=$!
T0=$(date +%s.%N)
while true; do
  t0=$(date +%s.%N)
  s=$(curl -s -m 600 "$URL/v1/runs/$RUN")
  t1=$(date +%s.%N)
  st=$(echo "$s" | grep -o '"state":"[a-z]*"' | head -n 1)
  ph=$(echo "$s" | grep -o '"phase":[0-9]' | head -n 1)
  echo "$(echo "$t0 - $T0" | bc) $(echo "$t1 - $t0" | bc) $st $ph" >> "$D/poll.txt"
  case "$st" in *done*|*failed*) break ;; esac
  sleep 0.2
done
echo "run $RUN: $(echo "$(date +%s.%N) - $T0" | bc) s; slowest status answers:"
sort -k2 -g -r "$D/poll.txt" | head -n 3
"$BIN" results "$RUN" --coordinator "$URL" --format csv > "$D/report.csv" 2>/dev/null
echo "report.csv: $(grep -c '' "$D/report.csv") lines in $D"

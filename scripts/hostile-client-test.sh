#!/usr/bin/env bash
# Hostile clients against a real coordinator with a run in progress (issue 14, items 3-8, 12).
#
# Starts `lassoboot coordinator` on loopback with a small --max-dataset-bytes and a short
# --idle-timeout, one worker, and submits the demo job; then, while the run goes on:
# (The demo job is used without its BCa method, whose jackknife dominates a debug build's time.)
#   - malformed POST /login bodies (bad percent-encoding, a backslash in next)      -> 400
#   - results keyed with negative or inverted indices                              -> 422
#   - a dataset over --max-dataset-bytes (announced and chunked; and via `submit`)   -> 413
#   - 2,000 idle connections plus 100 slowloris ones: /healthz keeps answering and
#     the coordinator closes them all within its idle timeout
#   - /openapi.json without a token -> 401; a lowercase `bearer` is accepted
#   - bad ports, bad --threads / --heartbeat-seconds, a worker and a client with a wrong token:
#     each exits nonzero (no crash, no hang) with one clear error line
# and a second coordinator under `ulimit -n 256` pushed past its descriptor limit stays up.
# Throughout, /healthz is polled; at the end the run must finish with report.csv byte-identical
# to `lassoboot run`'s on the same job. Every step has a timeout.
#
# Environment: LASSOBOOT_BIN (default: .build/debug/lassoboot as `swift build --build-tests`
# leaves it, else dist/lassoboot), HOSTILE_RESAMPLES (default 100), HOSTILE_IDLE (default 2000).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RESAMPLES=${HOSTILE_RESAMPLES:-100}
IDLE=${HOSTILE_IDLE:-2000}
IDLE_TIMEOUT=4
if [ -n "${LASSOBOOT_BIN:-}" ]; then BIN=$LASSOBOOT_BIN
elif [ -x .build/debug/lassoboot ]; then BIN=$ROOT/.build/debug/lassoboot
elif [ -x dist/lassoboot ]; then BIN=$ROOT/dist/lassoboot
else
    swift build --product lassoboot 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' | tail -n 5
    BIN=$ROOT/.build/debug/lassoboot
fi
[ -x "$BIN" ] || { echo "hostile-client: no lassoboot binary at $BIN" >&2; exit 1; }
command -v python3 >/dev/null || { echo "hostile-client: python3 is needed" >&2; exit 1; }
PY="python3 $ROOT/scripts/hostile_client.py"

WORK=$(mktemp -d /tmp/lassoboot-hostile.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "  ok: $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL: $*"; }
# Counts the helper's `ok:`/`FAIL:` lines (fed by process substitution: a pipe would count in a subshell).
tally() {
    local out
    out=$(cat)
    echo "$out" | sed 's/^/  /'
    passed=$((passed + $(grep -c '^ok: ' <<<"$out")))
    failed=$((failed + $(grep -c '^FAIL: ' <<<"$out")))
}
# Starts a coordinator with extra arguments; sets URL, CPID. The descriptor limit is the caller's.
start_coordinator() {
    local log=$1; shift
    "$BIN" coordinator --host 127.0.0.1 --port 0 --db "$WORK/$log.db" --token "$TOKEN" "$@" >"$WORK/$log.out" 2>"$WORK/$log.err" &
    CPID=$!
    PIDS+=("$CPID")
    URL=""
    for _ in $(seq 1 100); do
        URL=$(sed -n 's/^listening on //p' "$WORK/$log.out" | head -n 1)
        [ -n "$URL" ] && break
        kill -0 "$CPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$URL" ] || { cat "$WORK/$log.err" >&2; echo "hostile-client: the coordinator did not start" >&2; exit 1; }
}
alive() { kill -0 "$CPID" 2>/dev/null; }
# expect_refusal NAME PATTERN COMMAND...: exits nonzero (not a signal) within 20 s, and the first
# stderr line (argument errors) or the last (runtime refusals) matches PATTERN.
expect_refusal() {
    local name=$1 pattern=$2; shift 2
    local start=$SECONDS
    timeout -k 2 20 "$@" >"$WORK/cmd.out" 2>"$WORK/cmd.err"
    local rc=$?
    local first last
    first=$(grep -v '^$' "$WORK/cmd.err" | head -n 1)
    last=$(grep -v '^$' "$WORK/cmd.err" | tail -n 1)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "$name: hung (killed after 20 s)"
    elif [ "$rc" -eq 0 ]; then fail "$name: exit 0"
    elif [ "$rc" -ge 128 ]; then fail "$name: crashed (exit $rc): $last"
    elif grep -Eq -e "$pattern" <<<"$first" || grep -Eq -e "$pattern" <<<"$last"; then
        pass "$name: exit $rc in $((SECONDS - start)) s: ${first}"
    else fail "$name: exit $rc but no line matching /$pattern/: first '$first', last '$last'"
    fi
}

TOKEN=hostile-token-$RANDOM$RANDOM
DEMO_BYTES=$(wc -c <jobs/demo/demo.csv)
MAX_DATASET=$((DEMO_BYTES + 1000))
T0=$SECONDS
echo "hostile-client: $BIN; demo job, $RESAMPLES resamples; --max-dataset-bytes $MAX_DATASET; --idle-timeout $IDLE_TIMEOUT"

# The demo job without BCa (its jackknife is most of the work in a debug build), reading jobs/demo/demo.csv.
JOB=$WORK/demo.json
sed -e 's/"methods": \["percentile", "basic", "normal", "bca"\]/"methods": ["percentile", "basic", "normal"]/' \
    -e "s#\"demo/demo.csv\"#\"$ROOT/jobs/demo/demo.csv\"#" jobs/demo.json >"$JOB"
grep -q '"normal"\]' "$JOB" && grep -q "$ROOT/jobs/demo/demo.csv" "$JOB" || { echo "hostile-client: could not derive the job from jobs/demo.json" >&2; exit 1; }
# The reference table, computed by `lassoboot run` (in the background while the attacks go on).
timeout -k 5 300 "$BIN" run "$JOB" --resamples "$RESAMPLES" --threads 1 --quiet --format csv \
    >"$WORK/reference.csv" 2>"$WORK/reference.err" &
REFPID=$!
PIDS+=("$REFPID")

ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
start_coordinator coord --max-dataset-bytes "$MAX_DATASET" --idle-timeout "$IDLE_TIMEOUT" --max-lease-wait 2 \
    --max-connections 4000 --lease-seconds 10
COORD_PID=$CPID
COORD_URL=$URL
echo "coordinator $COORD_URL (pid $COORD_PID)"
$PY healthmon "$URL" "$WORK/stop-healthmon" "$WORK/healthmon" &
PIDS+=("$!")

# The run in progress, with a worker.
timeout -k 2 60 "$BIN" submit "$JOB" --resamples "$RESAMPLES" --coordinator "$URL" --token "$TOKEN" \
    >"$WORK/submit.out" 2>"$WORK/submit.err" || { cat "$WORK/submit.err"; fail "submit of the demo job"; }
RUN=$(tail -n 1 "$WORK/submit.out")
echo "run $RUN"
"$BIN" worker --coordinator "$URL" --token "$TOKEN" --threads 1 --name good-worker --log-level warning 2>"$WORK/worker.err" &
WPID=$!
PIDS+=("$WPID")
HASH=$(sha256sum jobs/demo/demo.csv | cut -d' ' -f1)

echo "[1] malformed /login bodies"
tally < <(timeout -k 2 60 $PY login "$URL")
echo "[2] results keyed with negative or inverted indices"
tally < <(timeout -k 2 60 $PY results "$URL" "$TOKEN" "$RUN" "$HASH")
echo "[3] oversized datasets"
tally < <(timeout -k 2 60 $PY dataset "$URL" "$TOKEN" $((MAX_DATASET * 3)) "$MAX_DATASET")
# The demo's data three times over: a valid job whose data exceeds the limit.
sed "s#\"demo/demo.csv\"#\"$WORK/big.csv\"#" jobs/demo.json >"$WORK/big.json"
cp jobs/demo/demo.csv "$WORK/big.csv"; for _ in 1 2; do tail -n +2 jobs/demo/demo.csv >>"$WORK/big.csv"; done
expect_refusal "submit of a dataset over --max-dataset-bytes" "413.*limit of $MAX_DATASET bytes" \
    "$BIN" submit "$WORK/big.json" --coordinator "$URL" --token "$TOKEN"
echo "[4] tokens and /openapi.json"
tally < <(timeout -k 2 60 $PY auth "$URL" "$TOKEN")
echo "[5] $IDLE idle connections and 100 slowloris connections"
FDS_BEFORE=$(ls /proc/"$COORD_PID"/fd | wc -l)
tally < <(timeout -k 2 90 $PY idle "$URL" "$IDLE" "$IDLE_TIMEOUT" 100)
sleep 1
FDS_AFTER=$(ls /proc/"$COORD_PID"/fd | wc -l)
echo "  coordinator descriptors: $FDS_BEFORE before, $FDS_AFTER after"
[ "$FDS_AFTER" -le $((FDS_BEFORE + 20)) ] && pass "descriptors back to $FDS_AFTER (from $FDS_BEFORE) after the idle connections" \
    || fail "descriptors not released: $FDS_BEFORE before, $FDS_AFTER after"
echo "  run meanwhile: $(timeout 10 "$BIN" status "$RUN" --coordinator "$URL" --token "$TOKEN" 2>&1 | cut -c1-110)"
echo "[6] bad ports, bad thread counts, wrong tokens"
expect_refusal "status --coordinator :99999" "port 99999 is outside 1-65535" "$BIN" status --coordinator http://127.0.0.1:99999 --token x
expect_refusal "worker --coordinator :0" "port 0 is outside 1-65535" "$BIN" worker --coordinator http://127.0.0.1:0 --token x
expect_refusal "submit --coordinator :abc" "not a (coordinator URL|number)" "$BIN" submit jobs/demo.json --coordinator http://127.0.0.1:abc --token x
expect_refusal "status --coordinator ftp://" "scheme must be http or https" "$BIN" status --coordinator ftp://127.0.0.1:21 --token x
expect_refusal "run --threads 100000" "--threads must be between 1 and 4096" "$BIN" run jobs/demo.json --threads 100000
expect_refusal "worker --threads 70000" "--threads must be between 1 and 4096" "$BIN" worker --coordinator "$URL" --token "$TOKEN" --threads 70000
expect_refusal "worker --threads 0" "--threads must be between 1 and 4096" "$BIN" worker --coordinator "$URL" --token "$TOKEN" --threads 0
expect_refusal "worker --heartbeat-seconds 0" "--heartbeat-seconds must be between" "$BIN" worker --coordinator "$URL" --token "$TOKEN" --heartbeat-seconds 0
expect_refusal "worker with a wrong token" "worker stopped: .*401" "$BIN" worker --coordinator "$URL" --token wrong-token --log-level error
expect_refusal "status with a wrong token" "rejected the token \(401" "$BIN" status --coordinator "$URL" --token wrong-token
expect_refusal "status of an unknown run" "answered 404: no run" "$BIN" status run-nope --coordinator "$URL" --token "$TOKEN"
expect_refusal "coordinator --max-dataset-bytes 2000000000000 (over the 1 TiB ceiling)" "--max-dataset-bytes must be between" \
    "$BIN" coordinator --port 0 --db "$WORK/x.db" --token x --max-dataset-bytes 2000000000000
expect_refusal "coordinator --idle-timeout 1 --max-lease-wait 20" "--idle-timeout must be" \
    "$BIN" coordinator --port 0 --db "$WORK/x.db" --token x --idle-timeout 1

echo "[7] a coordinator at its descriptor limit (ulimit -n 256, --max-connections 10000)"
(
    ulimit -n 256
    exec "$BIN" coordinator --host 127.0.0.1 --port 0 --db "$WORK/small.db" --token "$TOKEN" --idle-timeout 2 --max-lease-wait 1 \
        --max-connections 10000 >"$WORK/small.out" 2>"$WORK/small.err"
) &
SMALL=$!
PIDS+=("$SMALL")
SMALL_URL=""
for _ in $(seq 1 100); do SMALL_URL=$(sed -n 's/^listening on //p' "$WORK/small.out" | head -n 1); [ -n "$SMALL_URL" ] && break; sleep 0.1; done
if [ -z "$SMALL_URL" ]; then fail "the small coordinator did not start: $(tail -n 2 "$WORK/small.err")"
else
    grep -q "max-connections lowered" "$WORK/small.err" && pass "--max-connections lowered to fit 256 descriptors: $(grep -o 'used=[0-9]*' "$WORK/small.err" | head -n 1)" \
        || fail "no warning that --max-connections was lowered"
    tally < <(timeout -k 2 60 $PY flood "$SMALL_URL" 600 10)
    tally < <(timeout -k 2 60 $PY flood "$SMALL_URL" 600 10)
    kill -0 "$SMALL" 2>/dev/null && pass "the small coordinator survived 2 x 600 connections on 256 descriptors ($(ls /proc/"$SMALL"/fd | wc -l) open now)" \
        || fail "the small coordinator died: $(tail -n 3 "$WORK/small.err")"
    kill "$SMALL" 2>/dev/null
fi

echo "[8] the run finishes with lassoboot run's table"
CPID=$COORD_PID
URL=$COORD_URL
state=""
deadline=$((SECONDS + 150))
while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(timeout 10 "$BIN" status "$RUN" --coordinator "$URL" --token "$TOKEN" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
    [ "$state" = "running" ] || [ -z "$state" ] || break
    sleep 0.5
done
[ "$state" = "done" ] && pass "run $RUN done" || fail "run $RUN ended '$state'"
touch "$WORK/stop-healthmon"
timeout -k 2 10 "$BIN" results "$RUN" --coordinator "$URL" --token "$TOKEN" --format csv >"$WORK/remote.csv" 2>"$WORK/results.err"
wait "$REFPID"; REF_RC=$?
if [ "$REF_RC" -ne 0 ]; then fail "lassoboot run failed (exit $REF_RC): $(tail -n 2 "$WORK/reference.err")"
elif cmp -s "$WORK/reference.csv" "$WORK/remote.csv" && [ -s "$WORK/remote.csv" ]; then pass "report.csv byte-identical with lassoboot run's ($(wc -l <"$WORK/remote.csv") lines)"
else fail "report.csv differs from lassoboot run's"
fi
for _ in $(seq 1 50); do [ -s "$WORK/healthmon" ] && break; sleep 0.1; done
read -r polls hfail worst <"$WORK/healthmon" 2>/dev/null || { polls=0; hfail=1; worst=0; }
[ "$polls" -gt 0 ] && [ "$hfail" -eq 0 ] && pass "/healthz answered $polls polls throughout, 0 failed (worst $worst ms)" \
    || fail "/healthz: $hfail of $polls polls failed"
alive && pass "the coordinator is still running (pid $COORD_PID)" || fail "the coordinator died: $(tail -n 3 "$WORK/coord.err")"
if grep -Eq "Fatal error|fatal error|Illegal instruction" "$WORK/coord.err" "$WORK/worker.err"; then
    fail "a fatal error in the logs: $(grep -Eh 'Fatal error|fatal error' "$WORK/coord.err" "$WORK/worker.err" | head -n 1)"
fi
echo "hostile-client: $passed checks passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" -eq 0 ]

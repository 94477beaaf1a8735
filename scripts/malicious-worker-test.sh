#!/usr/bin/env bash
# Hostile workers against a real coordinator (issue 14): while an honest `lassoboot worker`
# computes two runs, processes holding the worker token hand in results under forged lease ids,
# for tasks and runs they never leased, with out-of-range scores, with wrong coefficients of the
# right shape, and report errors for everything they can lease (scripts/malicious-worker-test.py).
# Both runs must finish "done" with CSVs byte-identical to `lassoboot run`'s, the wrong-coefficient
# worker must be quarantined, and /metrics must count every refusal.
#
# Environment: LASSOBOOT_BIN (default dist/lassoboot, else .build/release, else .build/debug),
# MALICIOUS_RESAMPLES (default 2000), KEEP_LOGS=1 keeps the logs.
# Last line: "malicious-worker: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOB=$ROOT/scripts/reference/run/replay.json
RESAMPLES=${MALICIOUS_RESAMPLES:-2000}
TOKEN="mal-$RANDOM$RANDOM"
PORT=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-60999): no outgoing socket holds it
URL=http://127.0.0.1:$PORT
T0=${EPOCHREALTIME/[.,]/}
say() { local t=$(( ${EPOCHREALTIME/[.,]/} - T0 )); printf '[malicious %3d.%01ds] %s\n' $((t / 1000000)) $((t / 100000 % 10)) "$*"; }

BIN=${LASSOBOOT_BIN:-}
if [ -z "$BIN" ]; then
    for b in "$ROOT/dist/lassoboot" "$ROOT/.build/release/lassoboot" "$ROOT/.build/debug/lassoboot"; do
        [ -x "$b" ] && { BIN=$b; break; }
    done
fi
LOGS=$(mktemp -d /tmp/lassoboot-malicious.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $LOGS"; else rm -rf "$LOGS"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); say "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL: $*"; }
finish() {
    if [ "$FAILED" -gt 0 ]; then
        for f in "$LOGS"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f") (last 15 lines)"; tail -n 15 "$f"; }; done
    fi
    echo "malicious-worker: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit
}
[ -n "$BIN" ] && [ -x "$BIN" ] || { fail "no lassoboot binary (set LASSOBOOT_BIN)"; finish; }

say "reference: lassoboot run replay.json --resamples $RESAMPLES ($BIN)"
"$BIN" run "$JOB" --resamples "$RESAMPLES" --threads 2 --quiet --format csv >"$LOGS/reference.csv" 2>"$LOGS/reference.log" \
    || { fail "lassoboot run failed"; finish; }
# Shapes an attacker can read off public outputs: coefficients per fit, alphas per CV path.
first=$(sed -n 2p "$LOGS/reference.csv" | cut -d, -f1)
WIDTH=$(awk -F, -v o="$first" 'NR > 1 && $1 == o' "$LOGS/reference.csv" | wc -l)
GRID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["alphas"]["count"])' "$JOB")

# --verify-fraction 0.2: every CV result (5x) and a fifth of phase-2 results are recomputed.
"$BIN" coordinator --host 127.0.0.1 --port "$PORT" --db "$LOGS/coord.db" --token "$TOKEN" --lease-seconds 4 \
    --verify-fraction 0.2 >"$LOGS/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do grep -q "listening on http://" "$LOGS/coordinator.log" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on $URL" "$LOGS/coordinator.log" || { fail "coordinator did not start"; finish; }
submit() { "$BIN" submit "$JOB" --coordinator "$URL" --token "$TOKEN" --resamples "$RESAMPLES" 2>>"$LOGS/submit.log" | tail -n 1; }
RUN_A=$(submit) RUN_B=$(submit)
[[ "$RUN_A" == run-* && "$RUN_B" == run-* ]] || { fail "submit did not print run ids ('$RUN_A', '$RUN_B')"; finish; }
say "runs $RUN_A and $RUN_B submitted; attackers start, the honest worker 2 s later"

python3 "$ROOT/scripts/malicious-worker-test.py" "$URL" "$TOKEN" "$RUN_A" "$RUN_B" "$WIDTH" "$GRID" >"$LOGS/attack.out" 2>"$LOGS/attack.log" &
ATTACK=$!
PIDS+=($ATTACK)
sleep 2
"$BIN" worker --coordinator "$URL" --token "$TOKEN" --threads 2 --name honest --heartbeat-seconds 1 --idle-exit 600 >"$LOGS/worker.log" 2>&1 &
PIDS+=($!)
wait "$ATTACK"; attack_status=$?
while read -r line; do
    case $line in
        PASS:*) pass "${line#PASS: }" ;;
        FAIL:*) fail "${line#FAIL: }" ;;
    esac
done <"$LOGS/attack.out"
[ "$attack_status" -eq 0 ] || grep -q "FAIL:" "$LOGS/attack.out" || fail "the attack script failed: $(tail -n 3 "$LOGS/attack.log")"

for run in "$RUN_A" "$RUN_B"; do
    state=""
    for _ in $(seq 1800); do
        state=$(curl -s -m 5 -H "Authorization: Bearer $TOKEN" "$URL/v1/runs/$run" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("state",""))' 2>/dev/null)
        [ "$state" = running ] || [ -z "$state" ] || break
        sleep 0.1
    done
    if [ "$state" != done ]; then
        fail "$run ended '$state': $(curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/runs/$run" | head -c 300)"
        continue
    fi
    "$BIN" results "$run" --coordinator "$URL" --token "$TOKEN" --format csv >"$LOGS/$run.csv" 2>>"$LOGS/results.log"
    if cmp -s "$LOGS/$run.csv" "$LOGS/reference.csv"; then
        pass "$run: done, CSV byte-identical to lassoboot run's"
    else
        diff "$LOGS/reference.csv" "$LOGS/$run.csv" | head -n 6
        fail "$run: the table differs from lassoboot run's"
    fi
done
grep -q "QUARANTINED worker coef" "$LOGS/coordinator.log" && pass "the coordinator logged the quarantine: $(grep -o 'QUARANTINED worker coef.*' "$LOGS/coordinator.log" | head -n 1 | cut -c1-150)" \
    || fail "no QUARANTINED line in the coordinator log"
finish

#!/usr/bin/env bash
# Storage faults under a real coordinator and worker (issue 14): while a run is in progress,
#   - another process takes the SQLite write lock for 1-2 s at random moments (BEGIN IMMEDIATE),
#   - another process runs PRAGMA wal_checkpoint(TRUNCATE) over and over,
#   - the database sits on a small tmpfs that fills up mid-run and is then grown (or freed),
#   - the worker is killed with -9 once (with the lock holder),
# and each round must end either "done" with a CSV byte-identical to `lassoboot run`'s, or in a
# clear failure state: never "done" with different numbers. While the disk is full the run must
# say so (`alert: stalled: disk full ...`) and resume by itself once there is space.
# Also: a second coordinator on the same database refuses to start, and a damaged database
# file is refused at start-up with a message naming it.
#
# Environment: LASSOBOOT_BIN (default dist/lassoboot, else .build/release, else .build/debug),
# FAULT_RESAMPLES (default 20000: long enough, with the release binary, for every fault to hit mid-run), KEEP_LOGS=1 keeps the logs.
# Last line: "faults: N passed, M failed" (disk-full rounds are skipped, saying why, where
# tmpfs cannot be mounted).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOB=$ROOT/scripts/reference/run/replay.json
RESAMPLES=${FAULT_RESAMPLES:-20000}
TOKEN="fault-$RANDOM$RANDOM"
T0=${EPOCHREALTIME/[.,]/}
say() { local t=$(( ${EPOCHREALTIME/[.,]/} - T0 )); printf '[faults %3d.%01ds] %s\n' $((t / 1000000)) $((t / 100000 % 10)) "$*"; }

BIN=${LASSOBOOT_BIN:-}
if [ -z "$BIN" ]; then
    for b in "$ROOT/dist/lassoboot" "$ROOT/.build/release/lassoboot" "$ROOT/.build/debug/lassoboot"; do
        [ -x "$b" ] && { BIN=$b; break; }
    done
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "FAIL: no lassoboot binary (set LASSOBOOT_BIN)"; echo "faults: 0 passed, 1 failed"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is needed for the fault injectors"; echo "faults: 0 passed, 1 failed"; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is needed"; echo "faults: 0 passed, 1 failed"; exit 1; }

LOGS=$(mktemp -d /tmp/lassoboot-faults.XXXXXX)
MNT=$LOGS/tmpfs
PIDS=()
MOUNTED=0
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ "$MOUNTED" = 1 ] && umount "$MNT" 2>/dev/null
    if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $LOGS"; else rm -rf "$LOGS"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); say "PASS: $*"; }
failr() {
    FAILED=$((FAILED + 1)); say "FAIL: $*"
    for f in "$LOGS"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f") (last 12 lines)"; tail -n 12 "$f"; }; done
}

# --- the reference ----------------------------------------------------------------------
say "reference: lassoboot run replay.json --resamples $RESAMPLES ($BIN)"
"$BIN" run "$JOB" --resamples "$RESAMPLES" --threads 2 --quiet --format csv >"$LOGS/reference.csv" 2>"$LOGS/reference.log" \
    || { echo "FAIL: lassoboot run failed"; cat "$LOGS/reference.log"; echo "faults: 0 passed, 1 failed"; exit 1; }

# --- helpers ----------------------------------------------------------------------------
ROUND=0
# The coordinator binds port 0 and prints the port the kernel chose: a fixed or random port
# can collide with an ephemeral port in use (CI once failed with "Address already in use").
start_coordinator() { # db; sets COORD and COORD_PORT
    COORD_PORT=""
    "$BIN" coordinator --host 127.0.0.1 --port 0 --db "$1" --token "$TOKEN" --lease-seconds 4 \
        --verify-fraction 0.05 >"$LOGS/coordinator.log" 2>&1 &
    COORD=$!
    PIDS+=($COORD)
    for _ in $(seq 150); do
        COORD_PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$LOGS/coordinator.log" 2>/dev/null | head -n 1)
        [[ -n "$COORD_PORT" ]] && return 0
        sleep 0.1
    done
    return 1
}
start_worker() { # port
    "$BIN" worker --coordinator "http://127.0.0.1:$1" --token "$TOKEN" --threads 2 --name "w$ROUND-$RANDOM" \
        --heartbeat-seconds 1 --idle-exit 600 >>"$LOGS/worker.log" 2>&1 &
    WORKER=$!
    PIDS+=($WORKER)
}
status_json() { curl -s -m 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/v1/runs/$2"; }
field() { python3 -c 'import json,sys
try:
    d = json.load(sys.stdin); print(d.get(sys.argv[1]) or "")
except Exception:
    print("")' "$1"; }
# The external processes: a lock holder and a checkpointer (Python's sqlite3, another connection).
# Both run until the file STOP exists (the run has ended), so they cover the whole run whatever
# the machine's speed.
lock_holder() { # db, stop file
    python3 - "$1" "$2" <<'EOF' >>"$LOGS/injector.log" 2>&1
import os, random, sqlite3, sys, time
db, stop = sys.argv[1], sys.argv[2]
i = 0
while not os.path.exists(stop):
    i += 1
    time.sleep(random.uniform(0.3, 1.5))
    if os.path.exists(stop):
        break
    try:
        c = sqlite3.connect(db, timeout=10, isolation_level=None)
        c.execute("BEGIN IMMEDIATE")
        hold = random.uniform(1.3, 2.0)
        print(f"lock {i}: holding the write lock for {hold:.1f} s", flush=True)
        time.sleep(hold)
        c.execute("COMMIT")
        c.close()
    except Exception as e:
        print(f"lock {i}: {e}", flush=True)
EOF
}
checkpointer() { # db, stop file
    python3 - "$1" "$2" <<'EOF' >>"$LOGS/injector.log" 2>&1
import os, sqlite3, sys, time
db, stop = sys.argv[1], sys.argv[2]
n = 0
while not os.path.exists(stop):
    try:
        c = sqlite3.connect(db, timeout=5, isolation_level=None)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        c.close(); n += 1
    except Exception as e:
        print(f"checkpoint: {e}", flush=True)
    time.sleep(0.2)
print(f"checkpoints: {n}", flush=True)
EOF
}

# One round: coordinator + worker, submit, inject `$2` faults, wait, judge.
round() { # name, faults (space-separated: lock checkpoint fill-grow fill-free kill), db directory
    local name=$1 faults=$2 dir=$3
    ROUND=$((ROUND + 1))
    local round_start=$SECONDS
    local port db=$dir/round$ROUND.db
    : >"$LOGS/coordinator.log"; : >"$LOGS/worker.log"; : >"$LOGS/injector.log"
    say "round $ROUND ($name): faults: $faults"
    start_coordinator "$db" || { failr "$name: coordinator did not start: $(tail -n 2 "$LOGS/coordinator.log")"; return; }
    port=$COORD_PORT
    start_worker "$port"
    local run
    run=$("$BIN" submit "$JOB" --coordinator "http://127.0.0.1:$port" --token "$TOKEN" --resamples "$RESAMPLES" 2>"$LOGS/submit.log" | tail -n 1)
    [[ "$run" == run-* ]] || { failr "$name: submit did not print a run id (got '$run')"; kill -9 "$COORD" "$WORKER" 2>/dev/null; return; }
    local injectors=() saw_alert="" stop=$LOGS/stop-$ROUND
    for f in $faults; do
        case $f in
            lock) lock_holder "$db" "$stop" & injectors+=($!) ;;
            checkpoint) checkpointer "$db" "$stop" & injectors+=($!) ;;
            kill) (sleep 1.5; kill -9 "$WORKER" 2>/dev/null; echo "worker killed" >>"$LOGS/injector.log") & injectors+=($!) ;;
            fill-grow|fill-free)
                sleep 0.5
                # Fill the tmpfs: the next commits fail with SQLITE_FULL.
                dd if=/dev/zero of="$dir/filler" bs=64k >/dev/null 2>&1
                say "  tmpfs full ($(df -h --output=avail "$dir" | tail -n 1 | tr -d ' ') free); waiting for the alert"
                for _ in $(seq 100); do
                    saw_alert=$(status_json "$port" "$run" | field alert)
                    [ -n "$saw_alert" ] && break
                    sleep 0.1
                done
                local stalled_state
                stalled_state=$(status_json "$port" "$run" | field state)
                say "  alert: ${saw_alert:-none} (state $stalled_state)"
                sleep 2
                if [ "$f" = fill-grow ]; then
                    mount -o remount,size=256m "$MNT" || say "  remount failed"
                    say "  tmpfs grown to 256 MB"
                else
                    rm -f "$dir/filler"
                    say "  filler removed"
                fi ;;
        esac
    done
    [[ " $faults " == *" kill "* ]] && { sleep 2; start_worker "$port"; }
    # Wait for the end: at most 240 s of wall-clock time (a stalled coordinator may answer
    # slowly, so the bound is the clock, not a count of polls).
    local state="" err="" alert_after="" deadline=$((SECONDS + 240))
    while [ "$SECONDS" -lt "$deadline" ]; do
        local s
        s=$(status_json "$port" "$run")
        state=$(echo "$s" | field state)
        [ "$state" = done ] || [ "$state" = failed ] || [ "$state" = cancelled ] && { err=$(echo "$s" | field error); break; }
        sleep 0.1
    done
    touch "$stop"
    for p in "${injectors[@]}"; do wait "$p" 2>/dev/null; done
    alert_after=$(status_json "$port" "$run" | field alert)
    local holds stalls
    holds=$(grep -c 'holding the write lock' "$LOGS/injector.log")
    stalls=$(grep -c 'storage: stalled' "$LOGS/coordinator.log")
    case $state in
        done)
            "$BIN" results "$run" --coordinator "http://127.0.0.1:$port" --token "$TOKEN" --format csv >"$LOGS/round$ROUND.csv" 2>"$LOGS/results.log"
            if cmp -s "$LOGS/round$ROUND.csv" "$LOGS/reference.csv"; then
                if [[ "$faults" == *fill* ]] && [[ "$saw_alert" != *"disk full"* ]]; then
                    failr "$name: the run never said 'stalled: disk full' while the disk was full (alert: '${saw_alert}')"
                elif [ -n "$alert_after" ]; then
                    failr "$name: the alert '$alert_after' stayed after the run ended"
                elif [[ " $faults " == *" lock "* ]] && [ "$stalls" -eq 0 ]; then
                    failr "$name: no commit ever failed ($holds lock holds): the run was too short for the faults to hit (raise FAULT_RESAMPLES)"
                else
                    pass "$name: done, CSV byte-identical to lassoboot run's ($(wc -l <"$LOGS/round$ROUND.csv") lines); $holds lock holds of 1-2 s, $(grep -o 'checkpoints: [0-9]*' "$LOGS/injector.log" | head -n 1 || echo 'no checkpoints'), $stalls stall episode(s) logged, $(grep -o 'certifyMs=[0-9]* recomputeMs=[0-9]*' "$LOGS/coordinator.log" | head -n 1)"
                fi
            else
                diff "$LOGS/reference.csv" "$LOGS/round$ROUND.csv" | head -n 10
                failr "$name: DONE WITH DIFFERENT NUMBERS (the report differs from lassoboot run's)"
            fi ;;
        failed|cancelled)
            if [ -n "$err" ]; then pass "$name: ended in a clear failure state ($state: ${err:0:160})"
            else failr "$name: $state without an error message"; fi ;;
        *) failr "$name: the run neither finished nor failed within 240 s (state '$state')" ;;
    esac
    kill -9 "$COORD" "$WORKER" 2>/dev/null
    wait "$COORD" "$WORKER" 2>/dev/null
    rm -f "$dir/filler"
    # The small tmpfs is shared by the disk-full rounds: a round's database must not eat the
    # next round's space (the next round would then stay "disk full" after its filler goes).
    [ "$dir" = "$MNT" ] && rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
    say "  round $ROUND took $((SECONDS - round_start)) s"
}

# --- rounds on an ordinary directory ------------------------------------------------------
mkdir -p "$LOGS/disk"
round "write lock held by another process" "lock" "$LOGS/disk"
round "external wal_checkpoint(TRUNCATE)" "checkpoint" "$LOGS/disk"
round "lock + checkpoints + worker kill -9" "lock checkpoint kill" "$LOGS/disk"

# --- rounds on a small tmpfs that fills -----------------------------------------------------
mkdir -p "$MNT"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=24m lassoboot-faults "$MNT" 2>"$LOGS/mount.err"; then
    MOUNTED=1
    round "disk full, then the tmpfs is grown" "fill-grow" "$MNT"
    mount -o remount,size=24m "$MNT" 2>/dev/null
    round "disk full, then space is freed" "fill-free" "$MNT"
    round "disk full + lock + checkpoints" "checkpoint fill-free lock" "$MNT"
else
    SKIPPED=$((SKIPPED + 3))
    say "SKIPPED 3 disk-full rounds: cannot mount a tmpfs here ($(id -u) = uid; $(cat "$LOGS/mount.err" 2>/dev/null))"
fi

# --- one coordinator per database; damaged files are named at start-up ----------------------
db=$LOGS/disk/exclusive.db
if start_coordinator "$db"; then
    first=$COORD
    if timeout 20 "$BIN" coordinator --host 127.0.0.1 --port 0 --db "$db" --token "$TOKEN" >"$LOGS/second.log" 2>&1; then
        failr "a second coordinator started on a database in use"
    elif grep -q "in use by another coordinator" "$LOGS/second.log"; then
        pass "a second coordinator on the same database refuses to start: $(grep -o 'the database.*first' "$LOGS/second.log" | head -n 1)"
    else
        failr "a second coordinator failed without saying why: $(tail -n 2 "$LOGS/second.log")"
    fi
    kill -9 "$first" 2>/dev/null; wait "$first" 2>/dev/null
else
    failr "coordinator did not start for the exclusive-lock check"
fi
bad=$LOGS/disk/damaged.db
python3 - "$bad" <<'EOF'
import sqlite3, sys
path = sys.argv[1]
c = sqlite3.connect(path); c.execute("PRAGMA journal_mode=DELETE")
c.execute("CREATE TABLE t(x)"); c.executemany("INSERT INTO t VALUES (?)", [(("x" * 500),) for _ in range(400)]); c.commit(); c.close()
with open(path, "r+b") as f:          # overwrite pages in the middle of the file with garbage
    f.seek(8192); f.write(b"\xde\xad\xbe\xef" * 4096)
EOF
if timeout 20 "$BIN" coordinator --host 127.0.0.1 --port 0 --db "$bad" --token "$TOKEN" >"$LOGS/damaged.log" 2>&1; then
    failr "a coordinator started on a damaged database"
elif grep -q "$bad" "$LOGS/damaged.log" && grep -qi "damaged\|not a database" "$LOGS/damaged.log"; then
    pass "a damaged database is refused at start-up, naming the file: $(grep -o 'the database.*' "$LOGS/damaged.log" | head -n 1 | cut -c1-160)"
else
    failr "a damaged database was not refused clearly: $(tail -n 2 "$LOGS/damaged.log")"
fi
printf 'garbage that is not sqlite\n%.0s' $(seq 200) >"$LOGS/disk/notadb.db"
if timeout 20 "$BIN" coordinator --host 127.0.0.1 --port 0 --db "$LOGS/disk/notadb.db" --token "$TOKEN" >"$LOGS/notadb.log" 2>&1; then
    failr "a coordinator started on a file that is not a database"
elif grep -q "notadb.db" "$LOGS/notadb.log"; then
    pass "a file that is not a database is refused, naming it: $(grep -o 'the database.*' "$LOGS/notadb.log" | head -n 1 | cut -c1-160)"
else
    failr "a non-database file was not refused clearly: $(tail -n 2 "$LOGS/notadb.log")"
fi

if [ "$SKIPPED" -gt 0 ]; then
    echo "faults: $PASSED passed, $FAILED failed, $SKIPPED skipped"
else
    echo "faults: $PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]

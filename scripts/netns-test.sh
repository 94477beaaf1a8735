#!/usr/bin/env bash
# Several hosts for real (issue 4): a coordinator and three workers, each in its own network
# namespace, joined by veth links to a bridge that lives in a fifth namespace. Nothing is
# attached to the machine's own network: the addresses (10.231.0.0/24 by default) exist only
# inside these namespaces, so no packet can leave the machine.
#
#   lb-hub    bridge lbbr0, one veth port per host below
#   lb-coord  10.231.0.1   lassoboot coordinator --lease-seconds 3
#   lb-w1..3  10.231.0.11-13  lassoboot worker --threads 2 --heartbeat-seconds 0.5
#
# It submits scripts/reference/run/replay.json, cuts lb-w2 off mid-run (its bridge port goes
# down, like a pulled cable) while it holds a lease, and checks that
#   - the coordinator expires the lease and the run finishes on the other two workers;
#   - once the link is back, w2 hands in its late result and the coordinator drops it
#     (w2 counts more handed-in results than the coordinator accepted from it: the rest were
#     answered "duplicate"; no "mismatch", nothing lost);
#   - `results --format csv` is byte-identical with `lassoboot run --out`'s report.csv.
#
# Needs root (CAP_NET_ADMIN) and iproute2; otherwise prints "SKIPPED: ..." and exits 0.
# Environment: LASSOBOOT_BIN (default: build .build/release/lassoboot), NETNS_JOB (default
# scripts/reference/run/replay.json; e.g. a wide-data job), NETNS_RESAMPLES (default 20000),
# NETNS_FINISH_SECONDS (default 120: how long the run may take after the cut), NETNS_IDLE_EXIT
# (default 6: workers' --idle-exit; a job whose CV tasks outlast it needs more), NETNS_SUBNET
# (default 10.231.0), KEEP_LOGS=1 keeps the log directory.
# Last line: "netns: 1 passed, 0 failed", "netns: 0 passed, 1 failed" or (skipped)
# "netns: 0 passed, 0 failed, 1 skipped".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
JOB=${NETNS_JOB:-$ROOT/scripts/reference/run/replay.json}
RESAMPLES=${NETNS_RESAMPLES:-20000}
NET=${NETNS_SUBNET:-10.231.0}
LEASE=3
PORT=8917
TOKEN="netns-$RANDOM$RANDOM"
HUB=lb-hub COORD=lb-coord
WORKERS=(lb-w1 lb-w2 lb-w3)
CUT=lb-w2
T0=${EPOCHREALTIME/[.,]/}

say() { local t=$(( ${EPOCHREALTIME/[.,]/} - T0 )); printf '[netns %3d.%01ds] %s\n' $((t / 1000000)) $((t / 100000 % 10)) "$*"; }
skip() { echo "SKIPPED: network namespaces not available here ($1)"; echo "netns: 0 passed, 0 failed, 1 skipped"; exit 0; }

# --- can this machine do it? -------------------------------------------------------------
[ "$(uname -s)" = Linux ] || skip "not Linux"
if ! command -v ip >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing iproute2 (ip is missing)"
        { apt-get install -y iproute2 || { apt-get update && apt-get install -y iproute2; }; } >/dev/null 2>&1
    fi
    command -v ip >/dev/null 2>&1 || skip "the 'ip' command (iproute2) is missing and could not be installed"
fi
[ "$(id -u)" = 0 ] || skip "needs root (CAP_NET_ADMIN) to create namespaces; running as uid $(id -u)"

# One run at a time on a machine (the namespace names are fixed); stale namespaces of a killed
# run are removed once the lock is ours.
exec 9>/run/lock/lassoboot-netns.lock 2>/dev/null || exec 9>/tmp/lassoboot-netns.lock
command -v flock >/dev/null 2>&1 && { flock -w 300 9 || { echo "FAIL: another netns-test.sh holds the lock"; echo "netns: 0 passed, 1 failed"; exit 1; }; }

ALL_NS=("$HUB" "$COORD" "${WORKERS[@]}")
for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
probe=lb-probe-$$
reason=$(ip netns add "$probe" 2>&1) || skip "ip netns add: ${reason:-not permitted}"
reason=$(ip -n "$probe" link add lbpa type veth peer name lbpb 2>&1) || { ip netns del "$probe"; skip "veth: ${reason:-not permitted}"; }
reason=$(ip -n "$probe" link add lbpbr type bridge 2>&1) || { ip netns del "$probe"; skip "bridge: ${reason:-not permitted}"; }
reason=$(ip netns exec "$probe" true 2>&1) || { ip netns del "$probe"; skip "ip netns exec: ${reason:-not permitted}"; }
ip netns del "$probe"

# --- from here on every failure is a test failure ------------------------------------------
LOGS=$(mktemp -d /tmp/lassoboot-netns.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $LOGS"; else rm -rf "$LOGS"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*"
    for f in "$LOGS"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $(basename "$f") (last 15 lines)"; tail -n 15 "$f"
    done
    echo "netns: 0 passed, 1 failed"
    exit 1
}

# --- the binary ----------------------------------------------------------------------------
if [ -n "${LASSOBOOT_BIN:-}" ]; then
    BIN=$LASSOBOOT_BIN
else
    say "building lassoboot (release)"
    swift build -c release --product lassoboot 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' | tail -n 5
    BIN=$ROOT/.build/release/lassoboot
fi
[ -x "$BIN" ] || fail "no lassoboot binary at $BIN"

# --- the network ---------------------------------------------------------------------------
say "namespaces: $HUB (bridge), $COORD ($NET.1), ${WORKERS[*]} ($NET.11-13)"
ip netns add "$HUB" || fail "ip netns add $HUB"
ip -n "$HUB" link add lbbr0 type bridge || fail "bridge"
ip -n "$HUB" link set lbbr0 up || fail "bridge up"
ip -n "$HUB" link set lo up
connect() { # namespace, address, hub-side port name
    ip netns add "$1" || return 1
    ip -n "$1" link set lo up || return 1
    ip -n "$HUB" link add "$3" type veth peer name eth0 netns "$1" || return 1
    ip -n "$HUB" link set "$3" master lbbr0 || return 1
    ip -n "$HUB" link set "$3" up || return 1
    ip -n "$1" addr add "$2/24" dev eth0 || return 1
    ip -n "$1" link set eth0 up || return 1
}
connect "$COORD" "$NET.1" p-coord || fail "could not wire $COORD"
for i in 1 2 3; do connect "lb-w$i" "$NET.1$i" "p-w$i" || fail "could not wire lb-w$i"; done
URL="http://$NET.1:$PORT"
export LASSOBOOT_TOKEN=$TOKEN
client() { ip netns exec "$COORD" "$BIN" "$@"; }

# --- reference: one process --------------------------------------------------------------
say "reference: lassoboot run $(basename "$JOB") --resamples $RESAMPLES"
"$BIN" run "$JOB" --resamples "$RESAMPLES" --threads 2 --quiet --out "$LOGS/local" >"$LOGS/local.log" 2>&1 \
    || fail "lassoboot run failed"

# --- coordinator and workers ---------------------------------------------------------------
ip netns exec "$COORD" "$BIN" coordinator --host "$NET.1" --port "$PORT" --db "$LOGS/coord.db" \
    --token "$TOKEN" --lease-seconds "$LEASE" >"$LOGS/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on http://" "$LOGS/coordinator.log" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on $URL" "$LOGS/coordinator.log" || fail "coordinator did not start on $URL"
for ns in "${WORKERS[@]}"; do # a TCP connection over the bridge from every worker namespace
    ip netns exec "$ns" timeout 5 bash -c "exec 3<>/dev/tcp/$NET.1/$PORT" 2>/dev/null || fail "$ns cannot reach $NET.1:$PORT over the bridge"
done
declare -A WPID
for ns in "${WORKERS[@]}"; do
    n=${ns#lb-}
    ip netns exec "$ns" "$BIN" worker --coordinator "$URL" --threads 2 --name "$n" \
        --heartbeat-seconds 0.5 --idle-exit "${NETNS_IDLE_EXIT:-6}" >"$LOGS/$n.log" 2>&1 &
    WPID[$ns]=$!
    PIDS+=($!)
done

say "submit --resamples $RESAMPLES to $URL"
RUN=$(client submit "$JOB" --coordinator "$URL" --resamples "$RESAMPLES" 2>"$LOGS/submit.log" | tail -n 1)
[[ "$RUN" == run-* ]] || fail "submit did not print a run id (got '$RUN')"
say "run $RUN"

field() { # status json, python-free: state / phase / tasks.leased / tasks.queued
    case $2 in
        state) sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' <<<"$1" ;;
        phase) sed -n 's/.*"phase":\([0-9]*\).*/\1/p' <<<"$1" ;;
        leased|queued|done) sed -n "s/.*\"tasks\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" <<<"$1" ;;
    esac
}
status() { client status "$RUN" --coordinator "$URL" --json 2>/dev/null | grep '^{' | tail -n 1; }

# Wait until phase 2 is under way (tasks leased, plenty left to do), then cut.
cut_at=""
for _ in $(seq $(( ${NETNS_FINISH_SECONDS:-120} * 5 ))); do
    s=$(status)
    st=$(field "$s" state)
    [ "$st" = running ] || [ -z "$st" ] || fail "run is '$st' before the cut: $s"
    d=$(field "$s" "done") q=$(field "$s" queued) l=$(field "$s" leased)
    if [ "$(field "$s" phase)" = 2 ] && [ "${d:-0}" -ge 10 ] && [ "${l:-0}" -ge 1 ] && [ $(( ${q:-0} + ${l:-0} )) -ge 40 ]; then
        cut_at=$s; break
    fi
    sleep 0.05
done
[ -n "$cut_at" ] || fail "phase 2 never had queued work to cut into (raise NETNS_RESAMPLES?)"
expired_before=$(grep -c "lease(s) expired" "$LOGS/coordinator.log")
ip -n "$HUB" link set p-w2 down || fail "could not take p-w2 down"
say "cut ${CUT#lb-} off (bridge port p-w2 down) at: tasks done $(field "$cut_at" "done"), leased $(field "$cut_at" leased), queued $(field "$cut_at" queued)"

# The lease must expire (lease 3 s + the coordinator's 1 s expiry tick) and the run finish.
expired=0
for _ in $(seq 300); do
    [ "$(grep -c "lease(s) expired" "$LOGS/coordinator.log")" -gt "$expired_before" ] && { expired=1; break; }
    sleep 0.05
done
[ "$expired" = 1 ] || fail "no lease expired within 15 s of cutting ${CUT#lb-} off"
say "coordinator: $(grep "lease(s) expired" "$LOGS/coordinator.log" | tail -n 1 | cut -d' ' -f2-)"
final=""
for _ in $(seq $(( ${NETNS_FINISH_SECONDS:-120} * 10 ))); do
    s=$(status)
    case $(field "$s" state) in
        done) final=$s; break ;;
        failed|cancelled) fail "run ended '$(field "$s" state)': $s" ;;
    esac
    sleep 0.1
done
[ -n "$final" ] || fail "run did not finish within ${NETNS_FINISH_SECONDS:-120} s of the cut"
say "run done while ${CUT#lb-} was cut off; link back up"
ip -n "$HUB" link set p-w2 up || fail "could not bring p-w2 back"

# w2 now hands in what it computed before the cut (its submit retries with backoff), sees no
# more work and exits after --idle-exit; so do the others.
for ns in "${WORKERS[@]}"; do
    for _ in $(seq $(( (${NETNS_IDLE_EXIT:-6} + 54) * 10 ))); do kill -0 "${WPID[$ns]}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${WPID[$ns]}" 2>/dev/null && fail "worker ${ns#lb-} did not exit within $(( ${NETNS_IDLE_EXIT:-6} + 54 )) s after the run"
done

# What each worker handed in (its own count) against what the coordinator accepted from it.
workers=$(client status --coordinator "$URL" 2>/dev/null | grep '^worker ')
accepted_total=0
for ns in "${WORKERS[@]}"; do
    n=${ns#lb-}
    own=$(sed -n "s/.*worker=$n .*stopped after \([0-9]*\) tasks.*/\1/p" "$LOGS/$n.log" | tail -n 1)
    acc=$(sed -n "s/^worker $n .* tasks \([0-9]*\) .*/\1/p" <<<"$workers")
    if [ -z "$own" ] || [ -z "$acc" ]; then fail "no task counts for $n (log: '$own', coordinator: '$acc')"; fi
    accepted_total=$((accepted_total + acc))
    say "$n: handed in $own results, coordinator accepted $acc"
    if [ "$ns" = "$CUT" ]; then
        [ "$own" -gt "$acc" ] || fail "$n handed in no late result (handed in $own, accepted $acc): it held no task when cut off"
        late=$((own - acc))
    fi
    grep -q "could not hand in" "$LOGS/$n.log" && fail "$n could not hand in a result: $(grep "could not hand in" "$LOGS/$n.log" | head -n 1)"
    grep -q "differing duplicate" "$LOGS/$n.log" && fail "$n: a duplicate result differed from the stored one"
done
grep -q "MISMATCH" "$LOGS/coordinator.log" && fail "coordinator logged a MISMATCH"
total=$(field "$final" "done")
[ "$accepted_total" = "$total" ] || fail "coordinator accepted $accepted_total results for $total tasks (lost or counted twice)"
say "${CUT#lb-}'s $late late result(s) acknowledged as duplicates and dropped; $total tasks, each accepted once"

# The report: byte-identical with lassoboot run's report.csv.
client results "$RUN" --coordinator "$URL" --format csv >"$LOGS/distributed.csv" 2>"$LOGS/results.log" || fail "results failed"
cmp -s "$LOGS/distributed.csv" "$LOGS/local/report.csv" || {
    diff "$LOGS/local/report.csv" "$LOGS/distributed.csv" | head -n 20
    fail "results --format csv differs from lassoboot run's report.csv"
}
say "results --format csv is byte-identical with lassoboot run's report.csv ($(wc -l <"$LOGS/distributed.csv") lines)"
echo "netns: 1 passed, 0 failed"

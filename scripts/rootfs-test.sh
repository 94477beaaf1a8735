#!/usr/bin/env bash
# The self-contained release binary on a bare Debian (issue 13): a debootstrapped `minbase`
# bookworm root file system with nothing added (no libcurl, no SQLite: the binary's HTTPS client is
# SwiftNIO's, SQLite and zlib are linked in). In it, under chroot:
#   1. ldd finds every library the binary needs (and libsqlite3-0 and libcurl4 are not installed);
#   2. `lassoboot run` on the demo job prints a CSV byte-identical to the host's `lassoboot run`;
#   3. a coordinator and a worker started from the rootfs run the same job submitted from the
#      rootfs (`submit --wait`), again byte-identical.
# Prints `rootfs: N passed, M failed`.
#
#   bash scripts/rootfs-test.sh            (as root: debootstrap and chroot need it)
#
# Environment:
#   LASSOBOOT_BIN   the binary to test (default dist/lassoboot, made by scripts/release.sh)
#   ROOTFS_CACHE    where the prepared rootfs is kept between runs (default
#                   /var/cache/lassoboot-test; ~180 MB; made in about a minute when absent)
#   DEBIAN_MIRROR   default http://deb.debian.org/debian
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BIN=${LASSOBOOT_BIN:-$ROOT/dist/lassoboot}
TEST=rootfs
# shellcheck source=scripts/debian-rootfs.sh
source scripts/debian-rootfs.sh
passed=0
failed=0
pass() { echo "rootfs: PASS $*"; passed=$((passed + 1)); }
fail() { echo "rootfs: FAIL $*"; failed=$((failed + 1)); }
die() { echo "rootfs-test: error: $*" >&2; echo "rootfs: $passed passed, $((failed + 1)) failed"; exit 1; }

require_root "debootstrap and chroot need root (run as root to test the binary on a bare Debian)"
[ -x "$BIN" ] || die "no binary at $BIN (run scripts/release.sh first)"

# --- the base rootfs: debootstrap's minbase as it is, made once and kept -------------------------
ensure_minbase
BASE=$MINBASE

# --- a fresh copy for this run ---------------------------------------------------------------
WORK=$(mktemp -d /tmp/lassoboot-rootfs.XXXXXX)
R=$WORK/root
PIDS=()
cleanup() {
    # The background jobs are subshells around chroot: stop the lassoboot processes themselves.
    pkill -f "lassoboot worker --coordinator .* --name rootfs-$$" 2>/dev/null
    pkill -f "lassoboot coordinator --port 0 --db /work/c.db" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    umount "$R/proc" 2>/dev/null
    umount "$R/dev" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
cp -a "$BASE" "$R" || die "cannot copy $BASE"
mount -t proc proc "$R/proc" || die "cannot mount /proc in the rootfs"
mount --bind /dev "$R/dev" || die "cannot bind /dev in the rootfs"
install -m 0755 "$BIN" "$R/usr/local/bin/lassoboot"
mkdir -p "$R/work/jobs"
cp -a jobs/demo.json jobs/demo "$R/work/jobs/"
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LASSOBOOT_TOKEN=rootfs-token "$@"; }

# shellcheck disable=SC2016 # dpkg-query's own format, not shell
packages=$(chroot "$R" dpkg-query -W -f '${Package}\n' | wc -l)
echo "rootfs: bookworm minbase, nothing added: $packages packages, $(du -smx "$BASE" 2>/dev/null | cut -f1) MB; binary $(($(stat -c %s "$BIN") / 1048576)) MiB, $("$BIN" --version)"

# 1. Libraries.
libs=$(in_root ldd /usr/local/bin/lassoboot 2>&1)
# shellcheck disable=SC2016 # dpkg-query's own format, not shell
sqlite=$(chroot "$R" dpkg-query -W -f '${Status}' libsqlite3-0 2>/dev/null)
# shellcheck disable=SC2016 # dpkg-query's own format, not shell
curl=$(chroot "$R" dpkg-query -W -f '${Status}' libcurl4 2>/dev/null)
if grep -q "not found" <<<"$libs" || [ -z "$libs" ]; then
    fail "ldd in the rootfs: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ')"
elif [ "$sqlite" = "install ok installed" ] || [ "$curl" = "install ok installed" ]; then
    fail "libsqlite3-0 or libcurl4 is installed in the rootfs, so the test proves nothing about the binary not needing them"
else
    needed=$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    pass "ldd in the rootfs resolves every library (NEEDED: ${needed% }); libsqlite3-0 and libcurl4 are not installed"
fi

# 2. `lassoboot run` in the rootfs against the host's.
"$BIN" run jobs/demo.json --format csv --threads 2 --quiet >"$WORK/host.csv" 2>"$WORK/host.err" \
    || die "lassoboot run on the host failed: $(tail -3 "$WORK/host.err")"
if in_root sh -c 'cd /work && lassoboot run jobs/demo.json --format csv --threads 2 --quiet' >"$WORK/run.csv" 2>"$WORK/run.err"; then
    if cmp -s "$WORK/host.csv" "$WORK/run.csv"; then
        pass "lassoboot run in the rootfs: demo CSV byte-identical to the host's ($(wc -l <"$WORK/run.csv") lines)"
    else
        fail "lassoboot run in the rootfs: the CSV differs from the host's: $(diff "$WORK/host.csv" "$WORK/run.csv" | head -3 | tr '\n' ' ')"
    fi
else
    fail "lassoboot run in the rootfs failed: $(tail -3 "$WORK/run.err" | tr '\n' ' ')"
fi

# 3. Coordinator + worker + submit, all from the rootfs (loopback: the chroot shares the network).
in_root lassoboot coordinator --port 0 --db /work/c.db >"$WORK/coordinator.log" 2>&1 &
PIDS+=($!)
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/coordinator.log" | head -1)
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    fail "coordinator in the rootfs did not start: $(tail -3 "$WORK/coordinator.log" | tr '\n' ' ')"
else
    in_root lassoboot worker --coordinator "$url" --threads 2 --name "rootfs-$$" >"$WORK/worker.log" 2>&1 &
    PIDS+=($!)
    if in_root sh -c "cd /work && lassoboot submit jobs/demo.json --coordinator $url --wait --format csv" >"$WORK/submit.out" 2>"$WORK/submit.err"; then
        # stdout: the CSV, then the run id on the last line.
        sed '$d' "$WORK/submit.out" >"$WORK/submit.csv"
        if cmp -s "$WORK/host.csv" "$WORK/submit.csv"; then
            pass "coordinator + worker in the rootfs (SQLite store $(du -ck "$R"/work/c.db* | tail -n 1 | cut -f1) KB): submitted demo CSV byte-identical to the host's lassoboot run"
        else
            fail "coordinator + worker in the rootfs: the CSV differs from the host's: $(diff "$WORK/host.csv" "$WORK/submit.csv" | head -3 | tr '\n' ' ')"
        fi
    else
        fail "submit in the rootfs failed: $(tail -3 "$WORK/submit.err" | tr '\n' ' ')"
    fi
fi

echo "rootfs: $passed passed, $failed failed"
[ "$failed" = 0 ]

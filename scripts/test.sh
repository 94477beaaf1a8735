#!/usr/bin/env bash
# Runs every test of lassoboot: the Swift test suites (unit, reference, end-to-end with real
# processes on loopback), the hostile-client test, then the multi-host test in network namespaces (skipped, saying so,
# where the machine does not allow namespaces). Tests that need ../shared/data skip with a
# message when it is absent.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh || exit 1
# Progress lines ("[12/300] Compiling ...", "◇ Test ... started") are dropped; everything else is shown.
swift build --build-tests 2>&1 | grep -v '^\['
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "build failed (exit $status)" >&2; exit "$status"; }
swift test --skip-build 2>&1 | grep -v '^◇ '
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || exit "$status"
# Hostile clients against a real coordinator with a run in progress (issue 14): malformed
# forms, negative task keys, oversized datasets, 2,000 idle connections, bad ports and thread
# counts, wrong tokens; uses the debug binary the build above made.
LASSOBOOT_BIN=$PWD/.build/debug/lassoboot bash scripts/hostile-client-test.sh || exit $?
# The static release binary (scripts/release.sh -> dist/lassoboot), run without the toolchain,
# and the deploy recipes: Dockerfile, compose, Kubernetes, systemd, Slurm (issue 6).
bash scripts/deploy-test.sh || exit $?
# Storage faults under a real coordinator and worker: another process holding the write lock,
# external checkpoints, a tmpfs that fills up; one coordinator per database; damaged files
# named at start-up (issue 14). Same static binary.
LASSOBOOT_BIN=$PWD/dist/lassoboot bash scripts/fault-test.sh || exit $?
# Hostile workers (forged leases, foreign tasks, out-of-range scores, wrong coefficients, error
# spam) while an honest worker runs two jobs: the tables are unchanged, the refusals counted.
LASSOBOOT_BIN=$PWD/dist/lassoboot bash scripts/malicious-worker-test.sh || exit $?
# The container image built from the Dockerfile with buildah (a debootstrapped Debian base, the
# binary above packed, no Swift compiled again) and run: coordinator and worker from the image,
# HEALTHCHECK, uid 10001 (issue 13).
LASSOBOOT_BIN=$PWD/dist/lassoboot bash scripts/image-test.sh || exit $?
# The same static binary on a bare Debian: a debootstrapped minbase rootfs with nothing added,
# run, coordinator and worker under chroot (issue 13).
LASSOBOOT_BIN=$PWD/dist/lassoboot bash scripts/rootfs-test.sh || exit $?
# The Python package: the wheel release.sh made beside the binary, pip-installed into a fresh
# venv, used without a Swift toolchain on PATH; pytest, including a live coordinator (issue 13).
LASSOBOOT_BIN=$PWD/dist/lassoboot bash scripts/python-test.sh || exit $?
# Several hosts in network namespaces, with the same static binary.
LASSOBOOT_BIN=$PWD/dist/lassoboot bash scripts/netns-test.sh || exit $?
# The dashboard in headless Chromium, /metrics, schemathesis on the OpenAPI document (issue 5);
# screenshots and the schemathesis JUnit report go to .build-web/artifacts.
bash scripts/web-test.sh .build-web/artifacts

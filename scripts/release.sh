#!/usr/bin/env bash
# Builds the release lassoboot with the Swift standard library and Foundation linked statically
# (--static-swift-stdlib), so it runs on a machine without the Swift toolchain, and copies it to
# OUT_DIR (default: dist/).
#
#   bash scripts/release.sh [OUT_DIR]
#
# Also writes OUT_DIR/lassoboot-VERSION-linux-ARCH.tar.gz (binary, LICENSE, README.md,
# CITATION.cff), the Python wheel OUT_DIR/lassoboot-VERSION-py3-none-manylinux_2_35_ARCH.whl (python/)
# and OUT_DIR/SHA256SUMS. `lassoboot --version` names the git commit it was built
# from (Plugins/BuildInfo; LASSOBOOT_COMMIT outside a git checkout).
#
# SQLite (the coordinator's store) and zlib (`.csv.gz` data) are linked in, and the HTTP(S)
# client is async-http-client on SwiftNIO (no libcurl). What the binary still needs at run time
# is printed at the end (ldd): glibc (libc, libm) and libstdc++ / libgcc_s (the Swift runtime's
# C++ support), all in every Debian and Ubuntu base (ca-certificates for https coordinators).
#
# Build dependencies (gcc, libsqlite3-dev, zlib1g-dev: the static libraries) are checked by
# scripts/ensure-deps.sh and installed when run as root on Debian. The Dockerfile's build stage
# runs this same script.
#
# Environment:
#   SCRATCH=.build-release   SwiftPM scratch path (kept apart from the debug .build)
#   STRIP=all                the binary without symbols (smallest); the symbols and debug info go
#                            to OUT_DIR/lassoboot.debug, which gdb, perf and the Swift backtracer
#                            find through the binary's .gnu_debuglink when it sits beside it.
#                            STRIP=debug keeps the symbol table in the binary; STRIP=none copies
#                            the binary as built
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist}
SCRATCH=${SCRATCH:-.build-release}
STRIP=${STRIP:-all}
case $STRIP in debug|all|none) ;; *) echo "release.sh: error: STRIP must be debug, all or none (got '$STRIP')" >&2; exit 1 ;; esac

die() { echo "release.sh: error: $*" >&2; exit 1; }

source scripts/ensure-deps.sh || die "build dependencies are missing (see above)"

if [ "$STRIP" != none ] && ! command -v strip >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing binutils (strip is missing) ..." >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils; } >/dev/null \
            || die "could not install binutils; install it or run with STRIP=none"
    else
        die "strip (binutils) is missing; install binutils or run with STRIP=none"
    fi
fi

# SQLite and zlib are linked in (Debian's libsqlite3.a and libz.a, from libsqlite3-dev and
# zlib1g-dev): a directory holding only the static libraries is searched before the system's, so
# "-lsqlite3" (GRDB) and "-lz" (CZlib) resolve to them and the binary needs neither at run time.
STATIC_LIBS="$SCRATCH/static-libs"
mkdir -p "$STATIC_LIBS"
for lib in sqlite3 z; do
    a=$(gcc -print-file-name=lib$lib.a 2>/dev/null || true)
    [ -f "$a" ] || die "lib$lib.a not found (install libsqlite3-dev and zlib1g-dev)"
    ln -sfn "$a" "$STATIC_LIBS/lib$lib.a"
done
STATIC_LIBS=$(cd "$STATIC_LIBS" && pwd)
LINK=(-Xlinker -L"$STATIC_LIBS")
echo "release.sh: swift build -c release --static-swift-stdlib ${LINK[*]} --product lassoboot --scratch-path $SCRATCH" >&2
# Progress lines ("[12/300] Compiling ...") and the dependencies' notes about unhandled files
# are dropped; everything else (this package's warnings, errors) is shown.
set +e
swift build -c release --static-swift-stdlib "${LINK[@]}" --product lassoboot --scratch-path "$SCRATCH" 2>&1 \
    | grep -Ev '^\[[0-9]+/[0-9]+\]|which are unhandled; explicitly declare them|^    /.*/checkouts/'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || die "swift build failed (exit $status)"

BUILT=$(swift build -c release --static-swift-stdlib "${LINK[@]}" --product lassoboot --scratch-path "$SCRATCH" --show-bin-path)/lassoboot
[ -x "$BUILT" ] || die "no binary at $BUILT after the build"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Copy to a temporary name first so a concurrent reader never sees a half-written binary.
cp "$BUILT" "$OUT/.lassoboot.tmp"
rm -f "$OUT/lassoboot.debug"
case $STRIP in
    debug) strip --strip-debug "$OUT/.lassoboot.tmp" ;;
    all)
        objcopy --only-keep-debug "$OUT/.lassoboot.tmp" "$OUT/lassoboot.debug"
        chmod 0644 "$OUT/lassoboot.debug"
        strip --strip-all "$OUT/.lassoboot.tmp"
        objcopy --add-gnu-debuglink="$OUT/lassoboot.debug" "$OUT/.lassoboot.tmp"
        ;;
esac
chmod 0755 "$OUT/.lassoboot.tmp"
mv -f "$OUT/.lassoboot.tmp" "$OUT/lassoboot"

# The toolchain must not be needed: no libswift*/libFoundation*/libdispatch among the libraries.
if command -v ldd >/dev/null 2>&1; then
    libs=$(ldd "$OUT/lassoboot") || die "ldd $OUT/lassoboot failed"
    if grep -Eq 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libsqlite3|libcurl|libz\.|not found' <<<"$libs"; then
        echo "$libs" >&2
        die "$OUT/lassoboot still links Swift runtime libraries, libsqlite3, libcurl or libz (or a library is not found)"
    fi
    echo "release.sh: shared libraries still needed (ldd):" >&2
    while IFS= read -r line; do echo "    $line"; done <<<"$libs" >&2
fi
size=$(stat -c %s "$OUT/lassoboot")
version_line=$("$OUT/lassoboot" --version 2>/dev/null) || die "$OUT/lassoboot --version failed"
echo "release.sh: $OUT/lassoboot ($((size / 1048576)) MiB, $version_line)" >&2

# The release archive: lassoboot-VERSION-linux-ARCH.tar.gz (the binary, LICENSE, README.md,
# CITATION.cff) and SHA256SUMS beside it. Reproducible: sorted names, owner 0, the commit's time.
version=${version_line%% *}
arch=$(uname -m)
name=lassoboot-$version-linux-$arch
stage=$(mktemp -d)
mkdir "$stage/$name"
cp "$OUT/lassoboot" LICENSE README.md CITATION.cff "$stage/$name/"
when=$(git log -1 --format=%ct 2>/dev/null || echo 0)
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$when" -cf - "$name" | gzip -n -6 >"$OUT/.$name.tar.gz.tmp"
mv -f "$OUT/.$name.tar.gz.tmp" "$OUT/$name.tar.gz"
rm -rf "$stage"
# The Python wheel (python/: `pip install` it for `import lassoboot`), through the same in-tree
# PEP 517 backend `pip wheel ./python` uses; it needs python3 only.
wheel=""
if command -v python3 >/dev/null 2>&1; then
    wheel=$(cd python && LASSOBOOT_BIN="$OUT/lassoboot" python3 -c 'import sys, lassoboot_build; print(lassoboot_build.build_wheel(sys.argv[1]))' "$OUT") \
        || die "building the Python wheel failed"
else
    echo "release.sh: python3 is missing: no Python wheel" >&2
fi
sums=("$name.tar.gz")
[ -f "$OUT/lassoboot.debug" ] && sums+=(lassoboot.debug)
[ -n "$wheel" ] && sums+=("$wheel")
(cd "$OUT" && sha256sum "${sums[@]}" >SHA256SUMS)
echo "release.sh: $OUT/$name.tar.gz ($(($(stat -c %s "$OUT/$name.tar.gz") / 1048576)) MiB)${wheel:+, $OUT/$wheel}, $OUT/SHA256SUMS" >&2
echo "$OUT/lassoboot"

#!/usr/bin/env bash
# The Python package (issue 13): builds the wheel the standard way (`pip wheel ./python`, the
# in-tree PEP 517 backend packs the release binary), checks it is byte-identical to the one
# scripts/release.sh put in dist/, installs dist/lassoboot-*.whl into a fresh venv, and with no
# Swift toolchain on PATH runs the README's one-liner and the pytest suite (python/tests: a
# DataFrame with a pandas index and a boolean outcome, errors as exceptions, fit, and a round trip
# through a live coordinator and worker). Prints `python: N passed, M failed`.
#
#   bash scripts/python-test.sh          (after scripts/release.sh)
#
# Environment: LASSOBOOT_BIN (default dist/lassoboot); PY_VENV (default .build-python/venv;
# pandas and pytest are installed into it from the package index, pip's cache reused).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BIN=${LASSOBOOT_BIN:-$ROOT/dist/lassoboot}
WORK=$ROOT/.build-python
VENV=${PY_VENV:-$WORK/venv}
die() { echo "python-test: error: $*" >&2; echo "python: 0 passed, 1 failed"; exit 1; }

[ -x "$BIN" ] || die "no binary at $BIN (run scripts/release.sh first)"
command -v python3 >/dev/null 2>&1 || die "python3 is missing"
wheel_in_dist=$(find "$(dirname "$BIN")" -maxdepth 1 -name 'lassoboot-*.whl' | sort | head -n 1)
[ -n "$wheel_in_dist" ] || die "no wheel beside $BIN (scripts/release.sh writes dist/lassoboot-VERSION-py3-none-manylinux_2_35_ARCH.whl)"

rm -rf "$WORK/wheel" "$VENV"
mkdir -p "$WORK/wheel"
python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check pandas pytest auditwheel >"$WORK/pip.log" 2>&1 \
    || die "pip install pandas pytest auditwheel failed: $(tail -3 "$WORK/pip.log")"

# The standard route: pip builds the wheel through pyproject.toml's backend, offline.
LASSOBOOT_BIN=$BIN "$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps ./python -w "$WORK/wheel" \
    >>"$WORK/pip.log" 2>&1 || die "pip wheel ./python failed: $(tail -3 "$WORK/pip.log")"
built=$(find "$WORK/wheel" -maxdepth 1 -name 'lassoboot-*.whl' | sort | head -n 1)
passed=0
failed=0
if cmp -s "$built" "$wheel_in_dist"; then
    echo "python: PASS pip wheel ./python is byte-identical to $(basename "$wheel_in_dist") ($(($(stat -c %s "$built") / 1048576)) MiB)"
    passed=$((passed + 1))
else
    echo "python: FAIL pip wheel ./python differs from $wheel_in_dist"
    failed=$((failed + 1))
fi

# The manylinux tag is a claim: auditwheel reads the binary's libraries and symbol versions.
if "$VENV/bin/auditwheel" show "$wheel_in_dist" >"$WORK/auditwheel.out" 2>&1 \
    && tr -s ' \n' ' ' <"$WORK/auditwheel.out" | grep -q 'is consistent with the following platform tag: "manylinux_2_35_'; then
    echo "python: PASS auditwheel: $(basename "$wheel_in_dist") is consistent with manylinux_2_35 ($(tr -s ' \n' ' ' <"$WORK/auditwheel.out" | grep -oE 'following platform tag: "[^"]*"' | head -n 1))"
    passed=$((passed + 1))
else
    echo "python: FAIL auditwheel does not confirm the manylinux_2_35 tag: $(tr -s ' \n' ' ' <"$WORK/auditwheel.out" | head -c 600)"
    failed=$((failed + 1))
fi

"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel_in_dist" >>"$WORK/pip.log" 2>&1 \
    || die "pip install $wheel_in_dist failed: $(tail -3 "$WORK/pip.log")"

# No toolchain: the venv, then the system's directories only.
CLEAN_PATH="$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
cd "$WORK" || die "cannot enter $WORK"
if env -u LASSOBOOT_BIN PATH="$CLEAN_PATH" python -c "
import shutil, lassoboot
assert shutil.which('swift') is None
print(lassoboot.run('$ROOT/jobs/demo/demo.csv', job='$ROOT/jobs/demo.json', resamples=99, threads=2).table[['outcome', 'feature', 'oddsRatio', 'debiasedOddsRatio', 'selectionFrequency']].head(4).to_string())
" >"$WORK/oneliner.out" 2>&1; then
    echo "python: PASS the README's one-liner without a Swift toolchain on PATH:"
    sed 's/^/    /' "$WORK/oneliner.out"
    passed=$((passed + 1))
else
    echo "python: FAIL the README's one-liner: $(tail -5 "$WORK/oneliner.out")"
    failed=$((failed + 1))
fi

env -u LASSOBOOT_BIN PATH="$CLEAN_PATH" LASSOBOOT_REPO="$ROOT" python -m pytest -q -p no:cacheprovider "$ROOT/python/tests" \
    >"$WORK/pytest.out" 2>&1
status=$?
sed 's/^/    /' "$WORK/pytest.out" | tail -n 30
tests_passed=$(grep -oE '[0-9]+ passed' "$WORK/pytest.out" | tail -n 1 | cut -d' ' -f1)
tests_failed=$(grep -oE '[0-9]+ (failed|error)' "$WORK/pytest.out" | awk '{s += $1} END {print s + 0}')
passed=$((passed + ${tests_passed:-0}))
failed=$((failed + tests_failed))
[ "$status" = 0 ] || [ "$tests_failed" -gt 0 ] || failed=$((failed + 1))
# The README's R recipe (the block marked `test: r-recipe`), with the wheel's `lassoboot` on PATH.
recipe=$WORK/recipe.R
sed -n '/<!-- test: r-recipe -->/,/^```$/p' "$ROOT/README.md" | sed '1,2d;$d' >"$recipe"
if ! command -v Rscript >/dev/null 2>&1; then
    echo "python: SKIPPED the README's R recipe: Rscript is missing (apt-get install r-base-core)"
elif [ ! -s "$recipe" ]; then
    echo "python: FAIL no block marked 'test: r-recipe' in README.md"
    failed=$((failed + 1))
elif env -u LASSOBOOT_BIN PATH="$CLEAN_PATH:$(dirname "$(command -v Rscript)")" Rscript "$recipe" >"$WORK/recipe.out" 2>&1 \
    && grep -q "induced" "$WORK/recipe.out"; then
    echo "python: PASS the README's R recipe (system2 + read.csv):"
    sed 's/^/    /' "$WORK/recipe.out"
    passed=$((passed + 1))
else
    echo "python: FAIL the README's R recipe: $(tail -5 "$WORK/recipe.out")"
    failed=$((failed + 1))
fi

echo "python: $passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# The coverage yardstick of issue 10 over the factorial n x p x rho grid: for each cell, R
# repetitions of the Toeplitz design (lassoboot-bench coverage --design toeplitz), alpha by 5-fold
# CV, the debiased Wald interval (and any other --methods), and the issue's pass criterion.
# Prints one line per cell and method, then the full tables go to $OUT (default /tmp/coverage-grid).
#
#   bash Benchmarks/coverage-grid.sh                  # R = 1000, the 27 cells, debiased Wald
#   REPS=200 ROWS="1000" PS="20" RHOS="0.5" METHODS=percentile,debiased-wald RESAMPLES=200 bash Benchmarks/coverage-grid.sh
#
# Environment: REPS (1000), ROWS ("500 1000 5000"), PS ("8 20 50"), RHOS ("0 0.5 0.8"),
# METHODS (debiased-wald), RESAMPLES (20: enough for Wald, which needs none; raise it for
# bootstrap methods), THREADS (all cores), BENCH (default: build the release lassoboot-bench),
# DEBIASED (a spec's `debiased` object, e.g. '{"method": "newton"}'; default: the spec's auto),
# EVENT_RATE (the intercept set for this share of ones, e.g. 0.1; default: intercept -0.5).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-1000}
ROWS=${ROWS:-"500 1000 5000"}
PS=${PS:-"8 20 50"}
RHOS=${RHOS:-"0 0.5 0.8"}
METHODS=${METHODS:-debiased-wald}
RESAMPLES=${RESAMPLES:-20}
THREADS=${THREADS:-$(nproc)}
DEBIASED=${DEBIASED:-}
EVENT_RATE=${EVENT_RATE:-}
OUT=${OUT:-/tmp/coverage-grid}
if [ -z "${BENCH:-}" ]; then
    swift build -c release --product lassoboot-bench >/dev/null
    BENCH="$(swift build -c release --show-bin-path)/lassoboot-bench"
fi
mkdir -p "$OUT"
printf '%-6s %-4s %-4s %-16s %s\n' n p rho method "criterion (class coverage; min coefficient; width / oracle MLE Wald)"
for n in $ROWS; do
    for p in $PS; do
        for rho in $RHOS; do
            file="$OUT/n$n-p$p-rho$rho.txt"
            "$BENCH" coverage --design toeplitz --p "$p" --rho "$rho" --rows "$n" --reps "$REPS" --resamples "$RESAMPLES" \
                --settings cv --methods "$METHODS" --threads "$THREADS" ${DEBIASED:+--debiased "$DEBIASED"} ${EVENT_RATE:+--event-rate "$EVENT_RATE"} >"$file" 2>/dev/null
            awk -v n="$n" -v p="$p" -v rho="$rho" '
                / intervals$/ { method = $1 }
                /^  [xz][0-9]/ && method != "" { if (!(method in low) || $5 < low[method]) { low[method] = $5; name[method] = $1 } }
                /criterion/ && method != "" { sub(/^ *criterion /, ""); printf "%-6s %-4s %-4s %-16s %s (lowest: %s)\n", n, p, rho, method, $0, name[method] }
            ' "$file"
        done
    done
done

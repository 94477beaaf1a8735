#!/usr/bin/env bash
# The main job: cross-validated L1 logistic regressions with bootstrap confidence intervals,
# printing the odds-ratio CI table. Runs the CTDC North America analysis when ../shared/data
# has its table, else the bundled demo job. Extra arguments go to `lassoboot run`.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh || exit 1
swift build -c release --product lassoboot 2>&1 | grep -v '^\['
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "build failed (exit $status)" >&2; exit "$status"; }
if [ -f ../shared/data/madiforman_CTDC_analysis_final_data.csv ]; then
  job=jobs/ctdc-north-america.json
else
  echo "note: ../shared/data/madiforman_CTDC_analysis_final_data.csv is absent (see ../shared/data/SOURCES.md); running the bundled demo" >&2
  job=jobs/demo.json
fi
exec .build/release/lassoboot run "$job" --out out/"$(basename "$job" .json)" "$@"

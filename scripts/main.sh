#!/usr/bin/env bash
# The main job: reproduce the CTDC North America analysis with `lassoboot fit` and print the
# odds-ratio tables. Uses ../shared/data when present, else the bundled synthetic data set.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh || exit 1
swift build -c release --product lassoboot 2>&1 | grep -v '^\['
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "build failed (exit $status)" >&2; exit "$status"; }
bin=.build/release/lassoboot
data=../shared/data/madiforman_CTDC_analysis_final_data.csv
if [ -f "$data" ]; then
  exec "$bin" fit --data "$data" --outcome isForcedLabour --outcome isSexualExploit \
    --alpha 0.1 --penalize-intercept \
    --rows Tests/Fixtures/ctdc_split_train_rows.txt --test-rows Tests/Fixtures/ctdc_split_test_rows.txt "$@"
else
  echo "note: $data is absent (see ../shared/data/SOURCES.md); fitting the bundled synthetic data instead" >&2
  exec "$bin" fit --data Tests/Fixtures/synthetic_logistic.csv --outcome y --alpha 5 "$@"
fi

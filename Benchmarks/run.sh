#!/usr/bin/env bash
# The benchmark in one command:  bash Benchmarks/run.sh
#
# Installs the peers when missing (Debian: r-cran-glmnet; PyPI: statsmodels cvxopt numpy pandas),
# builds lassoboot-bench in release mode, times one full-data fit on the CTDC table with
# lassoboot, statsmodels l1_cvxopt_cp and R glmnet at the same alpha and comparable accuracy,
# times the 1M x 20 CSV read, and prints the side-by-side table.
#
# Environment: CTDC_CSV (default <repo>/../shared/data/madiforman_CTDC_analysis_final_data.csv),
# PYTHON (default python3), BENCH_OUT (directory for the raw JSON lines; default a temp dir),
# LB_REPEAT (lassoboot fits per timing, default 50).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"
PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1
CTDC=${CTDC_CSV:-"$REPO/../shared/data/madiforman_CTDC_analysis_final_data.csv"}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lassoboot-bench.XXXXXX")}
mkdir -p "$OUT"
LB_REPEAT=${LB_REPEAT:-50}
log() { echo "== $*" >&2; }

# ---- peers ---------------------------------------------------------------------------------
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
have_glmnet() { command -v Rscript >/dev/null 2>&1 && Rscript -e 'suppressMessages(library(glmnet))' >/dev/null 2>&1; }
if ! have_glmnet; then
  log "installing R glmnet (apt)"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists are too old to find it.
  $SUDO apt-get install -y r-cran-glmnet || { $SUDO apt-get update && $SUDO apt-get install -y r-cran-glmnet; }
fi
if ! "$PY" -c 'import statsmodels, cvxopt, numpy, pandas' >/dev/null 2>&1; then
  log "installing statsmodels cvxopt numpy pandas (pip)"
  "$PY" -m pip install statsmodels cvxopt numpy pandas
fi

# ---- lassoboot ------------------------------------------------------------------------------
log "building lassoboot-bench (release)"
swift build -c release --product lassoboot-bench >&2
BIN="$(swift build -c release --show-bin-path)/lassoboot-bench"

log "CSV read: 1,000,000 rows x 20 columns"
"$BIN" csv --rows 1000000 --cols 20 --repeat 5 >"$OUT/csv.json"

if [ -f "$CTDC" ]; then
  COMMON=(--data "$CTDC" --outcome isForcedLabour --exclude isSexualExploit)
  TIGHT=1e-9      # lassoboot KKT/n tolerance matched by statsmodels (reaches ~5e-10) and glmnet thresh 1e-14
  LOOSE=1e-6      # matched by glmnet's default thresh 1e-7 (reaches ~1e-6)
  GLM_TIGHT=1e-14
  lb() { local name=$1; shift; log "lassoboot $name"; "$BIN" fit "${COMMON[@]}" --repeat "$LB_REPEAT" --label "$name" "$@" >"$OUT/$name.json"; }
  glm() { local name=$1; shift; log "glmnet $name"; Rscript "$HERE/peers/glmnet_bench.R" "${COMMON[@]}" --repeat 5 --label "$name" "$@" >"$OUT/$name.json"; }

  # statsmodels' problem: alpha = 0.1 with the intercept penalized too.
  lb lb_pen_tight --alpha 0.1 --penalize-intercept --tolerance $TIGHT
  log "statsmodels l1_cvxopt_cp alpha=0.1"
  "$PY" "$HERE/peers/statsmodels_bench.py" "${COMMON[@]}" --alpha 0.1 --repeat 3 --label statsmodels >"$OUT/statsmodels.json"

  # glmnet's problem: free intercept, lambda = alpha / n; the analysis' alpha and a sparse one.
  lb lb_free_tight --alpha 0.1 --tolerance $TIGHT
  lb lb_free_loose --alpha 0.1 --tolerance $LOOSE
  glm glmnet_free_tight --alpha 0.1 --thresh $GLM_TIGHT
  glm glmnet_free_default --alpha 0.1 --thresh 1e-7
  lb lb_sparse_tight --alpha-fraction 0.01 --tolerance $TIGHT
  lb lb_sparse_loose --alpha-fraction 0.01 --tolerance $LOOSE
  SPARSE=$("$PY" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["alpha"]))' "$OUT/lb_sparse_tight.json")
  glm glmnet_sparse_tight --alpha "$SPARSE" --thresh $GLM_TIGHT
  glm glmnet_sparse_default --alpha "$SPARSE" --thresh 1e-7
else
  echo "CTDC data not found at $CTDC (set CTDC_CSV): skipping the fit comparison, CSV benchmark only." >&2
fi

echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; raw JSON in $OUT"
"$PY" "$HERE/report.py" "$OUT"

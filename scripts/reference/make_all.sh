#!/usr/bin/env bash
# Regenerate every reference fixture in Tests/Fixtures/ from independent tools.
# Installs missing dependencies (Debian: r-cran-glmnet; PyPI: scikit-learn,
# statsmodels, cvxopt, pandas, numpy, scipy). Data: CTDC_CSV or
# <repo>/../shared/data/madiforman_CTDC_analysis_final_data.csv.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1

if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(glmnet)' >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y r-cran-glmnet
fi
if ! "$PY" -c 'import sklearn, statsmodels, cvxopt, pandas, numpy, scipy' >/dev/null 2>&1; then
  "$PY" -m pip install scikit-learn statsmodels cvxopt pandas numpy scipy
fi

"$PY" make_split.py
"$PY" make_statsmodels.py
"$PY" make_synthetic.py
"$PY" make_references.py

#!/usr/bin/env bash
# The scaling benchmark (issue 12): lassoboot's fit time against skglm, glum, liblinear and R glmnet on a
# grid of shapes, each solver's objective printed relative to lassoboot's. A benchmark, not a
# test: it takes tens of minutes. Needs the release binary (scripts/release.sh or
# `swift build -c release`), Python with numpy, skglm and glum, and Rscript with glmnet
# (`pip install skglm glum`; `apt-get install r-base-core r-cran-glmnet`); a peer that is
# missing is reported and skipped.
#
#   bash Benchmarks/scaling.sh                       # the default grid
#   CELLS="10000x1000:continuous" RATIOS="0.1" bash Benchmarks/scaling.sh
#   CELLS="100000x100000:onehot" bash Benchmarks/scaling.sh     # the sparse one-hot design (lassoboot fit --onehot)
#
# Data are generated into $DATA_DIR (default /tmp/lassoboot-scaling), deterministic per cell.
set -euo pipefail
cd "$(dirname "$0")/.."
LB=${LB:-.build/release/lassoboot}
DATA_DIR=${DATA_DIR:-/tmp/lassoboot-scaling}
REPEATS=${REPEATS:-3}
RATIOS=${RATIOS:-"0.5 0.05"}
CELLS=${CELLS:-"10000x20:continuous 10000x20:binary 10000x100:continuous 10000x100:binary 10000x1000:continuous 10000x1000:binary 100000x20:continuous 100000x20:binary 100000x100:continuous 100000x100:binary 2000x5000:continuous 100000x1000:continuous 10000x10000:onehot 100000x100000:onehot"}
[ -x "$LB" ] || { echo "no release binary at $LB: run scripts/release.sh or swift build -c release" >&2; exit 1; }
mkdir -p "$DATA_DIR"
peers=()
python3 -c "import skglm" 2>/dev/null && peers+=(skglm) || echo "skglm not installed (pip install skglm): skipped"
python3 -c "import glum" 2>/dev/null && peers+=(glum) || echo "glum not installed (pip install glum): skipped"
python3 -c "import sklearn" 2>/dev/null && peers+=(liblinear) || echo "scikit-learn not installed (pip install scikit-learn): liblinear skipped"
if command -v Rscript >/dev/null && Rscript -e 'suppressMessages(library(glmnet))' 2>/dev/null; then peers+=(glmnet); else echo "R glmnet not installed: skipped"; fi
list=$(IFS=,; echo "${peers[*]}")
echo "lassoboot $("$LB" --version); peers: ${list:-none}; $(nproc) cores; repeats $REPEATS (medians)"
for cell in $CELLS; do
  shape=${cell%%:*}; kind=${cell##*:}
  n=${shape%%x*}; p=${shape##*x}
  file="$DATA_DIR/${kind}-${n}x${p}.csv"
  [ -s "$file" ] || python3 Benchmarks/scaling/make_data.py --n "$n" --p "$p" --kind "$kind" --out "$file"
  for ratio in $RATIOS; do
    echo
    echo "== $kind $n x $p"
    onehot=""; cell_peers=$list
    if [ "$kind" = onehot ]; then
      onehot="c1,c2,c3,c4"   # four categorical columns: about p indicators
      # glum forms a dense p x p Hessian: 181 s at p = 10,000, 80 GB at p = 100,000 (not run).
      [ "$p" -ge 10000 ] && cell_peers=$(echo ",$list," | sed 's/,glum,/,/; s/^,//; s/,$//')
    fi
    python3 Benchmarks/scaling/peers.py --data "$file" --ratio "$ratio" --lassoboot "$LB" --repeats "$REPEATS" --peers "$cell_peers" --onehot "$onehot"
  done
done

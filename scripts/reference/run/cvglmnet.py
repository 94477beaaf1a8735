"""lassoboot's cross-validation against R cv.glmnet on the same folds and lambda grid.

Writes Tests/Fixtures/run_cvglmnet_ctdc.json, read by
Tests/AnalysisTests/CrossValidationReferenceTests.swift.

Steps:
  1. `lassoboot run SPEC --out TMP --resamples 1 --quiet` (release build; the bootstrap is not
     used, one resample keeps it short) for rows.csv (the fold of every kept row) and cv.csv (the
     alpha grid of each outcome, and lassoboot's own cv table, kept for the record).
     `--run-dir DIR` reuses an existing output directory instead.
  2. cvglmnet.R: per outcome, cv.glmnet(type.measure = "auc", foldid = fold + 1,
     lambda = alpha / n, standardize = FALSE, ...) on the data columns named by the spec, in the
     spec's order. It also recomputes each fold's AUC as a Mann-Whitney statistic (checked here
     against cv.glmnet's to 1e-12) and a near-tie bound per fold and lambda.
  3. Checks (cvstats reproduces cvm/cvsd exactly, no R warnings, lambda = alpha / n to 1 ulp),
     then writes the fixture: what was run (spec, its sha256, seed, data sha256, rows, the fold
     vector's sha256), and per outcome the grid, cvm, cvsd, per-fold AUCs, lambda.min, and the
     tie bounds the Swift test uses as its tolerance. The joint choice (spec "choose": "joint":
     best mean of cvm over outcomes, ties to the larger alpha) is derived from R's cvm here.

Usage: python3 scripts/reference/run/cvglmnet.py [--spec jobs/ctdc-north-america.json]
           [--run-dir DIR] [--lassoboot PATH] [--delta 1e-6] [--out Tests/Fixtures/run_cvglmnet_ctdc.json]
Needs: Rscript with glmnet (Debian: r-cran-glmnet), a Swift toolchain unless --run-dir/--lassoboot.
Deterministic: rerunning gives a byte-identical file (no timings, no paths outside the repo).
"""
import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def lassoboot_binary(explicit):
    if explicit:
        return explicit
    subprocess.run(["swift", "build", "-c", "release", "--product", "lassoboot"], cwd=REPO, check=True,
                   stdout=sys.stderr)
    return os.path.join(REPO, ".build", "release", "lassoboot")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default="jobs/ctdc-north-america.json", help="job spec, relative to the repo")
    ap.add_argument("--run-dir", help="existing `lassoboot run --out` directory of that spec (skips the run)")
    ap.add_argument("--lassoboot", help="lassoboot binary (default: build the release product)")
    ap.add_argument("--delta", type=float, default=1e-6, help="near-tie distance on the link scale")
    ap.add_argument("--out", default="Tests/Fixtures/run_cvglmnet_ctdc.json")
    args = ap.parse_args()

    spec_path = os.path.join(REPO, args.spec)
    with open(spec_path) as f:
        spec = json.load(f)
    data_path = os.path.normpath(os.path.join(os.path.dirname(spec_path), spec["data"]["csv"]))
    if not os.path.exists(data_path):
        sys.exit(f"the spec's data file {data_path} is absent")
    features = []
    for feat in spec["features"]:
        enc = feat.get("encoding", "numeric")
        enc = enc if isinstance(enc, str) else enc.get("type")
        if enc not in ("numeric", "binary"):
            sys.exit(f"feature {feat['name']}: encoding {enc} is not supported here (numeric and binary only)")
        features.append(feat.get("column", feat["name"]))
    if set(spec["data"]) - {"csv"}:
        print("note: the spec filters rows; rows are taken from rows.csv's sourceRow", file=sys.stderr)
    scale = spec.get("penalty", {}).get("scale", "sum")
    outcomes = [o if isinstance(o, str) else o["name"] for o in spec["outcomes"]]

    with tempfile.TemporaryDirectory(prefix="lassoboot-cvglmnet-") as tmp:
        run_dir = args.run_dir
        version = None
        if not run_dir:
            exe = lassoboot_binary(args.lassoboot)
            run_dir = os.path.join(tmp, "run")
            subprocess.run([exe, "run", spec_path, "--out", run_dir, "--resamples", "1", "--quiet", "--format", "cv"],
                           check=True, stdout=subprocess.DEVNULL)
            version = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(run_dir, "report.json")) as f:
            report = json.load(f)
        with open(os.path.join(run_dir, "rows.csv")) as f:
            rows = list(csv.DictReader(f))
        with open(os.path.join(run_dir, "cv.csv")) as f:
            lb_cv = list(csv.DictReader(f))
        folds = [int(r["fold"]) for r in rows]
        fold_text = "".join(f"{k}\n" for k in folds)
        n = len(rows)
        K = max(folds) + 1

        feature_file = os.path.join(tmp, "features.txt")
        with open(feature_file, "w") as f:
            f.write("".join(name + "\n" for name in features))
        result = os.path.join(tmp, "result.tsv")
        subprocess.run(["Rscript", os.path.join(HERE, "cvglmnet.R"), run_dir, data_path, feature_file, scale, result,
                        repr(args.delta)], check=True)
        r = {}
        with open(result) as f:
            for line in f:
                o, field, values = line.rstrip("\n").split("\t")
                r.setdefault(o, {})[field] = values.split(" ")

    assert int(r[""]["n"][0]) == n
    fixture_outcomes = []
    cvms = []
    lb_diff = {"maxAbsCvm": 0.0, "maxAbsCvsd": 0.0, "maxAbsFoldScore": 0.0}
    for name in outcomes:
        x = r[name]
        alpha = [float(v) for v in x["alpha"]]
        lb_rows = [row for row in lb_cv if row["outcome"] == name]
        assert [float(row["alpha"]) for row in lb_rows] == alpha, "R read a different alpha grid"
        lam = [float(v) for v in x["lambda"]]
        for a, l in zip(alpha, lam):
            expect = a / n if scale == "sum" else a
            assert abs(l - expect) <= 2.3e-16 * expect, (l, expect)
        cvm = [float(v) for v in x["cvm"]]
        cvsd = [float(v) for v in x["cvsd"]]
        assert x["cvm.check"] == x["cvm"] and x["cvsd.check"] == x["cvsd"], "cvstats on cvraw does not reproduce cv.glmnet"
        assert x["warnings"] == ["0"], f"cv.glmnet warned {x['warnings']} times"
        fold_scores = [[float(v) for v in x[f"cvraw.{i + 1}"]] for i in range(K)]
        mw = [[float(v) for v in x[f"mw.{i + 1}"]] for i in range(K)]
        mw_diff = max(abs(a - b) for fa, fb in zip(fold_scores, mw) for a, b in zip(fa, fb))
        assert mw_diff <= 1e-12, f"glmnet's AUC differs from the Mann-Whitney AUC by {mw_diff}"
        ties = [[float(v) for v in x[f"tie.{i + 1}"]] for i in range(K)]
        tie_bound = [max(ties[i][j] for i in range(K)) for j in range(len(alpha))]
        index = int(x["lambda.min.index"][0]) - 1
        assert float(x["lambda.min"][0]) == lam[index]
        cvms.append(cvm)
        for j, row in enumerate(lb_rows):
            lb_diff["maxAbsCvm"] = max(lb_diff["maxAbsCvm"], abs(float(row["mean"]) - cvm[j]))
            lb_diff["maxAbsCvsd"] = max(lb_diff["maxAbsCvsd"], abs(float(row["se"]) - cvsd[j]))
            for i in range(K):
                lb_diff["maxAbsFoldScore"] = max(lb_diff["maxAbsFoldScore"], abs(float(row[f"fold{i + 1}"]) - fold_scores[i][j]))
        fixture_outcomes.append({
            "name": name,
            "alpha": alpha,
            "lambda": lam,
            "cvm": cvm,
            "cvsd": cvsd,
            "foldScores": fold_scores,
            "nzero": [int(v) for v in x["nzero"]],
            "lambdaMin": float(x["lambda.min"][0]),
            "lambdaMinIndex": index,
            "alphaMin": alpha[index],
            "tieBound": tie_bound,
            "maxAbsDiffMannWhitney": mw_diff,
        })

    # The spec's joint rule from R's numbers: best mean cvm over outcomes, ties to the larger alpha.
    grid = fixture_outcomes[0]["alpha"]
    assert all(o["alpha"] == grid for o in fixture_outcomes)
    mean = [sum(c[j] for c in cvms) / len(cvms) for j in range(len(grid))]
    joint = max(range(len(grid)), key=lambda j: (mean[j], -j))
    lb_chosen = {o["name"]: o["alpha"] for o in report["outcomes"]}

    fixture = {
        "description": ("R cv.glmnet (binomial, type.measure='auc', standardize=FALSE) on the folds and alpha grid of "
                        "`lassoboot run` of the spec; lambda = alpha / n on the sum scale. foldScores[fold][alpha] is "
                        "cv.glmnet's per-fold AUC; tieBound[alpha] the most any fold's AUC can move when held-out rows "
                        "whose link values differ by <= tieDelta are re-ordered (the test's tolerance). Indices are 0-based."),
        "generator": "scripts/reference/run/cvglmnet.py + cvglmnet.R",
        "versions": {"R": r[""]["R.version"][0], "glmnet": r[""]["glmnet.version"][0], "lassoboot": version or "(given run dir)"},
        "glmnetSettings": {"family": "binomial", "type.measure": "auc", "standardize": False, "type.logistic": "Newton",
                           "thresh": 1e-20, "maxit": 10**7, "glmnet.control": {"fdev": 0, "devmax": 1, "pmin": 1e-15, "mnlam": 1}},
        "spec": args.spec,
        "specSha256": sha256_file(spec_path),
        "seed": report["seed"],
        "data": os.path.basename(data_path),
        "dataHash": sha256_file(data_path),
        "rows": n,
        "folds": K,
        "foldHash": hashlib.sha256(fold_text.encode()).hexdigest(),
        "foldHashOf": "the 0-based fold of each kept row, in row order, as decimal text with '\\n' after each",
        "foldSizes": [folds.count(k) for k in range(K)],
        "scale": scale,
        "features": features,
        "tieDelta": args.delta,
        "choose": spec.get("cv", {}).get("choose", "per-outcome"),
        "jointIndex": joint,
        "jointAlpha": grid[joint],
        "outcomes": fixture_outcomes,
        "lassobootAtGeneration": {"chosenAlpha": lb_chosen, **lb_diff},
    }
    out = os.path.join(REPO, args.out)
    with open(out, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(out, REPO)}")
    for o in fixture_outcomes:
        print(f"  {o['name']}: lambda.min = alpha[{o['lambdaMinIndex']}] = {o['alphaMin']!r} / n; "
              f"max tie bound {max(o['tieBound']):.2g}; max |glmnet - Mann-Whitney| {o['maxAbsDiffMannWhitney']:.2g}")
    print(f"  joint choice: alpha[{joint}] = {grid[joint]!r}; lassoboot chose {lb_chosen}")
    print(f"  lassoboot vs cv.glmnet: " + ", ".join(f"{k} {v:.3g}" for k, v in lb_diff.items()))


if __name__ == "__main__":
    main()

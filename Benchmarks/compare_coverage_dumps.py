"""Two variants of one coverage simulation on the same repetitions, side by side: coverage, mean
error and median width per coefficient, over the repetitions both variants have (each
repetition's data depend on its index alone, so the comparison is paired).

    python3 Benchmarks/compare_coverage_dumps.py [--method debiased-wald] A_DIR [A_DIR ...] -- B_DIR [B_DIR ...]

Each side is one or more `lassoboot-bench coverage --dump DIR` directories (pieces run with
`--from` are pooled, each repetition once). Coefficients shown: the intercept, the nonzero ones
and the zero class as a whole. Also the chosen alpha's median and the penalized intercept's mean
error (the lasso fit the intervals start from), and the repetitions where only one variant
covers the intercept (McNemar's discordant pairs).
"""
import argparse, json, math, os, statistics, sys

from coverage_dumps import load_repetitions


def load(dirs):
    return {rep: r for rep, (_, r) in load_repetitions(dirs).items()}


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: compare_coverage_dumps.py [--method M] A_DIR... -- B_DIR...")
    cut = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", default="debiased-wald")
    ap.add_argument("a", nargs="+")
    args = ap.parse_args(argv[:cut])
    b_dirs = argv[cut + 1 :]
    model = json.load(open(os.path.join(args.a[0], "model.json")))
    truth, names = model["truth"], model["names"]
    a, b = load(args.a), load(b_dirs)
    common = sorted(set(a) & set(b))
    if not common:
        sys.exit("no repetition in common")
    print(f"{args.method}: {len(common)} repetitions in common; A = {' '.join(args.a)}; B = {' '.join(b_dirs)}")

    def cover(r, j):
        iv = r["intervals"][args.method][j]
        return None if iv is None or iv[0] is None else iv[0] <= truth[j] <= iv[1]

    def summary(rows, j):
        hits = [cover(rows[k], j) for k in common]
        hits = [h for h in hits if h is not None]
        ivs = [rows[k]["intervals"][args.method][j] for k in common]
        ivs = [iv for iv in ivs if iv is not None and iv[0] is not None]
        c = sum(hits) / len(hits)
        err = statistics.fmean((lo + hi) / 2 - truth[j] for lo, hi in ivs)
        width = statistics.median(hi - lo for lo, hi in ivs)
        return c, math.sqrt(c * (1 - c) / len(hits)), err, width

    print(f"{'coefficient':12s} {'truth':>6s} | {'A cover':>8s} {'(SE)':>6s} {'error':>7s} {'width':>6s} | {'B cover':>8s} {'(SE)':>6s} {'error':>7s} {'width':>6s}")
    for j in [0] + [j for j in range(1, len(truth)) if truth[j] != 0]:
        ca, sa, ea, wa = summary(a, j)
        cb, sb, eb, wb = summary(b, j)
        print(f"{names[j]:12s} {truth[j]:6.2f} | {ca:8.3f} {sa:6.3f} {ea:7.3f} {wa:6.2f} | {cb:8.3f} {sb:6.3f} {eb:7.3f} {wb:6.2f}")
    zeros = [j for j in range(1, len(truth)) if truth[j] == 0]
    for label, rows in (("A", a), ("B", b)):
        hits = [cover(rows[k], j) for k in common for j in zeros]
        hits = [h for h in hits if h is not None]
        zero_cover = {j: summary(rows, j)[0] for j in zeros}
        worst = min(zeros, key=zero_cover.get)
        print(
            f"{label}: zero class {sum(hits) / len(hits):.3f} (lowest {names[worst]} {zero_cover[worst]:.3f}); "
            f"alpha median {statistics.median(rows[k]['alpha'] for k in common):.4g}; "
            f"penalized intercept's mean error {statistics.fmean(rows[k]['estimate'][0] - truth[0] for k in common):+.3f}"
        )
    only_a = sum(1 for k in common if cover(a[k], 0) and cover(b[k], 0) is False)
    only_b = sum(1 for k in common if cover(b[k], 0) and cover(a[k], 0) is False)
    print(f"intercept covered by A only in {only_a} repetitions, by B only in {only_b}")


if __name__ == "__main__":
    main()

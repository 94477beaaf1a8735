"""Why an interval misses: bias against spread, per coefficient, from `lassoboot-bench coverage
--dump DIR` directories (pieces of one simulation run with `--from` are pooled, each repetition
once).

    python3 Benchmarks/coverage_bias.py [--method debiased-wald] [--coefficients const,x1_cont] DIR [DIR ...]

For a Wald-type method (symmetric intervals) the centre is the estimate and the half-width over
z_{0.975} its standard error. Per coefficient it prints the estimate's mean error against the
truth, its empirical SD over the repetitions, the mean and median SE, and z = error / SE (mean
and SD: a calibrated interval has z ~ N(0, 1); a mean away from 0 is bias, an SD above 1 is an
SE too small), the misses below / above the truth, and for the intercept the part of its error
that the features' errors carry through the columns' means, -sum_j mean(x_j) * error_j.
"""
import argparse, json, os, statistics, sys

from coverage_dumps import load_repetitions

Z = 1.959963984540054


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--method", default="debiased-wald")
    ap.add_argument("--coefficients", help="names, comma-separated (default: the intercept and the nonzero ones, and the lowest-covered)")
    args = ap.parse_args()
    model = json.load(open(os.path.join(args.dirs[0], "model.json")))
    truth, names = model["truth"], model["names"]
    if args.method not in model["methods"]:
        sys.exit(f"--method {args.method}: the dump has {', '.join(model['methods'])}")
    rows = load_repetitions(args.dirs)
    p = len(truth)
    errors = [[] for _ in range(p)]
    ses = [[] for _ in range(p)]
    below = [0] * p
    above = [0] * p
    carried = []
    for rep, (d, r) in sorted(rows.items()):
        iv = r["intervals"][args.method]
        if any(v is None or v[0] is None or v[1] is None for v in iv):
            continue
        centre = [(lo + hi) / 2 for lo, hi in iv]
        for j in range(p):
            errors[j].append(centre[j] - truth[j])
            ses[j].append((iv[j][1] - iv[j][0]) / 2 / Z)
            below[j] += iv[j][1] < truth[j]
            above[j] += iv[j][0] > truth[j]
        # Column means of this repetition's data (header y, then the features in model order).
        with open(os.path.join(d, f"rep{rep}.csv")) as f:
            header = f.readline().strip().split(",")
            sums = [0.0] * (len(header) - 1)
            n = 0
            for line in f:
                fields = line.rstrip("\n").split(",")
                for k in range(1, len(fields)):
                    sums[k - 1] += float(fields[k])
                n += 1
        means = [s / n for s in sums]
        carried.append(-sum(means[j - 1] * errors[j][-1] for j in range(1, p)))
    R = len(errors[0])
    if args.coefficients:
        wanted = [names.index(c) for c in args.coefficients.split(",")]
    else:
        cover = [1 - (below[j] + above[j]) / R for j in range(p)]
        wanted = [0] + [j for j in range(1, p) if truth[j] != 0]
        low = min((j for j in range(1, p) if truth[j] == 0), key=lambda j: cover[j], default=None)
        if low is not None:
            wanted.append(low)
    print(f"{args.method}: {R} repetitions")
    print(f"{'coefficient':12s} {'truth':>6s} {'cover':>6s} {'bias':>7s} {'sd':>6s} {'meanSE':>7s} {'medSE':>6s} {'z mean':>7s} {'z sd':>5s} {'below':>6s} {'above':>6s}")
    for j in wanted:
        e, s = errors[j], ses[j]
        z = [a / b for a, b in zip(e, s) if b > 0]
        print(
            f"{names[j]:12s} {truth[j]:6.2f} {1 - (below[j] + above[j]) / R:6.3f} {statistics.fmean(e):7.3f} {statistics.pstdev(e):6.3f} "
            f"{statistics.fmean(s):7.3f} {statistics.median(s):6.3f} {statistics.fmean(z):7.2f} {statistics.pstdev(z):5.2f} {below[j]:6d} {above[j]:6d}"
        )
    e0 = errors[0]
    mean_c = statistics.fmean(carried)
    print(
        f"intercept: error {statistics.fmean(e0):.3f} on average, of which the features' errors carry through the column means "
        f"{mean_c:.3f} (correlation {statistics.correlation(e0, carried):.2f}); the rest {statistics.fmean(e0) - mean_c:.3f}"
    )


if __name__ == "__main__":
    main()

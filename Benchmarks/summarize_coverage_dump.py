"""Coverage per class from a `lassoboot-bench coverage --dump DIR` directory, also when the run was
stopped early (the dump keeps the finished repetitions in order, as a prefix).

    python3 Benchmarks/summarize_coverage_dump.py DIR [DIR ...]

Several directories are the pieces of one simulation run with `--from` (the same command
otherwise): their repetitions are pooled, each counted once.

Classes: intercept; large |beta| >= 0.8; small 0 < |beta| < 0.8; zero. Prints, per method, the
class coverages (each coefficient's when a class has at most three), the lowest coefficient and
the Monte-Carlo SE of one coefficient's coverage at 0.95.
"""
import json, math, sys
dirs = sys.argv[1:]
if not dirs:
    sys.exit(__doc__)
models = [json.load(open(d + '/model.json')) for d in dirs]
m = models[0]
truth, names = m['truth'], m['names']
for d, other in zip(dirs, models):
    for key in ('design', 'rows', 'resamples', 'seed', 'truth', 'settings', 'methods'):
        if other[key] != m[key]:
            sys.exit(f"{d}/model.json: '{key}' differs from {dirs[0]}'s: not pieces of one simulation")
byrep = {}
for d in dirs:
    for line in open(d + '/lassoboot.jsonl'):
        r = json.loads(line)
        byrep.setdefault((r['setting'], r['rep']), r)
reps = [byrep[k] for k in sorted(byrep)]
numbers = sorted({r['rep'] for r in reps})
gaps = [i for i in range(numbers[-1] + 1) if i not in set(numbers)] if numbers else []
span = f"repetitions {numbers[0]}-{numbers[-1]}" + (f", {len(gaps)} missing" if gaps else "") if numbers else "none"
print(f"{len(reps)} repetitions ({span}), setting {reps[0]['setting']}")
for method in reps[0]['intervals']:
    cov = []
    for j, b in enumerate(truth):
        hits = [iv['intervals'][method][j] for iv in reps]
        hits = [h for h in hits if h is not None]
        c = sum(1 for h in hits if h[0] <= b <= h[1]) / max(1, len(hits))
        cov.append(c)
    classes = {'intercept': [0], 'large': [j for j in range(1, len(truth)) if abs(truth[j]) >= 0.8],
               'small': [j for j in range(1, len(truth)) if 0 < abs(truth[j]) < 0.8],
               'zero': [j for j in range(1, len(truth)) if truth[j] == 0]}
    R = len(reps)
    out = []
    for k, js in classes.items():
        c = sum(cov[j] for j in js) / len(js)
        out.append(f"{k} {c:.3f}" + (f" ({', '.join(f'{cov[j]:.3f}' for j in js)})" if len(js) <= 3 else ''))
    low = min(range(1, len(truth)), key=lambda j: cov[j])
    print(f"{method:16s} " + "; ".join(out) + f"; lowest {names[low]} {cov[low]:.3f}; MC SE at 0.95 {math.sqrt(.95*.05/R):.4f}")

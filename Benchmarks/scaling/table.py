"""Markdown table of a Benchmarks/scaling.sh log: one row per (cell, lambda ratio).

    python3 Benchmarks/scaling/table.py scaling.log
"""
import re
import sys


def main(path):
    rows, cell, current = [], None, None
    for line in open(path):
        if line.startswith("== "):
            cell = line[3:].strip()
        elif line.startswith("n=") and cell:
            ratio = re.search(r"lambda/lambda_max=([0-9.e-]+)", line).group(1)
            load = re.search(r"load average ([0-9.]+)", line).group(1)
            current = {"cell": cell, "ratio": ratio, "load": load, "solvers": {}}
            rows.append(current)
        elif current and re.match(r"^(lassoboot|skglm|glum|glmnet)\s+[0-9]+\.[0-9]+\s+[0-9.]+x", line):
            parts = line.split()
            current["solvers"][parts[0]] = (float(parts[1]), float(parts[3]), int(parts[4]), " ".join(parts[5:]))
    peers = ["skglm", "glum", "glmnet"]
    print("| data | lambda/lambda_max | lassoboot fit s (solver) | " + " | ".join(f"{p} s" for p in peers)
          + " | best peer / lassoboot | largest objective gap (rel) | load |")
    print("|---|---|---|" + "---|" * len(peers) + "---|---|---|")
    for r in rows:
        s = r["solvers"]
        if "lassoboot" not in s:
            continue
        lb = s["lassoboot"][0]
        times = {p: s[p][0] for p in peers if p in s}
        best = min(times.values()) if times else float("nan")
        gap = max((abs(s[p][1]) for p in times), default=0.0)
        note = s["lassoboot"][3]
        print(f"| {r['cell']} | {r['ratio']} | {lb:.4f} ({note}) | "
              + " | ".join(f"{times[p]:.4f}" if p in times else "-" for p in peers)
              + f" | {best / lb:.2f}x | {gap:.1e} | {r['load']} |")


if __name__ == "__main__":
    main(sys.argv[1])

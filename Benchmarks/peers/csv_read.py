"""CSV read peers for `lassoboot-bench csv`: pandas' C parser and its pyarrow engine (multi-threaded)
on the same file, median of --repeat reads after one warm-up (page cache warm), one JSON line each.

    python3 Benchmarks/peers/csv_read.py --file data.csv [--repeat 5]
"""
import argparse
import json
import os
import statistics
import time

import pandas as pd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    size = os.path.getsize(a.file)
    for engine in ["c", "pyarrow"]:
        try:
            frame = pd.read_csv(a.file, engine=engine)
        except (ImportError, ValueError) as e:
            print(json.dumps({"tool": f"pandas-{engine}", "skipped": str(e)}))
            continue
        times = []
        for _ in range(a.repeat):
            start = time.perf_counter()
            frame = pd.read_csv(a.file, engine=engine)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(json.dumps({"tool": f"pandas-{engine}", "rows": len(frame), "cols": frame.shape[1], "bytes": size,
                          "medianSeconds": median, "mbPerSecond": size / 1e6 / median}))


if __name__ == "__main__":
    main()

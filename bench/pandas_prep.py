"""pandas baseline for the `rec prep` benchmark (docs/benchmarks.md#targets): read_csv + factorize + sort.

Mirrors what `rec prep` does to the bench's headerless TSV (user, item, rating, unix-second ts):
read the four columns, factorize user and item ids in order of first appearance (rec's dense
indices), convert ts to epoch ms, and sort by (user, ts) with a stable sort, so ties keep input
order (rec's (user, ts, seq) order). It does not de-duplicate, split, hash the input or write
Arrow files, which `rec prep` also does, so the comparison is conservative for rec.

    python3 bench/pandas_prep.py FILE.tsv [REPEATS]

Prints one JSON object: pandas/numpy versions, rows, the wall and CPU seconds of each repeat
(measured inside the process, after imports, like the Node bench) and the process's peak RSS.
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def prep(path: str) -> int:
    df = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating", "ts"])
    df["user"], _ = pd.factorize(df["user"])
    df["item"], _ = pd.factorize(df["item"])
    df["ts"] = df["ts"] * 1000
    df = df.sort_values(["user", "ts"], kind="stable")
    return len(df)


def main() -> None:
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    walls = []
    cpus = []
    rows = 0
    for _ in range(repeats):
        t = time.perf_counter()
        c = time.process_time()
        rows = prep(path)
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - t)
    print(json.dumps({"pandas": pd.__version__, "numpy": np.__version__, "rows": rows, "wall_s": walls, "cpu_s": cpus,
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


if __name__ == "__main__":
    main()

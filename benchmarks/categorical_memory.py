"""Issue 17's memory target: a streamed formula fit with a 1,000-level column.

Each run is a fresh process (so its peak RSS is its own) fitting
``y ~ x1 + x2 + C(shop)`` with ``fit_stream`` over DataFrame blocks generated on
the fly (``--block-rows`` rows each, seeded by block number, so every pass sees
the same rows): ``shop`` is text with ``--levels`` levels. The design has
levels + 2 columns, built a block at a time from the levels learned in the first
pass; nothing holds all the rows. Prints a Markdown table of rows, seconds and
peak RSS with its ratio to the smallest run's, then one JSON line.

    python benchmarks/categorical_memory.py [--rows 1e6 1e7] [--levels 1000]
        [--block-rows 100000]
"""

import argparse
import json
import subprocess
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7])
parser.add_argument("--levels", type=int, default=1000)
parser.add_argument("--block-rows", type=int, default=100_000)
args = parser.parse_args()

RUN = """
import json, resource, sys, time
import numpy as np, pandas as pd
from tapereg import LinearRegressor

n, levels, block_rows = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
names = np.array([f"shop {k:04d}" for k in range(levels)], dtype=object)
effects = np.random.default_rng(0).normal(size=levels)

class Blocks:
    def __iter__(self):
        for start in range(0, n, block_rows):
            rows = min(block_rows, n - start)
            rng = np.random.default_rng(start)
            shop = rng.integers(0, levels, rows)
            x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
            y = 2 * x1 - x2 + effects[shop] + rng.normal(size=rows)
            yield pd.DataFrame({"y": y, "x1": x1, "x2": x2, "shop": names[shop]})

started = time.perf_counter()
model = LinearRegressor(formula="y ~ x1 + x2 + C(shop)", solver="exact")
model.fit_stream(Blocks())
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
x1 = float(model.coef_[list(model.feature_names_in_).index("x1")])
print(json.dumps({"rows": n, "seconds": seconds, "peak_bytes": peak,
                  "n_terms": len(model.feature_names_in_) + 1, "x1": x1}))
"""

results = []
for rows in args.rows:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            str(int(rows)),
            str(args.levels),
            str(args.block_rows),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    results.append(json.loads(out.stdout.strip().splitlines()[-1]))

smallest = results[0]["peak_bytes"]
print(
    f"formula y ~ x1 + x2 + C(shop), {args.levels:,} levels, blocks of "
    f"{args.block_rows:,} rows, solver='exact'\n"
)
print("| rows | terms | seconds | peak RSS | ratio |\n|---|---|---|---|---|")
for r in results:
    print(
        f"| {r['rows']:,} | {r['n_terms']:,} | {r['seconds']:.1f} | "
        f"{r['peak_bytes'] / 2**20:,.0f} MiB | {r['peak_bytes'] / smallest:.2f} |"
    )
print(json.dumps({"levels": args.levels, "runs": results}))

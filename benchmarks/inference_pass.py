"""Issue 16's cost: the residual pass behind the diagnostics and robust errors.

Fits the same in-memory problem (float32 rows, float64 statistics) with
``compute_statistics=False`` (no inference), the default (OLS inference and the
summary's diagnostics: one residual pass), ``cov_type="HC1"`` (the pass also adds
the HC meats) and ``cov_type="cluster"`` (the pass also sums the cluster scores),
each timed as the best of ``--repeat`` fits side by side, and prints a Markdown
table of seconds and the ratio to the fit without inference, then one JSON line.

    python benchmarks/inference_pass.py [--rows 1e7] [--features 10] [--repeat 3]
"""

import argparse
import json
import time

import numpy as np

from tapereg import LinearRegressor

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=float, default=1e7)
parser.add_argument("--features", type=int, default=10)
parser.add_argument("--repeat", type=int, default=3)
args = parser.parse_args()

n, d = int(args.rows), args.features
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d), dtype=np.float32)
y = X @ rng.standard_normal(d).astype(np.float32) + rng.standard_normal(n, np.float32)
groups = rng.integers(0, 1000, n)

cases = {
    "no inference (compute_statistics=False)": ({"compute_statistics": False}, None),
    "default: OLS inference + diagnostics": ({}, None),
    "cov_type='HC1' (+ HC meats)": ({"cov_type": "HC1"}, None),
    "cov_type='cluster', 1,000 clusters": ({"cov_type": "cluster"}, groups),
}
seconds = {}
for name, (params, labels) in cases.items():
    best = np.inf
    for _ in range(args.repeat):
        model = LinearRegressor(**params)
        started = time.perf_counter()
        model.fit(X, y, groups=labels)
        best = min(best, time.perf_counter() - started)
    seconds[name] = best

base = seconds["no inference (compute_statistics=False)"]
print(f"{n:,} x {d} float32 rows in memory, best of {args.repeat}\n")
print("| fit | seconds | ratio |\n|---|---|---|")
for name, value in seconds.items():
    print(f"| {name} | {value:.2f} | {value / base:.2f} |")
print(json.dumps({"rows": n, "features": d, "seconds": seconds}))

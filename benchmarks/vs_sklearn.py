"""Issue 4's target: LinearRegressor() against scikit-learn's LinearRegression.

2e6 x 20 correlated, unscaled float32 data (``make_correlated_regression``), both fits
in this process, interleaved, medians of --repeats runs after one warm-up fit each
(tapereg's first fit in a process traces its training loop; later fits reuse it).
The optimum is the float64 exact solution; excess MSE is relative to it.

    python benchmarks/vs_sklearn.py [--rows 2000000] [--features 20] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf  # noqa: F401  (imported before any timing)
from sklearn.linear_model import LinearRegression

from tapereg import LinearRegressor, solve_least_squares
from tapereg.numerics.datasets import make_correlated_regression

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=2_000_000)
parser.add_argument("--features", type=int, default=20)
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()

X64, y64, _ = make_correlated_regression(args.rows, args.features, random_state=0)
X, y = X64.astype(np.float32), y64.astype(np.float32)
exact = solve_least_squares(X.astype(np.float64), y.astype(np.float64)[:, None])
best = np.mean((X @ exact.coef[:, 0] + exact.intercept[0] - y) ** 2)


def excess(predictions):
    return (np.mean((predictions - y) ** 2) - best) / best


fits = {
    "sklearn LinearRegression": lambda: LinearRegression().fit(X, y),
    "tapereg LinearRegressor()": lambda: LinearRegressor().fit(X, y),
    "tapereg, compute_statistics=False": lambda: LinearRegressor(
        compute_statistics=False
    ).fit(X, y),
}
times = {name: [] for name in fits}
models = {name: fit() for name, fit in fits.items()}  # warm-up
for _ in range(args.repeats):
    for name, fit in fits.items():
        started = time.perf_counter()
        models[name] = fit()
        times[name].append(time.perf_counter() - started)

reference = statistics.median(times["sklearn LinearRegression"])
print(f"{args.rows} x {args.features} float32, median of {args.repeats} runs\n")
print("| fit | seconds | ratio to sklearn | relative excess MSE | epochs |")
print("|---|---:|---:|---:|---:|")
rows = {}
for name, model in models.items():
    seconds = statistics.median(times[name])
    rows[name] = {
        "seconds": seconds,
        "ratio": seconds / reference,
        "excess": float(excess(model.predict(X))),
        "epochs": getattr(model, "n_iter_", None),
    }
    r = rows[name]
    print(
        f"| {name} | {seconds:.3f} | {r['ratio']:.2f} | {r['excess']:.1e} | "
        f"{r['epochs'] or ''} |"
    )
print(json.dumps(rows))

"""How close LinearRegressor's defaults get to the least-squares optimum, and how fast.

Unscaled, correlated data (``numerics.datasets.make_correlated_regression``); the
optimum from ``np.linalg.lstsq``. Prints epochs, relative excess MSE and seconds.

    python benchmarks/default_gap.py
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf  # noqa: F401  (imported before timing)

from tapereg import LinearRegressor
from tapereg.numerics.datasets import make_correlated_regression

print("| data | dtype | epochs | relative excess MSE | seconds |")
print("|---|---|---:|---:|---:|")
for n, d in [(20_000, 6), (200_000, 20)]:
    X, y, _ = make_correlated_regression(n, d, random_state=0)
    A = np.column_stack([X, np.ones(n)])
    best = np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    for dtype in ("float32", "float64"):
        started = time.perf_counter()
        model = LinearRegressor(dtype=dtype).fit(X, y)
        seconds = time.perf_counter() - started
        excess = (np.mean((model.predict(X) - y) ** 2) - best) / best
        print(
            f"| {n} x {d} | {dtype} | {model.n_iter_} | {excess:.2e} | {seconds:.2f} |"
        )

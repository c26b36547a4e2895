"""NIST StRD with LinearRegressor() defaults, in float64 and float32 (issue 14).

For each set: the fewest certified digits of any coefficient (NIST's log relative
error), the residual sum of squares against the exact optimum's, R², epochs, the
time of a warm fit and the warnings raised. The data and the parser are the tests'
(tests/data/nist, tests/test_nist.py).

    python benchmarks/nist_defaults.py
"""

import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_nist import fit, load, lre, with_intercept

from tapereg import LinearRegressor

SETS = ["Norris", "Pontius", "NoInt1", "NoInt2", "Longley"]
SETS += [f"Wampler{k}" for k in range(1, 6)] + ["Filip"]


def rss(model, problem) -> float:
    residual = problem.y - model.predict(problem.X)
    return float(residual @ residual)


def defaults(problem, dtype):
    model = LinearRegressor(dtype=dtype, fit_intercept=problem.fit_intercept)
    return model.fit(problem.X, problem.y)


print(
    "| set | dtype | certified digits (fewest) | RSS / optimum's − 1 | R² "
    "| epochs | ms (warm) | warnings |"
)
print("|---|---|---:|---:|---:|---:|---:|---|")
for name in SETS:
    problem = load(name)
    optimum = rss(fit(problem), problem)
    about = problem.y.mean() if problem.fit_intercept else 0.0
    total = float(np.sum((problem.y - about) ** 2))
    certified = with_intercept(problem, problem.coef, problem.intercept)
    for dtype in ("float64", "float32"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            defaults(problem, dtype)  # the first fit of a shape traces the loop
            started = time.perf_counter()
            model = defaults(problem, dtype)
            ms = 1000 * (time.perf_counter() - started)
        found = rss(model, problem)
        estimate = with_intercept(problem, np.atleast_1d(model.coef_), model.intercept_)
        digits = lre(estimate, certified).min()
        gap = f"{found / optimum - 1:.1e}" if problem.resid_sd > 0 else "certified 0"
        kinds = ", ".join(sorted({w.category.__name__ for w in caught})) or "–"
        print(
            f"| {name} | {dtype} | {digits:.1f} | {gap} | {1 - found / total:.10f} "
            f"| {model.n_iter_} | {ms:.1f} | {kinds} |"
        )

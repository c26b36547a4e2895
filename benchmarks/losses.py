"""Issue 18's losses: tapereg's quantile and Huber fits against scikit-learn's.

Correlated, unscaled float64 data with heavy-tailed noise (Student t, 2 degrees of
freedom: where robust losses matter), the same rows for every fit; medians of
--repeats runs after one warm-up fit each (tapereg's first fit in a process traces
its training loop). Each fit's objective is evaluated here, in NumPy, against the
best objective any of them reached:

- quantile 0.9: ``QuantileRegressor(solver="highs")`` (an exact linear program)
  against ``LinearRegressor(loss="quantile", quantile=0.9)``;
- Huber (ε = 1 in target units): ``SGDRegressor(loss="huber")`` (its defaults,
  without a penalty, on standardized X as its docs advise) against
  ``LinearRegressor(loss="huber", epsilon=1)``; the reference optimum is SciPy's
  L-BFGS-B on the objective.

    python benchmarks/losses.py [--rows 20000] [--features 20] [--repeats 3]
"""

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf  # noqa: F401  (imported before any timing)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import QuantileRegressor, SGDRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tapereg import LinearRegressor
from tapereg.numerics.datasets import make_correlated_regression
from tapereg.numerics.losses import exact_optimum, row_loss

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=20_000)
parser.add_argument("--features", type=int, default=20)
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

X, y, _ = make_correlated_regression(args.rows, args.features, random_state=0)
rng = np.random.default_rng(1)
y = y + rng.standard_t(2, size=y.shape) * y.std() * 0.1
Q, EPS = 0.9, 1.0


def objective(kind, model) -> float:
    """The loss's mean (scikit-learn's units) of a fitted model on the rows."""
    loss = row_loss(kind, epsilon=EPS, quantile=Q)
    return float(np.mean(loss(model.predict(X) - y)))


def optimum(kind) -> float:
    """The loss's mean at its exact optimum (``numerics.losses.exact_optimum``)."""
    coef, intercept = exact_optimum(kind, X, y[:, None], epsilon=EPS, quantile=Q)
    loss = row_loss(kind, epsilon=EPS, quantile=Q)
    return float(np.mean(loss(X @ coef[:, 0] + intercept[0] - y)))


def time_fits(fits):
    times = {name: [] for name in fits}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = {name: fit() for name, fit in fits.items()}  # warm-up
        for _ in range(args.repeats):
            for name, fit in fits.items():
                started = time.perf_counter()
                models[name] = fit()
                times[name].append(time.perf_counter() - started)
    return models, {name: statistics.median(t) for name, t in times.items()}


def table(kind, fits, optimum):
    models, seconds = time_fits(fits)
    first = next(iter(fits))
    print(
        f"| {kind}, {args.rows} x {args.features} | seconds | ratio | "
        "relative gap to the optimum |"
    )
    print("|---|---|---|---|")
    for name, model in models.items():
        gap = (objective(kind, model) - optimum) / optimum
        epochs = f" ({model.n_iter_} epochs)" if hasattr(model, "loss_curve_") else ""
        print(
            f"| {name}{epochs} | {seconds[name]:.3f} | "
            f"{seconds[name] / seconds[first]:.2f} | {gap:.1e} |"
        )
    print()


print(f"median of {args.repeats} runs; Student-t(2) noise\n")
table(
    "quantile",
    {
        'sklearn QuantileRegressor(quantile=0.9, alpha=0, solver="highs")': lambda: (
            QuantileRegressor(quantile=Q, alpha=0, solver="highs").fit(X, y)
        ),
        'tapereg LinearRegressor(loss="quantile", quantile=0.9)': lambda: (
            LinearRegressor(loss="quantile", quantile=Q, max_iter=10_000).fit(X, y)
        ),
    },
    optimum("quantile"),
)
table(
    "huber",
    {
        'sklearn SGDRegressor(loss="huber", epsilon=1, penalty=None) on scaled X': (
            lambda: make_pipeline(
                StandardScaler(),
                SGDRegressor(loss="huber", epsilon=EPS, penalty=None, random_state=0),
            ).fit(X, y)
        ),
        'tapereg LinearRegressor(loss="huber", epsilon=1)': lambda: LinearRegressor(
            loss="huber", epsilon=EPS, max_iter=10_000
        ).fit(X, y),
    },
    optimum("huber"),
)

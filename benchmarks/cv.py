"""Issue 18's cross-validation: LinearRegressorCV against scikit-learn's ElasticNetCV.

1e6 x 20 correlated, unscaled float64 data (``make_correlated_regression``),
l1_ratio 0.5, 5 contiguous folds (``KFold(5)``, ElasticNetCV's ``cv=5``), 100
alphas each; both fits in this process, interleaved, medians of --repeats runs
after one warm-up fit each (tapereg's first fit in a process traces its training
loop). scikit-learn runs with its defaults (tol 1e-4, one job); tapereg reads the
rows once for the folds' moments and solves every path from them, then refits the
chosen penalty on all rows (one more pass for its moments, and one for the
statistics unless ``compute_statistics=False``).

    python benchmarks/cv.py [--rows 1000000] [--features 20] [--repeats 3]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf  # noqa: F401  (imported before any timing)
from sklearn.linear_model import ElasticNetCV
from sklearn.model_selection import KFold

from tapereg import LinearRegressorCV
from tapereg.numerics.datasets import make_correlated_regression

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=1_000_000)
parser.add_argument("--features", type=int, default=20)
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

X, y, _ = make_correlated_regression(args.rows, args.features, random_state=0)

fits = {
    "sklearn ElasticNetCV(l1_ratio=0.5, cv=5)": lambda: ElasticNetCV(
        l1_ratio=0.5, cv=KFold(5)
    ).fit(X, y),
    "tapereg LinearRegressorCV(l1_ratio=0.5)": lambda: LinearRegressorCV(
        l1_ratio=0.5
    ).fit(X, y),
    "tapereg, compute_statistics=False": lambda: LinearRegressorCV(
        l1_ratio=0.5, compute_statistics=False
    ).fit(X, y),
}
times = {name: [] for name in fits}
models = {name: fit() for name, fit in fits.items()}  # warm-up
for _ in range(args.repeats):
    for name, fit in fits.items():
        started = time.perf_counter()
        models[name] = fit()
        times[name].append(time.perf_counter() - started)

names = list(fits)
reference = statistics.median(times[names[0]])
sklearn_model = models[names[0]]
print(f"{args.rows} x {args.features} float64, median of {args.repeats} runs\n")
print(
    "| fit | seconds | ratio to sklearn | alpha_ | same alpha_ | max rel. coef diff |"
)
print("|---|---:|---:|---:|:---:|---:|")
for name in names:
    seconds = statistics.median(times[name])
    model = models[name]
    gap = (
        np.abs(model.coef_ - sklearn_model.coef_).max()
        / np.abs(sklearn_model.coef_).max()
    )
    same = np.isclose(model.alpha_, sklearn_model.alpha_, rtol=1e-9)
    print(
        f"| {name} | {seconds:.3f} | {seconds / reference:.2f} | {model.alpha_:.6g} "
        f"| {'yes' if same else 'no'} | {gap:.1e} |"
    )

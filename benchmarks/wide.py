"""Issue 14's wide-data target: 2,000 rows x 10,000 features, side by side.

scikit-learn's ``LinearRegression().fit`` on the array; tapereg's
``LinearRegressor().fit`` on the same array (defaults: the rows factored once, a
QR then an SVD, for the whitening, the statistics and the reference); and the
whole ``tapereg fit FILE.parquet --target y`` command (reading the file, starting
TensorFlow, training, the report), with and without ``--no-reference
--no-statistics``, each in a fresh process. Wall-clock seconds and the peak
memory of the commands (``/usr/bin/time``-style, from ``resource``).

    python benchmarks/wide.py [--rows 2000] [--features 10000]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
import tensorflow as tf  # noqa: F401  (imported before any timing)
from sklearn.linear_model import LinearRegression

from tapereg import LinearRegressor

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=2000)
parser.add_argument("--features", type=int, default=10000)
args = parser.parse_args()

rng = np.random.default_rng(0)
X = rng.normal(size=(args.rows, args.features))
y = X[:, :50] @ rng.normal(size=50) + rng.normal(size=args.rows)


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def command(path, *flags):
    """Seconds and peak resident memory (MB) of one ``tapereg fit`` process."""
    argv = [sys.executable, "-m", "tapereg", "fit", path, "--target", "y"]
    started = time.perf_counter()
    subprocess.run(
        [*argv, "--quiet", "--json", *flags], check=True, capture_output=True
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


sklearn_seconds, _ = timed(lambda: LinearRegression().fit(X, y))
LinearRegressor().fit(X[:100, :200], y[:100])  # trace the training loop once
tapereg_seconds, model = timed(lambda: LinearRegressor().fit(X, y))
results = {
    "shape": [args.rows, args.features],
    "sklearn LinearRegression.fit (s)": round(sklearn_seconds, 2),
    "tapereg LinearRegressor().fit (s)": round(tapereg_seconds, 2),
    "fit ratio to sklearn": round(tapereg_seconds / sklearn_seconds, 2),
    "tapereg epochs": int(model.n_iter_),
}
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "wide.parquet")
    columns = [f"x{i}" for i in range(args.features)]
    pd.DataFrame(X, columns=columns).assign(y=y).to_parquet(path)
    whole, peak = command(path)
    results["tapereg fit FILE (s)"] = round(whole, 2)
    results["tapereg fit FILE peak memory (MB)"] = round(peak)
    skipped, _ = command(path, "--no-reference", "--no-statistics")
    results["tapereg fit FILE --no-reference --no-statistics (s)"] = round(skipped, 2)
    results["command ratio to sklearn's fit"] = round(whole / sklearn_seconds, 2)
print(json.dumps(results, indent=2))

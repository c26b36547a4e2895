"""The values LinearRegressor's choice parameters take (and the CLI's flags offer).

No NumPy or TensorFlow here: the command line reads these at start-up.
"""

from __future__ import annotations

from ..core.optimizers import OPTIMIZERS
from ..parallel.cluster import STRATEGIES

SOLVERS = ("gd", "exact")
ENGINES = ("auto", "gram", "data")
DTYPES = ("float32", "float64")
OPTIMIZER_CHOICES = ("auto", *OPTIMIZERS)
# The coefficients' covariances, as statsmodels names them (numerics.robust).
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
# The losses (core.losses.RowLoss); only the squared error has moments to train on.
LOSSES = ("squared_error", "huber", "quantile", "epsilon_insensitive")
# The losses with a kink, trained on a narrowing envelope (core.train.Smoothing).
KINKED_LOSSES = ("quantile", "epsilon_insensitive")
# Text columns: one-hot encoded ("auto") or refused ("error"); see design.encoding.
CATEGORICAL = ("auto", "error")
# Rows with a missing value: refused ("error") or dropped with a warning ("drop").
MISSING = ("error", "drop")

__all__ = [
    "CATEGORICAL",
    "COV_TYPES",
    "DTYPES",
    "ENGINES",
    "KINKED_LOSSES",
    "LOSSES",
    "MISSING",
    "OPTIMIZER_CHOICES",
    "SOLVERS",
    "STRATEGIES",
]

"""tapereg: linear regression trained by gradient descent on TensorFlow's GradientTape.

The public names are loaded on first use, so ``import tapereg`` (and ``tapereg
--help``) stays instant; TensorFlow is imported only by what trains.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "LinearRegressor": "estimator",
    "LinearRegressorCV": "estimator_cv",
    "LinearModel": "core.model",
    "make_train_step": "core.step",
    "train_step": "core.step",
    "fit_gradient_descent": "core.train",
    "FitResult": "core.train",
    "mean_squared_error": "core.losses",
    "solve_least_squares": "numerics.exact",
    "LeastSquaresSolution": "numerics.exact",
    "read_table": "io.readers",
    "open_table": "io.readers",
    "read_frame": "io.frames",
    "open_frames": "io.frames",
    "shard_of": "io.readers",
    "ShardedBlocks": "parallel.shards",
    "FitDisplay": "reports.plotting",
    "PredictionDisplay": "reports.plotting",
    "LossCurveDisplay": "reports.plotting",
    "save": "io.persistence",
    "load": "io.persistence",
    "TaperegError": "errors",
    "ParameterError": "errors",
    "DataError": "errors",
    "DivergenceError": "errors",
    "ModelFileError": "errors",
    "ExportError": "errors",
    "ClusterError": "errors",
    "export_saved_model": "io.export",
    "CollinearityWarning": "errors",
    "ConstantColumnWarning": "errors",
    "ConstantTargetWarning": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tapereg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)

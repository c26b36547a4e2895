"""Regression metrics of a fit, from scikit-learn's implementations."""

from __future__ import annotations

import math

import numpy as np


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> dict[str, float]:
    """MSE, RMSE, MAE and R², averaged uniformly over targets."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    mse = float(mean_squared_error(y_true, y_pred, sample_weight=sample_weight))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(mean_absolute_error(y_true, y_pred, sample_weight=sample_weight)),
        "r2": float(r2_score(y_true, y_pred, sample_weight=sample_weight)),
    }

"""Regression metrics of a fit, from scikit-learn's implementations."""

from __future__ import annotations

import math

import numpy as np

from .linear import linear_predictions

MULTIOUTPUT = ("uniform_average", "raw_values")


def regression_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    multioutput: str = "uniform_average",
    row_loss=None,
) -> dict:
    """MSE, RMSE, MAE and R² of each target, or their means over targets.

    ``multioutput`` as scikit-learn's: ``"raw_values"`` gives arrays of shape
    (n_targets,), ``"uniform_average"`` floats, each the mean of a key's values
    (RMSE too, as ``root_mean_squared_error``: the mean of the targets' √MSE).
    ``row_loss(ŷ − y)`` (``numerics.losses.row_loss``) adds its weighted mean as
    ``"loss"``.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true = np.asarray(y_true).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred).reshape(len(y_pred), -1)
    raw = {"multioutput": "raw_values", "sample_weight": sample_weight}
    mse = np.asarray(mean_squared_error(y_true, y_pred, **raw), dtype=np.float64)
    per_target = {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": np.asarray(mean_absolute_error(y_true, y_pred, **raw), np.float64),
        # R² of one row is undefined (sklearn would warn and give NaN).
        "r2": np.asarray(r2_score(y_true, y_pred, **raw), np.float64)
        if len(y_true) > 1
        else np.full(mse.shape, math.nan),
    }
    if row_loss is not None:
        per_target["loss"] = np.average(
            row_loss(y_pred - y_true), axis=0, weights=sample_weight
        )
    return _averaged(per_target, multioutput)


def mean_over_targets(per_target: dict) -> dict[str, float]:
    """The mean over targets of each metric in a ``"raw_values"`` dict."""
    return {key: float(np.mean(values)) for key, values in per_target.items()}


def _averaged(per_target: dict, multioutput: str) -> dict:
    if multioutput not in MULTIOUTPUT:
        raise ValueError(f"multioutput must be in {MULTIOUTPUT}, got {multioutput!r}")
    if multioutput == "raw_values":
        return per_target
    return mean_over_targets(per_target)


def regression_metrics_stream(
    blocks,
    models,
    *,
    shift=None,
    sum_across=None,
    multioutput="uniform_average",
    row_loss=None,
) -> list[dict]:
    """:func:`regression_metrics` of each linear model over row blocks, in one pass.

    ``blocks`` yields ``(X, Y)`` or ``(X, Y, sample_weight)``; ``models`` is a list of
    ``(coef, intercept)`` with coef (n_features, n_targets). The sums are float64,
    with y's taken about ``shift`` (default: the first block's mean) so that R²
    keeps its digits. Across workers, each passes its shard, the same ``shift`` and
    a ``sum_across`` that adds the sums over workers. ``multioutput`` and
    ``row_loss`` as for :func:`regression_metrics`.
    """
    n_targets = np.atleast_2d(models[0][0]).shape[1]
    weight = 0.0
    squares = [np.zeros(n_targets) for _ in models]
    absolute = [np.zeros(n_targets) for _ in models]
    losses = [np.zeros(n_targets) for _ in models]
    y_sum, y_square = np.zeros(n_targets), np.zeros(n_targets)
    for block in blocks:
        X, Y = block[0], block[1]
        s = block[2] if len(block) == 3 else np.ones(X.shape[0])
        if shift is None:
            shift = Y.mean(axis=0)
        weight += s.sum()
        centred = Y - shift
        y_sum = y_sum + s @ centred
        y_square = y_square + s @ centred**2
        for k, (coef, intercept) in enumerate(models):
            residual = linear_predictions(X, coef, intercept) - Y
            squares[k] = squares[k] + s @ residual**2
            absolute[k] = absolute[k] + s @ np.abs(residual)
            if row_loss is not None:
                losses[k] = losses[k] + s @ row_loss(residual)
    if sum_across is not None:
        packed = sum_across(
            np.concatenate([[weight], y_sum, y_square, *squares, *absolute, *losses])
        )
        weight = float(packed[0])
        parts = packed[1:].reshape(-1, n_targets)
        y_sum, y_square = parts[0], parts[1]
        m = len(models)
        squares = list(parts[2 : 2 + m])
        absolute = list(parts[2 + m : 2 + 2 * m])
        losses = list(parts[2 + 2 * m :])
    total_square = y_square - y_sum**2 / weight
    results = []
    for square, absolute_sum, loss_sum in zip(squares, absolute, losses, strict=True):
        mse = square / weight
        # sklearn's r2_score with force_finite: a constant target scores 1 or 0.
        r2 = np.where(
            total_square > 0,
            1 - square / np.where(total_square > 0, total_square, 1.0),
            np.where(square == 0, 1.0, 0.0),
        )
        per_target = {
            "mse": mse,
            "rmse": np.sqrt(mse),
            "mae": absolute_sum / weight,
            "r2": r2,
        }
        if row_loss is not None:
            per_target["loss"] = loss_sum / weight
        results.append(_averaged(per_target, multioutput))
    return results

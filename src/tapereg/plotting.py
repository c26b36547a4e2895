"""PNG plots of a fit: the data with the trained and exact lines, and the loss curve.

Uses matplotlib's object API (``Figure``) with no pyplot state, so no display is needed.
"""

from __future__ import annotations

import numpy as np

from ._atomic import atomic_write


def _draw_line(ax, x, y, coef, intercept, exact_coef, exact_intercept, names):
    feature, target = names
    ax.scatter(x, y, s=10, alpha=0.6, label="data")
    grid = np.linspace(np.min(x), np.max(x), 2)
    ax.plot(grid, coef * grid + intercept, "r", label="trained")
    if exact_coef is not None:
        ax.plot(grid, exact_coef * grid + exact_intercept, "k--", lw=1, label="exact")
    ax.set_xlabel(feature)
    ax.set_ylabel(target)
    ax.set_title("data and fitted line")
    ax.legend()


def _draw_predicted_vs_actual(ax, y, y_pred, target):
    ax.scatter(y, y_pred, s=10, alpha=0.6)
    limits = [float(np.min(y)), float(np.max(y))]
    ax.plot(limits, limits, "k--", lw=1, label="ideal")
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title("predicted against actual")
    ax.legend()


def _draw_loss(ax, loss_history):
    ax.set_title("training loss")
    if len(loss_history) == 0:
        ax.text(0.5, 0.5, "exact solver: no training", ha="center", va="center")
        ax.set_axis_off()
        return
    ax.plot(np.arange(len(loss_history)), loss_history)
    if np.all(np.asarray(loss_history) > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")


def plot_fit(
    path,
    X: np.ndarray,
    y: np.ndarray,
    *,
    coef: np.ndarray,
    intercept: np.ndarray,
    loss_history: np.ndarray,
    exact_coef: np.ndarray | None = None,
    exact_intercept: np.ndarray | None = None,
    feature_names: list[str] | None = None,
    target_name: str = "y",
) -> None:
    """Write a two-panel PNG of a fit (first target only) to ``path``, atomically.

    One feature: the data, the trained line (red, as in the tutorial) and the exact
    line. Several features: predicted against actual. Right: the loss per epoch.

    ``coef`` has shape (n_features, n_targets), ``intercept`` (n_targets,).
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    left, right = figure.subplots(1, 2)
    y0 = y[:, 0] if y.ndim == 2 else y
    if X.shape[1] == 1:
        names = ((feature_names or ["x"])[0], target_name)
        _draw_line(
            left,
            X[:, 0],
            y0,
            coef[0, 0],
            intercept[0],
            None if exact_coef is None else exact_coef[0, 0],
            None if exact_intercept is None else exact_intercept[0],
            names,
        )
    else:
        _draw_predicted_vs_actual(left, y0, X @ coef[:, 0] + intercept[0], target_name)
    _draw_loss(right, loss_history)
    with atomic_write(path, "wb") as file:
        figure.savefig(file, format="png", dpi=100)

"""The one result of a fit: everything the estimator stores as fitted attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FitOutcome:
    """A fitted linear model, in the original units, and how it was fitted.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_targets)
    intercept : ndarray of shape (n_targets,)
    single_target : bool
        Whether y was 1-D (``coef_`` then has shape (n_features,)).
    feature_names, target_names : list of str or None
        Names the data gave (None: unnamed).
    n_iter : int
    loss_curve : ndarray of shape (n_iter,)
        The tape's loss per epoch, original units; empty for the exact solver.
    learning_rate : float
        NaN for the exact solver.
    engine, optimizer : str or None
        None for the exact solver.
    standardization : Standardization or None
    statistics : OLSStatistics or None
        OLS inference (least squares without a penalty, when asked for).
    moments : Moments or None
        The float64 moments of [X, Y] of a streamed fit.
    metrics : dict or None
        Metrics kept with a saved model.
    """

    coef: np.ndarray
    intercept: np.ndarray
    single_target: bool
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    n_iter: int = 1
    loss_curve: np.ndarray = field(default_factory=lambda: np.empty(0))
    learning_rate: float = float("nan")
    engine: str | None = None
    optimizer: str | None = None
    standardization: object = None
    statistics: object = None
    moments: object = None
    metrics: dict | None = None

    @property
    def n_features(self) -> int:
        return self.coef.shape[0]

"""The one result of a fit: everything the estimator stores as fitted attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TrainingRecord:
    """How a fit trained: epochs, losses (original units), step, engine, update."""

    n_iter: int = 1
    loss_curve: np.ndarray = field(default_factory=lambda: np.empty(0))
    learning_rate: float = float("nan")
    engine: str | None = None
    optimizer: str | None = None
    standardization: object = None

    @classmethod
    def exact(cls) -> TrainingRecord:
        """The exact solver's: one pass over the data, no epoch losses."""
        return cls()

    @classmethod
    def of(cls, result, engine: str, optimizer: str, standardization):
        # A loss written through the moments can round to -1e-14 at a perfect fit.
        losses = np.maximum(result.loss_history.astype(np.float64), 0.0)
        return cls(
            result.n_iter,
            losses,
            result.learning_rate,
            engine,
            optimizer,
            standardization,
        )


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
    training : TrainingRecord
        Epochs, losses, step, engine and update (the exact solver's: one pass).
    statistics : OLSStatistics or None
        OLS inference (least squares without a penalty, when asked for).
    moments : Moments or None
        The float64 moments of [X, Y] of a streamed fit.
    metrics : dict or None
        Metrics kept with a saved model.
    exact : LeastSquaresSolution or None
        The exact solution where the fit computed it anyway (not saved).
    """

    coef: np.ndarray
    intercept: np.ndarray
    single_target: bool
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    training: TrainingRecord = field(default_factory=TrainingRecord)
    statistics: object = None
    moments: object = None
    metrics: dict | None = None
    exact: object = None

    @property
    def n_features(self) -> int:
        return self.coef.shape[0]

"""Standardization inside the fit: train on centred, scaled columns; report raw units.

NumPy only. Built from the data (a chunked float64 pass) or from the moments a fit
already took; these two functions are the only places a standardization is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import aligned, aligned_empty, chunks


def is_constant(mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Columns whose spread is zero, or only the rounding of their mean.

    The mean of n copies of 0.1 is not exactly 0.1, so a constant column can show a
    spread of about 1e-17: dividing by it would blow rounding up to unit size.
    """
    return scale <= 64 * np.finfo(np.float64).eps * np.abs(mean)


def weighted_moments(
    A: np.ndarray, sample_weight: np.ndarray | None, *, center: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Column means and root-mean-square deviations (about the mean, or about 0).

    Returns ``(mean, scale)`` in float64; ``mean`` is 0 when ``center`` is False.
    """
    weights = np.ones(A.shape[0]) if sample_weight is None else sample_weight
    total = float(np.sum(weights, dtype=np.float64))
    mean = np.zeros(A.shape[1])
    if center and A.shape[0]:
        # Summed about the first row, so a constant column's mean is exactly its
        # value (n copies of 0.1 do not sum to n·0.1) and large offsets cancel.
        shift = A[0].astype(np.float64)
        for rows in chunks(A.shape[0], A.shape[1]):
            mean += weights[rows] @ (A[rows].astype(np.float64) - shift)
        mean = shift + mean / total
    square = np.zeros(A.shape[1])
    # Values beyond √(float64's largest) square to inf: the scale is then inf, which
    # the fit refuses with the column's name (checks.check_second_moments).
    with np.errstate(over="ignore", invalid="ignore"):
        for rows in chunks(A.shape[0], A.shape[1]):
            deviation = A[rows].astype(np.float64) - mean
            square += weights[rows] @ (deviation * deviation)
    return mean, np.sqrt(square / total)


@dataclass(frozen=True)
class Standardization:
    """Per-column shift and scale of X and y; scale 1 for a constant column.

    Training sees ``(X − x_mean)/x_scale`` and ``(y − y_mean)/y_scale``. Without an
    intercept nothing is centred (centring would add one) and the scales are
    root-mean-squares about 0.
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    # Which columns were found constant (None when not measured: identity, loaded).
    x_constant: np.ndarray | None = field(default=None, compare=False, repr=False)
    y_constant: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        center: bool = True,
    ) -> Standardization:
        x_mean, x_scale = weighted_moments(X, sample_weight, center=center)
        y_mean, y_scale = weighted_moments(y, sample_weight, center=center)
        # A constant column cannot be scaled to unit variance; leave it as it is,
        # centred on its own value, so that it trains as exact zeros.
        constants = []
        for A, mean, scale in ((X, x_mean, x_scale), (y, y_mean, y_scale)):
            constant = is_constant(mean, scale)
            scale[constant] = 1.0
            if center and A.shape[0]:
                mean[constant] = A[0, constant]
            constants.append(constant)
        return cls(x_mean, x_scale, y_mean, y_scale, *constants)

    @classmethod
    def identity(cls, n_features: int, n_targets: int) -> Standardization:
        """The standardization that changes nothing (``standardize=False``)."""
        return cls(
            np.zeros(n_features),
            np.ones(n_features),
            np.zeros(n_targets),
            np.ones(n_targets),
        )

    def transform_X(self, X: np.ndarray, dtype) -> np.ndarray:
        """``(X − x_mean)/x_scale`` as a new aligned array of ``dtype``."""
        out = aligned_empty(X.shape, dtype)
        for rows in chunks(X.shape[0], X.shape[1]):
            out[rows] = (X[rows] - self.x_mean) / self.x_scale
        return out

    def transform_y(self, y: np.ndarray, dtype) -> np.ndarray:
        return aligned((y - self.y_mean) / self.y_scale, dtype)

    def to_original(
        self, coef: np.ndarray, intercept: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Map standardized weights (n_features, n_targets) back to the original units.

        ``w = w_s·σ_y/σ_x`` and ``b = μ_y + σ_y·b_s − μ_xᵀw``.
        """
        coef = np.asarray(coef, np.float64) * self.y_scale / self.x_scale[:, None]
        intercept = (
            self.y_mean
            + self.y_scale * np.asarray(intercept, np.float64)
            - self.x_mean @ coef
        )
        return coef, intercept


def standardization_from_moments(moments, n_features: int, *, center: bool):
    """The :class:`Standardization` those moments imply (as :meth:`Standardization.fit`
    on the rows they came from)."""

    mean = moments.mean if center else np.zeros_like(moments.mean)
    variance = np.diag(moments.covariance) + (0 if center else moments.mean**2)
    scale = np.sqrt(np.maximum(variance, 0.0))
    constant = is_constant(mean, scale)
    scale[constant] = 1.0  # a constant column stays as it is
    d = n_features
    return Standardization(
        mean[:d], scale[:d], mean[d:], scale[d:], constant[:d], constant[d:]
    )

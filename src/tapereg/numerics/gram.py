"""The gram engine's statistics: one float64 pass, then every epoch costs O(d²).

For the mean squared error the full-batch loss and gradient depend on the data only
through the weighted moments of ``[X, y, 1]``. With ``A = [(x − μ)/σ, (y − ν)/σ_y, 1]``
(the standardization training uses) and weights ``s``, one chunked pass accumulates
``M = AᵀSA / Σs``; its blocks are everything the loss needs:

    mse_k(w, b) = yy_k − 2·w_kᵀxy_k − 2·b_k·ȳ_k + w_kᵀ·xx·w_k + 2·b_k·w_kᵀx̄ + b_k²

NumPy only; the loss itself is written in TensorFlow in ``losses.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dsyrk as syrk

from .preprocessing import row_blocks

# Above this many features the O(d²) statistics and O(d³) spectrum stop being cheap
# next to streaming the data; engine="auto" then uses the data engine.
GRAM_MAX_FEATURES = 1000
# Curvature below this fraction of the largest counts as none (rounding of zero).
ZERO_CURVATURE = 1e-12


@dataclass(frozen=True)
class GramStatistics:
    """Weighted moments of the training data in training units, float64, per Σs.

    Attributes
    ----------
    xx : (n_features, n_features)  ·  xy : (n_features, n_targets)
    x_mean : (n_features,)  ·  y_mean : (n_targets,)  ·  yy : (n_targets,)
    """

    xx: np.ndarray
    xy: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    yy: np.ndarray


@dataclass(frozen=True)
class Moments:
    """Weighted first and centred second moments of the columns of ``[X, Y]``.

    Attributes
    ----------
    total_weight : float
        Σs (the number of rows without weights).
    n_samples : int
    mean : ndarray of shape (p,)
        Σs·a / Σs for the p = n_features + n_targets columns.
    covariance : ndarray of shape (p, p)
        Σs·(a − mean)(a − mean)ᵀ / Σs.
    n_features : int
        How many of the p columns are features (the rest are targets).
    weighted : bool
        Whether the rows had sample weights.
    """

    total_weight: float
    n_samples: int
    mean: np.ndarray
    covariance: np.ndarray
    n_features: int | None = None
    weighted: bool = False


class MomentsAccumulator:
    """Adds blocks of rows of ``[X, Y]`` into running float64 moments, one at a time.

    Products are accumulated about a shift (the first block's mean) rather than about
    0, so data with large offsets keeps its variance: the cancellation in
    ``E[(a−K)(a−K)ᵀ] − (m−K)(m−K)ᵀ`` is only as large as ``m − K`` is.
    """

    def __init__(self):
        self._shift = None
        self._sums = None
        self.n_samples = 0
        self._n_features = None
        self._weighted = False

    def add(self, X, Y, sample_weight=None) -> None:
        d, p = X.shape[1], X.shape[1] + Y.shape[1]
        if X.shape[0] == 0:
            return
        # Column-major, so BLAS's syrk (half the work of a general product, and
        # about 3x faster here) takes it without a transposed copy.
        block = np.empty((X.shape[0], p + 1), order="F")
        block[:, :d] = X
        block[:, d:p] = Y
        if self._shift is None:
            self._shift = block[:, :p].mean(axis=0)
            self._sums = np.zeros((p + 1, p + 1))
        block[:, :p] -= self._shift
        block[:, p] = 1.0
        if sample_weight is None:
            product = syrk(1.0, block, trans=1)  # upper triangle of blockᵀblock
            self._sums += np.triu(product) + np.triu(product, 1).T
        else:
            self._sums += (sample_weight[:, None] * block).T @ block
        self.n_samples += X.shape[0]
        self._n_features = d
        self._weighted = self._weighted or sample_weight is not None

    def result(self) -> Moments:
        sums, p = self._sums, self._sums.shape[0] - 1
        total = sums[p, p]
        offset = sums[:p, p] / total  # mean − shift
        covariance = sums[:p, :p] / total - np.outer(offset, offset)
        return Moments(
            float(total),
            self.n_samples,
            self._shift + offset,
            covariance,
            self._n_features,
            self._weighted,
        )


def data_moments(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
) -> Moments:
    """One chunked float64 pass over ``[X, Y]`` for all first and second moments."""
    moments = MomentsAccumulator()
    for block in row_blocks(X, Y, sample_weight):
        moments.add(*block)
    return moments.result()


def standardization_from_moments(moments: Moments, n_features: int, *, center: bool):
    """The :class:`~tapereg.preprocessing.Standardization` those moments imply."""
    from .preprocessing import Standardization, is_constant

    mean = moments.mean if center else np.zeros_like(moments.mean)
    variance = np.diag(moments.covariance) + (0 if center else moments.mean**2)
    scale = np.sqrt(np.maximum(variance, 0.0))
    constant = is_constant(mean, scale)
    scale[constant] = 1.0  # a constant column stays as it is
    d = n_features
    return Standardization(
        mean[:d], scale[:d], mean[d:], scale[d:], constant[:d], constant[d:]
    )


def dependent_columns(
    moments: Moments, n_features: int, *, center: bool, skip=None
) -> tuple[int, ...]:
    """The columns of X in an exact linear dependence, found from the moments.

    The correlation matrix (second moments without an intercept) of the columns
    not in ``skip`` (the constant ones, reported on their own) has a zero
    eigenvalue per dependence; the columns with weight in those eigenvectors are
    the dependent ones. "Zero" is relative to the largest, at the 1e-12 float64
    moments can resolve. O(d³), a small part of a gram fit.
    """
    d = n_features
    second = moments.covariance[:d, :d]
    if not center:
        second = second + np.outer(moments.mean[:d], moments.mean[:d])
    keep = np.ones(d, bool) if skip is None else ~np.asarray(skip, bool)
    columns = np.flatnonzero(keep)
    if columns.size < 2:
        return ()
    scale = np.sqrt(np.diag(second)[columns])
    correlation = second[np.ix_(columns, columns)] / np.outer(scale, scale)
    eigenvalues = np.linalg.eigvalsh(correlation)
    zero = eigenvalues <= ZERO_CURVATURE * eigenvalues[-1]
    if not zero.any():
        return ()
    _, vectors = np.linalg.eigh(correlation)
    weight = np.linalg.norm(vectors[:, : int(zero.sum())], axis=1)
    return tuple(int(c) for c in columns[weight > 1e-6])


def statistics_from_moments(moments: Moments, scaling) -> GramStatistics:
    """The gram statistics in the units ``scaling`` trains in, from the moments."""
    d = scaling.x_mean.shape[0]
    shift = np.concatenate([scaling.x_mean, scaling.y_mean])
    scale = np.concatenate([scaling.x_scale, scaling.y_scale])
    offset = moments.mean - shift
    # Second moment about the training shift, in training units.
    second = (moments.covariance + np.outer(offset, offset)) / np.outer(scale, scale)
    return GramStatistics(
        xx=second[:d, :d],
        xy=second[:d, d:],
        x_mean=offset[:d] / scale[:d],
        y_mean=offset[d:] / scale[d:],
        yy=np.diag(second[d:, d:]).copy(),
    )


def gram_statistics(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, scaling
) -> GramStatistics:
    """The gram statistics of (X, Y) in the units ``scaling`` trains in (one pass)."""
    return statistics_from_moments(data_moments(X, Y, sample_weight), scaling)


def hessian_spectrum(
    statistics: GramStatistics,
    *,
    fit_intercept: bool,
    n_targets: int,
    l2: np.ndarray | None = None,
) -> tuple[float, float]:
    """Largest and smallest nonzero curvature (L, μ) of the loss, from the moments.

    The Hessian of target k's loss (divided by t, as the mean over targets is) is
    ``2/t·([[xx, x̄], [x̄ᵀ, 1]] + diag(l2_k, 0))``; without an intercept just the xx
    block. With an L2 penalty the extremes over targets bound every block.
    """
    d = statistics.xx.shape[0]
    hessian = np.empty((d + 1, d + 1))
    hessian[:d, :d] = statistics.xx
    hessian[:d, d] = hessian[d, :d] = statistics.x_mean
    hessian[d, d] = 1.0
    if not fit_intercept:
        hessian = hessian[:d, :d]
    high, low = np.zeros(hessian.shape[0]), np.zeros(hessian.shape[0])
    if l2 is not None:
        high[:d], low[:d] = l2.max(axis=1), l2.min(axis=1)
    largest = np.linalg.eigvalsh(hessian + np.diag(high))[-1]
    # Directions of zero curvature (a constant column, exactly collinear columns)
    # never see a gradient, so iterates from 0 stay out of them: the rate is set by
    # the smallest curvature of the rest. Counting the zeros would make the tuned
    # momentum ≈ 1, and the largest mode would then never settle.
    eigenvalues = np.linalg.eigvalsh(hessian + np.diag(low))
    curved = eigenvalues[eigenvalues > ZERO_CURVATURE * max(largest, 0.0)]
    smallest = curved[0] if curved.size else 0.0
    scale = 2.0 / n_targets
    return scale * float(largest), scale * max(float(smallest), 0.0)

"""Weighted moments of ``[X, Y]`` in one float64 pass, and pooled over workers.

The first and centred second moments are all that the gram engine, the
standardization, the automatic step and the OLS inference need from the rows.
NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dsyrk as syrk

from .arrays import row_blocks

# Curvature below this fraction of the largest counts as none (rounding of zero).
ZERO_CURVATURE = 1e-12

# Beyond this many columns of [X, Y] a model file keeps no moments (columns²
# numbers): partial_fit then cannot continue a loaded model.
MAX_SAVED_MOMENT_COLUMNS = 1001


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


def merged_moments(first: Moments, second: Moments) -> Moments:
    """The moments of two sets of rows together (``partial_fit``'s calls), by the
    same parallel-variance formula as :func:`pooled_moments`."""
    parts = (first, second)
    total = first.total_weight + second.total_weight
    mean = sum(m.total_weight * m.mean for m in parts) / total
    covariance = (
        sum(
            m.total_weight * (m.covariance + np.outer(m.mean - mean, m.mean - mean))
            for m in parts
        )
        / total
    )
    return Moments(
        float(total),
        first.n_samples + second.n_samples,
        mean,
        covariance,
        first.n_features,
        first.weighted or second.weighted,
    )


def pooled_moments(
    local: Moments | None,
    n_columns: int,
    n_features: int,
    sum_across: Callable[[np.ndarray], np.ndarray],
) -> Moments:
    """The moments of every worker's rows, from each worker's own (``local``; None
    for a worker without rows), with two sums across workers.

    Means are pooled by weight; centred second moments by the parallel-variance
    formula ``M = Σ_k [M_k + w_k·(m_k − m)(m_k − m)ᵀ]``, which never forms raw
    second moments about 0 (they would cancel catastrophically for offset data).
    """
    p = n_columns
    weight = 0.0 if local is None else local.total_weight
    first = np.zeros(p + 3)
    if local is not None:
        first[:3] = (weight, local.n_samples, float(local.weighted))
        first[3:] = weight * local.mean
    first = sum_across(first)
    total, n_samples = float(first[0]), round(float(first[1]))
    # No rows anywhere: zeros, for the caller to refuse (n_samples is 0).
    scale = 1.0 / total if total > 0 else 0.0
    mean = first[3:] * scale
    second = np.zeros((p, p))
    if local is not None:
        delta = local.mean - mean
        second = weight * (local.covariance + np.outer(delta, delta))
    second = sum_across(second)
    return Moments(
        total,
        n_samples,
        mean,
        second * scale,
        n_features,
        bool(first[2] > 0),
    )

"""The exact least-squares solution, to show how far training is from the optimum.

One pass of a blocked ("tall-skinny") QR over the centred rows of ``[X, y]`` in float64
gives the triangular factor R of the data without forming XᵀX (whose condition number
is the square of the data's). The solution then comes from an SVD of the column-scaled
R: stable, and for rank-deficient X the minimum-norm solution in the original units.
Memory stays at one chunk of rows.

Across workers each one factors its own rows (centred on the means of all rows) and
the factors are stacked: the R of the stacked factors is the R of all rows (the
tall-skinny QR's reduction), so no worker sends more than a p x p triangle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import solve_triangular

from .arrays import row_blocks
from .interrupt import interruptible
from .linear import scaled_pseudo_inverse
from .standardization import weighted_moments


@dataclass(frozen=True)
class LeastSquaresSolution:
    """The minimiser of the (weighted) mean squared error, from the triangular
    factor R of the centred ``[X, Y]`` and the SVD of its X part.

    The coefficients and the collinear columns are worked out when first read:
    the minimum-norm projection they need where X is rank-deficient costs
    O(d·rank²), which the statistics (``whitening``, ``rank``) never pay.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_targets)
    intercept : ndarray of shape (n_targets,)
    rank : int
        Numerical rank of the (centred) X.
    singular_values : ndarray
        Of the column-scaled X, largest first.
    collinear : tuple of int
        Columns involved in an exact linear dependence (empty at full rank).
    x_mean : ndarray of shape (n_features,)
        The (weighted) column means X was centred on; zeros without an intercept.
    whitening : ndarray of shape (n_features, rank)
        W with ``W·Wᵀ = (X_cᵀ S X_c)⁺`` for the centred X_c (the unscaled covariance
        of the coefficients), taken from the SVD so the condition number is never
        squared; kept as the factor, so wide data never holds a d x d matrix.
    """

    r_xy: np.ndarray
    svd: ScaledSVD
    x_mean: np.ndarray
    y_mean: np.ndarray

    @property
    def rank(self) -> int:
        return self.svd.rank

    @property
    def singular_values(self) -> np.ndarray:
        return self.svd.singular

    @property
    def whitening(self) -> np.ndarray:
        return self.svd.whitening

    @property
    def gram_inverse(self) -> np.ndarray:
        """``(X_cᵀ S X_c)⁺`` (d x d): build it only where d is small."""
        return self.whitening @ self.whitening.T

    @cached_property
    def _row_space(self) -> np.ndarray | None:
        """X's row space in the original units; None at full rank."""
        return None if self.rank == self.x_mean.shape[0] else self.svd.range_basis()

    @cached_property
    def coef(self) -> np.ndarray:
        svd = self.svd
        coef = svd.whitening @ (svd.U[:, : svd.rank].T @ self.r_xy)
        if self._row_space is not None:
            # Every solution is coef + null(X); its part in X's row space (D·V) is
            # the minimum-norm solution in the original units.
            coef = self._row_space @ (self._row_space.T @ coef)
        return coef

    @cached_property
    def intercept(self) -> np.ndarray:
        return self.y_mean - self.x_mean @ self.coef

    @cached_property
    def collinear(self) -> tuple[int, ...]:
        if self._row_space is None:
            return ()
        return self.svd.collinear(self._row_space)


def _stacked_factor(
    blocks, n_columns: int, x_shift=0.0, y_shift=0.0, n_features=0
) -> np.ndarray:
    """R (m x p, m = min(rows, p)) with ``RᵀR = AᵀA`` for A = ``√s ⊙ [X − x_shift,
    Y − y_shift]`` over blocks ``(X, Y, s)``; no rows when there are none (an
    empty shard adds nothing to a stack).

    Rows are factored once at least p of them wait (each QR then shrinks the
    stack to p rows), so wide data is factored once, not again with every block,
    and never padded to a p x p square. Only X's first ``n_features`` rows of R
    may hold X's part (its later rows are zero there, as in a triangle): so when
    all the rows number at most ``n_features`` they are R as they are, and the
    QR, which would only rotate them, is skipped."""
    R = np.zeros((0, n_columns))
    waiting: list[np.ndarray] = []
    n_waiting = 0
    for X, y, sample_weight in blocks:
        block = np.hstack([X - x_shift, y - y_shift]).astype(np.float64)
        if sample_weight is not None:
            block *= np.sqrt(sample_weight)[:, None]
        waiting.append(block)
        n_waiting += block.shape[0]
        if n_waiting >= n_columns:
            R = _triangle(np.vstack([R, *waiting]))
            waiting, n_waiting = [], 0
    if waiting:
        rows = np.vstack([R, *waiting])
        R = rows if rows.shape[0] <= n_features else _triangle(rows)
    return R


def _triangle(rows: np.ndarray) -> np.ndarray:
    """R of the QR of ``rows``; Ctrl-C stops it at once however long it takes."""
    return interruptible(np.linalg.qr, rows, mode="r", size=rows.size)


def combine_factors(factors: np.ndarray) -> np.ndarray:
    """R of the rows of every factor in ``factors`` (k, p, p): the triangular factor
    of all the rows those factors came from, since ``AᵀA = Σ R_iᵀR_i``. One
    factor (one process) is its own."""
    n_columns = factors.shape[-1]
    if factors.shape[0] == 1:
        return factors[0]
    return np.linalg.qr(factors.reshape(-1, n_columns), mode="r")


def _square(R: np.ndarray, n_columns: int) -> np.ndarray:
    """R padded with zero rows to p x p: workers gather factors of one shape."""
    square = np.zeros((n_columns, n_columns))
    square[: R.shape[0]] = R
    return square


def solve_least_squares(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    fit_intercept: bool = True,
    alpha: float = 0.0,
    rcond: float | None = None,
) -> LeastSquaresSolution:
    """Minimise ``Σ s_i ‖x_i·w + b − y_i‖² / Σ s_i + alpha·‖w‖²`` exactly, in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,), optional
    fit_intercept : bool, default=True
        Centre X and y on their weighted means; the intercept follows from the means.
    alpha : float, default=0
        Ridge penalty (sklearn's ``Ridge(alpha=alpha·Σs)``), solved as the least-squares
        problem ``[R; √(alpha·Σs)·I]·w ≈ [Rᵀy; 0]``, never through the normal equations.
    rcond : float, optional
        Singular values below ``rcond·σ_max`` of the column-scaled X count as zero;
        default ``max(n_samples, n_features)·eps``.

    Returns
    -------
    LeastSquaresSolution
    """
    n_samples, n_features = X.shape
    n_targets = y.shape[1]
    if fit_intercept:
        x_mean, _ = weighted_moments(X, sample_weight, center=True)
        y_mean, _ = weighted_moments(y, sample_weight, center=True)
    else:
        x_mean, y_mean = np.zeros(n_features), np.zeros(n_targets)
    # Centred a chunk at a time: a centred copy of X would double its memory.
    R = _stacked_factor(
        row_blocks(X, y, sample_weight),
        n_features + n_targets,
        x_mean,
        y_mean,
        n_features,
    )
    total = n_samples if sample_weight is None else float(np.sum(sample_weight))
    return solve_from_factor(
        R, x_mean, y_mean, n_samples, total, alpha=alpha, rcond=rcond
    )


def solve_least_squares_stream(
    blocks,
    moments,
    n_features: int,
    *,
    fit_intercept: bool = True,
    alpha: float = 0.0,
    rcond=None,
    gather=None,
) -> LeastSquaresSolution:
    """:func:`solve_least_squares` over a source of row blocks, read once.

    ``blocks`` yields ``(X, Y)`` or ``(X, Y, sample_weight)``; ``moments`` (the
    ``Moments`` of the same rows) gives the means to centre on, so this is one
    more pass, holding one block at a time.

    Across workers, ``blocks`` are this worker's rows, ``moments`` those of every
    worker's rows, and ``gather`` stacks an array from every worker (shape (k, ...)):
    the factors of all shards are combined into the factor of all rows, so each
    worker returns the solution one process would have found on all of them.
    """
    x_mean, y_mean = factor_means(moments, n_features, fit_intercept=fit_intercept)
    R = rows_factor(blocks, x_mean, y_mean, gather=gather)
    return solve_from_factor(
        R,
        x_mean,
        y_mean,
        moments.n_samples,
        moments.total_weight,
        alpha=alpha,
        rcond=rcond,
    )


def rows_factor(blocks, x_mean, y_mean, *, gather=None) -> np.ndarray:
    """R of ``√s ⊙ [X − x_mean, Y − y_mean]`` over ``blocks`` (read once),
    combined over workers when ``gather`` is given. ``RᵀR`` is the (centred)
    second-moment matrix times Σs without ever forming it: R keeps 16 − log10 κ
    digits where the moments keep 16 − 2·log10 κ."""
    n_columns = x_mean.shape[0] + y_mean.shape[0]
    R = _stacked_factor(
        _blocks_with_weights(blocks), n_columns, x_mean, y_mean, x_mean.shape[0]
    )
    if gather is not None:
        R = combine_factors(gather(_square(R, n_columns)))
    return R


def factor_means(moments, n_features: int, *, fit_intercept: bool):
    """(x_mean, y_mean) to centre the factored rows on: the means of ``moments``
    with an intercept, zeros without."""
    d = n_features
    if fit_intercept:
        return moments.mean[:d], moments.mean[d:]
    return np.zeros(d), np.zeros(moments.mean.shape[0] - d)


@dataclass(frozen=True)
class ScaledSVD:
    """The SVD of a factor with its columns scaled to unit norm (``R·D⁻¹ = U S
    Vᵀ``), and its numerical rank (singular values above ``rcond·σ_max``)."""

    U: np.ndarray
    singular: np.ndarray
    Vt: np.ndarray
    norms: np.ndarray
    rank: int

    @classmethod
    def of(cls, factor: np.ndarray, n_samples: int, rcond=None) -> ScaledSVD:
        # Column norms of R equal those of the data: scale them to 1 before
        # deciding rank, so the decision does not depend on the units.
        norms = np.linalg.norm(factor, axis=0)
        norms[norms == 0] = 1.0
        scaled = factor / norms
        U, singular, Vt = interruptible(
            np.linalg.svd, scaled, full_matrices=False, size=scaled.size
        )
        if rcond is None:
            rcond = max(n_samples, factor.shape[1]) * np.finfo(np.float64).eps
        rank = (
            int(np.sum(singular > rcond * singular[0]))
            if singular.size and singular[0] > 0
            else 0
        )
        return cls(U, singular, Vt, norms, rank)

    @cached_property
    def whitening(self) -> np.ndarray:
        """P = D⁻¹·V·S⁻¹ on the range: ``R·P`` has orthonormal columns."""
        return (self.Vt[: self.rank].T / self.singular[: self.rank]) / self.norms[
            :, None
        ]

    def range_basis(self) -> np.ndarray:
        """An orthonormal basis (d x rank) of the factor's row space in the original
        units, D·V: the complement of its null space D⁻¹·null(R·D⁻¹)."""
        basis = self.Vt[: self.rank].T * self.norms[:, None]
        return interruptible(_orthonormal, basis, size=basis.size)

    def collinear(self, basis=None) -> tuple[int, ...]:
        """Columns involved in an exact linear dependence (empty at full rank): those
        with weight outside the row space (``basis``, when already computed)."""
        if self.rank == self.Vt.shape[1]:
            return ()
        basis = self.range_basis() if basis is None else basis
        outside = np.sqrt(np.maximum(1.0 - np.sum(basis**2, axis=1), 0.0))
        return tuple(int(i) for i in np.flatnonzero(outside > 1e-6))


def _orthonormal(B: np.ndarray) -> np.ndarray:
    """An orthonormal basis of B's columns (B = D·V, V orthonormal).

    Where the column scales D spread over less than 1e4, Cholesky QR twice (two
    matrix products and two triangular solves, several times faster than a
    Householder QR of a wide problem's d x rank matrix): κ(B) ≤ spread of D, so
    the first pass loses at most κ²·ε of orthogonality and the second restores
    it. Otherwise a Householder QR."""
    norms = np.linalg.norm(B, axis=1)
    positive = norms[norms > 0]
    spread = positive.max() / positive.min() if positive.size else 1.0
    if spread < 1e4:
        Q = B
        try:
            for _ in range(2):
                lower = np.linalg.cholesky(Q.T @ Q)
                Q = solve_triangular(lower, Q.T, lower=True).T
            return Q
        except np.linalg.LinAlgError:
            pass
    return np.linalg.qr(B)[0]


def _blocks_with_weights(blocks):
    for block in blocks:
        yield block if len(block) == 3 else (*block, None)


def solve_from_factor(
    R, x_mean, y_mean, n_samples: int, total: float, *, alpha=0.0, rcond=None, svd=None
) -> LeastSquaresSolution:
    """The (ridge) least-squares solution from R of the centred ``[X, Y]``
    (:func:`rows_factor`); ``svd`` is R's :class:`ScaledSVD` when already taken."""
    n_features = x_mean.shape[0]
    if alpha > 0:
        # ‖R_xx·w − r_xy‖² + alpha·Σs·‖w‖² is least squares on the stacked rows
        # [R_xx, r_xy; √(alpha·Σs)·I, 0]: re-factor them and solve as before.
        penalty = np.zeros((n_features, R.shape[1]))
        penalty[:, :n_features] = np.sqrt(alpha * total) * np.eye(n_features)
        R = np.linalg.qr(np.vstack([R[:n_features], penalty]), mode="r")
    # The factor's rows that hold X's part (all of them when X is wide).
    r_xx, r_xy = R[:n_features, :n_features], R[:n_features, n_features:]
    if svd is None or alpha > 0:
        svd = ScaledSVD.of(r_xx, n_samples, rcond)
    return LeastSquaresSolution(r_xy, svd, x_mean, y_mean)


def solve_from_moments(
    moments, *, fit_intercept: bool = True, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef, intercept)`` of the (ridge) least-squares problem from the moments.

    No pass over the data: the normal equations of the centred, column-scaled
    moments, solved by eigendecomposition with the minimum-norm pseudo-inverse. They
    keep about 16 − 2·log10 κ digits (κ of the standardized X) where the QR route
    keeps 16 − log10 κ; used where one more pass over big files would cost more
    than those digits are worth (the reference line of a streamed fit's report).
    """
    d = moments.n_features
    mean, covariance = moments.mean, moments.covariance
    second = covariance if fit_intercept else covariance + np.outer(mean, mean)
    xx, xy = second[:d, :d], second[:d, d:]
    inverse, _ = scaled_pseudo_inverse(xx, moments.n_samples, ridge=alpha)
    coef = inverse @ xy
    intercept = mean[d:] - mean[:d] @ coef if fit_intercept else np.zeros(xy.shape[1])
    return coef, intercept

"""The whitened problem the defaults train on, from the moments or from the rows.

With θ = [w; b] = P·u the loss ``yy − 2θᵀc + θᵀMθ`` (M = [[xx, x̄], [x̄ᵀ, 1]] with an
intercept, c = [xy; ȳ]) becomes ``yy − 2uᵀ(Pᵀc) + uᵀ(PᵀMP)u`` with PᵀMP = I on M's
range: every direction has the same curvature, so gradient descent at 1/L lands
on the optimum in one step whatever the conditioning.

P comes from the moments (no pass over the data) while they can resolve the
problem. They keep about 16 − log10 κ(M) digits, κ(M) being the square of the
standardized data's condition number; beyond :data:`MOMENTS_RESOLVE` the same
change of variables is taken from the triangular factor of the rows instead
(one more pass, the exact solver's tall-skinny QR, combined across workers),
which keeps 16 − log10 √κ(M) digits: NIST's Filip (κ(M) ≈ 1e16) then reaches the
optimum's residuals where the moments leave a fit 0.1 % worse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics.arrays import row_blocks
from ..numerics.exact import (
    LeastSquaresSolution,
    ScaledSVD,
    factor_means,
    rows_factor,
    solve_from_factor,
)
from ..numerics.gram import Gram
from ..numerics.linear import whitening_of
from ..numerics.standardization import weighted_moments
from ..runtime.notes import factoring_flops, note_if_long

# The moments keep fewer than half of float64's digits beyond this condition
# number (of the standardized second moments): whiten from the rows' factor.
MOMENTS_RESOLVE = 1e8


@dataclass(frozen=True)
class Whitened:
    """The problem in whitened coordinates u (θ = P·u) and how it was found.

    Attributes
    ----------
    gram : Gram
        Second moments of the whitened problem (xx ≈ I), no intercept.
    P : ndarray of shape (n_parameters, rank)
        The change of variables; from the moments it covers the intercept too.
    condition : float
        κ of the standardized problem, as measured.
    factor : RowsFactor or None
        The rows' factor it came from (centred: the intercept then follows
        from ``means``, the training units' means of X and Y); None from the
        moments.
    """

    gram: Gram
    P: np.ndarray
    condition: float
    factor: RowsFactor | None = None
    means: tuple[np.ndarray, np.ndarray] | None = None

    def parameters(self, u: np.ndarray, fit_intercept: bool):
        """(coef, intercept) in training units from the whitened solution u."""
        theta = self.P @ u
        if self.factor is not None:
            x_mean, y_mean = self.means
            return theta, y_mean - x_mean @ theta
        if not fit_intercept:
            return theta, np.zeros(u.shape[1])
        return theta[:-1], theta[-1]


def whitened_gram(gram: Gram, *, fit_intercept: bool, l2, n_samples: int):
    """The problem whitened with the moments' own P; the L2 penalty is folded into
    M (its weights are the same for every target). None when M has no range."""
    M = gram.xx + (0.0 if l2 is None else np.diag(l2[:, 0]))
    c = gram.xy
    if fit_intercept:
        M = np.block(
            [[M, gram.x_mean[:, None]], [gram.x_mean[None, :], np.ones((1, 1))]]
        )
        c = np.vstack([gram.xy, gram.y_mean[None, :]])
    P, condition = whitening_of(M, n_samples)
    if P.shape[1] == 0:
        return None
    k = P.shape[1]
    whitened = Gram(
        xx=P.T @ M @ P, xy=P.T @ c, x_mean=np.zeros(k), y_mean=gram.y_mean, yy=gram.yy
    )
    return Whitened(whitened, P, condition)


@dataclass(frozen=True)
class RowsFactor:
    """The triangular factor R of the (centred, weighted) rows ``[X, Y]`` and the
    SVD of its X part, taken once: the whitening the defaults train on and the
    exact solution (the statistics' and the report's reference) both come from
    it. R has min(rows, d + t) rows, so wide data costs O(n²·d), never d³."""

    R: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    n_samples: int
    total: float
    svd: ScaledSVD

    @classmethod
    def of(cls, blocks, x_mean, y_mean, n_samples: int, total: float, gather=None):
        """Factor ``blocks`` centred on (x_mean, y_mean); one pass."""
        R = rows_factor(blocks, x_mean, y_mean, gather=gather)
        d = x_mean.shape[0]
        return cls(
            R, x_mean, y_mean, n_samples, total, ScaledSVD.of(R[:d, :d], n_samples)
        )

    def solution(self) -> LeastSquaresSolution:
        """The exact (minimum-norm) least-squares solution, from the same SVD."""
        return solve_from_factor(
            self.R, self.x_mean, self.y_mean, self.n_samples, self.total, svd=self.svd
        )

    def whitened(self, scaling) -> Whitened:
        """The problem in training units whitened with this factor: with
        F = R/√Σs in those units, P = √Σs·σ_x·P_R makes ``F_x·P = U`` (R's left
        singular vectors on its range), so the whitened moments are ``UᵀU ≈ I``
        and ``Uᵀ·F_y``; the data's condition number is never squared."""
        d, svd = self.x_mean.shape[0], self.svd
        root = np.sqrt(self.total)
        P = root * scaling.x_scale[:, None] * svd.whitening
        U = svd.U[:, : svd.rank]
        F_y = self.R[:, d:] / (root * scaling.y_scale[None, :])
        k, n_targets = P.shape[1], F_y.shape[1]
        whitened = Gram(
            xx=U.T @ U,
            xy=U.T @ F_y[: U.shape[0]],
            x_mean=np.zeros(k),
            y_mean=np.zeros(n_targets),
            yy=np.sum(F_y**2, axis=0),
        )
        smallest = svd.singular[-1] if svd.singular.size else 0.0
        condition = (
            float((svd.singular[0] / smallest) ** 2) if smallest > 0 else float(np.inf)
        )
        means = (
            (self.x_mean - scaling.x_mean) / scaling.x_scale,
            (self.y_mean - scaling.y_mean) / scaling.y_scale,
        )
        return Whitened(whitened, P, condition, factor=self, means=means)


def factor_rows(source, moments, *, fit_intercept: bool, reducer) -> RowsFactor:
    """The rows' factor, centred on the pooled means (one more pass; across
    workers the factors are combined)."""
    x_mean, y_mean = factor_means(
        moments, source.n_features, fit_intercept=fit_intercept
    )
    _note_factoring(moments.n_samples, source.n_features + source.n_targets)
    return RowsFactor.of(
        source.blocks(),
        x_mean,
        y_mean,
        moments.n_samples,
        moments.total_weight,
        gather=reducer.gather,
    )


def factor_arrays(X, Y, sample_weight, *, fit_intercept: bool) -> RowsFactor:
    """The factor of rows in memory, centred on their own means (no moments)."""
    x_mean, _ = weighted_moments(X, sample_weight, center=fit_intercept)
    y_mean, _ = weighted_moments(Y, sample_weight, center=fit_intercept)
    total = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    _note_factoring(X.shape[0], X.shape[1] + Y.shape[1])
    return RowsFactor.of(
        row_blocks(X, Y, sample_weight), x_mean, y_mean, X.shape[0], total
    )


def needs_rows(whitened: Whitened | None, l2) -> bool:
    """Whether the moments cannot resolve the problem they whitened (and no L2
    penalty bounds its conditioning)."""
    return whitened is not None and l2 is None and whitened.condition > MOMENTS_RESOLVE


def optimum_of(gram: Gram, whitened, *, fit_intercept: bool, n_samples: int, y_scale):
    """(the optimum's loss in the reported units, κ) of the unpenalized problem on
    ``gram``: ``yy − ‖Pᵀc‖²`` per target (the minimum of the whitened quadratic),
    scaled back by ``y_scale²`` and averaged over targets as the loss history is.
    ``whitened`` is reused when the fit already whitened the problem."""
    if whitened is None:
        whitened = whitened_gram(
            gram, fit_intercept=fit_intercept, l2=None, n_samples=n_samples
        )
    if whitened is None:
        return float(np.mean(gram.yy * y_scale**2)), float(np.inf)
    per_target = whitened.gram.yy - np.sum(whitened.gram.xy**2, axis=0)
    loss = float(np.mean(np.maximum(per_target, 0.0) * y_scale**2))
    return loss, whitened.condition


def _note_factoring(n_rows: int, n_columns: int) -> None:
    note_if_long(
        factoring_flops(n_rows, n_columns),
        f"factoring the {n_rows:,} x {n_columns:,} rows (a QR, then an SVD) to "
        "whiten the problem; the statistics and the exact optimum come from the "
        "same factors",
    )


def loss_on_gram(gram: Gram, coef: np.ndarray, intercept: np.ndarray, y_scale):
    """The mean squared error of (coef, intercept) in training units on ``gram``,
    scaled back by ``y_scale²`` and averaged over targets as the loss history is:
    ``yy − 2(wᵀxy + b·ȳ) + wᵀ·xx·w + 2b·wᵀx̄ + b²`` per target."""
    w, b = coef, intercept
    per_target = (
        gram.yy
        - 2 * (np.sum(w * gram.xy, axis=0) + b * gram.y_mean)
        + np.sum(w * (gram.xx @ w), axis=0)
        + 2 * b * (gram.x_mean @ w)
        + b**2
    )
    return float(np.mean(np.maximum(per_target, 0.0) * y_scale**2))

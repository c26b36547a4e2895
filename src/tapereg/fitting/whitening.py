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

from ..numerics.exact import ScaledSVD, rows_factor
from ..numerics.gram import Gram
from ..numerics.linear import whitening_of

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
        The change of variables; n_parameters counts the intercept when the
        moments' M holds it (``from_rows`` False).
    condition : float
        κ of the standardized problem, as measured.
    from_rows : bool
        Taken from the rows' triangular factor (centred: the intercept follows
        from the means) rather than from the moments.
    collinear : tuple of int
        With ``from_rows``, the columns the factor finds in an exact dependence.
    """

    gram: Gram
    P: np.ndarray
    condition: float
    from_rows: bool = False
    collinear: tuple[int, ...] = ()

    def parameters(self, u: np.ndarray, gram: Gram, fit_intercept: bool):
        """(coef, intercept) in training units from the whitened solution u."""
        d, n_targets = gram.xx.shape[0], u.shape[1]
        theta = self.P @ u
        if not fit_intercept:
            return theta[:d], np.zeros(n_targets)
        if self.from_rows:
            return theta, gram.y_mean - gram.x_mean @ theta
        return theta[:d], theta[d]


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


def rows_whitened(source, moments, scaling, *, fit_intercept: bool, reducer):
    """The problem whitened with the triangular factor R of the (centred) rows in
    training units: with F = R/√Σs, ``F_x·P`` has orthonormal columns, so the
    whitened moments are ``(F_x P)ᵀ(F_x P) ≈ I`` and ``(F_x P)ᵀF_y``, never
    squaring the data's condition number. One more pass over ``source``."""
    d = source.n_features
    R, _, _ = rows_factor(
        source.blocks(),
        moments,
        d,
        fit_intercept=fit_intercept,
        gather=reducer.gather,
    )
    F = R / np.sqrt(moments.total_weight)
    F_x = F[:d, :d] / scaling.x_scale[None, :]
    F_y = F[:, d:] / scaling.y_scale[None, :]
    svd = ScaledSVD.of(F_x, moments.n_samples)
    P = svd.whitening
    Z = F_x @ P
    k, n_targets = P.shape[1], F_y.shape[1]
    whitened = Gram(
        xx=Z.T @ Z,
        xy=Z.T @ F_y[:d],
        x_mean=np.zeros(k),
        y_mean=np.zeros(n_targets),
        yy=np.sum(F_y**2, axis=0),
    )
    smallest = svd.singular[-1] if svd.singular.size else 0.0
    condition = (
        float((svd.singular[0] / smallest) ** 2) if smallest > 0 else float(np.inf)
    )
    return Whitened(whitened, P, condition, from_rows=True, collinear=svd.collinear())


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

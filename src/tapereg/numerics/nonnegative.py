"""Non-negative least squares from the exact solver's factor, not from the rows.

With F = W⁺ (W the solution's whitening, so FᵀF = X_cᵀSX_c) and ŵ the
unconstrained solution, ‖X_c·w − y_c‖²_S = ‖F·(w − ŵ)‖² + const: so the
non-negative fit is SciPy's NNLS (Lawson–Hanson) on the small system
min ‖F·w − F·ŵ‖² s.t. w ≥ 0, whose condition number is X's, not squared; the
intercept follows from the means, b = ȳ − x̄ᵀw.
"""

from __future__ import annotations

import numpy as np

from .linear import factor_of


def nonnegative_solution(solution, fit_intercept: bool):
    """(coef (d, t), intercept (t,)) of the least-squares fit with coef ≥ 0, from
    a :class:`~tapereg.numerics.exact.LeastSquaresSolution`."""
    return _nonnegative(
        solution.whitening,
        np.asarray(solution.coef, np.float64),
        np.asarray(solution.intercept, np.float64),
        solution.x_mean,
        fit_intercept,
    )


def nonnegative_from_moments(moments, fit_intercept: bool):
    """The same from the moments (a streamed fit's report: no pass over the rows;
    the normal equations' precision)."""
    from .exact import solve_from_moments
    from .linear import whitening_of

    d = moments.n_features
    mean, covariance = moments.mean, moments.covariance
    second = covariance if fit_intercept else covariance + np.outer(mean, mean)
    whitening, _ = whitening_of(
        moments.total_weight * second[:d, :d], moments.n_samples
    )
    coef, intercept = solve_from_moments(moments, fit_intercept=fit_intercept)
    x_mean = mean[:d] if fit_intercept else np.zeros(d)
    return _nonnegative(whitening, coef, intercept, x_mean, fit_intercept)


def _nonnegative(W, unconstrained, intercept, x_mean, fit_intercept):
    from scipy.optimize import nnls

    d = W.shape[0]
    F = factor_of(W)
    coef = np.column_stack(
        [
            nnls(F, F @ column)[0] if len(F) else np.zeros(d)
            for column in unconstrained.T
        ]
    ).reshape(d, -1)
    if fit_intercept:
        intercept = intercept + x_mean @ (unconstrained - coef)
    return coef, intercept

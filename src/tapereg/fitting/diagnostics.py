"""Warnings about the problem and the fit, each pointing at the user's line.

Too few rows, constant or collinear columns, a constant target, curvature beyond
what gradient descent can resolve, training stopped by ``max_iter``, and too few
clusters for the slopes.
"""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..errors import (
    CollinearityWarning,
    ConstantColumnWarning,
    ConstantTargetWarning,
    warn,
)
from ..numerics.linear import target_names as default_target_names

# Beyond this condition number (about 1/(100·ε) in float64) gradient descent
# cannot resolve the smallest curvature: the fit stalls far from the optimum.
MAX_CONDITION = 1e12


def _some_names(names, columns, prefix: str) -> str:
    """Up to 10 column names (``x3`` for unnamed columns), comma-separated."""
    labels = [
        repr(str(names[c]) if names is not None else f"{prefix}{c}") for c in columns
    ]
    return ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")


def _plural(n: int, word: str) -> str:
    return f"{word}{'s' if n != 1 else ''}"


def warn_about_columns(
    n_samples: int,
    n_features: int,
    scaling,
    collinear=(),
    *,
    alpha: float,
    fit_intercept: bool,
    feature_names=None,
    target_names=None,
) -> None:
    """Warn about too few rows, constant columns and collinear features.

    ``scaling`` is a Standardization that measured its columns; ``collinear``
    the indices of dependent columns, constant ones included or not.
    """
    n_parameters = n_features + int(fit_intercept)
    if alpha == 0 and n_samples < n_parameters:
        warn(
            f"{n_samples} {_plural(n_samples, 'sample')} "
            f"({_plural(n_samples, 'row')}) for {n_parameters} parameters "
            f"({n_features} {_plural(n_features, 'coefficient')}"
            f"{' + intercept' if fit_intercept else ''}) per target: the "
            "least-squares fit is not determined, and the minimum-norm solution "
            "is returned; add rows, use fewer features, or set alpha > 0",
            CollinearityWarning,
        )
        return
    if scaling is None or scaling.x_constant is None:
        return
    constant = np.flatnonzero(scaling.x_constant)
    if constant.size:
        shown = _some_names(feature_names, constant, "x")
        many = constant.size > 1
        value = "constant" if fit_intercept else "zero"
        warn(
            f"column{'s' if many else ''} {shown} {'are' if many else 'is'} "
            f"{value}; {'their coefficients are' if many else 'its coefficient is'}"
            " 0",
            ConstantColumnWarning,
        )
    dependent = [c for c in collinear if not scaling.x_constant[c]]
    if dependent:
        warn(
            f"columns {_some_names(feature_names, dependent, 'x')} are collinear "
            "(linearly dependent); the minimum-norm solution is returned",
            CollinearityWarning,
        )
    targets = default_target_names(target_names, len(scaling.y_constant))
    for j in np.flatnonzero(scaling.y_constant):
        value = scaling.y_mean[j] if fit_intercept else 0.0
        warn(
            f"target {targets[j]!r} is constant (every value is {value:.6g}): "
            "every coefficient is 0 and R² is undefined",
            ConstantTargetWarning,
        )


def warn_about_clusters(n_groups: int, n_slopes: int) -> None:
    """Under ``cov_type="cluster"``, fewer clusters than slopes + 1: the scores
    of the G clusters sum to zero, so the covariance has rank at most G − 1 and
    the model's Wald F loses degrees of freedom (statsmodels warns "covariance of
    constraints does not have full rank" when it computes that F)."""
    if n_groups - 1 >= n_slopes:
        return
    warn(
        f"{n_groups} {_plural(n_groups, 'cluster')} for {n_slopes} "
        f"{_plural(n_slopes, 'slope')}: the cluster-robust covariance has rank at "
        f"most G − 1 = {n_groups - 1}, so the model's Wald F of every slope = 0 "
        "tests at most that many restrictions, as in statsmodels; cluster on "
        "labels with more groups, fit fewer features, or use an HC cov_type",
        UserWarning,
    )


def warn_about_curvature(gram, *, fit_intercept: bool) -> None:
    """Unstandardized, the second moments alone can put the problem beyond what
    the spectrum (and gradient descent) can resolve."""
    curvatures = np.append(np.diag(gram.xx), float(fit_intercept))
    curvatures = curvatures[curvatures > 0]
    spread = curvatures.max() / curvatures.min() if curvatures.size else 1.0
    if spread > MAX_CONDITION:
        warn(
            f"the loss's curvature ranges over a factor {spread:.3g} "
            "(features on very different scales): gradient descent cannot "
            "reach the optimum at this precision; standardize the features "
            "(the default) or use solver='exact'",
            ConvergenceWarning,
        )


def warn_if_not_converged(
    losses: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    optimum=None,
    final=None,
    least_squares: bool = True,
) -> None:
    """Training ran out of epochs before its stopping rule held. ``optimum`` is
    (the exact optimum's loss, the condition number) where the engine knows them
    from the moments, and ``final`` the loss of the returned weights (after the
    last update, which the history, taken before each update, does not hold):
    the warning then says how far the fit is from the optimum. The exact
    solver is suggested for ``least_squares`` only (it solves nothing else)."""
    last = losses[-1]
    if optimum is not None:
        last = last if final is None else final
        best, condition = optimum
        excess = (last - best) / best if best > 0 else np.inf
        where = f"loss {last:.6g} against the exact optimum's {best:.6g}"
        if best > 0:
            where += f", a relative excess of {excess:.2g}"
        where += f"; condition number {condition:.3g}"
    else:
        where = f"last loss {last:.6g}"
        if len(losses) > 1 and losses[-2] > 0:
            step = (losses[-2] - last) / losses[-2]
            where += f"; the last epoch changed it by {-step:+.2g}, relative"
        where += f", against tol={tol:g}"
    warn(
        f"training stopped at max_iter={max_iter} before converging ({where}); "
        "raise max_iter" + (", or use solver='exact'" if least_squares else ""),
        ConvergenceWarning,
    )

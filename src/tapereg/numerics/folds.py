"""Cross-validation from moments: every fold's path without a second pass.

A fold's training rows are all rows less its test rows, so their moments are the
total's less the fold's (:func:`removed_moments`, the inverse of
``merged_moments``). From a fold's training moments every penalty is solved —
ridge in closed form from one eigendecomposition, the elastic net by coordinate
descent on the gram (as scikit-learn's ``enet_coordinate_descent_gram``) along the
descending alphas, each solution finished exactly on its active set — and each
solution's test MSE is read off the test fold's moments. NumPy only.

The objective is scikit-learn ElasticNet's, in the data's own units:
``mean_s((y − Xw − b)²)/2 + α·ρ·‖w‖₁ + α·(1 − ρ)·‖w‖²/2`` (ρ the l1_ratio,
``mean_s`` weighted by the sample weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .moments import ZERO_CURVATURE, Moments

# The l1_ratio the automatic grid of a ridge path (l1_ratio = 0) is computed for,
# as glmnet does: scikit-learn refuses automatic grids for ridge.
RIDGE_GRID_L1_RATIO = 1e-3


def removed_moments(total: Moments, part: Moments) -> Moments:
    """The moments of ``total``'s rows without ``part``'s (which must be among them).

    The parallel-variance formula of ``merged_moments`` solved for the other part:
    ``W·C = W_r·(C_r + δ_r·δ_rᵀ) + W_p·(C_p + δ_p·δ_pᵀ)`` with ``δ = m_· − m``.
    """
    weight = total.total_weight - part.total_weight
    mean = (total.total_weight * total.mean - part.total_weight * part.mean) / weight
    delta_part, delta_rest = part.mean - total.mean, mean - total.mean
    covariance = (
        total.total_weight * total.covariance
        - part.total_weight * (part.covariance + np.outer(delta_part, delta_part))
    ) / weight - np.outer(delta_rest, delta_rest)
    return Moments(
        float(weight),
        total.n_samples - part.n_samples,
        mean,
        (covariance + covariance.T) / 2,
        total.n_features,
        total.weighted,
    )


@dataclass(frozen=True)
class Normal:
    """The normal equations of a set of rows: ``gram·w = xy`` (per Σs), the
    targets' second moments ``yy``, and the means that give the intercept
    ``b = y_mean − x_meanᵀw`` (zeros without one)."""

    gram: np.ndarray  # (d, d)
    xy: np.ndarray  # (d, t)
    yy: np.ndarray  # (t,)
    x_mean: np.ndarray  # (d,)
    y_mean: np.ndarray  # (t,)


def normal_equations(moments: Moments, fit_intercept: bool) -> Normal:
    """Centred second moments with an intercept, raw ones (about 0) without."""
    d = moments.n_features
    mean, second = moments.mean, moments.covariance
    if not fit_intercept:
        second = second + np.outer(mean, mean)
        mean = np.zeros_like(mean)
    yy = np.diag(second[d:, d:]).copy()
    return Normal(second[:d, :d], second[:d, d:], yy, mean[:d], mean[d:])


def alpha_grid(
    moments: Moments, l1_ratio: float, *, fit_intercept: bool, eps: float, n: int
) -> np.ndarray:
    """n alphas from α_max down to eps·α_max, evenly on a log scale.

    With an L1 part, scikit-learn's ``_alpha_grid``: α_max = max_j ‖x_jᵀy‖/(Σs·ρ)
    (the norm over targets), the smallest alpha whose solution is 0. Ridge has no
    such alpha, and scikit-learn no automatic grid for it; this is glmnet's, which
    computes it on the standardized problem (unit-variance features and targets)
    as if ρ were 1e-3: λ_max = max_j ‖corr(x_j, y)‖/1e-3. A ridge alpha weighs
    squared coefficients, whose units are the features' variance (an L1 alpha's
    are σ_x·σ_y), so λ is put in the data's units by the features' mean variance:
    α = λ·mean_j var(x_j), which is glmnet's grid exactly where the features share
    one scale.
    """
    normal = normal_equations(moments, fit_intercept)
    xy = normal.xy
    if l1_ratio > 0:
        alpha_max = np.sqrt(np.max(np.sum(xy**2, axis=1))) / l1_ratio
    else:
        x_var, y_var = np.diag(normal.gram), normal.yy
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = xy / np.sqrt(np.outer(x_var, y_var))
        corr = np.where(np.isfinite(corr), corr, 0.0)  # constant columns: none
        largest = np.sqrt(np.max(np.sum(corr**2, axis=1)))
        alpha_max = largest / RIDGE_GRID_L1_RATIO * float(np.mean(x_var))
    resolution = np.finfo(np.float64).resolution
    if alpha_max <= resolution:
        return np.full(n, resolution)
    return np.geomspace(alpha_max, alpha_max * eps, num=n)


def ridge_path(normal: Normal, alphas: np.ndarray) -> np.ndarray:
    """Coefficients (n_alphas, d, t) of ridge at every alpha: one
    eigendecomposition ``gram = V·Λ·Vᵀ``, then ``w(α) = V·(Λ + α)⁻¹·Vᵀ·xy``.

    The penalty is on the coefficients in the data's own units, so the factor is
    of the unscaled gram (a standardized one would not diagonalize the penalty).
    Directions without curvature (α = 0 on a singular gram) get no weight: the
    minimum-norm solution.
    """
    values, vectors = np.linalg.eigh(normal.gram)
    projected = vectors.T @ normal.xy  # (d, t)
    shifted = values[None, :] + np.asarray(alphas, np.float64)[:, None]  # (A, d)
    floor = ZERO_CURVATURE * max(float(values[-1]), 0.0)
    inverse = np.where(shifted > floor, 1.0 / np.where(shifted > floor, shifted, 1), 0)
    return np.einsum("ij,aj,jt->ait", vectors, inverse, projected)


@dataclass(frozen=True)
class PathResult:
    """Coefficients (n_alphas, d) along a path, and the coordinate-descent sweeps
    each alpha took (whether every alpha met its optimality conditions)."""

    coef: np.ndarray
    n_iter: np.ndarray
    converged: bool


def enet_path(
    normal: Normal,
    alphas: np.ndarray,
    l1_ratio: float,
    *,
    max_iter: int = 1000,
    start: np.ndarray | None = None,
) -> PathResult:
    """Elastic-net coefficients of one target at each alpha (in the given order,
    each warm-started from the one before; ``start`` for the first).

    Cyclic coordinate descent on the gram, as scikit-learn's
    ``enet_coordinate_descent_gram``: ``w_j ← S(xy_j − Σ_{k≠j} G_jk·w_k, α·ρ) /
    (G_jj + α·(1 − ρ))``. Whenever a sweep leaves the active set and the signs
    unchanged, the solution on that set is solved exactly,
    ``(G_AA + α(1−ρ)·I)·w_A = xy_A − α·ρ·sign_A``, and kept if it satisfies every
    optimality condition (signs, and ``|xy_j − G_j·w| ≤ α·ρ`` off the set): the
    path is then exact to rounding, not to a tolerance.
    """
    gram, xy = normal.gram, normal.xy[:, 0]
    d = gram.shape[0]
    diagonal = np.diag(gram).copy()
    w = np.zeros(d) if start is None else np.array(start, np.float64)
    coefs = np.empty((len(alphas), d))
    sweeps = np.zeros(len(alphas), int)
    converged = True
    for a, alpha in enumerate(alphas):
        l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
        w, sweeps[a], done = _enet_at(gram, xy, diagonal, w, l1, l2, max_iter)
        converged = converged and done
        coefs[a] = w
    return PathResult(coefs, sweeps, converged)


def _enet_at(gram, xy, diagonal, w, l1, l2, max_iter):
    """(w, sweeps, converged) at one penalty, from ``w``: coordinate descent,
    finished on the active set (see :func:`enet_path`)."""
    w = w.copy()
    residual = xy - gram @ w  # xy − G·w, kept up to date coordinate by coordinate
    denominators = diagonal + l2
    scale = max(float(np.max(np.abs(xy), initial=0.0)), np.finfo(float).tiny)
    support = w != 0
    next_try, wait = 0, 1
    for sweep in range(1, max_iter + 1):
        largest_step = 0.0
        for j in range(len(w)):
            if denominators[j] <= 0:
                continue  # a constant column: its coefficient stays 0
            old = w[j]
            z = residual[j] + diagonal[j] * old
            new = np.sign(z) * max(abs(z) - l1, 0.0) / denominators[j]
            if new != old:
                residual -= gram[:, j] * (new - old)
                w[j] = new
                largest_step = max(largest_step, abs(new - old))
        now = w != 0
        if (now == support).all() and sweep >= next_try:
            exact = _on_active_set(gram, xy, w, now, l1, l2, scale)
            if exact is not None:
                return exact, sweep, True
            next_try, wait = sweep + wait, 2 * wait  # back off while it fails
        support = now
        if largest_step <= 1e-15 * max(float(np.max(np.abs(w), initial=0)), 1e-300):
            return w, sweep, True  # a fixed point (a degenerate active set)
    return w, max_iter, False


def _on_active_set(gram, xy, w, active, l1, l2, scale):
    """The exact solution with this active set and these signs, or None where
    it breaks an optimality condition (or the set's gram is singular)."""
    signs = np.sign(w[active])
    block = gram[np.ix_(active, active)] + l2 * np.eye(int(active.sum()))
    try:
        exact_active = np.linalg.solve(block, xy[active] - l1 * signs)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.sign(exact_active) == signs):
        return None
    exact = np.zeros_like(w)
    exact[active] = exact_active
    correlation = xy - gram @ exact  # α·ρ·sign on the set, within ±α·ρ off it
    slack = 1e-10 * max(l1, scale)
    if np.any(np.abs(correlation[~active]) > l1 + slack):
        return None
    if not np.allclose(correlation[active] - l2 * exact_active, l1 * signs, atol=slack):
        return None  # the set's gram is (nearly) singular: the solve is not exact
    return exact


def intercepts(normal: Normal, coef: np.ndarray) -> np.ndarray:
    """``b = ȳ − x̄ᵀw`` for coefficients (A, d, t): shape (A, t)."""
    return normal.y_mean[None, :] - np.einsum("d,adt->at", normal.x_mean, coef)


def held_out_mse(test: Moments, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """The (weighted) MSE on a test fold of each model, from the fold's moments:
    the residual r = y − Xw − b has mean ``ȳ − x̄ᵀw − b`` and variance
    ``C_yy − 2·wᵀC_xy + wᵀC_xx·w``, and MSE = variance + mean². Models are
    coefficients (A, d, t) and intercepts (A, t); the MSE (A,) is the mean over
    targets, as scikit-learn's for several."""
    d = test.n_features
    cov, mean = test.covariance, test.mean
    bias = mean[None, d:] - np.einsum("d,adt->at", mean[:d], coef) - intercept
    variance = (
        np.diag(cov[d:, d:])[None, :]
        - 2 * np.einsum("adt,dt->at", coef, cov[:d, d:])
        + np.einsum("adt,de,aet->at", coef, cov[:d, :d], coef)
    )
    return (np.maximum(variance, 0.0) + bias**2).mean(axis=1)

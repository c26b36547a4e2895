"""The losses besides the squared error, in NumPy: their values for the report,
and their exact optima where one is known, to compare training with.

Values are scikit-learn's (``SGDRegressor``'s Huber and ε-insensitive losses,
``mean_pinball_loss``), half of what the tape trains on (``core.losses.RowLoss``).
The exact optima: the pinball and ε-insensitive losses are linear programs, solved
by HiGHS (as ``QuantileRegressor(solver="highs")``), with an L1 penalty if any; the
Huber loss is smooth and convex, solved by L-BFGS-B with its gradient, with an L2
penalty if any. Other combinations have no exact optimum here (None).
"""

from __future__ import annotations

import numpy as np

# Linear programs over more rows than this are not solved for a report.
MAX_PROGRAM_ROWS = 100_000


def loss_name(kind: str, *, epsilon: float, quantile: float) -> str:
    """The loss as the report names it: ``pinball loss (quantile 0.9)``."""
    if kind == "quantile":
        return f"pinball loss (quantile {quantile:g})"
    if kind == "huber":
        return f"Huber loss (epsilon {epsilon:g})"
    return f"epsilon-insensitive loss (epsilon {epsilon:g})"


def row_loss(kind: str, *, epsilon: float, quantile: float):
    """``f(residual) -> loss`` elementwise, ``residual = ŷ − y``."""

    def huber(r):
        size = np.abs(r)
        return np.where(size <= epsilon, r * r / 2, epsilon * size - epsilon**2 / 2)

    def pinball(r):
        return np.maximum(-quantile * r, (1 - quantile) * r)

    def insensitive(r):
        return np.maximum(np.abs(r) - epsilon, 0)

    return {"huber": huber, "quantile": pinball, "epsilon_insensitive": insensitive}[
        kind
    ]


def exact_optimum(
    kind: str,
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight=None,
    *,
    epsilon: float,
    quantile: float,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    fit_intercept: bool = True,
):
    """(coef (d, t), intercept (t,)) minimizing the loss's weighted mean plus
    ``alpha·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)``, or None where this module
    has no exact method for the combination (or the rows are too many)."""
    n = X.shape[0]
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    s = s / s.sum()
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    if kind == "huber":
        if l1 > 0:
            return None
        solve = _huber_optimum
    else:
        if l2 > 0 or n > MAX_PROGRAM_ROWS:
            return None
        solve = _linear_program_optimum
    parameters = [
        solve(
            kind,
            X,
            Y[:, j],
            s,
            epsilon,
            quantile,
            l1 if kind != "huber" else l2,
            fit_intercept,
        )
        for j in range(Y.shape[1])
    ]
    if any(p is None for p in parameters):
        return None
    coef = np.column_stack([p[0] for p in parameters])
    intercept = np.array([p[1] for p in parameters])
    return coef, intercept


def _huber_optimum(kind, X, y, s, epsilon, quantile, l2, fit_intercept):
    """L-BFGS-B on Σsᵢρ(rᵢ) + l2/2·‖w‖², started from least squares."""
    from scipy.optimize import minimize

    d = X.shape[1]
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = X / scale  # better conditioned; the penalty is scaled back

    def objective(p):
        w, b = p[:d], p[d] if fit_intercept else 0.0
        r = Z @ w + b - y
        size = np.abs(r)
        inside = size <= epsilon
        value = s @ np.where(inside, r * r / 2, epsilon * size - epsilon**2 / 2)
        slope = s * np.where(inside, r, epsilon * np.sign(r))
        value += l2 / 2 * np.sum((w / scale) ** 2)
        gradient = np.append(Z.T @ slope + l2 * w / scale**2, slope.sum())
        return value, gradient[: d + int(fit_intercept)]

    start = np.zeros(d + int(fit_intercept))
    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100_000, "ftol": 1e-15, "gtol": 1e-12},
    )
    p = _newton_polish(objective, result.x, Z, y, s, epsilon, l2 / scale**2)
    w = p[:d] / scale
    return w, p[d] if fit_intercept else 0.0


def _newton_polish(objective, p, Z, y, s, epsilon, l2, max_steps=50):
    """Newton steps on the piecewise quadratic Huber objective from L-BFGS-B's
    answer: with the rows inside the threshold fixed, the minimum solves one
    linear system, and once the rows inside no longer change it is the exact
    optimum (to rounding), not one within L-BFGS-B's tolerance."""
    d = Z.shape[1]
    A = np.column_stack([Z, np.ones(len(y))]) if len(p) > d else Z
    ridge = np.zeros(len(p))
    ridge[:d] = l2
    value = objective(p)[0]
    inside = None
    for _ in range(max_steps):
        r = A @ p - y
        now = np.abs(r) <= epsilon
        if inside is not None and np.array_equal(now, inside):
            break
        inside = now
        H = (A[inside] * s[inside, None]).T @ A[inside] + np.diag(ridge)
        gradient = objective(p)[1]
        step = np.linalg.lstsq(H, gradient, rcond=None)[0]
        for _ in range(30):  # halve until the objective falls
            candidate = p - step
            candidate_value = objective(candidate)[0]
            if candidate_value <= value:
                p, value = candidate, candidate_value
                break
            step = step / 2
        else:
            break
    return p


def _linear_program_optimum(kind, X, y, s, epsilon, quantile, l1, fit_intercept):
    """HiGHS on the linear program of the pinball or ε-insensitive loss:
    w = w⁺ − w⁻ (for the L1 part), b free, and per row u⁺, u⁻ ≥ 0 with
    y − Xw − b = u⁺ − u⁻; the pinball costs q·u⁺ + (1 − q)·u⁻, the
    ε-insensitive loss max(u⁺ + u⁻ − ε, 0), through one more ξ ≥ 0 per row."""
    from scipy import sparse
    from scipy.optimize import linprog

    n, d = X.shape
    eye = sparse.eye(n, format="csr")
    ones = np.ones((n, 1)) if fit_intercept else np.zeros((n, 0))
    design = sparse.csr_matrix(np.hstack([X, -X, ones, -ones]))
    k = design.shape[1]  # w⁺, w⁻, b⁺, b⁻
    cost_w = np.concatenate([np.full(2 * d, l1), np.zeros(k - 2 * d)])
    if kind == "quantile":
        A_eq = sparse.hstack([design, eye, -eye], format="csr")
        cost = np.concatenate([cost_w, quantile * s, (1 - quantile) * s])
        result = linprog(cost, A_eq=A_eq, b_eq=y, bounds=(0, None), method="highs")
    else:
        # ξ ≥ r − ε and ξ ≥ −r − ε with r = y − Xw − b.
        A_ub = sparse.vstack(
            [
                sparse.hstack([-design, -eye]),
                sparse.hstack([design, -eye]),
            ],
            format="csr",
        )
        b_ub = np.concatenate([epsilon - y, epsilon + y])
        cost = np.concatenate([cost_w, s])
        result = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if result.status != 0:
        return None
    x = result.x
    w = x[:d] - x[d : 2 * d]
    b = x[2 * d] - x[2 * d + 1] if fit_intercept else 0.0
    return w, b

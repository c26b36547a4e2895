"""``learning_rate="auto"``: the largest safe gradient-descent step, 1/L.

For the mean squared error over ``A = [X, 1]`` (the column of ones only with an
intercept), sample weights ``s`` and ``t`` targets, the gradient is Lipschitz with

    L = 2·λmax(AᵀSA) / (Σs · t)

so a step of 1/L decreases the loss at every epoch. λmax comes from power iteration,
matrix-free (two passes over X per iteration), in NumPy: no TensorFlow needed.
"""

from __future__ import annotations

import numpy as np

# Adam's steps are in parameter units, not gradient units: "auto" is a fixed step.
ADAM_AUTO_LEARNING_RATE = 0.01


def lipschitz_constant(
    X: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    fit_intercept: bool = True,
    n_targets: int = 1,
    max_iter: int = 100,
    rtol: float = 1e-4,
) -> float:
    """L = 2·λmax(AᵀSA)/(Σs·t) by power iteration with the Rayleigh quotient.

    The Rayleigh quotient approaches λmax from below, and a step of 1/L̂ stays
    convergent while L̂ > L/2, so stopping at ``rtol`` is safe.
    """
    n_samples, n_features = X.shape
    weights = np.ones(n_samples) if sample_weight is None else sample_weight
    total_weight = float(np.sum(weights, dtype=np.float64))
    v = np.random.default_rng(0).standard_normal(n_features + fit_intercept)
    v /= np.linalg.norm(v)
    eigenvalue = 0.0
    for _ in range(max_iter):
        Av = X @ v[:n_features].astype(X.dtype, copy=False)
        if fit_intercept:
            Av = Av + v[-1].astype(X.dtype)
        if sample_weight is not None:
            Av = Av * weights.astype(X.dtype, copy=False)
        u = (X.T @ Av).astype(np.float64)
        if fit_intercept:
            u = np.append(u, np.sum(Av, dtype=np.float64))
        previous, eigenvalue = eigenvalue, float(v @ u)
        norm = np.linalg.norm(u)
        if norm == 0.0:
            break
        v = u / norm
        if abs(eigenvalue - previous) <= rtol * eigenvalue:
            break
    return 2.0 * eigenvalue / (total_weight * n_targets)


def minibatch_lipschitz(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    full_lipschitz: float,
    *,
    batch_size: int,
    fit_intercept: bool = True,
    n_targets: int = 1,
) -> float:
    """Smoothness of a random batch of ``batch_size`` rows drawn without replacement.

    L_k = n(k−1)/(k(n−1))·L + (n−k)/(k(n−1))·L_max, with L_max the largest one-row
    constant 2·s_i‖a_i‖²/(s̄·t) (Gower et al., "SGD: general analysis", 2019).
    """
    n = X.shape[0]
    k = min(batch_size, n)
    row_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64) + float(fit_intercept)
    if sample_weight is not None:
        row_norms = row_norms * sample_weight / np.mean(sample_weight)
    l_max = 2.0 * float(np.max(row_norms)) / n_targets
    return batch_lipschitz(full_lipschitz, l_max, n_samples=n, batch_size=k)


def batch_lipschitz(
    full_lipschitz: float, l_max: float, *, n_samples: int, batch_size: int
) -> float:
    """The formula above from its two ingredients (streams get L_max on the fly)."""
    n, k = n_samples, min(batch_size, n_samples)
    if n == 1:
        return l_max
    return (n * (k - 1)) / (k * (n - 1)) * full_lipschitz + (n - k) / (
        k * (n - 1)
    ) * l_max


def auto_lipschitz(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    fit_intercept: bool,
    n_targets: int,
    batch_size: int | None,
    l2_max: float = 0.0,
) -> float:
    """The L behind ``learning_rate="auto"`` (a step of 1/L) for the data engine.

    The full-batch constant, or the larger one of a random batch for mini-batches,
    plus the curvature 2·l2_max/t of an L2 penalty.
    """
    lipschitz = lipschitz_constant(
        X, sample_weight, fit_intercept=fit_intercept, n_targets=n_targets
    )
    if batch_size is not None and batch_size < X.shape[0]:
        lipschitz = minibatch_lipschitz(
            X,
            sample_weight,
            lipschitz,
            batch_size=batch_size,
            fit_intercept=fit_intercept,
            n_targets=n_targets,
        )
    return lipschitz + 2.0 * l2_max / n_targets


def largest_row(X, sample_weight, mean_weight: float, fit_intercept: bool) -> float:
    """max_i s_i·‖a_i‖²/s̄ over these rows (a = [x, 1]), s̄ the mean weight of all
    rows: the largest one-row curvature, for the mini-batch step."""
    norms = np.einsum("ij,ij->i", X, X, dtype=np.float64) + float(fit_intercept)
    if sample_weight is not None:
        norms = norms * sample_weight / mean_weight
    return float(norms.max(initial=0.0))

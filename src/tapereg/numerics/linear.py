"""The linear model's formula and names, in one place each.

``X @ coef + intercept`` (in float64, a chunk at a time), the default names
``x{i}`` and ``y{j}``, and the scaled pseudo-inverse behind the exact solutions.
"""

from __future__ import annotations

import numpy as np

from .arrays import chunks


def linear_predictions(X: np.ndarray, coef: np.ndarray, intercept) -> np.ndarray:
    """``X·coef + intercept`` in float64, a chunk of rows at a time.

    NumPy would otherwise copy a whole float32 X to float64 to multiply it by
    float64 weights.
    """
    coef = np.asarray(coef, np.float64)
    out = np.empty((X.shape[0], *coef.shape[1:]))
    for rows in chunks(X.shape[0], X.shape[1]):
        out[rows] = X[rows] @ coef
    return out + intercept


def feature_names(names, n_features: int) -> list[str]:
    """The given feature names as strings, or ``x0, x1, ...``."""
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(n_features)]


def target_names(names, n_targets: int) -> list[str]:
    """The given target names as strings, or ``y`` for one target, ``y0, y1, ...``."""
    if names is not None:
        return [str(n) for n in names]
    return ["y"] if n_targets == 1 else [f"y{j}" for j in range(n_targets)]


def whitening_of(matrix: np.ndarray, n_samples: int, ridge=0.0):
    """(P, κ): P (d x rank) with PᵀAP = I and PPᵀ = A⁺ for A symmetric positive
    semi-definite (plus ``ridge·I``, in A's own units), the change of variables
    that makes A's quadratic form isotropic on its range; κ the condition number
    of the scaled matrix (largest over smallest eigenvalue; inf when singular).

    The columns are scaled to unit diagonal first (A = D·S·D), so the rank decision
    does not depend on the units; eigenvalues of S below max(n, d)·ε of the largest
    count as zero, which gives the minimum-norm solution. P = D⁻¹·V·Λ^(−1/2).
    """
    d = matrix.shape[0]
    norms = np.sqrt(np.diag(matrix))
    norms[norms == 0] = 1.0
    scaled = matrix / np.outer(norms, norms) + ridge * np.diag(1 / norms**2)
    eigenvalues, vectors = np.linalg.eigh(scaled)
    largest = max(eigenvalues[-1] if d else 0.0, 0.0)
    keep = eigenvalues > max(n_samples, d) * np.finfo(float).eps * largest
    condition = largest / eigenvalues[0] if d and eigenvalues[0] > 0 else float(np.inf)
    whitening = vectors[:, keep] / np.sqrt(eigenvalues[keep]) / norms[:, None]
    return whitening, float(condition)


def factor_of(whitening: np.ndarray) -> np.ndarray:
    """F (rank x d) with FᵀF = A for the whitening W (WWᵀ = A⁺) of
    :func:`whitening_of`: W⁺, since (WWᵀ)⁺ = W⁺ᵀW⁺. Zero rows for rank 0."""
    d, rank = whitening.shape
    return np.linalg.pinv(whitening) if rank else np.zeros((0, d))


def scaled_pseudo_inverse(matrix: np.ndarray, n_samples: int, ridge=0.0):
    """(A⁺, rank) of a symmetric positive semi-definite A (normal equations), from
    :func:`whitening_of` (the minimum-norm inverse where A is singular)."""
    whitening, _ = whitening_of(matrix, n_samples, ridge)
    return whitening @ whitening.T, whitening.shape[1]

"""Synthetic regression problems with a known answer, for tests, benchmarks and docs."""

from __future__ import annotations

import numpy as np


def make_correlated_regression(
    n_samples: int = 4000,
    n_features: int = 5,
    n_targets: int | None = None,
    *,
    correlation: float = 0.6,
    noise: float = 1.0,
    random_state: int = 0,
):
    """Correlated columns on scales 0.1 to 100 with large offsets; y linear plus noise.

    The columns are standard normals with pairwise correlation ``correlation``, scaled
    geometrically from 0.1 to 100 and shifted by offsets from −50 to 500: the kind of
    unscaled data on which the seeds' raw gradient descent diverges.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), or (n_samples, n_targets) when given
    coef : ndarray of shape (n_features, n_targets or 1)
        The coefficients y was generated with (intercept 3).
    """
    rng = np.random.default_rng(random_state)
    cov = correlation * np.ones((n_features, n_features)) + (1 - correlation) * np.eye(
        n_features
    )
    Z = rng.standard_normal((n_samples, n_features)) @ np.linalg.cholesky(cov).T
    scales = np.geomspace(0.1, 100, n_features)
    X = Z * scales + np.linspace(-50, 500, n_features)
    t = 1 if n_targets is None else n_targets
    coef = rng.standard_normal((n_features, t)) / scales[:, None]
    y = X @ coef + 3.0 + noise * rng.standard_normal((n_samples, t))
    return X, (y[:, 0] if n_targets is None else y), coef

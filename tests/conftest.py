"""Shared test data: unscaled, correlated regression problems with a known optimum."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def correlated_problem(
    n_samples=4000, n_features=5, n_targets=None, *, correlation=0.6, noise=1.0, seed=0
):
    """Correlated columns on scales 0.1 to 100 with large offsets; y linear + noise.

    Returns ``(X, y, true_coef)``; y is 1-D when ``n_targets`` is None.
    """
    rng = np.random.default_rng(seed)
    cov = correlation * np.ones((n_features, n_features)) + (1 - correlation) * np.eye(
        n_features
    )
    Z = rng.standard_normal((n_samples, n_features)) @ np.linalg.cholesky(cov).T
    scales = np.geomspace(0.1, 100, n_features)
    offsets = np.linspace(-50, 500, n_features)
    X = Z * scales + offsets
    t = 1 if n_targets is None else n_targets
    coef = rng.standard_normal((n_features, t)) / scales[:, None]
    y = X @ coef + 3.0 + noise * rng.standard_normal((n_samples, t))
    return X, (y[:, 0] if n_targets is None else y), coef


def relative_excess_mse(X, y, coef, intercept):
    """(MSE(coef) − MSE(optimum)) / MSE(optimum), the optimum from NumPy's lstsq."""
    A = np.column_stack([X, np.ones(len(X))])
    best, *_ = np.linalg.lstsq(A, y, rcond=None)
    best_mse = np.mean((A @ best - y) ** 2)
    mse = np.mean((X @ np.asarray(coef).T + intercept - y) ** 2)
    return (mse - best_mse) / best_mse


@pytest.fixture
def problem():
    return correlated_problem()

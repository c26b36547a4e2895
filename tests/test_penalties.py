"""alpha and l1_ratio mean what they mean in scikit-learn's ElasticNet."""

import numpy as np
import pytest
from conftest import correlated_problem
from sklearn.linear_model import ElasticNet, Ridge

from tapereg import LinearRegressor, ParameterError


@pytest.fixture(scope="module")
def data():
    X, y, _ = correlated_problem(1500, 5, seed=3)
    noise_column = np.random.default_rng(1).standard_normal(1500)
    return np.column_stack([X, noise_column]), y


def objective(X, y, coef, intercept, alpha, l1_ratio, weights=None):
    """sklearn's ElasticNet objective (weights normalised as sklearn does)."""
    weights = np.ones(len(y)) if weights is None else weights
    mse = np.average((X @ coef + intercept - y) ** 2, weights=weights)
    return (
        mse / 2
        + alpha * l1_ratio * np.abs(coef).sum()
        + alpha * (1 - l1_ratio) / 2 * coef @ coef
    )


def sklearn_elastic_net(X, y, alpha, l1_ratio, weights=None):
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
    return model.fit(X, y, sample_weight=weights)


@pytest.mark.parametrize(
    ("alpha", "l1_ratio"), [(0.1, 0.5), (0.5, 1.0), (1.0, 0.0), (0.05, 0.2)]
)
def test_matches_sklearn_elastic_net(data, alpha, l1_ratio):
    X, y = data
    reference = sklearn_elastic_net(X, y, alpha, l1_ratio)
    est = LinearRegressor(
        alpha=alpha, l1_ratio=l1_ratio, dtype="float64", max_iter=20_000, tol=1e-12
    ).fit(X, y)
    best = objective(X, y, reference.coef_, reference.intercept_, alpha, l1_ratio)
    ours = objective(X, y, est.coef_, est.intercept_, alpha, l1_ratio)
    assert (ours - best) / best < 1e-8
    # The proximal step gives exact zeros where the lasso part does.
    np.testing.assert_array_equal(est.coef_ == 0, reference.coef_ == 0)
    if l1_ratio == 1.0:  # the lasso drops the irrelevant columns here
        assert np.sum(est.coef_ == 0) >= 2


def test_float32_defaults_with_a_penalty_get_close(data):
    X, y = data
    reference = sklearn_elastic_net(X, y, 0.1, 0.5)
    est = LinearRegressor(alpha=0.1, l1_ratio=0.5).fit(X, y)
    best = objective(X, y, reference.coef_, reference.intercept_, 0.1, 0.5)
    assert (objective(X, y, est.coef_, est.intercept_, 0.1, 0.5) - best) / best < 1e-5


def test_weighted_and_multi_target(data):
    X, y = data
    weights = np.random.default_rng(2).uniform(0.5, 2, len(y))
    Y = np.column_stack([y, -3 * y + 1])
    est = LinearRegressor(
        alpha=0.2, l1_ratio=0.7, dtype="float64", max_iter=20_000, tol=1e-12
    ).fit(X, Y, sample_weight=weights)
    for k in range(2):
        reference = sklearn_elastic_net(X, Y[:, k], 0.2, 0.7, weights)
        best = objective(
            X, Y[:, k], reference.coef_, reference.intercept_, 0.2, 0.7, weights
        )
        ours = objective(X, Y[:, k], est.coef_[k], est.intercept_[k], 0.2, 0.7, weights)
        assert (ours - best) / best < 1e-8


@pytest.mark.parametrize("weighted", [False, True])
def test_exact_ridge_matches_sklearn_ridge_and_gd(data, weighted):
    X, y = data
    weights = np.random.default_rng(3).uniform(0.5, 2, len(y)) if weighted else None
    total = len(y) if weights is None else weights.sum()
    exact = LinearRegressor(solver="exact", alpha=0.3, l1_ratio=0).fit(
        X, y, sample_weight=weights
    )
    reference = Ridge(alpha=0.3 * total).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(exact.coef_, reference.coef_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(exact.intercept_, reference.intercept_, rtol=1e-10)
    trained = LinearRegressor(
        alpha=0.3, l1_ratio=0, dtype="float64", max_iter=20_000, tol=1e-12
    ).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(trained.predict(X), exact.predict(X), rtol=1e-6)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "exact", "alpha": 1.0, "l1_ratio": 0.5}, "solves ridge only"),
        ({"optimizer": "adam", "alpha": 1.0, "l1_ratio": 1.0}, "needs optimizer"),
        ({"alpha": -1.0}, "alpha must be"),
        ({"l1_ratio": 1.5}, "l1_ratio must be"),
    ],
)
def test_refused_combinations(data, params, message):
    X, y = data
    with pytest.raises(ParameterError, match=message):
        LinearRegressor(**params).fit(X, y)


def test_no_summary_for_penalized_models(data):
    X, y = data
    est = LinearRegressor(solver="exact", alpha=0.1, l1_ratio=0).fit(X, y)
    with pytest.raises(ParameterError, match="ordinary least squares"):
        est.summary()

"""The gram engine: the same tape step on the loss written through the moments."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import correlated_problem

from tapereg import LinearRegressor, ParameterError
from tapereg.core.epochs import GramTensors
from tapereg.core.losses import per_target_gram_mse, per_target_mse
from tapereg.core.train import fit_gradient_descent, fit_gradient_descent_gram
from tapereg.numerics.gram import gram_of_data, hessian_spectrum
from tapereg.numerics.standardization import Standardization


def _problem(n_targets=2, weighted=True, seed=0):
    X, Y, _ = correlated_problem(700, 4, n_targets, seed=seed)
    weights = np.random.default_rng(seed).uniform(0.5, 2, 700) if weighted else None
    return X, Y, weights


@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_through_the_moments_equals_the_loss_on_the_data(standardize, weighted):
    X, Y, weights = _problem(weighted=weighted)
    scaling = (
        Standardization.fit(X, Y, weights)
        if standardize
        else Standardization.identity(4, 2)
    )
    stats = gram_of_data(X, Y, weights, scaling)
    tensors = GramTensors(
        *(tf.constant(getattr(stats, f)) for f in GramTensors._fields)
    )
    Xs, Ys = scaling.transform_X(X, np.float64), scaling.transform_y(Y, np.float64)
    rng = np.random.default_rng(1)
    w, b = tf.constant(rng.standard_normal((4, 2))), tf.constant(rng.standard_normal(2))
    on_data = per_target_mse(
        tf.constant(Ys),
        tf.constant(Xs) @ w + b,
        None if weights is None else tf.constant(weights),
    )
    through_moments = per_target_gram_mse(tensors, w, b)
    np.testing.assert_allclose(through_moments.numpy(), on_data.numpy(), rtol=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_spectrum_is_the_hessians(fit_intercept):
    X, Y, weights = _problem()
    scaling = Standardization.fit(X, Y, weights, center=fit_intercept)
    stats = gram_of_data(X, Y, weights, scaling)
    Xs = scaling.transform_X(X, np.float64)
    A = np.column_stack([Xs, np.ones(len(Xs))]) if fit_intercept else Xs
    hessian = 2 / 2 * A.T @ (weights[:, None] * A) / weights.sum()  # t = 2 targets
    eigenvalues = np.linalg.eigvalsh(hessian)
    largest, smallest = hessian_spectrum(
        stats, fit_intercept=fit_intercept, n_targets=2
    )
    assert largest == pytest.approx(eigenvalues[-1], rel=1e-10)
    assert smallest == pytest.approx(eigenvalues[0], rel=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("penalty", [None, "elastic-net"])
def test_epoch_losses_and_weights_equal_the_data_engines(fit_intercept, penalty):
    X, Y, weights = _problem()
    scaling = Standardization.fit(X, Y, weights, center=fit_intercept)
    Xs, Ys = scaling.transform_X(X, np.float64), scaling.transform_y(Y, np.float64)
    l1 = l2 = None
    if penalty:
        l1, l2 = np.full((4, 2), 0.01), np.full((4, 2), 0.02)
    options = dict(
        learning_rate=0.2,
        fit_intercept=fit_intercept,
        max_iter=60,
        tol=None,
        loss_scale=scaling.y_scale**2,
        l1=l1,
        l2=l2,
    )
    data = fit_gradient_descent(Xs, Ys, weights, **options)
    gram = fit_gradient_descent_gram(gram_of_data(X, Y, weights, scaling), **options)
    np.testing.assert_allclose(gram.loss_history, data.loss_history, rtol=1e-6)
    np.testing.assert_allclose(gram.coef, data.coef, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(gram.intercept, data.intercept, rtol=1e-6, atol=1e-12)


def test_estimator_engines_agree_epoch_by_epoch():
    X, Y, weights = _problem(n_targets=1)
    # A fixed step: "auto" would differ by the power iteration's estimate of λmax.
    common = dict(
        optimizer="gd", learning_rate=0.2, dtype="float64", max_iter=80, tol=None
    )
    data = LinearRegressor(engine="data", **common).fit(X, Y[:, 0], weights)
    gram = LinearRegressor(engine="gram", **common).fit(X, Y[:, 0], weights)
    assert (data.engine_, gram.engine_) == ("data", "gram")
    np.testing.assert_allclose(gram.loss_curve_, data.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(gram.coef_, data.coef_, rtol=1e-6)


def test_auto_chooses_by_batch_and_width():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3)), rng.standard_normal(60)
    assert LinearRegressor().fit(X, y).engine_ == "gram"
    assert (
        LinearRegressor(batch_size=8, max_iter=2, tol=None).fit(X, y).engine_ == "data"
    )
    wide = rng.standard_normal((20, 1001))
    fit = LinearRegressor(max_iter=2, tol=None, alpha=1e-3)  # ridge: 20 rows suffice
    assert fit.fit(wide, y[:20]).engine_ == "data"
    with pytest.raises(ParameterError, match="engine='gram' trains on the full batch"):
        LinearRegressor(engine="gram", batch_size=8).fit(X, y)


def test_the_whitened_default_needs_far_fewer_epochs_than_gradient_descent():
    """On an ill-conditioned problem: the default (gradient descent on the whitened
    gram) reaches the optimum in a step, plain gradient descent in about κ epochs."""
    X, y, _ = correlated_problem(3000, 6, correlation=0.99, seed=5)
    default = LinearRegressor(tol=1e-12, max_iter=20_000).fit(X, y)
    plain = LinearRegressor(optimizer="gd", tol=1e-12, max_iter=20_000).fit(X, y)
    assert default.optimizer_ == "whitened gd" and plain.optimizer_ == "gd"
    assert default.n_iter_ < 10 and default.n_iter_ * 20 < plain.n_iter_
    np.testing.assert_allclose(default.predict(X), plain.predict(X), rtol=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_whitened_default_lands_on_the_exact_solution(fit_intercept, weighted):
    X, y, _ = correlated_problem(2000, 5, correlation=0.99, seed=7)
    weights = np.random.default_rng(2).uniform(0.5, 2, 2000) if weighted else None
    default = LinearRegressor(fit_intercept=fit_intercept).fit(X, y, weights)
    exact = LinearRegressor(solver="exact", fit_intercept=fit_intercept)
    exact.fit(X, y, weights)
    assert default.n_iter_ < 10
    np.testing.assert_allclose(default.coef_, exact.coef_, rtol=1e-8)
    np.testing.assert_allclose(default.intercept_, exact.intercept_, rtol=1e-8)


def test_auto_with_a_step_or_an_l1_part_keeps_the_heavy_ball_or_gd():
    X, y, _ = correlated_problem(500, 4, correlation=0.9, seed=1)
    assert LinearRegressor(learning_rate=0.1).fit(X, y).optimizer_ == "gd"
    lasso = LinearRegressor(alpha=0.01, l1_ratio=1.0).fit(X, y)
    assert lasso.optimizer_ == "gd"
    ridge = LinearRegressor(alpha=0.5).fit(X, y)
    assert ridge.optimizer_ == "whitened gd"
    exact = LinearRegressor(alpha=0.5, solver="exact").fit(X, y)
    np.testing.assert_allclose(ridge.coef_, exact.coef_, rtol=1e-9)


def test_the_whitened_default_fits_unstandardized_scales_far_apart():
    """Scales 1e7 apart without standardization put the curvature 1e14 apart,
    beyond plain gradient descent (which warns); whitened, the default fits."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(60), rng.standard_normal(60)
    X = np.column_stack([a, 1e7 * b])
    y = 2 * a - 3 * b + 0.1 * rng.standard_normal(60)
    default = LinearRegressor(standardize=False, dtype="float64").fit(X, y)
    exact = LinearRegressor(solver="exact").fit(X, y)
    assert default.optimizer_ == "whitened gd"
    np.testing.assert_allclose(default.coef_, exact.coef_, rtol=1e-8)

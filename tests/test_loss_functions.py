"""Huber, quantile and epsilon-insensitive losses against independent optima:
SciPy's L-BFGS-B on the Huber objective, scikit-learn's QuantileRegressor (HiGHS)
and SciPy's HiGHS on the epsilon-insensitive linear program, on diabetes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog, minimize
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import QuantileRegressor

import tapereg
from tapereg.errors import ParameterError


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _huber(r, eps):
    a = np.abs(r)
    return np.where(a <= eps, r * r / 2, eps * a - eps * eps / 2)


def _pinball(r, q):  # r = y − ŷ
    return np.maximum(q * r, (q - 1) * r)


def _huber_optimum(X, y, eps, l2=0.0):
    """The Huber objective mean ρ(Xw + b − y) + l2/2·‖w‖², by BFGS in the test."""
    scale = X.std(axis=0)
    Z = X / scale

    def objective(p):
        r = Z @ p[:-1] + p[-1] - y
        slope = np.where(np.abs(r) <= eps, r, eps * np.sign(r)) / len(y)
        v = p[:-1] / scale
        value = _huber(r, eps).mean() + l2 / 2 * v @ v
        return value, np.append(Z.T @ slope + l2 * v / scale, slope.sum())

    result = minimize(
        objective,
        np.zeros(X.shape[1] + 1),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 100_000},
    )
    return result.fun


@pytest.mark.parametrize("alpha", [0.0, 0.01])
def test_huber_reaches_the_optimum_of_its_objective(diabetes, alpha):
    X, y = diabetes
    eps = 10.0
    model = tapereg.LinearRegressor(
        loss="huber",
        epsilon=eps,
        alpha=alpha,
        dtype="float64",
        tol=1e-12,
        max_iter=20_000,
    ).fit(X, y)
    w = model.coef_
    value = _huber(X @ w + model.intercept_ - y, eps).mean() + alpha / 2 * w @ w
    best = _huber_optimum(X, y, eps, l2=alpha)
    assert (value - best) / best <= 1e-6
    assert model.optimizer_ == "accelerated"
    assert model.engine_ == "data"


@pytest.mark.parametrize("q", [0.9, 0.5])
def test_quantile_reaches_quantile_regressors_pinball_loss(diabetes, q):
    X, y = diabetes
    reference = QuantileRegressor(quantile=q, alpha=0, solver="highs").fit(X, y)
    best = _pinball(y - reference.predict(X), q).mean()
    model = tapereg.LinearRegressor(loss="quantile", quantile=q, max_iter=10_000)
    model.fit(X, y)
    value = _pinball(y - model.predict(X), q).mean()
    assert abs(value - best) / best <= 1e-3
    # The coverage of a 0.9 quantile: about 90% of the rows lie below it.
    assert abs(np.mean(y <= model.predict(X)) - q) < 0.02


def test_quantile_with_an_l1_penalty_equals_quantile_regressors(diabetes):
    X, y = diabetes
    q, alpha = 0.75, 0.05
    reference = QuantileRegressor(quantile=q, alpha=alpha, solver="highs").fit(X, y)

    def objective(coef, intercept):
        return _pinball(y - X @ coef - intercept, q).mean() + alpha * np.abs(coef).sum()

    model = tapereg.LinearRegressor(
        loss="quantile",
        quantile=q,
        alpha=alpha,
        l1_ratio=1.0,
        max_iter=20_000,
        dtype="float64",
    ).fit(X, y)
    best = objective(reference.coef_, reference.intercept_)
    assert (objective(model.coef_, model.intercept_) - best) / best <= 1e-3


def test_epsilon_insensitive_reaches_the_linear_programs_optimum(diabetes):
    X, y = diabetes
    eps = 5.0
    n, d = X.shape
    # min Σξ/n  s.t.  ξ ≥ ±(y − Xw − b) − ε, ξ ≥ 0; w, b free.
    A = np.block([[-X, -np.ones((n, 1)), -np.eye(n)], [X, np.ones((n, 1)), -np.eye(n)]])
    b = np.concatenate([eps - y, eps + y])
    cost = np.concatenate([np.zeros(d + 1), np.full(n, 1 / n)])
    bounds = [(None, None)] * (d + 1) + [(0, None)] * n
    best = linprog(cost, A_ub=A, b_ub=b, bounds=bounds, method="highs").fun
    model = tapereg.LinearRegressor(
        loss="epsilon_insensitive", epsilon=eps, max_iter=10_000
    ).fit(X, y)
    value = np.maximum(np.abs(y - model.predict(X)) - eps, 0).mean()
    assert (value - best) / best <= 1e-3


def test_streamed_and_weighted_quantile_fits_equal_in_memory(diabetes):
    X, y = diabetes
    # A hundred epochs (a streamed epoch reads the row cache): the same
    # epochs on the same rows, whether in memory or in blocks.
    params = dict(loss="quantile", quantile=0.8, max_iter=100, dtype="float64")
    blocks = [(X[i : i + 150], y[i : i + 150]) for i in range(0, len(y), 150)]
    with pytest.warns(ConvergenceWarning):
        in_memory = tapereg.LinearRegressor(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        streamed = tapereg.LinearRegressor(**params).fit_stream(blocks)
    assert streamed.n_iter_ == in_memory.n_iter_
    # (The standardization comes from the moments in one, the arrays in the
    # other: the predictions agree, the coefficients of the nearly collinear
    # s1, s2, s4, s5 to about 1e-5.)
    np.testing.assert_allclose(streamed.predict(X), in_memory.predict(X), rtol=1e-6)
    # Integer weights are repeated rows.
    weights = np.tile([1.0, 2.0], len(y) // 2 + 1)[: len(y)]
    params["max_iter"] = 5_000
    weighted = tapereg.LinearRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = tapereg.LinearRegressor(**params).fit(
        np.repeat(X, weights.astype(int), axis=0), np.repeat(y, weights.astype(int))
    )
    loss = _pinball(y - weighted.predict(X), 0.8) @ weights
    loss_repeated = _pinball(y - repeated.predict(X), 0.8) @ weights
    assert abs(loss - loss_repeated) / loss_repeated <= 1e-4


def test_two_targets_train_each_its_own_quantile_fit(diabetes):
    X, y = diabetes
    Y = np.column_stack([y, 2 * y + 10])
    model = tapereg.LinearRegressor(loss="quantile", quantile=0.9, max_iter=10_000)
    model.fit(X, Y)
    np.testing.assert_allclose(model.coef_[1], 2 * model.coef_[0], rtol=1e-3, atol=1)


def test_mini_batches_take_subgradient_steps_toward_the_quantile_fit(diabetes):
    X, y = diabetes
    q = 0.9
    reference = QuantileRegressor(quantile=q, alpha=0, solver="highs").fit(X, y)
    best = _pinball(y - reference.predict(X), q).mean()
    start = _pinball(y - y.mean(), q).mean()
    with pytest.warns(ConvergenceWarning):
        model = tapereg.LinearRegressor(
            loss="quantile",
            quantile=q,
            batch_size=64,
            max_iter=30,
            random_state=0,
            optimizer="adam",
        ).fit(X, y)
    # As SGDRegressor: near the optimum, not at it.
    assert _pinball(y - model.predict(X), q).mean() <= best + 0.2 * (start - best)


def test_a_model_with_another_loss_saves_loads_and_refuses_inference(
    diabetes, tmp_path
):
    X, y = diabetes
    model = tapereg.LinearRegressor(loss="huber", epsilon=20.0).fit(X, y)
    tapereg.save(model, tmp_path / "m.json")
    loaded = tapereg.load(tmp_path / "m.json")
    assert loaded.loss == "huber" and loaded.epsilon == 20.0
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ParameterError, match="least squares"):
        model.summary()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(loss="quantile", solver="exact"), "solver='exact' solves least"),
        (dict(loss="huber", engine="gram"), "engine='gram'"),
        (dict(loss="huber", cov_type="HC1"), "cov_type='HC1'"),
        (dict(loss="quantile", quantile=1.0), "quantile must be"),
        (dict(loss="absolute"), "loss must be one of"),
        (dict(loss="huber", epsilon=-1), "epsilon must be"),
    ],
)
def test_unusable_loss_settings_are_refused(diabetes, params, message):
    X, y = diabetes
    with pytest.raises(ParameterError, match=message):
        tapereg.LinearRegressor(**params).fit(X[:50], y[:50])


def test_partial_fit_refuses_a_loss_with_a_kink(diabetes):
    X, y = diabetes
    with pytest.raises(ParameterError, match="kink"):
        tapereg.LinearRegressor(loss="quantile").partial_fit(X, y)


def test_the_command_line_reports_the_loss_against_its_optimum(
    diabetes, tmp_path, capsys
):
    import json

    import pandas as pd

    from tapereg.cli import main

    X, y = diabetes
    path = tmp_path / "d.csv"
    pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y).to_csv(
        path, index=False
    )
    model_path = tmp_path / "q.json"
    argv = ["fit", str(path), "--target", "y", "--loss", "quantile"]
    argv += [
        "--quantile",
        "0.9",
        "--epochs",
        "5000",
        "--json",
        "--save",
        str(model_path),
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    reference = QuantileRegressor(quantile=0.9, alpha=0, solver="highs").fit(X, y)
    best = _pinball(y - reference.predict(X), 0.9).mean()
    assert report["loss"]["name"] == "pinball loss (quantile 0.9)"
    assert report["loss"]["reference"] == pytest.approx(best, rel=1e-9)
    assert 0 <= report["loss"]["relative_excess"] <= 1e-3
    assert report["exact"]["problem"] == "quantile (HiGHS)"
    assert report["relative_excess_mse"] is None  # not what this fit minimizes
    assert tapereg.load(model_path).quantile == 0.9
    # What only least squares has: one line, exit status 2.
    assert main([*argv[:6], "--summary"]) == 2
    assert "drop --loss quantile" in capsys.readouterr().err
    assert main([*argv[:6], "--solver", "exact"]) == 2
    assert "--solver exact" in capsys.readouterr().err

"""Non-negative coefficients against scikit-learn's LinearRegression(positive=True).

Diabetes (unscaled): the exact solver's NNLS from the factor and gradient descent
projected on w ≥ 0 both give scikit-learn's zero pattern, at most 1e-6 above its
mean squared error; streamed blocks give the same fit.
"""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from tapereg import LinearRegressor, load, save
from tapereg.cli import main
from tapereg.errors import ParameterError


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True, scaled=False)


@pytest.fixture(scope="module")
def reference(diabetes):
    return LinearRegression(positive=True).fit(*diabetes)


def _excess(model, reference, X, y):
    def mse(coef, intercept):
        return np.mean((X @ coef + intercept - y) ** 2)

    best = mse(reference.coef_, reference.intercept_)
    return mse(model.coef_, model.intercept_) / best - 1


@pytest.mark.parametrize("solver", ["exact", "gd"])
def test_positive_equals_sklearn(diabetes, reference, solver):
    X, y = diabetes
    model = LinearRegressor(solver=solver, positive=True).fit(X, y)
    assert (model.coef_ >= 0).all()
    np.testing.assert_array_equal(model.coef_ > 0, reference.coef_ > 0)
    assert abs(_excess(model, reference, X, y)) <= 1e-6
    if solver == "exact":
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("solver", ["exact", "gd"])
def test_streamed_blocks_equal_the_arrays(diabetes, solver):
    X, y = diabetes
    whole = LinearRegressor(solver=solver, positive=True).fit(X, y)
    blocks = [(X[a : a + 100], y[a : a + 100]) for a in range(0, len(y), 100)]
    streamed = LinearRegressor(solver=solver, positive=True).fit_stream(blocks)
    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-6, atol=1e-9)


def test_several_targets_and_weights(diabetes):
    X, y = diabetes
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    Y = np.column_stack([y, -y + 300])  # the second wants negative slopes
    model = LinearRegressor(solver="exact", positive=True).fit(X, Y, sample_weight=w)
    for k in range(2):
        alone = LinearRegression(positive=True).fit(X, Y[:, k], sample_weight=w)
        np.testing.assert_allclose(model.coef_[k], alone.coef_, rtol=1e-7, atol=1e-8)
    assert model.coef_[1].sum() < model.coef_[0].sum()


def test_saved_and_refusing_inference(diabetes, tmp_path):
    X, y = diabetes
    model = LinearRegressor(solver="exact", positive=True).fit(X, y)
    save(model, tmp_path / "m.json")
    loaded = load(tmp_path / "m.json")
    assert loaded.positive
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ParameterError, match="fitted with positive=True"):
        model.summary()
    with pytest.raises(ParameterError, match="needs solver='gd'"):
        LinearRegressor(solver="exact", positive=True, alpha=1.0).fit(X, y)


def test_the_cli_fits_non_negative_coefficients(diabetes, reference, tmp_path, capsys):
    X, y = diabetes
    path = tmp_path / "d.csv"
    pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y).to_csv(
        path, index=False
    )
    argv = ["fit", str(path), "--target", "y", "--positive", "--json", "--quiet"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exact"]["problem"] == "non-negative least squares"
    np.testing.assert_array_equal(np.array(report["coef"]) > 0, reference.coef_ > 0)
    assert abs(report["relative_excess_mse"]) <= 1e-6
    assert main([*argv, "--summary"]) == 2
    assert "drop --positive" in capsys.readouterr().err

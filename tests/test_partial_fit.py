"""partial_fit: the moments of every call's rows add up to the fit of all rows.

Diabetes in nine blocks: the gram engine (and the exact solver, from the merged
moments) reaches the all-rows least-squares optimum (relative excess MSE ≤ 1e-6,
against scikit-learn's LinearRegression), with the same OLS table; a saved model
goes on where it stopped.
"""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from tapereg import LinearRegressor, load, save
from tapereg.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True, scaled=False)


def _parts(n, k=9):
    return np.array_split(np.arange(n), k)


def _excess(model, X, y, weights=None):
    reference = LinearRegression().fit(X, y, sample_weight=weights)

    def mse(coef, intercept):
        return np.average((X @ coef + intercept - y) ** 2, weights=weights)

    return (
        mse(model.coef_, model.intercept_) / mse(reference.coef_, reference.intercept_)
        - 1
    )


@pytest.mark.parametrize("solver", ["gd", "exact"])
def test_nine_blocks_reach_the_all_rows_optimum(diabetes, solver):
    X, y = diabetes
    model = LinearRegressor(solver=solver)
    for part in _parts(len(y)):
        model.partial_fit(X[part], y[part])
    assert abs(_excess(model, X, y)) <= 1e-6
    assert model.nobs_ == len(y) and model.moments_.n_samples == len(y)
    whole = LinearRegressor(solver="exact").fit(X, y)
    np.testing.assert_allclose(
        model.summary().to_numpy(), whole.summary().to_numpy(), rtol=1e-7
    )


def test_weights_and_several_targets(diabetes):
    X, y = diabetes
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    Y = np.column_stack([y, 2 * y - X[:, 2]])
    model = LinearRegressor()
    for part in _parts(len(y), 4):
        model.partial_fit(X[part], Y[part], sample_weight=w[part])
    for k in range(2):
        alone = LinearRegression().fit(X, Y[:, k], sample_weight=w)
        np.testing.assert_allclose(model.coef_[k], alone.coef_, rtol=1e-6)


def test_a_saved_model_goes_on(diabetes, tmp_path):
    X, y = diabetes
    parts = _parts(len(y))
    model = LinearRegressor()
    for part in parts[:5]:
        model.partial_fit(X[part], y[part])
    save(model, tmp_path / "m.json")
    resumed = load(tmp_path / "m.json")
    for part in parts[5:]:
        resumed.partial_fit(X[part], y[part])
    assert abs(_excess(resumed, X, y)) <= 1e-6


def test_what_partial_fit_cannot_do_is_named(diabetes):
    X, y = diabetes
    model = LinearRegressor().partial_fit(X[:100], y[:100])
    with pytest.raises(DataError, match="10 features"):
        model.partial_fit(X[100:200, :5], y[100:200])
    with pytest.raises(ParameterError, match="partial_fit takes numeric X"):
        LinearRegressor(formula="y ~ x").partial_fit(X, y)
    with pytest.raises(ParameterError, match="needs a pass over the rows"):
        LinearRegressor(cov_type="HC1").partial_fit(X, y)
    fitted = LinearRegressor(solver="exact").fit(X, y)
    with pytest.warns(UserWarning, match="partial_fit starts over"):
        fitted.partial_fit(X[:100], y[:100])
    assert fitted.nobs_ == 100


def test_the_data_engine_takes_one_pass_per_call(diabetes):
    """As SGDRegressor.partial_fit: one epoch over the new rows from the last
    coefficients, so passes over the blocks bring the fit down."""
    X, y = diabetes
    model = LinearRegressor(engine="data")
    excess = []
    for _ in range(3):
        for part in _parts(len(y)):
            model.partial_fit(X[part], y[part])
            assert model.n_iter_ == 1
        excess.append(_excess(model, X, y))
    assert excess[0] > excess[1] > excess[2] > 0
    assert excess[2] < 0.05


def test_a_warm_start_refit_takes_a_handful_of_epochs(diabetes):
    X, y = diabetes
    model = LinearRegressor(optimizer="momentum", warm_start=True).fit(X, y)
    cold = model.n_iter_
    model.fit(X, y)
    assert cold > 100 and model.n_iter_ <= 10
    assert abs(_excess(model, X, y)) <= 1e-6
    default = LinearRegressor(warm_start=True).fit(X, y)
    default.fit(X, y)
    assert default.n_iter_ <= 10 and abs(_excess(default, X, y)) <= 1e-9
    # Other widths: nothing to start from, a cold fit.
    narrow = default.fit(X[:, :4], y)
    assert narrow.coef_.shape == (4,)


def test_a_stream_of_blocks_is_one_partial_fit_of_its_rows(diabetes):
    """partial_fit_stream: one pass for the blocks' moments, merged with those
    before; the stream's names must be the model's."""
    import pandas as pd

    X, y = diabetes
    names = [f"x{k}" for k in range(X.shape[1])]
    first = LinearRegressor().partial_fit(pd.DataFrame(X[:100], columns=names), y[:100])

    class Blocks(list):
        feature_names, target_names = names, ["y"]

    first.partial_fit_stream(
        Blocks((X[a : a + 50], y[a : a + 50]) for a in range(100, len(y), 50))
    )
    assert first.moments_.n_samples == len(y) and first.nobs_ == len(y)
    assert abs(_excess(first, X, y)) <= 1e-6
    renamed = Blocks([(X[:10], y[:10])])
    renamed.feature_names = ["a", *names[1:]]
    with pytest.raises(DataError, match="stream's features a, x1"):
        first.partial_fit_stream(renamed)

"""Bad input gets one clear, typed error naming what is wrong and where."""

import warnings

import numpy as np
import pandas as pd
import pytest

from tapereg import (
    CollinearityWarning,
    ConstantColumnWarning,
    DataError,
    LinearRegressor,
    TaperegError,
)


def data(n=50):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, X @ [1.0, 2.0, 3.0] + 0.5


def frame(X):
    return pd.DataFrame(X, columns=["size", "age", "rooms"])


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda X, y: X.__setitem__((17, 1), np.nan), r"X column 1, row 17: NaN"),
        (lambda X, y: X.__setitem__((3, 2), np.inf), r"X column 2, row 3: inf"),
        (lambda X, y: X.__setitem__((0, 0), -np.inf), r"X column 0, row 0: -inf"),
        (lambda X, y: y.__setitem__(41, np.nan), r"y column 0, row 41: NaN"),
    ],
    ids=["nan-in-X", "inf-in-X", "minus-inf-in-X", "nan-in-y"],
)
@pytest.mark.parametrize("solver", ["gd", "exact"])
def test_non_finite_values_are_named_by_column_and_row(spoil, message, solver):
    X, y = data()
    spoil(X, y)
    with pytest.raises(DataError, match=message) as caught:
        LinearRegressor(solver=solver).fit(X, y)
    assert isinstance(caught.value, (TaperegError, ValueError))


def test_column_names_are_used_when_there_are_some():
    X, y = data()
    X[9, 2] = np.nan
    with pytest.raises(DataError, match=r"X column 'rooms', row 9: NaN"):
        LinearRegressor(solver="exact").fit(frame(X), pd.Series(y, name="price"))
    X[9, 2] = 0.0
    y[5] = np.inf
    with pytest.raises(DataError, match=r"y column 'price', row 5: inf"):
        LinearRegressor(solver="exact").fit(frame(X), pd.Series(y, name="price"))


def test_predict_refuses_non_finite_features_by_name():
    X, y = data()
    model = LinearRegressor(solver="exact").fit(frame(X), y)
    X[30, 0] = np.nan
    with pytest.raises(DataError, match=r"X column 'size', row 30: NaN"):
        model.predict(frame(X))


def test_huge_finite_values_are_not_mistaken_for_infinity():
    # The chunk's sum overflows to inf, but every value is finite: no error.
    from tapereg.numerics.checks import check_finite

    check_finite(np.full((100, 2), 1e308), "X")
    with pytest.raises(DataError, match=r"X column 1, row 99: NaN"):
        huge = np.full((100, 2), 1e308)
        huge[99, 1] = np.nan
        check_finite(huge, "X")


@pytest.mark.parametrize("kind", ["gzip", "parquet"])
def test_files_are_recognised_by_content_whatever_their_name(tmp_path, kind):
    import gzip

    from tapereg.io.readers import read_table

    X, y = data()
    table = frame(X).assign(price=y)
    path = tmp_path / "really.csv"
    if kind == "gzip":
        path.write_bytes(gzip.compress(table.to_csv(index=False).encode()))
    else:
        table.to_parquet(path)
    read = read_table(path, "price")
    np.testing.assert_array_equal(read.X, X)
    assert read.feature_names == ["size", "age", "rooms"]


@pytest.mark.parametrize("engine", ["gram", "data"])
def test_constant_and_collinear_columns_still_reach_the_optimum(engine):
    # Zero-curvature directions must not set the step: with a constant column the
    # gram engine's tuned momentum was ≈ 1 and the fit never settled.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    X[:, 1] = 0.1  # n copies of 0.1 do not sum to n·0.1: a naive mean is off
    X[:, 3] = X[:, 0] + X[:, 2]
    y = X @ [1.0, 2.0, 3.0, 0.0] + rng.normal(size=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LinearRegressor(engine=engine, dtype="float64").fit(X, y)
        exact = LinearRegressor(solver="exact").fit(X, y)
    messages = [(w.category, str(w.message)) for w in caught]
    constant = (ConstantColumnWarning, "column 'x1' is constant; its coefficient is 0")
    # The data engine has no second moments: it cannot see the collinearity.
    collinear = (
        CollinearityWarning,
        "columns 'x0', 'x2', 'x3' are collinear (linearly dependent); the "
        "minimum-norm solution is returned",
    )
    expected = [constant, collinear] if engine == "gram" else [constant]
    assert messages == [*expected, constant, collinear]
    mse = np.mean((model.predict(X) - y) ** 2)
    best = np.mean((exact.predict(X) - y) ** 2)
    assert (mse - best) / best < 1e-8
    assert abs(model.coef_[1]) < 1e-12
    assert model.n_iter_ < 200

"""Regressions on the fit paths, through public entry points only.

* A streamed fit of one target keeps the target's name: ``target_names_`` after
  ``fit_stream``, the ``predict`` header and the exported output's name.
* ``fit_stream`` checks its blocks: a 1-D ``y`` block works; blocks whose X or Y
  width changes, or whose ``sample_weight`` has the wrong length, are a DataError
  that names where and the sizes (not an IndexError or a NumPy broadcast error).
* The CLI keeps parameters as values: ``--strategy mirrored --save`` writes
  ``"mirrored"`` into the model file, and the loaded model fits again.
* Warnings from ``fit`` and ``fit_stream`` point at the caller's line.

Plain Python block objects stand for streams; the CLI runs in-process through
``main`` (the real process is test_cli.py's and test_bad_input.py's).
"""

import inspect
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from sklearn.exceptions import ConvergenceWarning

import tapereg
from tapereg import (
    CollinearityWarning,
    ConstantColumnWarning,
    ConstantTargetWarning,
    DataError,
    LinearRegressor,
)


class Blocks:
    """A re-iterable stream of (X, Y) or (X, Y, sample_weight) blocks, as
    ``fit_stream`` reads it, with optional ``feature_names``/``target_names``."""

    def __init__(self, blocks, feature_names=None, target_names=None):
        self._blocks = list(blocks)
        self.feature_names = feature_names
        self.target_names = target_names

    def __iter__(self):
        return iter(self._blocks)


def _split(*arrays, at):
    """Blocks of the rows [0, at) and [at, n) of every array."""
    return [tuple(a[:at] for a in arrays), tuple(a[at:] for a in arrays)]


def _problem(n=60, n_features=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = X @ np.linspace(1.5, -2.0, n_features) + 0.5 + 0.05 * rng.normal(size=n)
    return X, y


def _least_squares(X, y):
    A = np.column_stack([X, np.ones(len(X))])
    solution, *_ = np.linalg.lstsq(A, y, rcond=None)
    return solution[:-1], solution[-1]


# Solver and engine paths of fit_stream: gram (default), data, exact.
CONFIGS = [
    pytest.param({}, id="gd-gram"),
    pytest.param({"engine": "data", "random_state": 0}, id="gd-data"),
    pytest.param({"solver": "exact"}, id="exact"),
]


# -- 1. a streamed fit of one target keeps its name ------------------------------------


@pytest.mark.parametrize("config", CONFIGS)
def test_fit_stream_of_one_named_target_sets_target_names(config):
    X, y = _problem()
    blocks = Blocks(
        _split(X, y[:, None], at=25), feature_names=["a", "b"], target_names=["price"]
    )
    streamed = LinearRegressor(**config).fit_stream(blocks)
    # As fit does for a named pandas Series target.
    frame = pd.DataFrame(X, columns=["a", "b"])
    fitted = LinearRegressor(**config).fit(frame, pd.Series(y, name="price"))
    assert list(fitted.target_names_) == ["price"]
    assert hasattr(streamed, "target_names_"), "fit_stream dropped the target's name"
    assert list(streamed.target_names_) == ["price"]
    assert type(streamed.target_names_) is type(fitted.target_names_)
    assert (
        np.asarray(streamed.target_names_).dtype
        == np.asarray(fitted.target_names_).dtype
    )


def test_fit_stream_target_name_survives_save_and_load(tmp_path):
    X, y = _problem()
    blocks = Blocks(
        _split(X, y[:, None], at=25), feature_names=["a", "b"], target_names=["price"]
    )
    model = LinearRegressor(solver="exact").fit_stream(blocks)
    tapereg.save(model, tmp_path / "m.json")
    assert list(tapereg.load(tmp_path / "m.json").target_names_) == ["price"]


@pytest.fixture(scope="module")
def streamed_model(tmp_path_factory):
    """``tapereg fit f.csv --target price --stream --save m.json``."""
    folder = tmp_path_factory.mktemp("streamed")
    X, y = _problem(40, seed=1)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "price": y})
    frame.to_csv(folder / "f.csv", index=False)
    fit = run_cli(
        "fit",
        "f.csv",
        "--target",
        "price",
        "--stream",
        "--save",
        "m.json",
        "--epochs",
        "50",
        "--quiet",
        cwd=folder,
    )
    assert fit.returncode == 0, fit.stderr
    return folder, frame


def test_predict_of_a_streamed_model_names_the_column_after_the_target(
    streamed_model,
):
    folder, frame = streamed_model
    predict = run_cli("predict", "m.json", "f.csv", cwd=folder)
    assert predict.returncode == 0, predict.stderr
    lines = predict.stdout.splitlines()
    assert lines[0] == "price", f"predict's header is {lines[0]!r}, not 'price'"
    assert len(lines) == 1 + len(frame)


def test_export_of_a_streamed_model_names_the_output_after_the_target(
    streamed_model,
):
    folder, _ = streamed_model
    export = run_cli("export", "m.json", "served", cwd=folder)
    assert export.returncode == 0, export.stderr
    line = next(
        (s for s in export.stdout.splitlines() if s.startswith("serving_default")), ""
    )
    assert re.search(r"->\s*outputs\s+price\s*$", line), f"export printed {line!r}"
    import tensorflow as tf

    serving = tf.saved_model.load(str(folder / "served")).signatures["serving_default"]
    assert sorted(serving.structured_outputs) == ["price"]


# -- 2. fit_stream checks its blocks ---------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS)
def test_fit_stream_takes_1d_y_blocks(config):
    X, y = _problem()
    one_d = LinearRegressor(**config).fit_stream(Blocks(_split(X, y, at=25)))
    two_d = LinearRegressor(**config).fit_stream(Blocks(_split(X, y[:, None], at=25)))
    coef, intercept = _least_squares(X, y)
    rtol = 1e-9 if config.get("solver") == "exact" else 1e-4
    assert np.shape(one_d.coef_) == (2,)
    assert isinstance(one_d.intercept_, float)
    np.testing.assert_allclose(one_d.coef_, coef, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(one_d.intercept_, intercept, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(one_d.coef_, two_d.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(one_d.intercept_, two_d.intercept_, atol=1e-9)


def _names_where(message: str) -> bool:
    """The message says where: the first row of the odd block (37) or its number."""
    return bool(
        re.search(r"\b37\b", message) or re.search(r"block\D{0,3}[12]\b", message, re.I)
    )


def _says(message: str, *numbers) -> bool:
    return all(re.search(rf"\b{n}\b", message) for n in numbers)


@pytest.mark.parametrize("config", CONFIGS)
def test_fit_stream_refuses_x_blocks_of_different_widths(config):
    X, y = _problem(60, n_features=5)
    blocks = Blocks([(X[:37], y[:37, None]), (X[37:, :3], y[37:, None])])
    with pytest.raises(DataError) as error:
        LinearRegressor(**config).fit_stream(blocks)
    message = str(error.value)
    assert "X" in message or "feature" in message, message
    assert _says(message, 5, 3), message
    assert _names_where(message), message


@pytest.mark.parametrize("config", CONFIGS)
def test_fit_stream_refuses_y_blocks_of_different_widths(config):
    X, y = _problem()
    Y2, Y3 = np.column_stack([y, -y]), np.column_stack([y, -y, 2 * y])
    blocks = Blocks([(X[:37], Y2[:37]), (X[37:], Y3[37:])])
    with pytest.raises(DataError) as error:
        LinearRegressor(**config).fit_stream(blocks)
    message = str(error.value)
    assert re.search(r"\by\b|\bY\b|target", message), message
    assert _says(message, 2, 3), message
    assert _names_where(message), message


@pytest.mark.parametrize("config", CONFIGS)
def test_fit_stream_refuses_sample_weight_of_the_wrong_length(config):
    X, y = _problem()
    weights = np.ones(60)
    blocks = Blocks(
        [
            (X[:37], y[:37, None], weights[:37]),
            (X[37:], y[37:, None], weights[:11]),  # 23 rows, 11 weights
        ]
    )
    with pytest.raises(DataError) as error:
        LinearRegressor(**config).fit_stream(blocks)
    message = str(error.value)
    assert "sample_weight" in message or "weight" in message, message
    assert _says(message, 23, 11), message
    assert _names_where(message), message


# -- 3. the CLI keeps parameters as values ---------------------------------------------


def _values_of(document, key):
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(document, dict):
        for k, v in document.items():
            if k == key:
                yield v
            yield from _values_of(v, key)
    elif isinstance(document, list):
        for item in document:
            yield from _values_of(item, key)


def test_cli_strategy_is_saved_as_its_name_and_the_loaded_model_fits(tmp_path):
    X, y = _problem(40, seed=2)
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(
        tmp_path / "d.csv", index=False
    )
    fit = run_cli(
        "fit",
        "d.csv",
        "--target",
        "y",
        "--strategy",
        "mirrored",
        "--save",
        "m.json",
        "--epochs",
        "50",
        "--quiet",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr
    text = (tmp_path / "m.json").read_text()
    assert "object at 0x" not in text, "a live object was written into the model file"
    strategies = list(_values_of(json.loads(text), "strategy"))
    assert strategies, "the model file keeps no strategy parameter"
    assert all(s == "mirrored" for s in strategies), strategies
    model = tapereg.load(tmp_path / "m.json")
    frame = pd.read_csv(tmp_path / "d.csv")
    model.fit(frame[["a", "b"]], frame["y"])
    assert model.get_params()["strategy"] == "mirrored"
    coef, intercept = _least_squares(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-4)


# -- 4. warnings point at the caller's line --------------------------------------------


def _data(kind):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60), rng.normal(size=60)
    y = 2 * a - b + 0.1 * rng.normal(size=60)
    if kind == "collinear":  # two identical columns
        return np.column_stack([a, a, b]), y
    if kind == "constant column":
        return np.column_stack([a, np.full(60, 3.0), b]), y
    if kind == "constant target":
        return np.column_stack([a, b]), np.full(60, 4.0)
    if kind == "too few rows":  # 3 rows for 4 coefficients + intercept
        return np.column_stack([a, b, a * b, a + 2 * b * b])[:3], y[:3]
    if kind == "max_iter":  # nearly collinear: far from done after 2 epochs
        return np.column_stack([a, a + 0.01 * b]), y
    if kind == "curvature":  # unstandardized scales 1e14 apart
        return np.column_stack([a, 1e7 * b]), y
    raise AssertionError(kind)


WARNING_CASES = [
    # (data, parameters, category, message)
    ("collinear", {}, CollinearityWarning, r"collinear"),
    ("collinear", {"solver": "exact"}, CollinearityWarning, r"collinear"),
    ("constant column", {}, ConstantColumnWarning, r"is constant"),
    ("constant column", {"solver": "exact"}, ConstantColumnWarning, r"is constant"),
    ("constant column", {"engine": "data"}, ConstantColumnWarning, r"is constant"),
    ("constant target", {}, ConstantTargetWarning, r"is constant"),
    ("too few rows", {}, CollinearityWarning, r"sample|row"),
    ("too few rows", {"solver": "exact"}, CollinearityWarning, r"sample|row"),
    ("max_iter", {"max_iter": 2, "tol": 1e-12}, ConvergenceWarning, r"max_iter"),
    (
        "max_iter",
        {"max_iter": 2, "tol": 1e-12, "engine": "data"},
        ConvergenceWarning,
        r"max_iter",
    ),
    (
        "curvature",
        {"standardize": False, "max_iter": 50, "dtype": "float64", "optimizer": "gd"},
        ConvergenceWarning,
        r"curvature ranges over a factor",
    ),
]


def _fit_recording(estimator, method, X, y):
    """Fit through ``method``, recording every warning; (warnings, the call's line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "fit":
            line = inspect.currentframe().f_lineno + 1
            estimator.fit(X, y)
        else:
            line = inspect.currentframe().f_lineno + 1
            estimator.fit_stream(Blocks(_split(X, y[:, None], at=len(y) // 2 + 1)))
    return caught, line


@pytest.mark.parametrize("method", ["fit", "fit_stream"])
@pytest.mark.parametrize(
    ("kind", "params", "category", "message"),
    [
        pytest.param(*case, id="-".join([case[0], *map(str, case[1].values())]))
        for case in WARNING_CASES
    ],
)
def test_warnings_point_at_the_callers_line(kind, params, category, message, method):
    X, y = _data(kind)
    caught, line = _fit_recording(LinearRegressor(**params), method, X, y)
    matching = [
        w
        for w in caught
        if issubclass(w.category, category) and re.search(message, str(w.message))
    ]
    assert matching, f"no {category.__name__} matching {message!r}: " + repr(
        [str(w.message) for w in caught]
    )
    for w in matching:
        assert (w.filename, w.lineno) == (__file__, line), (
            f"{category.__name__} ({str(w.message)[:60]}...) points at "
            f"{w.filename}:{w.lineno}, not at the caller's line {__file__}:{line}"
        )


def test_a_strategy_object_is_saved_as_the_name_of_its_kind(tmp_path):
    """Through the API a strategy may be an object; the model file keeps a value."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 2))
    y = X @ [1.5, -2.0] + 0.5
    strategy = tf.distribute.MirroredStrategy()
    model = LinearRegressor(solver="exact", strategy=strategy).fit(X, y)
    path = tmp_path / "m.json"
    tapereg.save(model, path)
    params = json.loads(path.read_text())["content"]["params"]
    assert params["strategy"] == "mirrored"
    again = tapereg.load(path).fit(X, y)
    np.testing.assert_allclose(again.coef_, [1.5, -2.0], rtol=1e-10)

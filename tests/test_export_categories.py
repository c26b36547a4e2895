"""The SavedModel of an encoded model (a formula, text columns) takes raw columns.

A category is served as a string, booleans as tf.bool, numbers as float32; the graph
rebuilds the design (one-hot levels, interactions, np.log and I() arithmetic) and
must give ``model.predict`` of the same rows. The rows' numbers are rounded to
float32 first, as the served inputs are, so only the float32 output rounds.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import tensorflow as tf

from tapereg import LinearRegressor, ParameterError, save
from tapereg.design.encoding import encode
from tapereg.io.export import export_saved_model, signature_names
from tapereg.numerics.statistics import PREDICTION_COLUMNS

FORMULAS = [
    "invest ~ value + capital + C(firm)",
    "invest ~ value*capital + C(firm, Treatment('IBM')) - 1",
    "invest ~ C(year) + value",
    "invest ~ C(firm):value + capital",  # full-rank firm columns, no reference
    "np.log(invest) ~ np.log(value) + I(capital**2) + value:capital + firm",
    "invest ~ np.sqrt(value) + I(-capital / 2 + 3) + np.log10(value):C(firm)",
]


@pytest.fixture(scope="module")
def grunfeld():
    return sm.datasets.grunfeld.load_pandas().data


@pytest.fixture(scope="module")
def grunfeld32(grunfeld):
    """Grunfeld with its numbers rounded to float32, as the export receives them."""
    numbers = ["invest", "value", "capital", "year"]
    return grunfeld.astype({c: np.float32 for c in numbers}).astype(
        {c: np.float64 for c in numbers}
    )


def feed(metadata, frame) -> dict:
    """The serving inputs of ``frame``'s rows, by the export's own metadata."""
    inputs = {}
    for spec in metadata["inputs"]:
        column = frame[spec["name"]]
        if spec["dtype"] == "string":
            inputs[spec["key"]] = tf.constant([str(v) for v in column], tf.string)
        elif spec["dtype"] == "bool":
            inputs[spec["key"]] = tf.constant(column.to_numpy(bool))
        else:
            inputs[spec["key"]] = tf.constant(column.to_numpy(np.float32))
    return inputs


def serve(directory, inputs, signature="serving_default"):
    loaded = tf.saved_model.load(os.fspath(directory))
    return loaded.signatures[signature](**inputs)


def input_dtypes(directory) -> dict:
    loaded = tf.saved_model.load(os.fspath(directory))
    specs = loaded.signatures["serving_default"].structured_input_signature[1]
    return {key: spec.dtype.name for key, spec in sorted(specs.items())}


def test_text_columns_without_a_formula(tmp_path, grunfeld, grunfeld32):
    X, y = grunfeld.drop(columns="invest"), grunfeld["invest"]
    model = LinearRegressor(solver="exact").fit(X, y)
    metadata = export_saved_model(model, tmp_path / "export")

    assert signature_names(model) == (["value", "capital", "firm", "year"], ["invest"])
    assert input_dtypes(tmp_path / "export") == {
        "capital": "float32",
        "firm": "string",
        "value": "float32",
        "year": "float32",
    }
    firms = sorted(grunfeld["firm"].unique())
    assert metadata["inputs"] == [
        {"name": "value", "key": "value", "dtype": "float32"},
        {"name": "capital", "key": "capital", "dtype": "float32"},
        {"name": "firm", "key": "firm", "dtype": "string", "levels": firms},
        {"name": "year", "key": "year", "dtype": "float32"},
    ]
    assert metadata["formula"] is None
    # The design's columns, which predict_matrix takes.
    assert [f["name"] for f in metadata["features"]] == list(model.feature_names_in_)
    assert len(metadata["features"]) == 3 + 10

    X32 = grunfeld32.drop(columns="invest")
    served = serve(tmp_path / "export", feed(metadata, X32))["invest"].numpy()
    np.testing.assert_allclose(served, model.predict(X32), rtol=1e-6)
    matrix = serve(
        tmp_path / "export",
        {"inputs": tf.constant(encode(model.encoding_, X32), tf.float32)},
        "predict_matrix",
    )["predictions"].numpy()
    np.testing.assert_allclose(matrix[:, 0], model.predict(X32), rtol=1e-6)


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_models_serve_their_predictions(
    tmp_path, grunfeld, grunfeld32, formula
):
    model = LinearRegressor(formula=formula, solver="exact").fit(grunfeld)
    metadata = export_saved_model(model, tmp_path / "export")
    assert metadata["formula"] == model.encoding_.formula
    assert {s["key"]: s["dtype"] for s in metadata["inputs"]} == input_dtypes(
        tmp_path / "export"
    )

    (target,) = signature_names(model)[1]
    served = serve(tmp_path / "export", feed(metadata, grunfeld32))[target].numpy()
    expected = model.predict(grunfeld32)
    assert served.dtype == np.float32 and served.shape == (len(grunfeld),)
    np.testing.assert_allclose(served, expected, rtol=1e-6)


def test_formula_inputs_and_levels(tmp_path, grunfeld, grunfeld32):
    formula = "invest ~ value*capital + C(firm, Treatment('IBM')) - 1"
    model = LinearRegressor(formula=formula, solver="exact").fit(grunfeld)
    metadata = export_saved_model(model, tmp_path / "export")
    assert input_dtypes(tmp_path / "export") == {
        "capital": "float32",
        "firm": "string",
        "value": "float32",
    }
    assert metadata["inputs"][1] == {
        "name": "firm",
        "key": "firm",
        "dtype": "string",
        "levels": sorted(grunfeld["firm"].unique()),
    }
    # Without an intercept every firm has its own column, IBM's included.
    assert "C(firm, Treatment('IBM'))[IBM]" in model.feature_names_in_

    # A row's prediction by hand: IBM's column, value, capital and their product.
    coef = dict(zip(model.feature_names_in_, model.coef_, strict=True))
    row = {"firm": ["IBM"], "value": [1000.0], "capital": [250.0]}
    served = serve(tmp_path / "export", {k: tf.constant(v) for k, v in row.items()})
    by_hand = (
        coef["C(firm, Treatment('IBM'))[IBM]"]
        + coef["value"] * 1000
        + coef["capital"] * 250
        + coef["value:capital"] * 250_000
    )
    assert model.intercept_ == 0
    assert served["invest"].numpy()[0] == pytest.approx(by_hand, rel=1e-6)
    assert model.predict(pd.DataFrame(row))[0] == pytest.approx(by_hand, rel=1e-12)


def test_numbers_as_categories_are_served_as_their_str(tmp_path, grunfeld):
    model = LinearRegressor(formula="invest ~ C(year) + value", solver="exact").fit(
        grunfeld
    )
    metadata = export_saved_model(model, tmp_path / "export")
    year = next(s for s in metadata["inputs"] if s["name"] == "year")
    assert year["dtype"] == "string"
    assert year["levels"][:2] == ["1935.0", "1936.0"] and len(year["levels"]) == 20

    rows = pd.DataFrame({"year": [1936.0, 1950.0], "value": [500.0, 2000.0]})
    served = serve(
        tmp_path / "export",
        {"year": tf.constant(["1936.0", "1950.0"]), "value": tf.constant([500.0, 2e3])},
    )
    np.testing.assert_allclose(served["invest"].numpy(), model.predict(rows), rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="unseen level in column"):
        serve(
            tmp_path / "export",
            {"year": tf.constant(["1936"]), "value": tf.constant([500.0])},
        )


def test_an_unseen_level_fails_the_call(tmp_path, grunfeld):
    model = LinearRegressor(formula="invest ~ value + C(firm)", solver="exact").fit(
        grunfeld
    )
    export_saved_model(model, tmp_path / "export")
    good = {"firm": tf.constant(["IBM", "Chrysler"]), "value": tf.constant([1.0, 2.0])}
    served = serve(tmp_path / "export", good)["invest"].numpy()
    expected = model.predict(
        pd.DataFrame({"firm": ["IBM", "Chrysler"], "value": [1, 2]})
    )
    np.testing.assert_allclose(served, expected, rtol=1e-6)

    # "American Steel" is the reference: an unknown firm must not pass as it.
    bad = {"firm": tf.constant(["IBM", "Apple"]), "value": tf.constant([1.0, 2.0])}
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        serve(tmp_path / "export", bad)
    message = str(caught.value)
    assert "unseen level in column firm (input firm)" in message
    assert "not one of the 11 levels" in message and "Apple" in message
    for signature in ("predict_interval",):
        with pytest.raises(tf.errors.InvalidArgumentError, match="unseen level"):
            serve(tmp_path / "export", bad, signature)


@pytest.mark.parametrize("formula", [None, "y ~ x + flag", "y ~ x*flag"])
def test_boolean_columns_are_served_as_bool(tmp_path, formula):
    rng = np.random.default_rng(4)
    x = np.float32(rng.normal(size=40)).astype(np.float64)
    flag = rng.random(40) > 0.5
    frame = pd.DataFrame({"x": x, "flag": flag})
    y = 2 * x + 3 * flag - 1.5 * x * flag + 7 + rng.normal(size=40) * 0.1
    if formula is None:
        model = LinearRegressor(solver="exact").fit(frame, pd.Series(y, name="y"))
    else:
        model = LinearRegressor(formula=formula, solver="exact").fit(frame.assign(y=y))
    metadata = export_saved_model(model, tmp_path / "export")
    assert input_dtypes(tmp_path / "export") == {"flag": "bool", "x": "float32"}
    spec = next(s for s in metadata["inputs"] if s["name"] == "flag")
    assert spec == {
        "name": "flag",
        "key": "flag",
        "dtype": "bool",
        "levels": [False, True],
    }

    inputs = {"x": tf.constant(x, tf.float32), "flag": tf.constant(flag)}
    served = serve(tmp_path / "export", inputs)["y"].numpy()
    np.testing.assert_allclose(served, model.predict(frame), rtol=1e-6)
    # The flag matters: served with every flag flipped, the predictions move.
    flipped = serve(
        tmp_path / "export", {"x": inputs["x"], "flag": tf.constant(~flag)}
    )["y"].numpy()
    np.testing.assert_allclose(
        flipped, model.predict(frame.assign(flag=~flag)), rtol=1e-6
    )
    assert np.max(np.abs(flipped - served)) > 1


def test_raw_column_keys_follow_the_naming_rule(tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "size m2": np.float32(rng.normal(size=30) + 5).astype(np.float64),
            "kind": rng.choice(["a", "b", "c"], size=30),
            "class": rng.random(30) > 0.5,
        }
    )
    y = 2 * frame["size m2"] + (frame["kind"] == "c") * 4 + rng.normal(size=30)
    model = LinearRegressor(solver="exact").fit(frame, y.rename("y"))
    metadata = export_saved_model(model, tmp_path / "export")
    assert [(s["name"], s["key"], s["dtype"]) for s in metadata["inputs"]] == [
        ("size m2", "size_m2", "float32"),
        ("kind", "kind", "string"),
        ("class", "class_", "bool"),
    ]
    served = serve(tmp_path / "export", feed(metadata, frame))["y"].numpy()
    np.testing.assert_allclose(served, model.predict(frame), rtol=1e-6)


def test_interval_signature_of_a_formula_model(tmp_path, grunfeld, grunfeld32):
    formula = "invest ~ value*capital + C(firm, Treatment('IBM')) - 1"
    model = LinearRegressor(formula=formula, solver="exact", cov_type="HC1").fit(
        grunfeld
    )
    metadata = export_saved_model(model, tmp_path / "export", level=0.9)
    assert metadata["predict_interval"]["exported"]
    assert metadata["predict_interval"]["cov_type"] == "HC1"
    loaded = tf.saved_model.load(os.fspath(tmp_path / "export"))
    assert (
        loaded.signatures["predict_interval"].structured_input_signature
        == loaded.signatures["serving_default"].structured_input_signature
    )

    out = serve(tmp_path / "export", feed(metadata, grunfeld32), "predict_interval")
    expected = model.predict_interval(grunfeld32, level=0.9)
    assert sorted(out) == sorted(PREDICTION_COLUMNS)
    for column in PREDICTION_COLUMNS:
        assert out[column].dtype == tf.float64
        np.testing.assert_allclose(out[column].numpy(), expected[column], rtol=1e-9)


@pytest.mark.parametrize(
    ("formula", "refused"),
    [
        ("invest ~ np.cumsum(value) + firm", "np.cumsum(value)"),
        ("invest ~ C(firm, Sum) + value", "C(firm, Sum)"),
        (
            "invest ~ np.sin(value):firm",
            "np.sin(value) (in the term np.sin(value):firm)",
        ),
    ],
)
def test_terms_the_graph_cannot_compute_are_refused(
    tmp_path, grunfeld, formula, refused
):
    model = LinearRegressor(formula=formula, solver="exact").fit(grunfeld)
    with pytest.raises(ParameterError) as caught:
        export_saved_model(model, tmp_path / "export")
    assert str(caught.value).startswith(
        f"the export cannot compute {refused} in TensorFlow; "
    )
    assert list(tmp_path.iterdir()) == []


def run_cli(capsys, *args):
    """``tapereg ARGS`` in-process: (exit status, stdout, stderr)."""
    from tapereg.cli import main

    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_exports_a_saved_formula_model(tmp_path, grunfeld, grunfeld32, capsys):
    model = LinearRegressor(
        formula="invest ~ value + capital + C(firm)", solver="exact"
    ).fit(grunfeld)
    save(model, tmp_path / "m.json")
    status, out, err = run_cli(
        capsys, "export", str(tmp_path / "m.json"), str(tmp_path / "served")
    )
    assert status == 0, err
    assert (
        "serving_default: inputs capital, firm (string), value -> outputs invest"
    ) in out.splitlines()

    metadata = json.loads(
        (tmp_path / "served" / "assets.extra" / "tapereg_export.json").read_text()
    )
    assert [s["dtype"] for s in metadata["inputs"]] == ["float32", "string", "float32"]
    served = serve(tmp_path / "served", feed(metadata, grunfeld32))["invest"].numpy()
    np.testing.assert_allclose(served, model.predict(grunfeld32), rtol=1e-6)

    refused = LinearRegressor(formula="invest ~ np.cumsum(value)", solver="exact")
    save(refused.fit(grunfeld), tmp_path / "r.json")
    status, _, err = run_cli(
        capsys, "export", str(tmp_path / "r.json"), str(tmp_path / "other")
    )
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "tapereg: error: the export cannot compute np.cumsum(value) in TensorFlow; "
    )
    assert not (tmp_path / "other").exists()

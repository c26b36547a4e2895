"""Model files edited by hand, checksum recomputed: validated, not only checksummed.

Every edit either loads as a model that predicts finite numbers from finite data, or
is refused with one ModelFileError line naming the file and the field, through the
API and the CLI (exit 2, one stderr line). The exact solver keeps loading and
predicting free of TensorFlow, so these tests are fast.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tapereg import LinearRegressor, save
from tapereg.cli import main
from tapereg.errors import ModelFileError, ParameterError
from tapereg.io.persistence import _canonical, load, model_content


def _fitted(
    columns=("x1", "x2"), targets=("y",)
) -> tuple[LinearRegressor, pd.DataFrame]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(40, len(columns))), columns=list(columns))
    Y = X.to_numpy() @ rng.normal(size=(len(columns), len(targets))) + 1.5
    Y += 0.1 * rng.normal(size=Y.shape)
    y = pd.DataFrame(Y, columns=list(targets))
    model = LinearRegressor(solver="exact").fit(
        X, y.iloc[:, 0] if len(targets) == 1 else y
    )
    return model, X


def _document(content: dict) -> dict:
    """A model file's document around ``content``, its checksum recomputed."""
    return {
        "format": "tapereg.model",
        "format_version": 1,
        "tapereg_version": "0.1.0",
        "sha256": hashlib.sha256(_canonical(content)).hexdigest(),
        "content": content,
    }


@pytest.fixture
def model_file(tmp_path):
    """A saved two-feature model, its document, and prediction data."""
    model, X = _fitted()
    path = tmp_path / "m.json"
    save(model, path)
    data = tmp_path / "d.csv"
    X.to_csv(data, index=False)
    return path, json.loads(path.read_text()), data


def _set(*keys_and_value):
    """An edit of the content: set the value at ``keys`` (checksum recomputed)."""
    *keys, value = keys_and_value

    def edit(document):
        node = document["content"]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return _document(document["content"])

    return edit


def _top(key, value):
    def edit(document):
        document[key] = value
        return document

    return edit


def _text(make):
    """An edit of the file's text itself (no checksum recomputed)."""
    return lambda document: make(json.dumps(document, indent=1))


def _literal(*keys_and_literal):
    """The file's text with ``literal`` (not JSON) at ``keys`` in the content."""
    *keys, literal = keys_and_literal
    mark = _set(*keys, "LITERAL HERE")
    return lambda document: json.dumps(mark(document)).replace(
        '"LITERAL HERE"', literal
    )


NUMBERS = "a model's numbers must be finite"
CASES = [
    (
        "null coefficient",
        _set("coef", 0, 0, None),
        f"content.coef[0][0] is null; {NUMBERS}",
    ),
    (
        "duplicate feature names",
        _set("feature_names", ["x1", "x1"]),
        'content.feature_names names "x1" twice; names must be unique',
    ),
    (
        "NaN literal",
        _literal("coef", 0, 0, "NaN"),
        f"the file holds NaN, which is not JSON; {NUMBERS}",
    ),
    (
        "Infinity literal",
        _literal("intercept", 0, "-Infinity"),
        f"the file holds -Infinity, which is not JSON; {NUMBERS}",
    ),
    (
        "number beyond float64",
        _literal("coef", 0, 1, "1e999"),
        f"1e999 is beyond float64's range; {NUMBERS}",
    ),
    (
        "n_features disagrees with coef",
        _set("n_features", 3),
        "content.coef[0] has 2 entries for the model's 3 features (content.n_features)",
    ),
    (
        "no target names",
        _set("target_names", []),
        "content.target_names has 0 entries for the model's 1 target "
        "(the rows of content.coef)",
    ),
    (
        "deeply nested JSON",
        _text(lambda _: "[" * 100_000 + "]" * 100_000),
        "not a tapereg model file (JSON nested more than 64 levels deep)",
    ),
    (
        "deeply nested content",
        _set("metrics", functools.reduce(lambda v, _: [v], range(70), 1)),
        "not a tapereg model file (JSON nested more than 64 levels deep)",
    ),
    (
        "format_version a string",
        _top("format_version", "1"),
        'format_version must be an integer, got "1"',
    ),
    (
        "format_version a bool",
        _top("format_version", True),
        "format_version must be an integer, got true",
    ),
    (
        "format_version newer",
        _top("format_version", 2),
        "written by a newer tapereg (model format 2, this one reads up to 1); "
        "upgrade tapereg",
    ),
    (
        "format_version 0",
        _top("format_version", 0),
        "format_version 0 is not a model format (they start at 1)",
    ),
    (
        "truncated",
        _text(lambda t: t[: len(t) // 2]),
        "the model file is truncated (it ends inside the JSON)",
    ),
    (
        "truncated inside a string",
        _text(lambda t: t[: t.index('"tapereg.model"') + 5]),
        "the model file is truncated (it ends inside the JSON)",
    ),
    ("empty", _text(lambda _: ""), "the model file is empty"),
    ("not JSON", _text(lambda _: "model = {}"), "not a tapereg model file (not JSON)"),
    (
        "unknown content key",
        _set("comment", "mine"),
        "content.comment is not part of a model file",
    ),
    (
        "unknown document key",
        _top("comment", "mine"),
        "'comment' is not part of a model file",
    ),
    (
        "missing content key",
        lambda d: _document({k: v for k, v in d["content"].items() if k != "metrics"}),
        "content.metrics is missing",
    ),
    (
        "a bool for a number",
        _set("intercept", 0, True),
        "content.intercept[0] must be a number, got true",
    ),
    (
        "a float for an integer",
        _set("n_iter", 1.5),
        "content.n_iter must be an integer, got 1.5",
    ),
    (
        "a negative count",
        _set("n_iter", -1),
        "content.n_iter must be >= 0, got -1",
    ),
    ("zero features", _set("n_features", 0), "content.n_features must be >= 1, got 0"),
    (
        "no coefficients",
        _set("coef", []),
        "content.coef is empty; a model has at least one target",
    ),
    (
        "single_target with two targets",
        lambda d: _document(
            {
                **d["content"],
                "coef": [[1.0, 2.0], [3.0, 4.0]],
                "intercept": [0.0, 0.0],
                "target_names": ["a", "b"],
                "statistics": None,
            }
        ),
        "content.single_target is true but the model has 2 targets",
    ),
    (
        "a zero scale",
        _set(
            "standardization",
            {"x_mean": [0, 0], "x_scale": [1, 0], "y_mean": [0], "y_scale": [1]},
        ),
        "content.standardization.x_scale[1] must be > 0, got 0",
    ),
    (
        "a zero learning rate",
        _set("learning_rate", 0),
        "content.learning_rate must be > 0, got 0",
    ),
    (
        "a loss that is null",
        _set("loss_curve", [1.0, None]),
        f"content.loss_curve[1] is null; {NUMBERS}",
    ),
    (
        "a metric that is text",
        _set("metrics", {"mse": "low"}),
        'content.metrics.mse must be a number or null, got "low"',
    ),
    (
        "statistics for other terms",
        _set("statistics", "terms", ["intercept", "x1", "x2", "x3"]),
        "content.statistics.coef has 3 entries for the model's 4 terms "
        "(content.statistics.terms)",
    ),
    (
        "an unknown parameter",
        _set("params", "speed", 1),
        "content.params.speed is not a LinearRegressor parameter",
    ),
    (
        "a parameter of the wrong kind",
        _set("params", "fit_intercept", "yes"),
        'content.params.fit_intercept must be true or false, got "yes"',
    ),
    (
        "a parameter the estimator refuses",
        _set("params", "max_iter", 0),
        "content.params: max_iter must be an integer >= 1, got 0",
    ),
]


def _write(path, document_or_text) -> None:
    if isinstance(document_or_text, str):
        path.write_text(document_or_text)
    else:
        path.write_text(json.dumps(document_or_text))


@pytest.mark.parametrize(
    ("edit", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_edited_files_are_refused_naming_the_field(model_file, capsys, edit, message):
    path, document, data = model_file
    _write(path, edit(document))
    with pytest.raises(ModelFileError) as error:
        load(path)
    assert str(error.value) == f"{path}: {message}"
    assert main(["predict", str(path), str(data)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"tapereg: error: {path}: {message}\n"
    assert captured.out == ""


def test_the_unedited_file_loads_and_predicts(model_file, capsys):
    path, document, data = model_file
    _write(path, _document(document["content"]))  # checksum recomputed: the same
    assert main(["predict", str(path), str(data)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 41


def test_loading_and_predicting_do_not_import_tensorflow(model_file):
    path, _, data = model_file
    code = (
        "import sys; from tapereg.cli import main\n"
        f"status = main(['predict', {str(path)!r}, {str(data)!r}, '--out', "
        f"{str(data) + '.out'!r}])\n"
        "print('tensorflow' in sys.modules, status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "False 0", result.stderr


def test_export_refuses_a_null_coefficient(tmp_path, capsys):
    model, _ = _fitted(columns=("x1",))
    path, directory = tmp_path / "m.json", tmp_path / "served"
    save(model, path)
    document = json.loads(path.read_text())
    document["content"]["coef"] = [[None]]
    _write(path, _document(document["content"]))
    assert main(["export", str(path), str(directory)]) == 2
    err = capsys.readouterr().err
    assert err == f"tapereg: error: {path}: content.coef[0][0] is null; {NUMBERS}\n"
    assert not directory.exists()


def test_predictions_that_overflow_are_refused(model_file, tmp_path, capsys):
    path, document, _ = model_file
    _write(path, _set("coef", [[1e300, 1e300]])(document))
    data, out = tmp_path / "big.csv", tmp_path / "out.csv"
    data.write_text("x1,x2\n1,2\n1e10,1\n")
    assert main(["predict", str(path), str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tapereg: error: row 2 of the data: the prediction of 'y' ")
    assert "overflows float64 (inf)" in err and len(err.splitlines()) == 1
    assert not out.exists()


# -- what save writes, load reads ------------------------------------------------------


def test_a_dtype_given_as_a_numpy_type_round_trips(tmp_path):
    X = np.arange(12.0).reshape(6, 2) ** 1.5
    model = LinearRegressor(solver="exact", dtype=np.float64).fit(X, X @ [1.0, 2.0])
    save(model, tmp_path / "m.json")
    assert load(tmp_path / "m.json").get_params()["dtype"] == "float64"


def test_metrics_that_are_not_finite_are_saved_as_null(tmp_path):
    model, _ = _fitted()
    metrics = {"mse": np.float32(0.5), "r2": math.nan, "rows": np.int64(1)}
    save(model, tmp_path / "m.json", metrics=metrics)
    assert load(tmp_path / "m.json").metrics_ == {"mse": 0.5, "r2": None, "rows": 1}


def test_save_refuses_what_load_would_refuse(tmp_path):
    model, _ = _fitted()
    with pytest.raises(ParameterError, match=r"content\.metrics\.note must be a"):
        save(model, tmp_path / "m.json", metrics={"note": "best so far"})
    with pytest.raises(ParameterError, match=r"content\.metrics\.a\.b\.c must be a"):
        save(model, tmp_path / "m.json", metrics={"a": {"b": {"c": {"mse": 1.0}}}})
    assert not (tmp_path / "m.json").exists()


# -- any edit: refused, or a model that predicts finite numbers ------------------------


@functools.cache
def _base_content() -> dict:
    """A valid content with every part filled: two targets, names, statistics,
    metrics, and (which the exact solver does not keep) a standardization and a
    training record."""
    model, _ = _fitted(columns=("a", "b", "c"), targets=("u", "v"))
    content = model_content(model)
    content["standardization"] = {
        "x_mean": [0.1, -0.2, 0.3],
        "x_scale": [1.0, 2.0, 0.5],
        "y_mean": [1.5, 1.4],
        "y_scale": [2.0, 3.0],
    }
    content.update(n_iter=2, loss_curve=[4.0, 1.0], learning_rate=0.25)
    content["metrics"] = {  # as the CLI keeps them for several targets
        "mean_over_targets": {"mse": 0.01, "r2": None},
        "targets": {"u": {"mse": 0.01, "r2": None}, "v": {"mse": 0.01, "r2": 0.5}},
    }
    return content


def _nodes(value, at=()):
    """Every position in ``value`` (a key path), the root's included."""
    yield at
    if isinstance(value, dict):
        for key, entry in value.items():
            yield from _nodes(entry, (*at, key))
    elif isinstance(value, list):
        for i, entry in enumerate(value):
            yield from _nodes(entry, (*at, i))


NUMBERS_ANY = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers()
    | st.sampled_from([1e308, -1.7976931348623157e308, 5e-324, -0.0, 0.0, 1, 2])
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS_ANY | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _edited(draw) -> dict:
    """The base content with one random edit: a node replaced (by any JSON value,
    or by a number: edits that often still load), deleted or added to."""
    content = copy.deepcopy(_base_content())
    at = draw(st.sampled_from(list(_nodes(content))))
    action = draw(st.sampled_from(["replace", "number", "delete", "add"]))
    if not at:
        return draw(JSON_VALUES) if action != "delete" else {}
    parent = functools.reduce(lambda node, key: node[key], at[:-1], content)
    if action in ("replace", "number"):
        parent[at[-1]] = draw(JSON_VALUES if action == "replace" else NUMBERS_ANY)
    elif action == "delete":
        del parent[at[-1]]
    else:
        node = parent[at[-1]]
        if isinstance(node, dict):
            node[draw(st.text(max_size=12))] = draw(JSON_VALUES)
        elif isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(JSON_VALUES))
        else:
            parent[at[-1]] = [node, draw(JSON_VALUES)]
    return content


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_any_edit_is_refused_or_predicts_finite_numbers(tmp_path_factory, data):
    content = _edited(data.draw)
    path = tmp_path_factory.mktemp("edit") / "m.json"
    path.write_text(json.dumps(_document(content)))
    try:
        model = load(path)
    except ModelFileError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
        event("refused")
        return
    event("loaded")
    X = np.random.default_rng(0).uniform(-1, 1, size=(4, model.n_features_in_))
    names = getattr(model, "feature_names_in_", None)
    rows = X if names is None else pd.DataFrame(X, columns=list(names))
    with np.errstate(over="ignore", invalid="ignore"):
        predictions = model.predict(rows)
        # |x| <= 1: a prediction exceeds Σ|coef| + |intercept| only by overflowing.
        scale = np.abs(model.coef_).sum(axis=-1) + np.abs(model.intercept_)
    assert predictions.shape[0] == 4
    if np.all(scale < 1e300):
        assert np.all(np.isfinite(predictions))


def test_the_base_of_the_edits_loads(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_document(_base_content())))
    model = load(path)
    assert list(model.target_names_) == ["u", "v"]
    assert model.standardization_.x_scale.tolist() == [1.0, 2.0, 0.5]
    assert model.summary().shape == (8, 6)

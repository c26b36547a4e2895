"""export_saved_model: a SavedModel a fresh process can load and serve."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn.exceptions import NotFittedError

from tapereg import LinearRegressor, ParameterError, TaperegError, load, save
from tapereg.io.export import (
    ExportError,
    export_saved_model,
    sanitize_names,
    signature_names,
)
from tapereg.numerics.statistics import PREDICTION_COLUMNS

# Loads exports in a fresh interpreter, as a server would: no tapereg, no
# estimator in memory. Reads a list of {"directory", "columns", "matrix"} on stdin;
# prints a JSON list, one result for each.
LOADER = """
import json, sys
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


def describe(function):
    specs = function.structured_input_signature[1]
    return {
        "inputs": {k: [s.dtype.name, s.shape.as_list()] for k, s in specs.items()},
        "outputs": {
            k: [s.dtype.name, s.shape.as_list()]
            for k, s in function.structured_outputs.items()
        },
    }


def serve(request):
    model = tf.saved_model.load(request["directory"])
    proto = saved_model_pb2.SavedModel()
    with open(request["directory"] + "/saved_model.pb", "rb") as file:
        proto.ParseFromString(file.read())
    graph = proto.meta_graphs[0]
    serving = model.signatures["serving_default"]
    matrix = model.signatures["predict_matrix"]
    columns = {k: tf.constant(v, tf.float32) for k, v in request["columns"].items()}
    served = serving(**columns)
    predictions = matrix(tf.constant(request["matrix"], tf.float32))["predictions"]
    intervals = {}
    if "predict_interval" in model.signatures:
        intervals = model.signatures["predict_interval"](**columns)
    return {
        "signatures": sorted(model.signatures),
        "serving": describe(serving),
        "matrix": describe(matrix),
        "proto_inputs": sorted(graph.signature_def["serving_default"].inputs),
        "proto_outputs": sorted(graph.signature_def["serving_default"].outputs),
        "served": {k: v.numpy().astype(float).tolist() for k, v in served.items()},
        "predictions": predictions.numpy().astype(float).tolist(),
        "intervals": {k: v.numpy().tolist() for k, v in intervals.items()},
    }


print(json.dumps([serve(request) for request in json.load(sys.stdin)]))
"""


def load_in_fresh_process(*exports) -> list[dict]:
    """Each ``(directory, columns, matrix)`` export served by one fresh process."""
    requests = [
        {
            "directory": os.fspath(directory),
            "columns": {k: np.asarray(v).tolist() for k, v in columns.items()},
            "matrix": np.asarray(matrix).tolist(),
        }
        for directory, columns, matrix in exports
    ]
    done = subprocess.run(
        [sys.executable, "-c", LOADER],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def float32_exact(array):
    """Values a float32 holds exactly, so only the output rounding differs."""
    return np.asarray(array, np.float32).astype(np.float64)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _frame_data():
    rng = np.random.default_rng(0)
    # "1st" (a year, say) is large and cancels against the intercept: a float32
    # computation would lose digits there, the float64 one does not.
    X = pd.DataFrame(
        float32_exact(rng.normal(size=(40, 4)) * [1, 10, 3, 10] + [0, 0, 0, 2000]),
        columns=["size m2", "age-years", "Rooms", "1st"],
    )
    y = pd.Series(
        X.to_numpy() @ [2.0, -0.5, 3.0, 5.0] - 9750 + rng.normal(size=40),
        name="price (k€)",
    )
    return X, y


def _frame_model():
    X, y = _frame_data()
    return LinearRegressor(solver="exact").fit(X, y), X


def _array_model():
    rng = np.random.default_rng(1)
    X = float32_exact(rng.normal(size=(30, 3)) * 5)
    Y = np.column_stack([X @ [1.0, 2.0, -1.0] + 40, X @ [-3.0, 0.5, 2.0] - 70])
    Y += rng.normal(size=Y.shape)
    return LinearRegressor(solver="exact").fit(X, Y), X


@pytest.fixture
def frame_data():
    return _frame_data()


@pytest.fixture
def frame_model():
    return _frame_model()


@pytest.fixture
def array_model():
    return _array_model()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The DataFrame model and the two-target array model, exported, then served
    by one fresh process: by name, (estimator, X, folder, what the process saw)."""
    exports = {}
    for name, (est, X) in (("frame", _frame_model()), ("array", _array_model())):
        folder = tmp_path_factory.mktemp(name)
        export_saved_model(est, folder / "export")
        features, _ = signature_names(est)
        columns = {key: np.asarray(X)[:, j] for j, key in enumerate(features)}
        exports[name] = (est, X, folder, (folder / "export", columns, X))
    results = load_in_fresh_process(*(request for *_, request in exports.values()))
    return {
        name: (est, X, folder, result)
        for (name, (est, X, folder, _)), result in zip(
            exports.items(), results, strict=True
        )
    }


def test_sanitize_names_rule():
    names = ["a b", "a_b", "1st", "x_1st", "class", "self", "A1", "a1", "_id", "é"]
    assert sanitize_names(names, "x") == [
        "a_b_1",  # "a_b" is already valid, so it keeps the plain spelling
        "a_b",
        "x_1st_1",
        "x_1st",
        "class_",
        "self_",
        "A1",
        "a1_1",  # unique ignoring case, as TensorFlow's argument names must be
        "x__id",
        "x__",
    ]
    assert sanitize_names(["", "y"], "y") == ["y_", "y"]


def test_dataframe_export_serves_named_columns(served):
    est, X, folder, result = served["frame"]
    features, targets = signature_names(est)
    assert features == ["size_m2", "age_years", "Rooms", "x_1st"]
    assert targets == ["price__k__"]

    assert leftovers(folder) == []
    metadata = json.loads(
        (folder / "export" / "assets.extra" / "tapereg_export.json").read_text()
    )
    assert [f["name"] for f in metadata["features"]] == list(X.columns)
    assert [f["key"] for f in metadata["features"]] == features

    assert result["signatures"] == [
        "predict_interval",
        "predict_matrix",
        "serving_default",
    ]
    assert result["proto_inputs"] == sorted(features)
    assert result["proto_outputs"] == targets
    assert result["serving"] == {
        "inputs": {key: ["float32", [None]] for key in features},
        "outputs": {"price__k__": ["float32", [None]]},
    }
    assert result["matrix"] == {
        "inputs": {"inputs": ["float32", [None, 4]]},
        "outputs": {"predictions": ["float32", [None, 1]]},
    }
    expected = est.predict(X)
    np.testing.assert_allclose(result["served"]["price__k__"], expected, rtol=1e-6)
    # Computed in float64: the float32 output is the float64 prediction rounded once.
    np.testing.assert_array_max_ulp(
        np.float32(result["served"]["price__k__"]), np.float32(expected), maxulp=1
    )
    np.testing.assert_allclose(
        np.asarray(result["predictions"])[:, 0], expected, rtol=1e-6
    )
    # The interval signature serves without tapereg too, in float64.
    intervals = est.predict_interval(X)
    for column in intervals.columns:
        np.testing.assert_allclose(
            result["intervals"][column], intervals[column], rtol=1e-9
        )


def test_array_export_with_two_targets(served):
    est, X, _, result = served["array"]
    assert signature_names(est) == (["x0", "x1", "x2"], ["y0", "y1"])
    assert result["serving"]["outputs"] == {
        "y0": ["float32", [None]],
        "y1": ["float32", [None]],
    }
    assert result["matrix"]["outputs"] == {"predictions": ["float32", [None, 2]]}
    expected = est.predict(X)
    served = np.column_stack([result["served"]["y0"], result["served"]["y1"]])
    np.testing.assert_allclose(served, expected, rtol=1e-6)
    np.testing.assert_allclose(result["predictions"], expected, rtol=1e-6)


def test_reexport_replaces_previous_export(tmp_path, frame_model, array_model):
    target = tmp_path / "export"
    export_saved_model(frame_model[0], target)
    (target / "stale.txt").write_text("from the first export")
    est, X = array_model
    export_saved_model(est, target)

    assert not (target / "stale.txt").exists()
    assert leftovers(tmp_path) == []
    serving = tf.saved_model.load(os.fspath(target)).signatures["serving_default"]
    assert sorted(serving.structured_input_signature[1]) == ["x0", "x1", "x2"]
    out = serving(**{f"x{j}": tf.constant(X[:, j], tf.float32) for j in range(3)})
    np.testing.assert_allclose(out["y1"].numpy(), est.predict(X)[:, 1], rtol=1e-6)


def test_empty_directory_is_used(tmp_path, array_model):
    (tmp_path / "export").mkdir()
    export_saved_model(array_model[0], tmp_path / "export")
    assert (tmp_path / "export" / "saved_model.pb").is_file()
    assert leftovers(tmp_path) == []


def test_foreign_directory_is_refused_and_left_alone(tmp_path, array_model):
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not a SavedModel") as caught:
        export_saved_model(array_model[0], foreign)
    assert isinstance(caught.value, TaperegError)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert leftovers(tmp_path) == []

    a_file = tmp_path / "model.json"
    a_file.write_text("{}")
    with pytest.raises(ExportError, match="not a directory"):
        export_saved_model(array_model[0], a_file)
    with pytest.raises(ExportError, match="no such directory"):
        export_saved_model(array_model[0], tmp_path / "missing" / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "results"]


def test_failed_save_keeps_the_old_export(tmp_path, array_model, monkeypatch):
    target = tmp_path / "export"
    export_saved_model(array_model[0], target)
    before = {p.name: p.read_bytes() for p in target.rglob("*") if p.is_file()}

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(array_model[0], target)
    after = {p.name: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert leftovers(tmp_path) == []


def test_unfitted_estimator_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        export_saved_model(LinearRegressor(), tmp_path / "export")
    assert list(tmp_path.iterdir()) == []


def read_metadata(directory):
    return json.loads((directory / "assets.extra" / "tapereg_export.json").read_text())


def served_intervals(directory, est, X) -> pd.DataFrame:
    """The predict_interval signature's outputs laid out as est.predict_interval's."""
    signature = tf.saved_model.load(os.fspath(directory)).signatures["predict_interval"]
    features, targets = signature_names(est)
    X = np.asarray(X)
    out = signature(
        **{key: tf.constant(X[:, j], tf.float32) for j, key in enumerate(features)}
    )
    assert all(tensor.dtype == tf.float64 for tensor in out.values())
    if len(targets) == 1:
        assert sorted(out) == sorted(PREDICTION_COLUMNS)
        return pd.DataFrame({c: out[c].numpy() for c in PREDICTION_COLUMNS})
    assert sorted(out) == sorted(
        f"{t}.{c}" for t in targets for c in PREDICTION_COLUMNS
    )
    return pd.DataFrame(
        np.column_stack(
            [out[f"{t}.{c}"].numpy() for t in targets for c in PREDICTION_COLUMNS]
        )
    )


def test_interval_signature_matches_predict_interval_and_statsmodels(
    tmp_path, frame_data
):
    import statsmodels.api as sm

    X, y = frame_data
    est = LinearRegressor(solver="exact").fit(X, y)
    metadata = export_saved_model(est, tmp_path / "export")
    assert read_metadata(tmp_path / "export") == metadata
    assert metadata["signatures"] == [
        "serving_default",
        "predict_matrix",
        "predict_interval",
    ]
    interval = metadata["predict_interval"]
    assert interval["exported"] and interval["cov_type"] == "nonrobust"
    assert interval["level"] == 0.95 and interval["distribution"] == "t"
    assert interval["df_resid"] == 35.0  # 40 rows, 4 features and the intercept
    assert interval["quantile"] == pytest.approx(2.030107928250343, rel=1e-12)
    assert interval["outputs"] == list(PREDICTION_COLUMNS)

    loaded = tf.saved_model.load(os.fspath(tmp_path / "export"))
    specs = loaded.signatures["predict_interval"].structured_input_signature[1]
    serving = loaded.signatures["serving_default"].structured_input_signature[1]
    assert specs == serving  # the same named float32 [None] inputs

    served = served_intervals(tmp_path / "export", est, X)
    expected = est.predict_interval(X, level=0.95)
    np.testing.assert_allclose(served.to_numpy(), expected.to_numpy(), rtol=1e-9)

    # statsmodels' own numbers, on the same (float32-exact) rows.
    exog = sm.add_constant(X.to_numpy())
    reference = (
        sm.OLS(y.to_numpy(), exog).fit().get_prediction(exog).summary_frame(alpha=0.05)
    )
    np.testing.assert_allclose(
        served.to_numpy(), reference[list(PREDICTION_COLUMNS)].to_numpy(), rtol=1e-8
    )


def test_interval_signature_with_two_weighted_targets(tmp_path, array_model):
    _, X = array_model
    rng = np.random.default_rng(2)
    Y = np.column_stack([X @ [1.0, 2.0, -1.0] + 40, X @ [-3.0, 0.5, 2.0] - 70])
    Y += rng.normal(size=Y.shape) * [1.0, 3.0]
    weights = rng.uniform(0.2, 3.0, size=len(X))
    est = LinearRegressor(solver="exact").fit(X, Y, sample_weight=weights)
    metadata = export_saved_model(est, tmp_path / "export", level=0.8)
    assert metadata["predict_interval"]["outputs"][:2] == ["y0.mean", "y0.mean_se"]
    assert metadata["predict_interval"]["outputs"][6] == "y1.mean"

    served = served_intervals(tmp_path / "export", est, X)
    expected = est.predict_interval(X, level=0.8)
    assert list(expected.columns) == [
        (t, c) for t in ("y0", "y1") for c in PREDICTION_COLUMNS
    ]
    np.testing.assert_allclose(served.to_numpy(), expected.to_numpy(), rtol=1e-9)
    # The two targets' noise differs threefold, and so do their intervals.
    obs_width = expected[("y1", "obs_ci_upper")] - expected[("y1", "obs_ci_lower")]
    assert np.all(
        obs_width
        > 2 * (expected[("y0", "obs_ci_upper")] - expected[("y0", "obs_ci_lower")])
    )


def test_interval_signature_under_the_models_robust_covariance(tmp_path, array_model):
    from scipy import stats

    _, X = array_model
    rng = np.random.default_rng(3)
    y = X @ [1.0, 2.0, -1.0] + 40 + rng.normal(size=len(X)) * (1 + np.abs(X[:, 0]))
    est = LinearRegressor(solver="exact", cov_type="HC3").fit(X, y)
    metadata = export_saved_model(est, tmp_path / "export", level=0.9)
    interval = metadata["predict_interval"]
    assert interval["cov_type"] == "HC3" and interval["distribution"] == "normal"
    assert interval["quantile"] == stats.norm.ppf(0.95)

    served = served_intervals(tmp_path / "export", est, X)
    expected = est.predict_interval(X, level=0.9)
    np.testing.assert_allclose(served.to_numpy(), expected.to_numpy(), rtol=1e-9)
    # HC3's standard errors, not the nonrobust ones the fit also keeps.
    nonrobust = est.predict_interval(X, level=0.9, cov_type="nonrobust")
    assert np.max(np.abs(served["mean_se"] / nonrobust["mean_se"] - 1)) > 0.05


def _without_covariance(est):
    est.statistics_ = dataclasses.replace(est.statistics_, cov=None)
    return est


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda X, y: LinearRegressor(solver="exact", compute_statistics=False).fit(
                X, y
            ),
            "fitted without (compute_statistics=False)",
        ),
        (
            lambda X, y: LinearRegressor(solver="exact", alpha=0.5).fit(X, y),
            "this model has a penalty (alpha=0.5)",
        ),
        (  # as beyond 1,001 terms, where no covariance matrix is kept
            lambda X, y: _without_covariance(LinearRegressor(solver="exact").fit(X, y)),
            "not kept for 5 terms",
        ),
    ],
    ids=["no statistics", "penalized", "no covariance matrix"],
)
def test_model_without_covariance_exports_serving_only(
    tmp_path, frame_data, make, reason
):
    X, y = frame_data
    est = make(X, y)
    metadata = export_saved_model(est, tmp_path / "export", level=0.9)
    assert metadata["signatures"] == ["serving_default", "predict_matrix"]
    assert read_metadata(tmp_path / "export")["predict_interval"] == {
        "exported": False,
        "level": 0.9,
        "cov_type": "nonrobust",
        "reason": metadata["predict_interval"]["reason"],
    }
    assert metadata["predict_interval"]["reason"].startswith(
        "the predict_interval signature "
    )
    assert reason in metadata["predict_interval"]["reason"]

    loaded = tf.saved_model.load(os.fspath(tmp_path / "export"))
    assert sorted(loaded.signatures) == ["predict_matrix", "serving_default"]
    features, _ = signature_names(est)
    out = loaded.signatures["serving_default"](
        **{k: tf.constant(X.iloc[:, j], tf.float32) for j, k in enumerate(features)}
    )
    np.testing.assert_allclose(out["price__k__"].numpy(), est.predict(X), rtol=1e-6)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, float("nan")])
def test_level_outside_0_1_is_refused_before_writing(tmp_path, array_model, level):
    with pytest.raises(ParameterError, match=r"level must be in \(0, 1\)"):
        export_saved_model(array_model[0], tmp_path / "export", level=level)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_level(tmp_path, frame_model, capsys):
    from tapereg.cli import main

    est, X = frame_model
    save(est, tmp_path / "m.json")
    est = load(tmp_path / "m.json")  # what the command exports
    model, served_to = str(tmp_path / "m.json"), str(tmp_path / "served")
    assert main(["export", model, served_to, "--level", "0.9"]) == 0
    assert (
        "predict_interval: level 0.9, cov_type nonrobust -> outputs mean, mean_se, "
        "mean_ci_lower, mean_ci_upper, obs_ci_lower, obs_ci_upper"
    ) in capsys.readouterr().out.splitlines()
    assert read_metadata(tmp_path / "served")["predict_interval"]["level"] == 0.9
    intervals = served_intervals(tmp_path / "served", est, X)
    expected = est.predict_interval(X, level=0.9)
    np.testing.assert_allclose(intervals.to_numpy(), expected.to_numpy(), rtol=1e-9)

    with pytest.raises(SystemExit) as refused:  # argparse's usage error
        main(["export", model, str(tmp_path / "other"), "--level", "1.5"])
    assert refused.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "tapereg export: error: argument --level: must be in (0, 1), got 1.5"
    ]
    assert not (tmp_path / "other").exists()


def test_cli_export_without_statistics_notes_it(tmp_path, frame_data, capsys):
    from tapereg.cli import main

    X, y = frame_data
    est = LinearRegressor(solver="exact", compute_statistics=False).fit(X, y)
    save(est, tmp_path / "m.json")
    assert main(["export", str(tmp_path / "m.json"), str(tmp_path / "served")]) == 0
    captured = capsys.readouterr()
    assert "serving_default: inputs" in captured.out
    assert "predict_interval" not in captured.out
    assert captured.err.strip().splitlines() == [
        "tapereg: note: no predict_interval signature: the predict_interval "
        "signature needs the OLS statistics, which this model was fitted without "
        "(--no-statistics); refit without --no-statistics"
    ]
    assert (tmp_path / "served" / "saved_model.pb").is_file()

"""``tapereg update`` and ``fit --warm-start`` against NumPy's least squares.

Diabetes (unscaled) in three CSV files: ``fit`` on the first, ``update`` with the
other two gives the least-squares fit of all 442 rows (relative excess MSE ≤ 1e-6
against ``numpy.linalg.lstsq``), in memory and streamed; a warm start from the
cold fit's model converges in a handful of epochs to the same optimum. Every
mistake is one line and exit status 2, and leaves the model file as it was.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from tapereg import LinearRegressor, load, save
from tapereg.cli import main


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(as_frame=True, scaled=False).frame


@pytest.fixture(scope="module")
def parts(diabetes, tmp_path_factory):
    folder = tmp_path_factory.mktemp("diabetes")
    paths = []
    for k, rows in enumerate(np.array_split(np.arange(len(diabetes)), 3)):
        paths.append(str(folder / f"part{k}.csv"))
        diabetes.iloc[rows].to_csv(paths[-1], index=False)
    return paths


def _excess(coef, intercept, frame):
    """The relative excess MSE over numpy's least-squares optimum of ``frame``."""
    X = frame.drop(columns="target").to_numpy(np.float64)
    y = frame["target"].to_numpy(np.float64)
    design = np.column_stack([X, np.ones(len(y))])
    best = np.linalg.lstsq(design, y, rcond=None)[0]

    def mse(w):
        return np.mean((design @ w - y) ** 2)

    return mse(np.append(coef, intercept)) / mse(best) - 1


EXACT = ["--target", "target", "--solver", "exact"]


def _run(capsys, *args):
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_fit_then_update_is_the_fit_of_every_row(
    parts, diabetes, tmp_path, capsys, stream
):
    model = tmp_path / "m.json"
    status, _, _ = _run(
        capsys, "fit", parts[0], "--target", "target", "--quiet", "--save", model
    )
    assert status == 0
    flags = ["--stream"] if stream else []
    status, out, err = _run(capsys, "update", model, *parts[1:], "--json", *flags)
    assert status == 0 and err == ""
    report = json.loads(out)
    assert {
        "coef",
        "intercept",
        "metrics",
        "exact",
        "n_iter",
        "engine",
        "summary",
        "relative_excess_mse",
        "rows_added",
        "rows_seen",
        "model",
        "streamed",
    } <= set(report)
    assert (report["rows_added"], report["rows_seen"]) == (294, 442)
    assert report["streamed"] is stream and report["model"] == str(model)
    updated = load(model)  # written in place
    np.testing.assert_array_equal(updated.coef_, report["coef"])
    assert abs(_excess(updated.coef_, updated.intercept_, diabetes)) <= 1e-6
    assert updated.nobs_ == updated.moments_.n_samples == 442
    # The report's optimum is that of every row seen, not of the new rows alone.
    assert (
        abs(_excess(report["exact"]["coef"], report["exact"]["intercept"], diabetes))
        <= 1e-9
    )


def test_update_text_to_another_file(parts, diabetes, tmp_path, capsys):
    """The exact solver, one file at a time, to --output: MODEL stays as it was."""
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    _run(capsys, "fit", parts[0], *EXACT, "--save", first)
    before = first.read_bytes()
    status, out, _ = _run(capsys, "update", first, parts[1], "--output", second)
    assert status == 0 and first.read_bytes() == before
    assert "147 rows added, 295 rows seen in all" in out
    assert f"model written to {second}" in out
    status, out, _ = _run(capsys, "update", second, parts[2])
    assert status == 0 and "442 rows seen in all" in out
    updated = load(second)
    assert abs(_excess(updated.coef_, updated.intercept_, diabetes)) <= 1e-9


def test_a_model_without_moments_starts_over_with_a_warning(
    parts, diabetes, tmp_path, capsys
):
    """The API's fit keeps no moments: update warns and fits the new rows alone."""
    model = tmp_path / "api.json"
    first = diabetes.iloc[:148]
    save(
        LinearRegressor(solver="exact").fit(
            first.drop(columns="target"), first["target"]
        ),
        model,
    )
    status, out, err = _run(capsys, "update", model, parts[1], "--json")
    assert status == 0
    assert err.count("\n") == 1 and "update starts over" in err
    assert json.loads(out)["rows_seen"] == 147


def test_warm_start_converges_in_a_handful_of_epochs(parts, diabetes, tmp_path, capsys):
    cold_model = tmp_path / "cold.json"
    flags = ["--target", "target", "--optimizer", "momentum", "--quiet", "--json"]
    common = ["fit", *parts, *flags]
    status, out, _ = _run(capsys, *common, "--save", cold_model)
    cold = json.loads(out)
    status, out, _ = _run(capsys, *common, "--warm-start", cold_model)
    warm = json.loads(out)
    assert status == 0
    assert cold["n_iter"] > 100 and warm["n_iter"] <= 10
    for fitted in (cold, warm):
        assert abs(_excess(fitted["coef"], fitted["intercept"], diabetes)) <= 1e-6


def test_mistakes_are_one_line_and_leave_the_model(parts, diabetes, tmp_path, capsys):
    model = tmp_path / "m.json"
    _run(capsys, "fit", parts[0], *EXACT, "--save", model)
    formula_model = tmp_path / "formula.json"
    formula = ["--formula", "target ~ bmi + C(sex)", "--solver", "exact"]
    _run(capsys, "fit", parts[0], *formula, "--save", formula_model)
    no_s6 = tmp_path / "no_s6.csv"
    diabetes.drop(columns="s6").iloc[:50].to_csv(no_s6, index=False)
    text_cell = tmp_path / "text.csv"
    damaged = diabetes.iloc[:50].astype(object)
    damaged.iloc[30, 2] = "n/a?"
    damaged.to_csv(text_cell, index=False)
    before = model.read_bytes()
    cases = {
        "no feature column 's6'": ["update", model, no_s6],
        "not the model's features": ["update", model, parts[1], "--features", "bmi"],
        "not the model's target": ["update", model, parts[1], "--target", "bmi"],
        "bmi": ["update", model, text_cell],  # a text cell, met while reading
        "would overwrite the data file": [
            "update",
            model,
            parts[1],
            "--output",
            parts[1],
        ],
        "fitted with the formula": ["update", formula_model, parts[1]],
        "warm start needs the same columns": [
            "fit",
            parts[1],
            "--target",
            "target",
            "--features",
            "bmi,bp",
            "--warm-start",
            model,
        ],
    }
    for message, args in cases.items():
        status, out, err = _run(capsys, *args)
        assert status == 2, message
        assert err.startswith("tapereg: error: ") and err.count("\n") == 1, err
        assert message in err and out == ""
    assert model.read_bytes() == before


def test_update_as_a_process_exits_2_with_one_line(parts, tmp_path):
    model = tmp_path / "m.json"
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [1.0, 1.0]])
    save(LinearRegressor(solver="exact").fit(X, [1.0, 2.0, 3.5, 2.0]), model)
    before = model.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "tapereg", "update", str(model), parts[1]],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert model.read_bytes() == before

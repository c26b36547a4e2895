"""``tapereg fit --target y1,y2``: each table, metric and plot names its target."""

import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from tapereg import load
from tapereg.cli import main

KEYS = ("mse", "rmse", "mae", "r2")


@pytest.fixture
def two_targets(tmp_path):
    """y1 fits well, y2 badly: their metrics differ, so a mean cannot pass for one."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["y1"] = X @ [1.0, 2.0, -1.0] + 0.5 + rng.normal(0, 0.3, 400)
    frame["y2"] = X @ [-3.0, 0.5, 0.0] - 1 + rng.normal(0, 2.0, 400)
    path = tmp_path / "two.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _fit_json(capsys, path, *flags):
    argv = ["fit", str(path), "--target", "y1,y2", "--solver", "exact", "--json"]
    assert main([*argv, *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_text_names_each_targets_metrics_and_summary(capsys, two_targets):
    path, _ = two_targets
    argv = ["fit", str(path), "--target", "y1,y2", "--solver", "exact", "--summary"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    for label in ("target y1 ", "target y2 ", "mean over 2 targets "):
        (metrics,) = [x for x in lines if x.startswith(label) and "MSE" in x]
        assert all(word in metrics for word in ("RMSE", "MAE", "R²"))
    assert any("(mean over targets)" in line for line in lines)
    for name in ("y1", "y2"):
        # Each target's summary block names it as its dependent variable.
        heads = [line.split() for line in lines if line.startswith("Dep. Variable:")]
        assert [words[2] for words in heads].count(name) == 1


def test_json_metrics_per_target_equal_sklearns(capsys, two_targets):
    path, frame = two_targets
    report = _fit_json(capsys, path)
    metrics = report["metrics"]
    assert set(metrics) == {"mean_over_targets", "targets"}
    assert list(metrics["targets"]) == ["y1", "y2"]
    X, Y = frame[["a", "b", "c"]].to_numpy(), frame[["y1", "y2"]].to_numpy()
    predicted = LinearRegression().fit(X, Y).predict(X)  # independent of tapereg
    mse = mean_squared_error(Y, predicted, multioutput="raw_values")
    expected = {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": mean_absolute_error(Y, predicted, multioutput="raw_values"),
        "r2": r2_score(Y, predicted, multioutput="raw_values"),
    }
    for key in KEYS:
        got = [metrics["targets"][name][key] for name in ("y1", "y2")]
        np.testing.assert_allclose(got, expected[key], rtol=1e-9)
        assert metrics["mean_over_targets"][key] == pytest.approx(np.mean(got))
    assert expected["r2"][0] > 0.95 > 0.8 > expected["r2"][1]
    # The exact MSE is the mean's, the loss training minimizes.
    assert report["exact"]["mse"] == pytest.approx(metrics["mean_over_targets"]["mse"])


def test_one_target_keeps_its_flat_metrics(capsys, two_targets):
    path, _ = two_targets
    several = _fit_json(capsys, path)["metrics"]["targets"]["y1"]
    argv = ["fit", str(path), "--target", "y1", "--features", "a,b,c"]
    assert main([*argv, "--solver", "exact", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)["metrics"]
    assert set(one) == set(KEYS)
    assert one == pytest.approx(several, rel=1e-9)


def test_streamed_metrics_equal_in_memory(capsys, two_targets):
    path, _ = two_targets
    memory = _fit_json(capsys, path)["metrics"]
    streamed = _fit_json(capsys, path, "--stream")["metrics"]
    assert streamed.keys() == memory.keys()
    assert streamed["targets"].keys() == memory["targets"].keys()
    pairs = [(streamed["mean_over_targets"], memory["mean_over_targets"])] + [
        (streamed["targets"][name], memory["targets"][name]) for name in ("y1", "y2")
    ]
    for got, expected in pairs:
        assert got == pytest.approx(expected, rel=1e-9)


def test_the_model_file_keeps_the_labelled_metrics(capsys, two_targets, tmp_path):
    path, _ = two_targets
    model = tmp_path / "m.json"
    report = _fit_json(capsys, path, "--save", str(model))
    assert load(model).metrics_ == report["metrics"]


def test_plot_has_a_row_per_target(capsys, two_targets, tmp_path):
    path, _ = two_targets
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    common = ["--solver", "exact", "--quiet"]
    assert main(["fit", str(path), "--target", "y1", *common, "--plot", str(one)]) == 0
    argv = ["fit", str(path), "--target", "y1,y2", *common, "--plot", str(two)]
    assert main(argv) == 0
    capsys.readouterr()
    # A row of panels (450 pixels high) per target, the same width.
    height, width, _ = matplotlib.image.imread(one).shape
    assert matplotlib.image.imread(two).shape[:2] == (2 * height, width)

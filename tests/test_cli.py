import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import correlated_problem

from tapereg.cli import main

JSON_KEYS = {
    "coef",
    "intercept",
    "feature_names",
    "target",
    "n_iter",
    "loss_history",
    "metrics",
    "exact",
    "optimizer",
    "learning_rate",
    "seconds",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def csv_file(tmp_path):
    X, y, _ = correlated_problem(3000, 3, seed=5)
    frame = pd.DataFrame(X, columns=["size", "age", "rooms"])
    frame["price"] = y
    path = tmp_path / "houses.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_line_demo_prints_the_tutorials_100_epochs(capsys, tmp_path):
    plot = tmp_path / "line.png"
    assert main(["demo", "--tutorial", "line", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    epochs = [line for line in out.splitlines() if line.startswith("Epoch count")]
    assert len(epochs) == 100
    assert epochs[0].startswith("Epoch count 0: Loss value: ")
    assert epochs[99].startswith("Epoch count 99: Loss value: ")
    assert "exact least squares" in out
    assert plot.read_bytes().startswith(PNG_MAGIC)


def test_basic_demo_learns_w_3_and_b_2(capsys, tmp_path):
    plot = tmp_path / "basic.png"
    assert main(["demo", "--json", "--plot", str(plot)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report.keys() >= JSON_KEYS
    assert report["coef"][0] == pytest.approx(3.0, abs=0.1)
    assert report["intercept"] == pytest.approx(2.0, abs=0.1)
    assert report["true"] == {"coef": [3.0], "intercept": 2.0}
    assert report["n_iter"] == len(report["loss_history"]) == 20
    assert plot.read_bytes().startswith(PNG_MAGIC)


def test_demo_flags_change_the_run(capsys):
    assert (
        main(
            [
                "demo",
                "--tutorial",
                "line",
                "--epochs",
                "7",
                "--learning-rate",
                "0.02",
                "--seed",
                "3",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["n_iter"] == 7 and report["learning_rate"] == 0.02
    assert report["seed"] == 3


def test_fit_prints_trained_beside_exact_and_metrics(capsys, csv_file):
    path, _ = csv_file
    assert main(["fit", str(path), "--target", "price"]) == 0
    captured = capsys.readouterr()
    for word in ("size", "age", "rooms", "intercept", "trained", "exact", "MSE", "R²"):
        assert word in captured.out
    assert captured.err.startswith("epoch 0: loss ")


def test_fit_json_reaches_the_exact_solution(capsys, csv_file, tmp_path):
    path, _ = csv_file
    logs = tmp_path / "logs"
    argv = ["fit", str(path), "--target", "price", "--json", "--quiet"]
    assert main([*argv, "--logdir", str(logs)]) == 0
    assert list(logs.glob("events.out.tfevents.*"))
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err == ""
    assert report.keys() >= JSON_KEYS
    assert report["feature_names"] == ["size", "age", "rooms"]
    assert report["target"] == "price"
    assert set(report["metrics"]) == {"mse", "rmse", "mae", "r2"}
    assert report["relative_excess_mse"] < 1e-6
    np.testing.assert_allclose(report["coef"], report["exact"]["coef"], rtol=1e-3)


def test_fit_save_predict_round_trip(capsys, csv_file, tmp_path):
    path, frame = csv_file
    model, out, plot = tmp_path / "m.json", tmp_path / "pred.csv", tmp_path / "fit.png"
    assert (
        main(
            [
                "fit",
                str(path),
                "--target",
                "price",
                "--features",
                "size,rooms",
                "--save",
                str(model),
                "--plot",
                str(plot),
                "--quiet",
                "--dtype",
                "float64",
                "--optimizer",
                "momentum",
                "--nesterov",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert plot.read_bytes().startswith(PNG_MAGIC)
    assert main(["predict", str(model), str(path), "--out", str(out)]) == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["price"]
    coef = json.loads(model.read_text())["content"]["coef"][0]
    intercept = json.loads(model.read_text())["content"]["intercept"][0]
    expected = frame[["size", "rooms"]].to_numpy() @ coef + intercept
    np.testing.assert_allclose(predictions["price"], expected, rtol=1e-12)
    assert main(["predict", str(model), str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "price"


def _status(argv):
    """main's exit status, whether argparse exits or main returns."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "{csv}", "--target", "nope"], "no target column 'nope'"),
        (["fit", "missing.csv", "--target", "price"], "no such file"),
        (["fit", "{csv}", "--target", "price", "--epochs", "-3"], "--epochs"),
        (
            ["fit", "{csv}", "--target", "price", "--learning-rate", "0"],
            "--learning-rate",
        ),
        (["fit", "{csv}", "--target", "price", "--optimizer", "sgd"], "--optimizer"),
        (
            [
                "fit",
                "{csv}",
                "--target",
                "price",
                "--no-standardize",
                "--learning-rate",
                "1",
                "--quiet",
            ],
            "lower --learning-rate",
        ),
        (["predict", "missing.json", "{csv}"], "no such model file"),
        (["demo", "--tutorial", "nope"], "--tutorial"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(capsys, csv_file, argv, message):
    path, _ = csv_file
    status = _status([a.replace("{csv}", str(path)) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tapereg", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_help_does_not_import_tensorflow():
    code = (
        "import sys; from tapereg.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('tensorflow', 'sklearn', 'numpy') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip().endswith("[]")


def test_subprocess_fit_then_predict(csv_file, tmp_path):
    path, frame = csv_file
    model = tmp_path / "m.json"
    fit = _run("fit", str(path), "--target", "price", "--save", str(model), "--json")
    assert fit.returncode == 0, fit.stderr
    report = json.loads(fit.stdout)
    assert report["relative_excess_mse"] < 1e-6
    assert "Traceback" not in fit.stderr
    predict = _run("predict", str(model), str(path))
    assert predict.returncode == 0
    values = np.array(predict.stdout.splitlines()[1:], float)
    X = frame[["size", "age", "rooms"]].to_numpy()
    np.testing.assert_allclose(
        values, X @ report["coef"] + report["intercept"], rtol=1e-9
    )


def test_subprocess_user_error_is_one_line(csv_file):
    path, _ = csv_file
    result = _run("fit", str(path), "--target", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tapereg: error: {path}: no target column 'nope' "
        "(columns: size, age, rooms, price)"
    ]


@pytest.mark.parametrize(
    ("argv", "status", "stdout"),
    [
        (["--version"], 0, "tapereg "),
        (["fit"], 2, ""),
        (["fit", "/no/such.csv", "--target", "y"], 2, ""),
    ],
    ids=["version", "usage error", "bad input"],
)
def test_script_exit_runs_exit_handlers_and_keeps_the_status(argv, status, stdout):
    # run() leaves with os._exit (pyarrow's teardown can abort a finished process),
    # so it must itself run what interpreter exit would: exit handlers, flushing.
    code = (
        "import atexit, sys; from tapereg.cli import run\n"
        "atexit.register(lambda: print('handler ran'))\n"
        f"sys.argv = ['tapereg', *{argv!r}]\n"
        "print('buffered', end=' ')\n"
        "run()\n"
        "print('not reached')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == status, result.stderr
    assert result.stdout.startswith(f"buffered {stdout}")
    assert result.stdout.rstrip().endswith("handler ran")
    assert "not reached" not in result.stdout
    assert "Traceback" not in result.stderr


def test_exact_solver_fit_does_not_import_tensorflow(csv_file):
    path, _ = csv_file
    code = (
        "import sys; from tapereg.cli import main\n"
        f"status = main(['fit', {str(path)!r}, '--target', 'price', '--solver', "
        "'exact', '--json'])\n"
        "print('tensorflow' in sys.modules, status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False 0"


def test_fit_summary_text_and_json(capsys, csv_file):
    path, _ = csv_file
    argv = ["fit", str(path), "--target", "price", "--solver", "exact"]
    assert main([*argv, "--summary", "--level", "0.9"]) == 0
    out = capsys.readouterr().out
    for word in ("std err", "P>|t|", "[0.05", "0.95]", "Adj. R-squared:", "AIC:"):
        assert word in out
    assert "No. Observations:                3000" in out
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["terms"] == ["intercept", "size", "age", "rooms"]
    assert {
        "coef",
        "std_err",
        "t",
        "p_value",
        "ci_low",
        "ci_high",
        "rsquared",
        "rsquared_adj",
        "fvalue",
        "f_pvalue",
        "resid_std_err",
        "nobs",
        "df_model",
        "df_resid",
        "llf",
        "aic",
        "bic",
        "durbin_watson",
        "jarque_bera",
        "omnibus",
        "condition_number",
        "vif",
    } <= summary.keys()
    assert list(summary["vif"]) == ["size", "age", "rooms"]
    assert summary["nobs"] == 3000 and summary["df_resid"] == 3000 - 4


def test_fit_several_files_and_a_glob(capsys, csv_file, tmp_path):
    path, frame = csv_file
    parts = tmp_path / "parts"
    parts.mkdir()
    frame.iloc[:1000].to_csv(parts / "a.csv", index=False)
    frame.iloc[1000:].to_parquet(parts / "b.parquet")
    common = ["--target", "price", "--solver", "exact", "--json"]
    assert main(["fit", str(path), *common]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert main(["fit", str(parts / "a.csv"), str(parts / "b.parquet"), *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert main(["fit", str(parts / "a.*"), str(parts / "b.*"), *common]) == 0
    globbed = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(listed["coef"], whole["coef"], rtol=1e-10)
    assert globbed["coef"] == listed["coef"]


def test_fit_with_a_penalty(capsys, csv_file):
    path, _ = csv_file
    argv = ["fit", str(path), "--target", "price", "--json", "--quiet"]
    tight = ["--dtype", "float64", "--tol", "1e-13", "--epochs", "20000"]
    assert main([*argv, "--alpha", "0.5", *tight]) == 0
    ridge = json.loads(capsys.readouterr().out)
    assert ridge["exact"]["problem"] == "ridge" and "summary" not in ridge
    np.testing.assert_allclose(ridge["coef"], ridge["exact"]["coef"], rtol=1e-4)
    assert main([*argv, "--alpha", "5", "--l1-ratio", "1"]) == 0
    lasso = json.loads(capsys.readouterr().out)
    assert lasso["exact"]["problem"] == "least squares, unpenalized"
    assert 0.0 in lasso["coef"]
    assert _status([*argv, "--alpha", "1", "--summary"]) == 2
    assert "--summary is for ordinary least squares" in capsys.readouterr().err


def test_export_command_serves_the_same_predictions(capsys, csv_file, tmp_path):
    import tensorflow as tf

    path, frame = csv_file
    model, exported = tmp_path / "m.json", tmp_path / "served"
    assert (
        main(
            [
                "fit",
                str(path),
                "--target",
                "price",
                "--solver",
                "exact",
                "--save",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["export", str(model), str(exported)]) == 0
    assert "serving_default: inputs size, age, rooms -> outputs price" in (
        capsys.readouterr().out
    )
    serve = tf.saved_model.load(str(exported)).signatures["serving_default"]
    columns = {c: tf.constant(frame[c].to_numpy(np.float32)) for c in frame.columns[:3]}
    served = serve(**columns)["price"].numpy()
    expected = (
        pd.read_csv(path).drop(columns="price").to_numpy()
        @ np.array(json.loads(model.read_text())["content"]["coef"][0])
        + json.loads(model.read_text())["content"]["intercept"][0]
    )
    np.testing.assert_allclose(served, expected, rtol=1e-5)
    assert _status(["export", str(tmp_path / "none.json"), str(exported)]) == 2

"""Checkpoints: a resumed fit ends where an uninterrupted one, kill -9 included."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import correlated_problem

from tapereg import LinearRegressor, ParameterError, TaperegError
from tapereg.cli import main


@pytest.mark.parametrize(
    "settings",
    [
        {"engine": "data", "optimizer": "gd"},
        {"engine": "gram"},
        {"engine": "data", "optimizer": "adam"},
        {
            "engine": "data",
            "optimizer": "momentum",
            "batch_size": 64,
            "random_state": 0,
        },
    ],
)
def test_an_interrupted_then_resumed_fit_equals_an_uninterrupted_one(
    tmp_path, settings
):
    X, y, _ = correlated_problem(600, 3, seed=1)
    common = dict(tol=None, checkpoint_every=5, **settings)
    whole = LinearRegressor(max_iter=30, **common).fit(X, y)
    # An interruption after 13 epochs, then a resumed fit with the full budget.
    LinearRegressor(max_iter=13, checkpoint_dir=tmp_path, **common).fit(X, y)
    resumed = LinearRegressor(
        max_iter=30, checkpoint_dir=tmp_path, resume=True, **common
    ).fit(X, y)
    np.testing.assert_array_equal(resumed.coef_, whole.coef_)
    np.testing.assert_array_equal(resumed.loss_curve_, whole.loss_curve_)


def test_resuming_another_problems_checkpoint_is_refused(tmp_path):
    X, y, _ = correlated_problem(300, 3, seed=2)
    LinearRegressor(max_iter=20, tol=None, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.raises(TaperegError, match="another training problem"):
        LinearRegressor(
            max_iter=20, tol=None, checkpoint_dir=tmp_path, resume=True
        ).fit(X, y + X[:, 0])  # 2 * y would be the same standardized problem
    with pytest.raises(ParameterError, match="resume=True needs checkpoint_dir"):
        LinearRegressor(resume=True).fit(X, y)


def test_kill_9_then_resume_ends_with_the_uninterrupted_coefficients(tmp_path, capsys):
    """A run killed (-9) after a checkpoint; --resume in a new run then ends with
    the coefficients of a run never interrupted, to the bit.

    The killed run asks for far more epochs than it can reach, so it is always
    killed mid-training; the resumed and the uninterrupted runs ask for 1500
    epochs more than its last checkpoint holds.
    """
    import tensorflow as tf

    X, y, _ = correlated_problem(20_000, 5, seed=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    frame["y"] = y
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    checkpoints = tmp_path / "checkpoints"
    argv = [
        "fit",
        str(data),
        "--target",
        "y",
        "--engine",
        "data",
        "--optimizer",
        "gd",
        "--dtype",
        "float64",
        "--tol",
        "none",
        "--quiet",
        "--json",
    ]
    saving = ["--checkpoint-dir", str(checkpoints), "--checkpoint-every", "100"]

    process = subprocess.Popen(
        [sys.executable, "-m", "tapereg", *argv, "--epochs", "1000000", *saving],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (checkpoints / "checkpoint").exists():
        assert process.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    done = int(tf.train.latest_checkpoint(checkpoints).rsplit("-", 1)[1])
    epochs = done + 1500
    budget = ["--epochs", str(epochs)]
    assert main([*argv, *budget, *saving, "--resume"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert main([*argv, *budget]) == 0
    uninterrupted = json.loads(capsys.readouterr().out)
    assert resumed["n_iter"] == uninterrupted["n_iter"] == epochs
    assert resumed["coef"] == uninterrupted["coef"]
    assert resumed["intercept"] == uninterrupted["intercept"]

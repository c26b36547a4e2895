"""Models, predictions and plots are written to a temporary file and renamed: an
interrupted write leaves the old file or the new one, never half of one."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tapereg import LinearRegressor, load, save
from tapereg.reports.plotting import plot_fit
from tapereg.runtime.atomic import atomic_write


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(path) as file:
        file.write("half of the new")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = X @ [1.0, -2.0] + 3.0
    return LinearRegressor(solver="exact").fit(X, y), X, y


def test_a_model_save_that_fails_midway_keeps_the_old_model(
    tmp_path, fitted, monkeypatch
):
    model, X, y = fitted
    path = tmp_path / "m.json"
    save(model, path)
    before = path.read_bytes()

    def dump_half(document, file, **kwargs):
        file.write(json.dumps(document)[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", dump_half)
    with pytest.raises(KeyboardInterrupt):
        save(LinearRegressor(solver="exact").fit(X, -y), path)
    assert path.read_bytes() == before
    np.testing.assert_array_equal(load(path).predict(X), model.predict(X))
    assert _leftovers(tmp_path) == []


def test_a_plot_that_fails_midway_keeps_the_old_plot(tmp_path, fitted, monkeypatch):
    from matplotlib.figure import Figure

    model, X, y = fitted
    path = tmp_path / "fit.png"
    plot_fit(
        path,
        X,
        y[:, None],
        coef=model.coef_[:, None],
        intercept=[model.intercept_],
        loss_history=np.ones(3),
    )
    before = path.read_bytes()

    def save_half(self, file, **kwargs):
        file.write(before[:50])
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", save_half)
    with pytest.raises(OSError, match="disk full"):
        plot_fit(
            path,
            X,
            -y[:, None],
            coef=-model.coef_[:, None],
            intercept=[0.0],
            loss_history=np.ones(3),
        )
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_predict_killed_while_writing_leaves_the_old_predictions(tmp_path, fitted):
    """A real ``kill -9`` during ``tapereg predict --out``: the old file survives."""
    model, _, _ = fitted
    save(model, tmp_path / "m.json")
    # 2,000,000 rows (long enough to be killed while writing): 10,000 repeated.
    X = np.random.default_rng(1).normal(size=(10_000, 2))
    rows = pd.DataFrame(X).to_csv(index=False, header=False)
    (tmp_path / "d.csv").write_text("x0,x1\n" + rows * 200)
    out = tmp_path / "out.csv"
    out.write_text("old predictions\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tapereg",
            "predict",
            "m.json",
            "d.csv",
            "--out",
            "out.csv",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    # Kill it once the temporary file has some of the new predictions in it.
    while time.monotonic() < deadline and process.poll() is None:
        partial = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        if partial and partial[0].stat().st_size > 0:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    if process.returncode == 0:
        pytest.skip("predict finished before it could be killed")
    assert process.returncode == -signal.SIGKILL
    assert out.read_text() == "old predictions\n"


def test_a_missing_folder_is_named_by_the_users_path_not_the_temporary(tmp_path):
    from tapereg.runtime.atomic import atomic_write

    target = tmp_path / "nodir" / "m.json"
    with pytest.raises(FileNotFoundError) as raised, atomic_write(target) as file:
        file.write("never")
    assert raised.value.filename == str(target)

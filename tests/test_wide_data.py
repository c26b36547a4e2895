"""Wide data and long phases (issue 14, item 3): more features than rows.

The defaults whiten a wide problem from one factorization of the rows (a QR, then
an SVD) that also gives the statistics and the command line's exact reference;
long phases are announced on stderr, can be skipped (``--no-reference``,
``--no-statistics``) and stop at Ctrl-C within a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from tapereg import CollinearityWarning, LinearRegressor
from tapereg.cli import main
from tapereg.numerics.exact import solve_least_squares
from tapereg.numerics.interrupt import interruptible


def _wide(n=60, d=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + 1.0
    y = X[:, :5] @ rng.normal(size=5) + 0.1 * rng.normal(size=n)
    return X, y


def _quietly(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollinearityWarning)
        return fit()


def test_wide_defaults_whiten_from_the_rows_and_interpolate():
    """n < d: one factorization, a few epochs on the whitened moments, and the
    minimum-norm solution of the standardized problem (where gradient descent
    from zero on the rows converges, slowly), checked against NumPy's lstsq."""
    X, y = _wide()
    model = _quietly(lambda: LinearRegressor().fit(X, y))
    assert model.engine_ == "gram" and model.optimizer_ == "whitened gd"
    assert model.n_iter_ < 20
    assert np.allclose(model.predict(X), y, atol=1e-8)  # it interpolates
    mean, scale = X.mean(0), X.std(0)
    standardized = np.linalg.lstsq((X - mean) / scale, y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(model.coef_, standardized / scale, atol=1e-9)


def test_the_factor_gives_the_exact_solution_and_the_statistics():
    """The exact solution the fit computed anyway (exact_solution_) is lstsq's
    minimum-norm one in the original units; the statistics come from it."""
    X, y = _wide()
    model = _quietly(lambda: LinearRegressor().fit(X, y))
    centred = X - X.mean(0)
    reference = np.linalg.lstsq(centred, y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(
        model.exact_solution_.coef[:, 0], reference, rtol=1e-8, atol=1e-10
    )
    assert model.exact_solution_.rank == X.shape[0] - 1
    assert model.df_resid_ == 0.0 and model.nobs_ == X.shape[0]


def test_tall_data_in_memory_share_the_statistics_solution():
    """The data engine's statistics factor the rows once; that solution is kept
    for the report's reference (no second factorization) and is the optimum."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4))
    y = X @ [1.0, -2.0, 0.5, 3.0] + rng.normal(size=500)
    model = LinearRegressor(engine="data", max_iter=50).fit(X, y)
    from sklearn.linear_model import LinearRegression

    reference = LinearRegression().fit(X, y)
    np.testing.assert_allclose(
        model.exact_solution_.coef[:, 0], reference.coef_, rtol=1e-10
    )
    np.testing.assert_allclose(
        model.exact_solution_.intercept[0], reference.intercept_, rtol=1e-10
    )


def test_the_exact_solver_on_wide_data_is_lstsqs_minimum_norm():
    X, y = _wide(n=40, d=300, seed=2)
    solution = solve_least_squares(X, y[:, None])
    reference = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(solution.coef[:, 0], reference, rtol=1e-8, atol=1e-10)
    assert len(solution.collinear) == X.shape[1]


def _write_wide(tmp_path, n=60, d=200):
    X, y = _wide(n, d)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(d)]).assign(y=y)
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    return path


def test_no_reference_and_no_statistics(tmp_path, capsys):
    path = _write_wide(tmp_path)
    plot = tmp_path / "fit.png"
    argv = ["fit", str(path), "--target", "y", "--quiet"]
    assert main([*argv, "--no-reference", "--no-statistics", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exact"] is None and report["relative_excess_mse"] is None
    assert "summary" not in report and report["metrics"]["r2"] > 0.999999
    assert main([*argv, "--no-reference", "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "exact least-squares optimum not computed (--no-reference)" in text
    assert "trained" in text.splitlines()[0] and "exact" not in text.splitlines()[0]
    assert plot.stat().st_size > 0
    assert main([*argv, "--no-statistics", "--summary"]) == 2
    assert "--no-statistics" in capsys.readouterr().err


def test_long_phases_are_announced_unless_quiet(tmp_path, capsys, monkeypatch):
    """Phases of at least LONG_FLOPS get one line on stderr (here the threshold
    is lowered so that a small file has one); --quiet keeps them off."""
    from tapereg.runtime import notes

    monkeypatch.setattr(notes, "LONG_FLOPS", 0.0)
    path = _write_wide(tmp_path)
    assert main(["fit", str(path), "--target", "y", "--json"]) == 0
    err = capsys.readouterr().err
    assert "tapereg: factoring the 60 x 201 rows (a QR, then an SVD)" in err
    assert main(["fit", str(path), "--target", "y", "--json", "--quiet"]) == 0
    assert "factoring" not in capsys.readouterr().err


def test_ctrl_c_stops_a_long_lapack_call_at_once():
    """A long SVD runs off the main thread: SIGINT raises KeyboardInterrupt in
    the main thread within a fraction of a second, not when LAPACK returns."""
    matrix = np.random.default_rng(0).normal(size=(2200, 2200))
    started = time.perf_counter()
    finished = threading.Event()

    def interrupt():
        time.sleep(0.3)
        if not finished.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        interruptible(np.linalg.svd, matrix, size=matrix.size)
        finished.set()  # the SVD was faster than the interrupt: nothing to test
        pytest.skip("the SVD finished before the interrupt")
    assert time.perf_counter() - started < 1.5
    # The abandoned SVD still runs in its daemon thread: let it end here, not
    # beside the next tests or while the interpreter shuts down.
    for thread in threading.enumerate():
        if thread.name == "tapereg-linalg":
            thread.join(timeout=60)


def test_ctrl_c_during_the_factoring_ends_the_command_promptly(tmp_path):
    """The whole command: SIGINT while the rows are factored ends it with
    'tapereg: interrupted' and exit status 130 within a couple of seconds."""
    path = _write_wide(tmp_path, n=1500, d=3000)  # factored for seconds
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tapereg", "fit", str(path), "--target", "y"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "tapereg: factoring" in line:
            break
    else:
        pytest.fail(f"no note on the factoring: {lines}")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    sent = time.perf_counter()
    _, err = process.communicate(timeout=30)
    waited = time.perf_counter() - sent
    assert process.returncode == 130, err
    assert "tapereg: interrupted" in err
    assert waited < 3.0


def test_ctrl_c_stops_training_without_a_callback():
    """Training runs in chunks of epochs of well under a second even with no
    callback (``--quiet``, the API's defaults), so SIGINT stops it at once, not
    when a single compiled call over every epoch returns."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 8)).astype(np.float32)
    y = X @ rng.normal(size=8).astype(np.float32)
    settings = dict(engine="data", tol=None, learning_rate=1e-6)
    LinearRegressor(max_iter=2, **settings).fit(X, y)  # trace the loop first
    finished = threading.Event()

    def interrupt():
        time.sleep(1.0)
        if not finished.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        LinearRegressor(max_iter=10**8, **settings).fit(X, y)
        finished.set()
    assert time.perf_counter() - started < 2.5


def test_wide_data_with_weights_and_several_targets():
    """Weights scale the factored rows by √s and centre on the weighted means;
    several targets share the one factor: each target interpolates, and the
    exact solution is the weighted minimum-norm one (lstsq on √s-scaled rows)."""
    X, y = _wide(n=50, d=120, seed=5)
    Y = np.column_stack([y, 2.0 * y - X[:, 7]])
    weights = np.random.default_rng(6).uniform(0.5, 2.0, size=X.shape[0])
    model = _quietly(lambda: LinearRegressor().fit(X, Y, sample_weight=weights))
    assert model.optimizer_ == "whitened gd" and model.coef_.shape == (2, 120)
    np.testing.assert_allclose(model.predict(X), Y, atol=1e-7)
    mean = weights @ X / weights.sum()
    root = np.sqrt(weights)[:, None]
    centred_y = Y - weights @ Y / weights.sum()
    reference = np.linalg.lstsq(root * (X - mean), root * centred_y, rcond=None)[0]
    np.testing.assert_allclose(
        model.exact_solution_.coef, reference, rtol=1e-8, atol=1e-10
    )

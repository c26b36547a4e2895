"""Numerical edges a new user runs into (issue 14, item 3): each is one clear line
or a correct fit, never a traceback, a silent endless loop or TensorFlow's noise."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tapereg import DataError, LinearRegressor


def _cli(folder, *args, log_level=None):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    return subprocess.run(
        [sys.executable, "-m", "tapereg", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, X @ [1.0, 2.0, 3.0] + 0.5 + 0.1 * rng.standard_normal(n)


@pytest.fixture
def huge_cell(tmp_path):
    """A CSV whose column 'b' holds 1e300: finite in float64, its square is not."""
    X, y = _problem()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    frame.loc[5, "b"] = 1e300
    frame.to_csv(tmp_path / "d.csv", index=False)
    return tmp_path, frame


@pytest.mark.parametrize("flags", [[], ["--engine", "data"], ["--stream"]])
def test_a_value_whose_square_overflows_is_one_line_naming_its_column(
    huge_cell, flags, capsys, monkeypatch
):
    """In-process; the same line from a real process, with TensorFlow's logs
    quieted or not, is test_an_error_stays_one_line_with_tf_cpp_min_log_level_set's.
    """
    from tapereg.cli import main

    folder, _ = huge_cell
    monkeypatch.chdir(folder)
    assert main(["fit", "d.csv", "--target", "y", "--quiet", *flags]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tapereg: error: column 'b' has values beyond 1.3e+154")
    assert "rescale the column" in lines[0]


@pytest.mark.parametrize("engine", ["gram", "data"])
def test_the_api_refuses_it_with_a_data_error(huge_cell, engine):
    _, frame = huge_cell
    with pytest.raises(DataError, match="column 'b' has values beyond"):
        LinearRegressor(engine=engine).fit(frame[["a", "b", "c"]], frame["y"])


def test_max_iter_beyond_int32_runs_and_stops_at_its_tolerance():
    from tapereg.core.train import fit_gradient_descent

    X, y = _problem(20)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    Y = ((y - y.mean()) / y.std())[:, None].astype(np.float32)
    result = fit_gradient_descent(X, Y, learning_rate=0.1, max_iter=10**20, tol=1e-6)
    assert result.converged and 10 < result.n_iter < 10_000
    model = LinearRegressor(max_iter=2**31 + 5).fit(X, Y[:, 0])
    assert model.n_iter_ < 1000


def test_any_integer_a_user_types_as_epochs_is_taken(tmp_path, capsys):
    from tapereg.cli import main

    X, y = _problem()
    path = tmp_path / "d.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y).to_csv(path, index=False)
    epochs = "99999999999999999999"
    assert main(["fit", str(path), "--target", "y", "--quiet", "--epochs", epochs]) == 0
    assert "epochs (whitened gd" in capsys.readouterr().out


def test_problems_of_many_shapes_in_one_process_give_no_retracing_warning(caplog):
    """Each shape traces a loop of its own, once; TensorFlow's "triggered
    tf.function retracing" warning (logged after five traces) is not ours to give."""
    rng = np.random.default_rng(0)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for d in range(1, 8):
            X = rng.standard_normal((40, d))
            LinearRegressor(max_iter=10, tol=None).fit(X, X.sum(1))
            LinearRegressor(engine="data", max_iter=10, tol=None).fit(X, X.sum(1))
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


@pytest.mark.parametrize("level", [None, "3", "2"], ids=["unset", "3", "2"])
def test_an_error_stays_one_line_with_tf_cpp_min_log_level_set(huge_cell, level):
    folder, _ = huge_cell
    done = _cli(folder, "fit", "d.csv", "--target", "y", "--quiet", log_level=level)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tapereg: error: column 'b' has values beyond 1.3e+154")


def test_level_0_asks_for_tensorflows_own_logs(huge_cell):
    folder, _ = huge_cell
    done = _cli(folder, "fit", "d.csv", "--target", "y", "--quiet", log_level="0")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) > 1 and lines[-1].startswith("tapereg: error: column 'b'")


def test_a_divergence_after_the_automatic_step_names_the_conditioning(monkeypatch):
    """NIST's Filip (degree-10 polynomial, κ ≈ 1e15) made the heavy ball tuned to
    its spectrum (the defaults before issue 14) diverge at epoch 561. The defaults
    now whiten the problem and do not diverge (test_nist); with whitening turned
    off, the old path's divergence must not blame a step the user never chose."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_nist import load

    from tapereg import CollinearityWarning, DivergenceError
    from tapereg.fitting import solve

    monkeypatch.setattr(solve, "whitens", lambda plan, l1: False)
    problem = load("Filip")
    with pytest.warns(CollinearityWarning), pytest.raises(DivergenceError) as caught:
        LinearRegressor().fit(problem.X, problem.y)
    message = str(caught.value)
    assert "with the automatic step" in message and "condition number" in message
    assert "solver='exact'" in message and "lower learning_rate" not in message


def test_the_report_says_the_gram_engine_trained_in_float64(tmp_path, capsys):
    from tapereg.cli import main

    X, y = _problem()
    path = tmp_path / "d.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y).to_csv(path, index=False)
    fit = ["fit", str(path), "--target", "y", "--quiet"]
    assert main([*fit, "--json"]) == 0
    report = __import__("json").loads(capsys.readouterr().out)
    assert report["engine"] == "gram" and report["dtype"] == "float64"
    assert main(fit) == 0
    assert "gram engine, float64)" in capsys.readouterr().out
    assert main([*fit, "--engine", "data"]) == 0
    assert "data engine, float32)" in capsys.readouterr().out


@pytest.mark.parametrize("how", ["gram", "stream"])
def test_the_max_iter_warning_gives_the_excess_over_the_exact_optimum(how):
    """Where the moments are at hand (the gram engine; a streamed data engine) the
    warning at max_iter says how far the loss stopped above the exact optimum
    (here checked against scikit-learn's), and the condition number."""
    import re

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)) * [1.0, 10.0, 0.1]
    y = X @ [1.0, -0.2, 5.0] + 2.0 + rng.normal(size=300)
    optimum = float(np.mean((y - LinearRegression().fit(X, y).predict(X)) ** 2))
    with pytest.warns(ConvergenceWarning) as caught:
        if how == "gram":
            model = LinearRegressor(optimizer="gd", learning_rate=0.05, max_iter=20)
            model.fit(X, y)
        else:
            model = LinearRegressor(engine="data", learning_rate=0.05, max_iter=20)
            model.fit_stream([(X[:120], y[:120]), (X[120:], y[120:])])
    message = str(caught[0].message)
    found = re.search(
        r"loss (\S+) against the exact optimum's (\S+), a relative excess of "
        r"(\S+); condition number (\S+)\)",
        message,
    )
    assert found, message
    last, best, excess, condition = (float(v) for v in found.groups())
    assert best == pytest.approx(optimum, rel=1e-5)
    final = float(np.mean((y - model.predict(X)) ** 2))  # after the last update
    assert last == pytest.approx(final, rel=1e-5)
    assert excess == pytest.approx((last - optimum) / optimum, rel=0.05)
    standardized = (X - X.mean(0)) / X.std(0)
    assert condition == pytest.approx(np.linalg.cond(standardized) ** 2, rel=5e-3)

"""Shared test data: unscaled, correlated regression problems with a known optimum."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess

import numpy as np
import pytest

from tapereg.numerics.datasets import make_correlated_regression

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def correlated_problem(n_samples=4000, n_features=5, n_targets=None, *, seed=0, **kw):
    return make_correlated_regression(
        n_samples, n_features, n_targets, random_state=seed, **kw
    )


def relative_excess_mse(X, y, coef, intercept):
    """(MSE(coef) − MSE(optimum)) / MSE(optimum), the optimum from NumPy's lstsq."""
    A = np.column_stack([X, np.ones(len(X))])
    best, *_ = np.linalg.lstsq(A, y, rcond=None)
    best_mse = np.mean((A @ best - y) ** 2)
    mse = np.mean((X @ np.asarray(coef).T + intercept - y) ** 2)
    return (mse - best_mse) / best_mse


@pytest.fixture
def problem():
    return correlated_problem()


def run_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    """``tapereg ARGS`` in this process, through ``main``: its exit status (an
    argparse usage error's too), stdout and stderr, as a CompletedProcess; run in
    folder ``cwd`` if given, without TF_CONFIG."""
    from tapereg.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        if cwd is not None:
            patch.chdir(cwd)
        patch.delenv("TF_CONFIG", raising=False)
        try:
            status = main([str(arg) for arg in args])
        except SystemExit as stop:
            status = stop.code
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())

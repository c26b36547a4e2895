"""The two seed programs as demos: their data, their settings, their loop.

- ``"basic"`` (seed 001, TensorFlow's basic training loop): 1000 normal inputs and
  normal noise around ``y = 3x + 2``; the guide's start ``W = 5, b = 0`` and step 0.1.
- ``"line"`` (seed 000, the GradientTape tutorial): ``x = linspace(0, 10, 100)``,
  ``y = x + N(0, 1)``, ``w = b = 0``, learning rate 0.01, 100 epochs, raw features.

Both train with :func:`tapereg.core.train.fit_gradient_descent` exactly as the seeds do:
full batch, the loss in the tape, ``assign_sub(lr * grad)``, no standardization.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tutorial:
    """A seed program's settings."""

    name: str
    title: str
    epochs: int
    learning_rate: float
    initial_weight: float
    initial_bias: float
    true_weight: float | None
    true_bias: float | None


TUTORIALS = {
    "basic": Tutorial(
        "basic",
        "seed 001: TensorFlow's basic training loop, y = 3x + 2 + noise",
        epochs=20,
        learning_rate=0.1,
        initial_weight=5.0,
        initial_bias=0.0,
        true_weight=3.0,
        true_bias=2.0,
    ),
    "line": Tutorial(
        "line",
        "seed 000: Linear Regression with TensorFlow 2.0 Gradient Tape",
        epochs=100,
        learning_rate=0.01,
        initial_weight=0.0,
        initial_bias=0.0,
        true_weight=None,
        true_bias=None,
    ),
}


def tutorial_data(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seed's synthetic data, ``x`` and ``y`` of shape (n,), drawn with ``seed``.

    Uses NumPy's legacy ``RandomState`` so that ``np.random.seed(seed)`` followed by the
    seed's own code draws the same numbers.
    """
    rng = np.random.RandomState(seed)
    if name == "line":
        x = np.linspace(0, 10, 100)
        return x, x + rng.normal(0, 1, 100)
    x = rng.normal(size=1000)
    noise = rng.normal(size=1000)
    return x, x * 3.0 + 2.0 + noise


@dataclass(frozen=True)
class DemoRun:
    tutorial: Tutorial
    seed: int
    x: np.ndarray
    y: np.ndarray
    result: object  # training.FitResult
    exact: object  # exact.LeastSquaresSolution
    seconds: float


def run_demo(
    name: str,
    *,
    seed: int = 0,
    epochs: int | None = None,
    learning_rate: float | None = None,
) -> DemoRun:
    """Train on the seed's data with its loop; ``None`` keeps the seed's value."""
    from .core.train import fit_gradient_descent
    from .numerics.exact import solve_least_squares

    tutorial = TUTORIALS[name]
    x, y = tutorial_data(name, seed)
    X, Y = x[:, None], y[:, None]
    started = time.perf_counter()
    result = fit_gradient_descent(
        X.astype(np.float32),
        Y.astype(np.float32),
        learning_rate=tutorial.learning_rate
        if learning_rate is None
        else learning_rate,
        max_iter=tutorial.epochs if epochs is None else epochs,
        tol=None,
        initial_coef=[[tutorial.initial_weight]],
        initial_intercept=[tutorial.initial_bias],
    )
    seconds = time.perf_counter() - started
    return DemoRun(tutorial, seed, x, y, result, solve_least_squares(X, Y), seconds)

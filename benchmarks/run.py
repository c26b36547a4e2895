"""Every way to fit the seeds' regression, side by side in one process, and memory.

Data: the tutorial's (x = linspace(0, 10, 100), y = x + N(0, 1)), then
``make_correlated_regression(n, d, random_state=0)`` at 1e6 x 10, 1e7 x 10 and
2e5 x 1000 (correlated, unscaled; float32 runs get float32 copies of X and y).
Methods: the seeds' eager loop (tutorial data only), tapereg's gram and data engines
in float32 and float64, ``LinearRegressor()`` with its defaults, Keras ``Dense(1)``
+ ``fit`` (full batch, unshuffled, SGD), scikit-learn's ``LinearRegression``
(float32 and float64 X) and ``SGDRegressor``, gradient descent in NumPy, and the
streaming-read floor ``X.ravel().sum()`` (NumPy's sum runs on one thread).

Timing: one process; each method is warmed up on slices of the data (tapereg and
Keras trace there), then --repeats interleaved rounds; medians. A method whose first
timed fit takes longer than --slow seconds is not repeated. "time to 1e-6" is the
fit's time, preprocessing included, when its final relative excess MSE
(mse − mse*)/mse* is at most 1e-6; mse* is the float64 exact solution's. NumPy GD
and Keras have no stopping rule here: they stop at the first epoch whose float32
loss is within 5e-7 of mse* (an oracle, with a margin for float32 rounding) or after
--budget seconds; SGDRegressor's max_iter is cut to what fits in --budget.
Per epoch: the tapereg engines' loops alone (``fit_gradient_descent`` for the data
engine; for the gram engine, whose epochs cost O(d²) whatever n, a slice of rows),
as (T(N) − T(1))/(N − 1); Keras' median epoch; NumPy's and the seeds' loop time /
epochs; SGDRegressor's fit time / n_iter_; for the read floor, the fastest of 9
reads (a best case).

Memory: each method once more in a fresh child process (``--memory-of``) that loads
the arrays it is fed, imports TensorFlow and runs it (epoch-capped methods for 3
epochs: their peak does not grow with epochs); the peak is VmHWM, next to a child
that only loads the data and imports TensorFlow. (ru_maxrss is no use here: a child
started by subprocess inherits the parent's high-water mark through exec.)

Warnings (ConvergenceWarning, overflow) are silenced: the table shows the excess.

    python benchmarks/run.py [--quick] [--json PATH] [--sizes 1e6x10,1e7x10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import sklearn
import tensorflow as tf
from sklearn.linear_model import LinearRegression, SGDRegressor

import tapereg
from tapereg import LinearRegressor, fit_gradient_descent, solve_least_squares
from tapereg.numerics.datasets import make_correlated_regression

clock = time.perf_counter
TARGET = 1e-6  # relative excess MSE that counts as "at the optimum"
SEED_EPOCHS, SEED_LR = 100, 0.01
MAX_EPOCHS = 1_000_000  # epoch-capped methods stop on the target or the time budget
MEMORY_EPOCHS = 3
SGD_MAX_ITER = 1000  # SGDRegressor's default
# Warm-up fits on 2d + 1000 and 2d + 2000 rows: tf.function relaxes the row count on
# the second, so the full data does not retrace; 2d keeps the slices well-posed.
WARMUP_ROWS = (1000, 2000)
SIZES = {  # label: (rows, features); None is the tutorial's data
    "tutorial": None,
    "1e6x10": (1_000_000, 10),
    "1e7x10": (10_000_000, 10),
    "2e5x1000": (200_000, 1000),
}
QUICK_SIZES = ("tutorial", "1e6x10")


# ---------------------------------------------------------------- records ----------


@dataclass(frozen=True)
class Limits:
    """What stops methods that have no stopping rule of their own."""

    target_loss: float  # NumPy GD and Keras stop below it: mse*·(1 + TARGET/2)
    budget_s: float = float("inf")  # wall-clock cap for them
    max_iter: int | None = None  # epoch cap (warm-up and memory runs); None: defaults


@dataclass(frozen=True)
class Fit:
    """One fit: its time, coefficients in the original units, and epochs."""

    seconds: float
    coef: np.ndarray | None  # (d,); None for the streaming read
    intercept: float = 0.0
    epochs: int | None = None
    per_epoch: float | None = None  # measured inside the fit, where it is
    detail: str = ""


@dataclass(frozen=True)
class Method:
    """A row of the table: ``fit(X, y, limits) -> Fit`` on the ``dtype`` copy of the
    data, and optionally ``epoch(X, y, n_epochs) -> seconds`` for a pure epoch."""

    key: str
    name: str
    dtype: str
    fit: Callable[[np.ndarray, np.ndarray, Limits], Fit]
    epoch: Callable[[np.ndarray, np.ndarray, int], float] | None = None
    tutorial_only: bool = False
    memory: bool = True


# ---------------------------------------------------------------- helpers ----------


def standardize(X):
    """(X − mean)/std as a new array of X's dtype (float64 sums, chunked) and the
    mean and scale, float64."""
    n, chunk = X.shape[0], 1 << 16
    blocks = [slice(i, i + chunk) for i in range(0, n, chunk)]
    mean = sum(X[b].sum(axis=0, dtype=np.float64) for b in blocks) / n
    Xs = X - mean.astype(X.dtype)
    var = sum(np.einsum("ij,ij->j", Xs[b], Xs[b], dtype=np.float64) for b in blocks)
    scale = np.sqrt(var / n)
    scale[scale == 0] = 1.0
    Xs /= scale.astype(X.dtype)
    return Xs, mean, scale


def gd_step(Xs, iterations=50, rtol=1e-4):
    """1/L for mean((Xs·w + b − y)²) on centred Xs: L = 2·max(λmax(XsᵀXs/n), 1)
    (the intercept's column is orthogonal to centred columns), by power iteration."""
    n, d = Xs.shape
    v = np.random.default_rng(0).standard_normal(d).astype(Xs.dtype)
    v /= np.linalg.norm(v)
    eigenvalue = 0.0
    for _ in range(iterations):
        u = (Xs.T @ (Xs @ v)) / n
        previous, eigenvalue = eigenvalue, float(v @ u)
        v = u / np.linalg.norm(u)
        if abs(eigenvalue - previous) <= rtol * eigenvalue:
            break
    return 1.0 / (2.0 * max(eigenvalue, 1.0))


def to_original(w, b, mean, scale):
    """Coefficients fitted on standardized X back in X's units."""
    coef = np.asarray(w, np.float64).ravel() / scale
    return coef, float(b) - float(mean @ coef)


def pure_epoch(run, n_epochs):
    """(T(N) − T(1))/(N − 1) for ``run(k)``, k epochs: the fixed costs cancel."""
    one = _timed(lambda: run(1))
    return (_timed(lambda: run(n_epochs)) - one) / (n_epochs - 1)


def _timed(fn):
    started = clock()
    fn()
    return clock() - started


def epochs_for(n, d):
    """Epochs for a pure-epoch measurement of the data engine: about 3e8 numbers."""
    return int(np.clip(3e8 / (n * d), 10, 1000))


# ---------------------------------------------------------------- methods ----------


def seed_eager_loop(X, y, limits):
    """The seeds' loop: w = b = 0, 100 eager epochs of tape, gradient, assign_sub."""
    started = clock()
    x, target = tf.constant(X[:, 0]), tf.constant(y)
    weight, bias = tf.Variable(0.0), tf.Variable(0.0)
    for _ in range(SEED_EPOCHS):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(weight * x + bias - target))
        dw, db = tape.gradient(loss, [weight, bias])
        weight.assign_sub(dw * SEED_LR)
        bias.assign_sub(db * SEED_LR)
    w, b = weight.numpy(), bias.numpy()
    seconds = clock() - started
    return Fit(seconds, np.array([w]), float(b), SEED_EPOCHS, seconds / SEED_EPOCHS)


def tapereg_fit(engine=None, compute_statistics=False):
    """``LinearRegressor(engine=..., dtype=X's)`` with defaults otherwise."""

    def fit(X, y, limits):
        options = {} if engine is None else {"engine": engine}
        if limits.max_iter is not None:
            options["max_iter"] = limits.max_iter
        if engine is not None or X.dtype != np.float32:
            options["dtype"] = X.dtype.name
        model = LinearRegressor(compute_statistics=compute_statistics, **options)
        started = clock()
        model.fit(X, y)
        seconds = clock() - started
        detail = f"{model.engine_}, {model.optimizer_}"
        return Fit(seconds, model.coef_, model.intercept_, model.n_iter_, None, detail)

    return fit


def data_engine_epoch(X, y, n_epochs):
    """One epoch of the data engine's loop: ``fit_gradient_descent``, plain GD, no tol,
    on X as given, with a step below 1/L (trace bound) so it cannot diverge."""
    trace = np.einsum("ij,ij->", X, X, dtype=np.float64) / X.shape[0] + 1.0
    Y = y[:, None]

    def run(k):
        fit_gradient_descent(
            X, Y, learning_rate=0.5 / trace, optimizer="gd", max_iter=k, tol=None
        )

    return pure_epoch(run, n_epochs)


def gram_engine_epoch(X, y, n_epochs):
    """One epoch of the gram engine (O(d²), independent of n): a row slice, max_iter
    N against 1, tol=None."""
    d = X.shape[1]
    rows = slice(0, max(2000, 3 * d))
    n_epochs = int(np.clip(2e9 / d**2, 100, 5000))  # epochs must outweigh eigvalsh

    def run(k):
        LinearRegressor(
            engine="gram",
            dtype=X.dtype.name,
            max_iter=k,
            tol=None,
            compute_statistics=False,
        ).fit(X[rows], y[rows])

    return pure_epoch(run, n_epochs)


class _KerasWatch(keras.callbacks.Callback):
    """Times each epoch; stops at the target loss or the deadline."""

    def __init__(self, target_loss, deadline):
        super().__init__()
        self.target_loss, self.deadline = target_loss, deadline
        self.durations, self.began = [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.began = clock()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(clock() - self.began)
        if logs["loss"] <= self.target_loss or clock() > self.deadline:
            self.model.stop_training = True


_KERAS_MODELS: dict[int, keras.Model] = {}


def keras_fit(X, y, limits):
    """Keras Dense(1), zeros, SGD at 1/L on standardized X; fit(batch_size=n,
    shuffle=False). One compiled model per d, reset before each fit."""
    started = clock()
    Xs, mean, scale = standardize(X)
    learning_rate = gd_step(Xs)
    d = X.shape[1]
    if d not in _KERAS_MODELS:
        model = keras.Sequential(
            [keras.Input((d,)), keras.layers.Dense(1, kernel_initializer="zeros")]
        )
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
        _KERAS_MODELS[d] = model
    model = _KERAS_MODELS[d]
    for variable in model.weights:
        variable.assign(np.zeros(variable.shape, variable.dtype))
    model.optimizer.learning_rate.assign(learning_rate)
    watch = _KerasWatch(limits.target_loss, started + limits.budget_s)
    model.fit(
        Xs,
        y,
        batch_size=len(Xs),
        epochs=limits.max_iter or MAX_EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=[watch],
    )
    kernel, bias = model.layers[0].get_weights()
    seconds = clock() - started
    coef, intercept = to_original(kernel, bias[0], mean, scale)
    durations = watch.durations[1:] or watch.durations
    return Fit(
        seconds, coef, intercept, len(watch.durations), statistics.median(durations)
    )


def sklearn_linear(X, y, limits):
    """scikit-learn LinearRegression()."""
    started = clock()
    model = LinearRegression().fit(X, y)
    return Fit(clock() - started, model.coef_, float(model.intercept_))


def sklearn_sgd(X, y, limits):
    """scikit-learn SGDRegressor() defaults (random_state=0 for repeatability), with
    max_iter (1000) lowered to what a one-epoch probe says fits in the budget: on
    this unscaled data it diverges and its tol rule never stops it."""
    max_iter = SGD_MAX_ITER if limits.max_iter is None else limits.max_iter
    if np.isfinite(limits.budget_s):
        probe = _timed(lambda: SGDRegressor(random_state=0, max_iter=1).fit(X, y))
        max_iter = int(np.clip(limits.budget_s / probe, 1, max_iter))
    started = clock()
    model = SGDRegressor(random_state=0, max_iter=max_iter).fit(X, y)
    seconds = clock() - started
    epochs = model.n_iter_
    detail = "" if max_iter == SGD_MAX_ITER else f"max_iter {max_iter}"
    return Fit(
        seconds,
        model.coef_,
        float(model.intercept_[0]),
        epochs,
        seconds / epochs,
        detail,
    )


def numpy_gd(X, y, limits):
    """Gradient descent in NumPy on standardized X, step 1/L, w = b = 0:
    r = Xs·w + b − y, w −= step·2·Xsᵀr/n; stops at the target loss or the budget."""
    started = clock()
    Xs, mean, scale = standardize(X)
    step = Xs.dtype.type(gd_step(Xs))
    n, d = Xs.shape
    w, b = np.zeros(d, Xs.dtype), Xs.dtype.type(0)
    two_over_n = Xs.dtype.type(2 / n)
    deadline = started + limits.budget_s
    looped = clock()
    epochs = 0
    for epochs in range(1, (limits.max_iter or MAX_EPOCHS) + 1):  # noqa: B007
        r = Xs @ w
        r += b - y
        loss = np.einsum("i,i->", r, r) / n  # accurate in float32; BLAS sdot is not
        if loss <= limits.target_loss or clock() > deadline:
            break
        w -= step * two_over_n * (Xs.T @ r)
        b -= step * two_over_n * r.sum()
    seconds = clock() - started
    per_epoch = (clock() - looped) / epochs
    coef, intercept = to_original(w, b, mean, scale)
    return Fit(seconds, coef, intercept, epochs, per_epoch)


def streaming_read(X, y, limits):
    """The floor: X.ravel().sum() (a view, one thread), the fastest of 9 reads: a
    read is short enough that one scheduler tick lost to another process triples it."""
    assert X.flags.c_contiguous  # so ravel() is a view and the sum one pass
    seconds = min(_timed(lambda: X.ravel().sum()) for _ in range(9))
    return Fit(seconds, None, per_epoch=seconds)


METHODS = [
    Method("seed", "seeds' eager loop (lr 0.01)", "float32", seed_eager_loop,
           tutorial_only=True),
    Method("gram32", "tapereg gram, float32", "float32", tapereg_fit("gram"),
           gram_engine_epoch),
    Method("gram64", "tapereg gram, float64", "float64", tapereg_fit("gram"),
           gram_engine_epoch),
    Method("data32", "tapereg data, float32", "float32", tapereg_fit("data"),
           data_engine_epoch),
    Method("data64", "tapereg data, float64", "float64", tapereg_fit("data"),
           data_engine_epoch),
    Method("default", "tapereg LinearRegressor() defaults", "float32",
           tapereg_fit(compute_statistics=True)),
    Method("keras", "Keras Dense(1) fit, full batch, SGD 1/L", "float32", keras_fit),
    Method("sk_lr", "sklearn LinearRegression, float32", "float32", sklearn_linear),
    Method("sk_lr64", "sklearn LinearRegression, float64", "float64", sklearn_linear),
    Method("sk_sgd", "sklearn SGDRegressor defaults", "float32", sklearn_sgd),
    Method("numpy", "NumPy GD, standardized, 1/L", "float32", numpy_gd),
    Method("read32", "read floor X.ravel().sum(), float32", "float32",
           streaming_read, memory=False),
    Method("read64", "read floor X.ravel().sum(), float64", "float64",
           streaming_read, memory=False),
]  # fmt: skip
BY_KEY = {m.key: m for m in METHODS}


# ---------------------------------------------------------------- data -------------


def build(label):
    """(X, y) float64 for a size label."""
    if SIZES[label] is None:
        x = np.linspace(0, 10, 100)
        return x[:, None], x + np.random.RandomState(0).normal(0, 1, 100)
    X, y, _ = make_correlated_regression(*SIZES[label], random_state=0)
    return X, y


def methods_for(label):
    return [m for m in METHODS if not m.tutorial_only or label == "tutorial"]


def relative_excess(X64, exact, mse_star, fit):
    """(mse − mse*)/mse* as mean((X·Δw + Δb)²)/mse*: no cancellation."""
    if fit.coef is None:
        return None
    delta = np.asarray(fit.coef, np.float64).ravel() - exact.coef[:, 0]
    shift = float(fit.intercept) - exact.intercept[0]
    if not (np.all(np.isfinite(delta)) and np.isfinite(shift)):
        return float("inf")
    error = X64 @ delta + shift
    return float(np.einsum("i,i->", error, error) / len(error) / mse_star)


# ---------------------------------------------------------------- timing -----------


def time_methods(methods, arrays, limits, repeats, slow_s):
    """Warm up (fits on slices, epoch timers on the data), then interleaved rounds.
    Returns {key: summary dict}; a method that raises is reported, not fatal."""
    warm = Limits(limits.target_loss, limits.budget_s, max_iter=MEMORY_EPOCHS)
    first_call, errors = {}, {}
    fits = {m.key: [] for m in methods}
    epoch_times = {m.key: [] for m in methods}

    def attempt(m, call, *args):
        if m.key in errors:
            return None
        try:
            return call(*args)
        except Exception as error:  # src/ changes under us; keep the other rows
            errors[m.key] = f"{type(error).__name__}: {error}"
            return None

    for m in methods:
        X, y = arrays[m.dtype]
        for extra in WARMUP_ROWS:
            rows = 2 * X.shape[1] + extra
            started = clock()
            attempt(m, m.fit, X[:rows], y[:rows], warm)
            first_call.setdefault(m.key, clock() - started)
        if m.epoch is not None:
            attempt(m, m.epoch, X, y, 2)
    for round_ in range(repeats):
        for m in methods:
            if round_ and fits[m.key] and fits[m.key][0].seconds > slow_s:
                continue
            X, y = arrays[m.dtype]
            fit = attempt(m, m.fit, X, y, limits)
            fits[m.key] += [fit] if fit else []
            if m.epoch is not None:
                took = attempt(m, m.epoch, X, y, epochs_for(*X.shape))
                epoch_times[m.key] += [took] if took is not None else []
    summaries = {}
    for m in methods:
        done = fits[m.key]
        inside = [f.per_epoch for f in done if f.per_epoch is not None]
        per_epoch = epoch_times[m.key] or inside
        summaries[m.key] = dict(
            fit=done[-1] if done else None,
            seconds=statistics.median(f.seconds for f in done) if done else None,
            runs=len(done),
            per_epoch_s=statistics.median(per_epoch) if per_epoch else None,
            first_call_s=first_call[m.key],
            error=errors.get(m.key),
        )
    return summaries


# ---------------------------------------------------------------- memory -----------


def peak_kib():
    """VmHWM (this process's own peak RSS) and ru_maxrss, in KiB."""
    status = Path("/proc/self/status").read_text()
    hwm = int(status.split("VmHWM:")[1].split()[0])
    return hwm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(key, data_dir):
    """Child: load the data the method is fed, run it once, print its peak (JSON)."""
    data_dir = Path(data_dir)
    meta = json.loads((data_dir / "meta.json").read_text())
    dtype = key.split(":")[1] if key.startswith("baseline:") else BY_KEY[key].dtype
    X = np.load(data_dir / f"X_{dtype}.npy")
    y = np.load(data_dir / f"y_{dtype}.npy")
    if not key.startswith("baseline:"):
        limits = Limits(meta["target_loss"], max_iter=MEMORY_EPOCHS)
        BY_KEY[key].fit(X, y, limits)
    hwm, maxrss = peak_kib()
    print(json.dumps({"peak_kib": hwm, "ru_maxrss_kib": maxrss}))


def measure_memory(keys, data_dir, jobs):
    """Peak of each key (a method key or ``baseline:<dtype>``) in a fresh child."""

    def one(key):
        command = [sys.executable, __file__, "--memory-of", key, "--data-dir", data_dir]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
        return json.loads(lines[-1])

    with ThreadPoolExecutor(jobs) as pool:
        return dict(zip(keys, pool.map(one, keys), strict=True))


# ---------------------------------------------------------------- one size ---------


def run_size(label, args, data_root):
    """Build, time every method, measure memory; returns the size's JSON record."""
    X64, y64 = build(label)
    n, d = X64.shape
    started = clock()
    exact = solve_least_squares(X64, y64[:, None])
    exact_s = clock() - started
    residual = X64 @ exact.coef[:, 0] + exact.intercept[0] - y64
    mse_star = float(np.mean(residual**2))
    del residual
    arrays = {
        "float64": (X64, y64),
        "float32": (X64.astype(np.float32), y64.astype(np.float32)),
    }
    # Half the target: their float32 losses are not exact, the table's excess is.
    limits = Limits(mse_star * (1 + TARGET / 2), args.budget)
    methods = methods_for(label)
    summaries = time_methods(methods, arrays, limits, args.repeats, args.slow)
    timing_s = clock() - started - exact_s
    for m in methods:
        s = summaries[m.key]
        s["excess"] = s["fit"] and relative_excess(X64, exact, mse_star, s["fit"])

    memory, started = {}, clock()
    if args.memory and not (args.quick and label == "tutorial"):
        data_dir = Path(tempfile.mkdtemp(dir=data_root))
        for dtype, (X, y) in arrays.items():
            np.save(data_dir / f"X_{dtype}.npy", X)
            np.save(data_dir / f"y_{dtype}.npy", y)
        meta = {"target_loss": limits.target_loss}
        (data_dir / "meta.json").write_text(json.dumps(meta))
        del arrays, X64, y64, X, y
        keys = ["baseline:float32", "baseline:float64"]
        keys += [m.key for m in methods if m.memory]
        memory = measure_memory(keys, str(data_dir), args.jobs)
        for path in data_dir.iterdir():
            path.unlink()
        data_dir.rmdir()
    phases = dict(exact_solve_s=exact_s, timing_s=timing_s, memory_s=clock() - started)
    return record(label, n, d, mse_star, phases, methods, summaries, memory)


def record(label, n, d, mse_star, phases, methods, summaries, memory):
    """The size's JSON record: one row per method, baselines and ratios."""
    mib = {k: v["peak_kib"] / 1024 for k, v in memory.items() if "peak_kib" in v}
    rows = {}
    for m in methods:
        s = summaries[m.key]
        fit = s["fit"] or Fit(float("nan"), None)
        reached = s["excess"] is not None and s["excess"] <= TARGET
        peak = mib.get(m.key)
        base = mib.get(f"baseline:{m.dtype}")
        rows[m.key] = dict(
            name=m.name,
            dtype=m.dtype,
            seconds=s["seconds"],
            runs=s["runs"],
            first_call_s=s["first_call_s"],
            per_epoch_s=s["per_epoch_s"],
            epochs=fit.epochs,
            detail=fit.detail,
            excess=s["excess"],
            time_to_target_s=s["seconds"] if reached else None,
            peak_mib=peak,
            over_baseline_mib=None if peak is None or base is None else peak - base,
            memory=memory.get(m.key),
            error=s["error"],
        )

    def ratio(key, over, field):
        a, b = rows[key][field], rows[over][field]
        return None if a is None or b is None else a / b

    ratios = {
        "data32_epoch_over_read32": ratio("data32", "read32", "per_epoch_s"),
        "data64_epoch_over_read64": ratio("data64", "read64", "per_epoch_s"),
        "data64_epoch_over_read32": ratio("data64", "read32", "per_epoch_s"),
        "default_over_sklearn_lr32": ratio("default", "sk_lr", "seconds"),
        "default_over_sklearn_lr64": ratio("default", "sk_lr64", "seconds"),
    }
    baselines = {k: v for k, v in mib.items() if k.startswith("baseline:")}
    return dict(
        label=label,
        rows_n=n,
        features=d,
        mse_star=mse_star,
        **phases,
        baselines_mib=baselines,
        ratios=ratios,
        methods=rows,
    )


# ---------------------------------------------------------------- output -----------


def human(seconds):
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def times(ratio, digits=1):
    return "–" if ratio is None else f"{ratio:.{digits}f}x"


def time_cell(row):
    excess = row["excess"]
    if row["error"]:
        return f"error ({row['error'].split(':')[0]}, below)"
    if excess is None:
        return "–"
    if not np.isfinite(excess):
        return "diverged"
    if row["time_to_target_s"] is not None:
        return human(row["time_to_target_s"])
    epochs = f" in {row['epochs']} epochs" if row["epochs"] else ""
    return f"not reached{epochs} (excess {excess:.1e})"


def memory_cell(row):
    if row["peak_mib"] is None:
        return "–" if row["memory"] is None else "error"
    return f"{row['peak_mib']:,.0f} MiB ({row['over_baseline_mib']:+,.0f})"


def print_size(size):
    n, d = size["rows_n"], size["features"]
    print(
        f"\n### {size['label']}: {n:,} x {d}, mse* {size['mse_star']:.6g} "
        f"(exact float64 solve {human(size['exact_solve_s'])}; timing "
        f"{size['timing_s']:.0f} s, memory children {size['memory_s']:.0f} s)\n"
    )
    print(
        "| method | per epoch | epochs | time to 1e-6 | relative excess MSE | "
        "peak memory (+ over baseline) | runs |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for row in size["methods"].values():
        epochs = "" if row["epochs"] is None else str(row["epochs"])
        if row["detail"]:
            epochs += f" ({row['detail']})"
        excess = "–" if row["excess"] is None else f"{row['excess']:.1e}"
        print(
            f"| {row['name']} | {human(row['per_epoch_s'])} | {epochs} | "
            f"{time_cell(row)} | {excess} | {memory_cell(row)} | {row['runs']} |"
        )
    for key, peak in size["baselines_mib"].items():
        dtype = key.split(":")[1]
        print(f"| baseline: {dtype} X, y loaded + import tensorflow | | | | | "
              f"{peak:,.0f} MiB | |")  # fmt: skip
    if not size["baselines_mib"]:
        print("| (no memory children for this size in this run) | | | | | | |")
    r, rows = size["ratios"], size["methods"]
    default = human(rows["default"]["seconds"])
    lr32, lr64 = (human(rows[k]["seconds"]) for k in ("sk_lr", "sk_lr64"))
    print(
        "\ndata-engine epoch / streaming read: float32 "
        f"{times(r['data32_epoch_over_read32'])} (target ≤ 2x), float64 "
        f"{times(r['data64_epoch_over_read64'])} of the float64 read "
        f"({times(r['data64_epoch_over_read32'])} of the float32 one). "
        "LinearRegressor() / sklearn LinearRegression: "
        f"{times(r['default_over_sklearn_lr64'], 2)} of the float64 fit ({default} "
        f"vs {lr64}), {times(r['default_over_sklearn_lr32'], 2)} of the float32 one "
        f"({lr32})."
    )
    for row in rows.values():
        for what, error in (("timing", row["error"]), ("memory", row["memory"])):
            if isinstance(error, dict):
                error = error.get("error")
            if error:
                print(f"{row['name']}, {what}: {error}")


# ---------------------------------------------------------------- main -------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tutorial and 1e6 x 10")
    parser.add_argument("--sizes", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--repeats", type=int, help="timed rounds (3; quick 2)")
    parser.add_argument(
        "--slow", type=float, help="fits slower than this run once (10 s; quick 3 s)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="cap for NumPy GD, Keras, SGDRegressor (20 s; quick 5 s)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="memory children at once")
    parser.add_argument("--no-memory", dest="memory", action="store_false")
    parser.add_argument("--json", help="also write the JSON here")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    tf.get_logger().setLevel("ERROR")  # warm-up slices retrace on purpose
    if args.memory_of:
        memory_child(args.memory_of, args.data_dir)
        return

    started = clock()
    quick = args.quick
    sizes = args.sizes.split(",") if args.sizes else QUICK_SIZES if quick else SIZES
    for label in sizes:
        if label not in SIZES:
            parser.error(f"unknown size {label!r}; sizes: {', '.join(SIZES)}")
    args.repeats = args.repeats or (2 if quick else 3)
    args.slow = args.slow if args.slow is not None else 3.0 if quick else 10.0
    args.budget = args.budget if args.budget is not None else 5.0 if quick else 20.0

    versions = dict(
        python=platform.python_version(),
        tensorflow=tf.__version__,
        keras=keras.__version__,
        numpy=np.__version__,
        sklearn=sklearn.__version__,
        tapereg=tapereg.__version__,
    )
    print(
        f"{'quick' if quick else 'full'} run: medians of up to {args.repeats} "
        f"interleaved rounds (fits over {args.slow:g} s run once); NumPy GD, "
        f"Keras and SGDRegressor capped at {args.budget:g} s; {os.cpu_count()} CPUs; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="tapereg-bench-") as data_root:
        for label in sizes:
            results.append(run_size(label, args, data_root))
            print_size(results[-1])
            sys.stdout.flush()
    total = clock() - started
    print(f"\ntotal wall time {total:.0f} s (after imports)")
    summary = dict(
        quick=quick,
        repeats=args.repeats,
        slow_s=args.slow,
        budget_s=args.budget,
        target=TARGET,
        total_s=total,
        versions=versions,
        sizes={r["label"]: r for r in results},
    )
    text = json.dumps(summary, default=float)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

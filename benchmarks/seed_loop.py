"""Seed 000's training loop against tapereg's, side by side in one process.

Seed data and settings: x = linspace(0, 10, 100), y = x + N(0, 1) from RandomState(0),
w = b = 0, learning rate 0.01, 100 full-batch epochs, float32. Variants:
(a) the seed's eager loop as the tutorial writes it; (b) tapereg's make_train_step run
eagerly; (c) the same step compiled (tf.function), called once per epoch from Python;
(d) fit_gradient_descent, a fresh call each time: the first traces the loop, later
calls reuse it (resetting its variables); (d') an EpochLoop built the way
fit_gradient_descent builds it, traced once and re-run (all 100 epochs in one tf.range
loop); (e) NumPy float32.

"per epoch": median over --repeats runs of 100 epochs (after the first run) / 100.
"first call": one epoch for (a), (b), (c), (e), including tracing for (c); the whole
100-epoch fit for (d) and (d'), including building and tracing the loop.

    python benchmarks/seed_loop.py [--repeats 7]
"""

import argparse
import json
import os
import statistics
import time
from collections import namedtuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from tapereg import LinearModel, fit_gradient_descent, make_train_step
from tapereg.core.epochs import EpochLoop
from tapereg.core.optimizers import make_optimizer

EPOCHS, LR = 100, 0.01
clock = time.perf_counter
# call: one timed call; calls: calls in a 100-epoch run; params() -> (w, b).
Variant = namedtuple("Variant", "call calls reset params traces", defaults=[None])


def zero(*variables):
    for variable in variables:
        variable.assign(tf.zeros_like(variable))


def seed_loop(x, y):
    """(a) The tutorial's loop: two scalar variables, weight*x + bias, assign_sub."""
    weight, bias = tf.Variable(0.0), tf.Variable(0.0)

    def epoch():
        with tf.GradientTape() as tape:
            y_pred = weight * x + bias
            loss = tf.reduce_mean(tf.square(y_pred - y))
        gradients = tape.gradient(loss, [weight, bias])
        weight.assign_sub(gradients[0] * LR)
        bias.assign_sub(gradients[1] * LR)
        return loss

    params = lambda: (weight.numpy(), bias.numpy())  # noqa: E731
    return Variant(epoch, EPOCHS, lambda: zero(weight, bias), params)


def tapereg_step(X, Y, compiled):
    """(b), (c) tapereg's LinearModel and make_train_step, called once per epoch."""
    model = LinearModel(n_features=1)
    step = make_train_step(model, "gd", learning_rate=LR, compiled=compiled)
    traces = step.experimental_get_tracing_count if compiled else None
    return Variant(
        lambda: step(X, Y),
        EPOCHS,
        lambda: zero(model.w, model.b),
        lambda: (model.w.numpy()[0, 0], model.b.numpy()[0]),
        traces,
    )


def fresh_fit(X32, Y32):
    """(d) fit_gradient_descent per call: its loop is traced on the first call only."""
    last = {}

    def call():
        last["fit"] = fit_gradient_descent(
            X32, Y32, learning_rate=LR, max_iter=EPOCHS, tol=None
        )

    params = lambda: (last["fit"].coef[0, 0], last["fit"].intercept[0])  # noqa: E731
    return Variant(call, 1, lambda: None, params)


def warm_epoch_loop(X32, Y32):
    """(d') The EpochLoop fit_gradient_descent builds, traced once and re-run."""
    model = LinearModel(1, 1, dtype=X32.dtype)
    update = make_optimizer("gd", LR)
    update.build(model.parameters)
    data = (tf.convert_to_tensor(X32), tf.convert_to_tensor(Y32), None)
    settings = dict(tol=None, n_iter_no_change=5, loss_scale=np.ones(1))
    loop = EpochLoop(model, update, **settings)
    n_epochs = tf.constant(EPOCHS, dtype=tf.int32)

    def reset():  # the model and the loop's early-stopping state, as when built
        zero(model.w, model.b)
        loop.reset(**settings)

    return Variant(
        lambda: loop.run(n_epochs, data)[0].numpy(),
        1,
        reset,
        lambda: (model.w.numpy()[0, 0], model.b.numpy()[0]),
        loop.run.experimental_get_tracing_count,
    )


def numpy_loop(x, y):
    """(e) The same gradient descent in NumPy float32, gradients written by hand."""
    p = {"w": np.float32(0), "b": np.float32(0)}
    lr = np.float32(LR)

    def epoch():
        err = p["w"] * x + p["b"] - y
        loss = np.mean(err * err)
        p["w"] -= lr * (2 * np.mean(err * x))
        p["b"] -= lr * (2 * np.mean(err))
        return loss

    reset = lambda: p.update(w=np.float32(0), b=np.float32(0))  # noqa: E731
    return Variant(epoch, EPOCHS, reset, lambda: (p["w"], p["b"]))


def bench(make, repeats):
    """Build and call once (first call), finish that run, then time `repeats` runs."""
    started = clock()
    variant = make()
    variant.call()
    first = clock() - started
    for _ in range(variant.calls - 1):
        variant.call()
    times = []
    for _ in range(repeats):
        variant.reset()
        started = clock()
        for _ in range(variant.calls):
            variant.call()
        w, b = map(float, variant.params())  # reading them waits for the run
        times.append(clock() - started)
    fit = statistics.median(times)
    traces = variant.traces() if variant.traces else None
    return dict(
        per_epoch_s=fit / EPOCHS,
        per_fit_s=fit,
        first_call_s=first,
        w=w,
        b=b,
        traces=traces,
    )


def human(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs (>= 5)")
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")
    tf.get_logger().setLevel("ERROR")  # (d) retraces on purpose; no warning for it

    rng = np.random.RandomState(0)
    x = np.linspace(0, 10, 100)
    y = x + rng.normal(0, 1, 100)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    X32, Y32 = x32[:, None], y32[:, None]
    xt, yt, X, Y = (tf.constant(a) for a in (x32, y32, X32, Y32))

    # TensorFlow's runtime start-up is paid by whichever variant goes first; not here.
    started = clock()
    zero(tf.Variable(1.0))
    start_up = clock() - started

    r = args.repeats
    results = {
        "(a) seed eager loop": bench(lambda: seed_loop(xt, yt), r),
        "(b) make_train_step eager": bench(lambda: tapereg_step(X, Y, False), r),
        "(c) make_train_step compiled, per epoch": bench(
            lambda: tapereg_step(X, Y, True), r
        ),
        "(d) fit_gradient_descent, fresh call": bench(lambda: fresh_fit(X32, Y32), r),
        "(d') EpochLoop.run warmed, one call": bench(
            lambda: warm_epoch_loop(X32, Y32), r
        ),
        "(e) NumPy float32 loop": bench(lambda: numpy_loop(x32, y32), r),
    }

    seed = results["(a) seed eager loop"]
    print(
        f"seed 000 data: {EPOCHS} epochs, lr {LR}, float32; median of {r} runs; "
        f"TF {tf.__version__}, NumPy {np.__version__}; "
        f"TF start-up {human(start_up)} (excluded)\n"
    )
    print("| variant | per epoch | one-time cost (first call) | final w | final b |")
    print("|---|---:|---:|---:|---:|")
    for name, res in results.items():
        res["max_abs_diff_vs_seed"] = max(
            abs(res["w"] - seed["w"]), abs(res["b"] - seed["b"])
        )
        print(
            f"| {name} | {human(res['per_epoch_s'])} | {human(res['first_call_s'])}"
            f" | {res['w']:.7f} | {res['b']:.7f} |"
        )
    print()
    for name, res in results.items():
        traces = "" if res["traces"] is None else f", traced {res['traces']}x in all"
        print(
            f"{name}: 100 epochs in {human(res['per_fit_s'])}, "
            f"max |Δw|,|Δb| vs (a) {res['max_abs_diff_vs_seed']:.2e}{traces}"
        )
    summary = dict(epochs=EPOCHS, learning_rate=LR, repeats=r, tf_startup_s=start_up)
    print(json.dumps({**summary, "variants": results}))


if __name__ == "__main__":
    main()

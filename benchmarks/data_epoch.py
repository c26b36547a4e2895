"""Time one full-batch epoch of the data engine: plain tape vs the blocked loss.

An epoch is the loss in a GradientTape, ``tape.gradient`` and the two
``assign_sub`` updates; many epochs run in one ``tf.function`` over ``tf.range`` (as
``EpochLoop`` does) so Python dispatch is not measured. The yardstick is one
single-thread streaming read of X (``X.ravel().sum()``). Every variant is timed in
turn, repeatedly, in this one process, and the medians are printed as Markdown.

    python benchmarks/data_epoch.py [--quick] [--dtype float32 float64]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from tapereg.core.blocked import blocked_per_target_mse, default_block_rows
from tapereg.core.losses import per_target_mse
from tapereg.core.train import shared_tensor
from tapereg.numerics.arrays import aligned

SIZES = [(1_000_000, 10), (10_000_000, 10), (200_000, 1000)]


def plain_loss(X, y, w, b):
    return per_target_mse(y, tf.matmul(X, w) + b)


def epochs(loss_fn, n_features, dtype, *, jit_compile=False):
    """``run(k, X, y)``: k gradient-descent epochs inside one compiled function."""
    w = tf.Variable(tf.zeros([n_features, 1], dtype))
    b = tf.Variable(tf.zeros([1], dtype))
    spec = [
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([None, n_features], dtype),
        tf.TensorSpec([None, 1], dtype),
    ]

    @tf.function(input_signature=spec, jit_compile=jit_compile)
    def run(k, X, y):
        for _ in tf.range(k):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(loss_fn(X, y, w, b))
            grad_w, grad_b = tape.gradient(loss, [w, b])
            w.assign_sub(1e-3 * grad_w)
            b.assign_sub(1e-3 * grad_b)
        return w[0, 0]

    return run


def measure(n, d, dtype, block_kib, repeats, seconds):
    """Median milliseconds per epoch of each variant, and of one read of X."""
    rng = np.random.default_rng(0)
    X_np = rng.standard_normal((n, d), dtype=np.float32).astype(dtype, copy=False)
    y_np = (X_np[:, :1] + 0.1).astype(dtype)
    X_np, y_np = aligned(X_np, X_np.dtype), aligned(y_np, y_np.dtype)
    X, y = shared_tensor(X_np), shared_tensor(y_np)  # no copy of X
    variants = {
        "tape": epochs(plain_loss, d, dtype),
        "tape XLA": epochs(plain_loss, d, dtype, jit_compile=True),
    }
    for kib in block_kib:
        rows = default_block_rows(d, dtype, None if kib is None else kib * 1024)
        variants["blocked" if kib is None else f"blocked {kib} KiB"] = epochs(
            lambda X, y, w, b, rows=rows: blocked_per_target_mse(
                X, y, w, b, None, rows
            ),
            d,
            dtype,
        )
    counts = {}
    for name, run in variants.items():
        run(tf.constant(1), X, y).numpy()  # trace and compile
        started = time.perf_counter()
        run(tf.constant(1), X, y).numpy()
        one = time.perf_counter() - started
        counts[name] = max(1, min(50, round(seconds / one)))
    times = {"read": [], **{name: [] for name in variants}}
    for _ in range(repeats):
        started = time.perf_counter()
        X_np.ravel().sum()
        times["read"].append(time.perf_counter() - started)
        for name, run in variants.items():
            k = counts[name]
            started = time.perf_counter()
            run(tf.constant(k), X, y).numpy()
            times[name].append((time.perf_counter() - started) / k)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 1e6 x 10")
    parser.add_argument("--dtype", nargs="+", default=["float32"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="per timed call")
    parser.add_argument(
        "--block-kib", type=int, nargs="+", default=[None], help="sizes to compare"
    )
    args = parser.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, {load}")
    print("ms per epoch (medians); blocks of the default rows unless KiB is given\n")
    for i, (dtype, (n, d)) in enumerate((t, s) for t in args.dtype for s in sizes):
        ms = measure(n, d, dtype, args.block_kib, args.repeats, args.seconds)
        best = min((k for k in ms if k.startswith("blocked")), key=ms.get)
        columns = [*ms, "best blocked / read", "tape / best blocked"]
        if i == 0:
            print("| X | rows/block | " + " | ".join(columns) + " |")
            print("|---" * (len(columns) + 2) + "|")
        size = f"{n:.0e}".replace("+0", "") + f" x {d} {dtype}"
        cells = [size, str(default_block_rows(d, dtype))]
        cells += [f"{v:.1f}" for v in ms.values()]
        cells += [f"{ms[best] / ms['read']:.2f}", f"{ms['tape'] / ms[best]:.2f}"]
        print("| " + " | ".join(cells) + " |", flush=True)
    print("\n" + "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

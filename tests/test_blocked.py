"""The blocked loss equals the plain per-target MSE, in value and in gradient."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tapereg.core.blocked import blocked_per_target_mse, default_block_rows
from tapereg.core.losses import per_target_mse
from tapereg.core.train import shared_tensor
from tapereg.numerics.arrays import aligned

RTOL = {"float32": 1e-5, "float64": 1e-12}
TARGET_WEIGHTS = [1.0, -2.0, 0.5]  # the upstream gradient differs per target


def make_problem(n, n_features, n_targets, dtype, *, weighted, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features)).astype(dtype)
    y = rng.standard_normal((n, n_targets)).astype(dtype)
    w = rng.standard_normal((n_features, n_targets)).astype(dtype)
    b = rng.standard_normal(n_targets).astype(dtype)
    s = rng.uniform(0, 2, n).astype(dtype) if weighted else None
    return X, y, w, b, s


def loss_and_gradients(loss_fn, X, y, w, b, s):
    """Per-target losses and the gradient of Σ c_k·loss_k for distinct c_k."""
    w, b = tf.Variable(w), tf.Variable(b)
    with tf.GradientTape() as tape:
        per_target = loss_fn(X, y, w, b, s)
        c = tf.constant(TARGET_WEIGHTS[: w.shape[1]], w.dtype)
        total = tf.reduce_sum(c * per_target)
    grad_w, grad_b = tape.gradient(total, [w, b])
    return per_target.numpy(), grad_w.numpy(), grad_b.numpy()


def plain(X, y, w, b, s):
    return per_target_mse(y, tf.matmul(X, w) + b, s)


def blocked(block_rows):
    return lambda X, y, w, b, s: blocked_per_target_mse(X, y, w, b, s, block_rows)


def assert_close(actual, expected, rtol):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * np.abs(e).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("n", "block_rows", "n_targets"),
    [(1000, 128, 3), (50, 128, 2), (1024, 256, 1)],
)
def test_equals_plain_loss_and_gradient(n, block_rows, n_targets, weighted, dtype):
    X, y, w, b, s = make_problem(n, 7, n_targets, dtype, weighted=weighted)
    args = tuple(None if a is None else tf.constant(a) for a in (X, y, w, b, s))
    expected = loss_and_gradients(plain, *args)
    assert_close(loss_and_gradients(blocked(block_rows), *args), expected, RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_is_the_analytic_formula(dtype):
    X, y, w, b, s = make_problem(777, 5, 3, dtype, weighted=True)
    mse, grad_w, grad_b = loss_and_gradients(blocked(64), X, y, w, b, s)
    X, y, w, b, s = (a.astype(np.float64) for a in (X, y, w, b, s))
    r = X @ w + b - y
    c = np.array(TARGET_WEIGHTS)
    np.testing.assert_allclose(mse, s @ r**2 / s.sum(), rtol=RTOL[dtype])
    np.testing.assert_allclose(
        grad_w, 2 / s.sum() * X.T @ (s[:, None] * r) * c, rtol=RTOL[dtype]
    )
    np.testing.assert_allclose(grad_b, 2 / s.sum() * (s @ r) * c, rtol=RTOL[dtype])


def test_inside_tf_function_with_varying_rows():
    """One trace with ``[None, d]`` serves every n."""
    d, t = 4, 2
    w = tf.Variable(tf.zeros([d, t], tf.float64))
    b = tf.Variable(tf.zeros([t], tf.float64))
    spec = [tf.TensorSpec([None, d], tf.float64), tf.TensorSpec([None, t], tf.float64)]

    def step(loss_fn):
        def run(X, y):
            with tf.GradientTape() as tape:
                per_target = loss_fn(X, y, w, b, None)
                loss = tf.reduce_mean(per_target)
            return (per_target, *tape.gradient(loss, [w, b]))

        return tf.function(run, input_signature=spec)

    fast, slow = step(blocked(64)), step(plain)
    for n in (10, 200, 1000):
        X, y, w0, b0, _ = make_problem(n, d, t, "float64", weighted=False, seed=n)
        w.assign(w0)
        b.assign(b0)
        assert_close(fast(X, y), slow(X, y), 1e-12)
    assert fast.experimental_get_tracing_count() == 1


def test_zero_weights_give_zero_not_nan():
    X, y, w, b, _ = make_problem(300, 3, 2, "float64", weighted=False)
    s = np.zeros(300)
    mse, grad_w, grad_b = loss_and_gradients(blocked(64), X, y, w, b, s)
    assert not mse.any() and not grad_w.any() and not grad_b.any()


def test_block_rows():
    assert default_block_rows(10, tf.float32) % 64 == 0
    assert default_block_rows(10, tf.float32) * 40 <= 5 * 2**19
    assert default_block_rows(100_000, tf.float64) == 2048
    X, y, w, b, _ = make_problem(10, 3, 1, "float32", weighted=False)
    with pytest.raises(ValueError, match="multiple of 64"):
        blocked_per_target_mse(X, y, w, b, block_rows=100)


@pytest.mark.parametrize("offset", [0, 4])
def test_aligned_arrays_are_shared_with_tensorflow(offset):
    """Aligned arrays are shared (a write shows through); others are copied once."""
    buffer = np.zeros(1000 + 64, np.float32)
    start = (-buffer.ctypes.data % 64 + offset) // 4
    array = buffer[start : start + 1000].reshape(100, 10)
    array[...] = np.arange(1000).reshape(100, 10)
    assert (aligned(array, np.float32) is array) == (offset == 0)
    tensor = shared_tensor(aligned(array, np.float32))
    array[0, 0] = 7.0
    assert float(tensor[0, 0]) == (7.0 if offset == 0 else 0.0)
    del array, buffer  # the tensor keeps its memory alive
    np.ones(10_000)
    assert tensor.shape == (100, 10) and tensor.dtype == tf.float32
    assert float(tf.reduce_sum(tensor[1:])) == sum(range(10, 1000))
